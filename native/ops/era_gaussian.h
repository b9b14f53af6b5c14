// The continuous-control ERA op (era-spec §1.2-1.3): log sigma [B, D] from the raw log-std head
// [B, D], and its backward. Validates every argument and dispatches cpu | cuda.
#pragma once
#include "../core/tensor.h"

namespace era::ops {

struct GaussianParams {
  double target_entropy;  // total target H0' of the diagonal Gaussian (D * H_d + delta)
  double log_std_min;     // lower clip
  double log_std_max;     // the offset of l_pre, and the upper clip when clip_upper
  bool clip_upper;        // true: the released code's jnp.clip on both sides; false: the paper's max
};

void era_gaussian_forward(const TensorView& out, const TensorView& raw, const GaussianParams& p);
void era_gaussian_backward(const TensorView& grad_raw, const TensorView& raw,
                           const TensorView& grad_log_std, const GaussianParams& p);

}  // namespace era::ops

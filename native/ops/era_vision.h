// The classification ERA op (era-spec §3.2-3.3): z' [B, C] from logits [B, C], its backward, and
// cross entropy on z' with its gradient fused. Validates every argument and dispatches cpu | cuda.
#pragma once
#include "../core/tensor.h"

namespace era::ops {

struct VisionParams {
  double min_entropy;  // H_min; C_H = exp(H_min - 1)
  double tau;          // u_b = ln(tau) / tau caps the largest unnormalised probability
};

// The slope s and intercept b of h = s p + b for n classes (n >= 2), after checking that
// 1 + ln(u_b) <= H_min (the reference's assert: b >= 0) and H_min < 1 + ln(n u_b) (s > 0: above
// it the activation reverses the class order or, for small n, leaves the W_{-1} branch).
struct VisionCoeffs {
  double s, b;
};
VisionCoeffs era_vision_coeffs(const VisionParams& p, int64_t n);

void era_vision_forward(const TensorView& out, const TensorView& logits, const VisionParams& p);
void era_vision_backward(const TensorView& grad_logits, const TensorView& logits,
                         const TensorView& grad_out, const VisionParams& p);
// Writes the gradient of the mean loss into grad_logits and returns the mean loss. A label outside
// [0, C) raises RangeError naming labels (CPU: before anything is written; CUDA: found by the
// reduction kernel, grad_logits then unspecified). With loss_out (one f32 element on the logits'
// device) the mean loss is written there instead: on CUDA nothing is read back (no
// synchronisation), a bad label then makes the loss NaN, and the return value is NaN.
double era_vision_cross_entropy(const TensorView& grad_logits, const TensorView& logits,
                                const TensorView& labels, const VisionParams& p,
                                double label_smoothing, const TensorView* loss_out = nullptr);

}  // namespace era::ops

// CPU reference of the continuous-control ERA (era-spec §1.2-1.3), accumulating in double.
// Per row r of D raw log-std values:
//   w = softmax(r), l_pre = k * w + log_std_max, l = max(l_pre, lo) (and min(., hi) when clip_upper)
// where k = target_entropy - D * (log_std_max + 0.5 ln 2 pi e) is computed by the op layer.
#pragma once
#include <cstdint>

namespace era::cpu {

void era_gaussian_forward_f32(float* out, const float* raw, int64_t rows, int64_t d, double k,
                              double lo, double hi, bool clip_upper);

// grad_raw_j = k * w_j * (gp_j - sum_i w_i gp_i), gp_i = grad_i * 1[lo < l_pre_i (< hi)].
void era_gaussian_backward_f32(float* grad_raw, const float* raw, const float* grad,
                               int64_t rows, int64_t d, double k, double lo, double hi,
                               bool clip_upper);

}  // namespace era::cpu

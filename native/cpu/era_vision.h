// CPU reference of the classification ERA (era-spec §3.2-3.3), accumulating in double.
// Per row x of n logits, with the slope s and intercept b computed by the op layer:
//   p = softmax(x), h = s p + b, u = -1 - ln h, z' = -1 - sqrt(2u) - 0.75u, out = z' - min_j z'_j
// (the min is detached: the backward passes the output gradient through the shift unchanged).
#pragma once
#include <cstdint>

namespace era::cpu {

void era_vision_forward_f32(float* out, const float* x, int64_t rows, int64_t n, double s,
                            double b);

// grad_x_j = g_j c_j rho_j - p_j sum_i g_i c_i rho_i, c = 1/sqrt(2u) + 0.75, rho = s p / h.
void era_vision_backward_f32(float* grad_x, const float* x, const float* grad_out, int64_t rows,
                             int64_t n, double s, double b);

// Cross entropy on out with label smoothing eps (target (1-eps) onehot(y) + eps/n), mean over
// rows, forward and backward together. Writes grad_x (the gradient of the mean) and returns the
// mean loss. Labels must already be in [0, n) (the op layer checks).
double era_vision_cross_entropy_f32(float* grad_x, const float* x, const int32_t* labels,
                                    int64_t rows, int64_t n, double s, double b, double eps);

}  // namespace era::cpu

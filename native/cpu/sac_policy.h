// CPU references of the SAC policy distributions (native/core/sac_math.h holds the per-element
// math; everything is evaluated in double, f32 in and out). Tensors are flat rows of d values;
// element i draws Philox counter i of (seed, offset), the same numbers as the CUDA kernels.
#pragma once
#include <cstdint>

namespace era::cpu {

// SAC-ERA's truncated normal (era-spec §1.4). noise = the uniform drawn per element.
void trunc_normal_sample_f32(float* action, float* noise, const float* mu, const float* log_std,
                             int64_t n, double temperature, uint64_t seed, uint64_t offset,
                             bool given_noise = false);  // given_noise: read noise instead of drawing
void trunc_normal_backward_f32(float* grad_mu, float* grad_log_std, const float* mu,
                               const float* log_std, const float* noise, const float* grad_action,
                               int64_t n, double temperature);
// Per-row sum over d of the clipped per-dimension log-prob.
void trunc_normal_log_prob_f32(float* out, const float* action, const float* mu,
                               const float* log_std, int64_t rows, int64_t d, double temperature);

// Classic SAC's tanh-squashed Gaussian; noise = the standard normal drawn per element.
void tanh_gauss_sample_f32(float* action, float* noise, float* log_prob, const float* mu,
                           const float* log_std, int64_t rows, int64_t d, uint64_t seed,
                           uint64_t offset, bool given_noise = false);
// grad_log_prob may be null (no log-prob path).
void tanh_gauss_backward_f32(float* grad_mu, float* grad_log_std, const float* mu,
                             const float* log_std, const float* noise, const float* grad_action,
                             const float* grad_log_prob, int64_t rows, int64_t d);

// Phi^-1 in double (the function the truncated normal uses), for tests.
double normal_icdf(double p);

}  // namespace era::cpu

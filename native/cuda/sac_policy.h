// Launchers of the SAC policy-distribution kernels (one launch each; element math in double from
// native/core/sac_math.h, so they match the CPU references to f32 rounding). Enqueue on `stream`.
#pragma once
#include <cstdint>

namespace era::cuda {

void trunc_normal_sample_f32(float* action, float* noise, const float* mu, const float* log_std,
                             int64_t n, double temperature, uint64_t seed, uint64_t offset,
                             bool given_noise, void* stream);  // given_noise: read noise instead of drawing
void trunc_normal_backward_f32(float* grad_mu, float* grad_log_std, const float* mu,
                               const float* log_std, const float* noise, const float* grad_action,
                               int64_t n, double temperature, void* stream);
void trunc_normal_log_prob_f32(float* out, const float* action, const float* mu,
                               const float* log_std, int64_t rows, int64_t d, double temperature,
                               void* stream);
void tanh_gauss_sample_f32(float* action, float* noise, float* log_prob, const float* mu,
                           const float* log_std, int64_t rows, int64_t d, uint64_t seed,
                           uint64_t offset, bool given_noise, void* stream);
void tanh_gauss_backward_f32(float* grad_mu, float* grad_log_std, const float* mu,
                             const float* log_std, const float* noise, const float* grad_action,
                             const float* grad_log_prob, int64_t rows, int64_t d, void* stream);

}  // namespace era::cuda

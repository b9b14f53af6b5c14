// The SAC policy-distribution ops: SAC-ERA's truncated normal (era-spec §1.4) and classic SAC's
// tanh-squashed Gaussian, each with its draw (Philox seed/offset), log-prob and reparameterised
// backward. Tensors are f32 [..., D] (any leading dims, read as rows of D); per-row outputs have
// the leading dims only. Argument names in errors are the TS API's (lib/rl/ops-policy.ts).
#pragma once
#include <cstdint>

#include "../core/tensor.h"

namespace era::ops {

// With given_noise the uniforms are read from `noise` instead of drawn (seed/offset unused): the
// draw can then be recorded in a CUDA graph while the noise is refreshed outside it.
void trunc_normal_sample(const TensorView& action, const TensorView& noise, const TensorView& mu,
                         const TensorView& log_std, double temperature, uint64_t seed,
                         uint64_t offset, bool given_noise = false);
void trunc_normal_backward(const TensorView& grad_mu, const TensorView& grad_log_std,
                           const TensorView& mu, const TensorView& log_std,
                           const TensorView& noise, const TensorView& grad_action,
                           double temperature);
void trunc_normal_log_prob(const TensorView& out, const TensorView& action, const TensorView& mu,
                           const TensorView& log_std, double temperature);

void tanh_gauss_sample(const TensorView& action, const TensorView& noise,
                       const TensorView& log_prob, const TensorView& mu,
                       const TensorView& log_std, uint64_t seed, uint64_t offset,
                       bool given_noise = false);
// grad_log_prob may be null (the log-prob path contributes nothing).
void tanh_gauss_backward(const TensorView& grad_mu, const TensorView& grad_log_std,
                         const TensorView& mu, const TensorView& log_std, const TensorView& noise,
                         const TensorView& grad_action, const TensorView* grad_log_prob);

// Phi^-1(p) in double, the function the truncated normal uses (CPU; for tests and tools).
double normal_icdf(double p);

}  // namespace era::ops

#include "sac_policy.h"

#include <string>

#include "../cpu/sac_policy.h"
#include "check.h"
#include "dispatch.h"
#ifdef ERA_WITH_CUDA
#include "../cuda/sac_policy.h"
#endif

namespace era::ops {

namespace {

// mu: an f32 tensor [..., D] with D >= 1; returns D.
int64_t check_mu(const TensorView& mu) {
  require_dtype(mu, {DType::F32}, "mu");
  if (mu.ndim < 1 || mu.shape[mu.ndim - 1] < 1)
    throw_range("a tensor [..., D] with D >= 1", "mu", mu.describe());
  return mu.shape[mu.ndim - 1];
}

// An f32 tensor with the device and shape of mu.
void check_like_mu(const TensorView& t, const TensorView& mu, const char* name) {
  require_dtype(t, {DType::F32}, name);
  require_same_device(t, mu, name, "mu");
  require_same_shape(t, mu, name, "mu");
}

// An f32 tensor with mu's device and leading dims (one value per row).
void check_row_output(const TensorView& t, const TensorView& mu, const char* name) {
  require_dtype(t, {DType::F32}, name);
  require_same_device(t, mu, name, "mu");
  bool ok = t.ndim == mu.ndim - 1;
  for (int i = 0; ok && i < t.ndim; ++i) ok = t.shape[i] == mu.shape[i];
  if (!ok) {
    std::string want = "[";
    for (int i = 0; i < mu.ndim - 1; ++i) want += (i ? ", " : "") + std::to_string(mu.shape[i]);
    throw_range("shape " + want + "] (the leading dims of mu, one value per row)", name,
                t.describe());
  }
}

void check_temperature(double t) {
  if (!(t >= 0) || !std::isfinite(t))
    throw_range("a finite number >= 0", "options.temperature", std::to_string(t));
}

// Philox offsets count 32-bit words in blocks of four (lib/random.ts Generator.reserve).
void check_offset(uint64_t offset) {
  if (offset % 4 != 0) throw_range("a multiple of 4", "offset", std::to_string(offset));
}

}  // namespace

void trunc_normal_sample(const TensorView& action, const TensorView& noise, const TensorView& mu,
                         const TensorView& log_std, double temperature, uint64_t seed,
                         uint64_t offset, bool given_noise) {
  check_mu(mu);
  check_like_mu(log_std, mu, "logStd");
  check_like_mu(action, mu, "options.out");
  check_like_mu(noise, mu, "options.noise");
  // Outputs never alias inputs or each other (lib/rl/ops.ts); the noise is an input when given.
  const char* noise_name = given_noise ? "noise" : "options.noise";
  require_no_alias(action, "options.out", {{&mu, "mu"}, {&log_std, "logStd"}, {&noise, noise_name}});
  if (!given_noise) require_no_alias(noise, "options.noise", {{&mu, "mu"}, {&log_std, "logStd"}});
  check_temperature(temperature);
  check_offset(offset);
  dispatch(mu.device, "truncatedNormalSample",
           [&] {
             cpu::trunc_normal_sample_f32(action.ptr<float>(), noise.ptr<float>(), mu.ptr<float>(),
                                          log_std.ptr<float>(), mu.numel, temperature, seed,
                                          offset, given_noise);
           },
           [&](void* s) {
             ERA_CUDA_ONLY(cuda::trunc_normal_sample_f32(
                 action.ptr<float>(), noise.ptr<float>(), mu.ptr<float>(), log_std.ptr<float>(),
                 mu.numel, temperature, seed, offset, given_noise, s);)
             (void)s;
           });
}

void trunc_normal_backward(const TensorView& grad_mu, const TensorView& grad_log_std,
                           const TensorView& mu, const TensorView& log_std,
                           const TensorView& noise, const TensorView& grad_action,
                           double temperature) {
  check_mu(mu);
  check_like_mu(log_std, mu, "logStd");
  check_like_mu(noise, mu, "noise");
  check_like_mu(grad_action, mu, "gradAction");
  check_like_mu(grad_mu, mu, "options.gradMu");
  check_like_mu(grad_log_std, mu, "options.gradLogStd");
  for (const Named& out : {Named{&grad_mu, "options.gradMu"}, Named{&grad_log_std, "options.gradLogStd"}})
    require_no_alias(*out.t, out.name, {{&mu, "mu"}, {&log_std, "logStd"}, {&noise, "noise"}, {&grad_action, "gradAction"}});
  require_no_alias(grad_log_std, "options.gradLogStd", grad_mu, "options.gradMu");
  check_temperature(temperature);
  dispatch(mu.device, "truncatedNormalBackward",
           [&] {
             cpu::trunc_normal_backward_f32(grad_mu.ptr<float>(), grad_log_std.ptr<float>(),
                                            mu.ptr<float>(), log_std.ptr<float>(),
                                            noise.ptr<float>(), grad_action.ptr<float>(),
                                            mu.numel, temperature);
           },
           [&](void* s) {
             ERA_CUDA_ONLY(cuda::trunc_normal_backward_f32(
                 grad_mu.ptr<float>(), grad_log_std.ptr<float>(), mu.ptr<float>(),
                 log_std.ptr<float>(), noise.ptr<float>(), grad_action.ptr<float>(), mu.numel,
                 temperature, s);)
             (void)s;
           });
}

void trunc_normal_log_prob(const TensorView& out, const TensorView& action, const TensorView& mu,
                           const TensorView& log_std, double temperature) {
  const int64_t d = check_mu(mu);
  check_like_mu(log_std, mu, "logStd");
  check_like_mu(action, mu, "action");
  check_row_output(out, mu, "options.out");
  require_no_alias(out, "options.out", {{&action, "action"}, {&mu, "mu"}, {&log_std, "logStd"}});
  check_temperature(temperature);
  const int64_t rows = mu.numel / d;
  dispatch(mu.device, "truncatedNormalLogProb",
           [&] {
             cpu::trunc_normal_log_prob_f32(out.ptr<float>(), action.ptr<float>(), mu.ptr<float>(),
                                            log_std.ptr<float>(), rows, d, temperature);
           },
           [&](void* s) {
             ERA_CUDA_ONLY(cuda::trunc_normal_log_prob_f32(out.ptr<float>(), action.ptr<float>(),
                                                           mu.ptr<float>(), log_std.ptr<float>(),
                                                           rows, d, temperature, s);)
             (void)s;
           });
}

void tanh_gauss_sample(const TensorView& action, const TensorView& noise,
                       const TensorView& log_prob, const TensorView& mu,
                       const TensorView& log_std, uint64_t seed, uint64_t offset,
                       bool given_noise) {
  const int64_t d = check_mu(mu);
  check_like_mu(log_std, mu, "logStd");
  check_like_mu(action, mu, "options.out");
  check_like_mu(noise, mu, "options.noise");
  check_row_output(log_prob, mu, "options.logProb");
  const char* noise_name = given_noise ? "noise" : "options.noise";
  const std::initializer_list<Named> inputs = {{&mu, "mu"}, {&log_std, "logStd"}};
  require_no_alias(action, "options.out", inputs);
  require_no_alias(action, "options.out", noise, noise_name);
  require_no_alias(log_prob, "options.logProb", inputs);
  require_no_alias(log_prob, "options.logProb", {{&noise, noise_name}, {&action, "options.out"}});
  if (!given_noise) require_no_alias(noise, "options.noise", inputs);
  check_offset(offset);
  const int64_t rows = mu.numel / d;
  dispatch(mu.device, "tanhGaussianSample",
           [&] {
             cpu::tanh_gauss_sample_f32(action.ptr<float>(), noise.ptr<float>(),
                                        log_prob.ptr<float>(), mu.ptr<float>(),
                                        log_std.ptr<float>(), rows, d, seed, offset, given_noise);
           },
           [&](void* s) {
             ERA_CUDA_ONLY(cuda::tanh_gauss_sample_f32(
                 action.ptr<float>(), noise.ptr<float>(), log_prob.ptr<float>(), mu.ptr<float>(),
                 log_std.ptr<float>(), rows, d, seed, offset, given_noise, s);)
             (void)s;
           });
}

void tanh_gauss_backward(const TensorView& grad_mu, const TensorView& grad_log_std,
                         const TensorView& mu, const TensorView& log_std, const TensorView& noise,
                         const TensorView& grad_action, const TensorView* grad_log_prob) {
  const int64_t d = check_mu(mu);
  check_like_mu(log_std, mu, "logStd");
  check_like_mu(noise, mu, "noise");
  check_like_mu(grad_action, mu, "gradAction");
  if (grad_log_prob) check_row_output(*grad_log_prob, mu, "gradLogProb");
  check_like_mu(grad_mu, mu, "options.gradMu");
  check_like_mu(grad_log_std, mu, "options.gradLogStd");
  for (const Named& out : {Named{&grad_mu, "options.gradMu"}, Named{&grad_log_std, "options.gradLogStd"}})
    require_no_alias(*out.t, out.name, {{&mu, "mu"}, {&log_std, "logStd"}, {&noise, "noise"},
                                        {&grad_action, "gradAction"}, {grad_log_prob, "gradLogProb"}});
  require_no_alias(grad_log_std, "options.gradLogStd", grad_mu, "options.gradMu");
  const int64_t rows = mu.numel / d;
  const float* glp = grad_log_prob ? grad_log_prob->ptr<float>() : nullptr;
  dispatch(mu.device, "tanhGaussianBackward",
           [&] {
             cpu::tanh_gauss_backward_f32(grad_mu.ptr<float>(), grad_log_std.ptr<float>(),
                                          mu.ptr<float>(), log_std.ptr<float>(),
                                          noise.ptr<float>(), grad_action.ptr<float>(), glp, rows,
                                          d);
           },
           [&](void* s) {
             ERA_CUDA_ONLY(cuda::tanh_gauss_backward_f32(
                 grad_mu.ptr<float>(), grad_log_std.ptr<float>(), mu.ptr<float>(),
                 log_std.ptr<float>(), noise.ptr<float>(), grad_action.ptr<float>(), glp, rows, d,
                 s);)
             (void)s;
           });
}

double normal_icdf(double p) { return cpu::normal_icdf(p); }

}  // namespace era::ops

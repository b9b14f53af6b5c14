// N-API wrappers of the SAC ops (native/ops/sac_{policy,replay,loss}.h): policy distributions,
// replay sampling and the twin-critic losses. lib/rl/ops*.ts validates first and resolves the
// generator into (seed, offset); the op layer checks everything again. Optional tensors are null.
#include "../ops/sac_loss.h"
#include "../ops/sac_policy.h"
#include "../ops/sac_replay.h"
#include "args.h"
#include "bindings.h"
#include "dense_args.h"
#include "errors.h"

namespace era::addon {
namespace {

using dense::bool_arg;
using dense::optional_tensor_arg;
using dense::tensor_arg;

Napi::Value done(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

// (action, noise, mu, logStd, temperature, seed, offset)
// Optional trailing boolean: read the noise tensor instead of drawing (CUDA-graph form).
bool given_noise_arg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || info[i].IsUndefined()) return false;
  if (!info[i].IsBoolean()) throw_type("a boolean", "givenNoise", describe_js(info[i]));
  return info[i].As<Napi::Boolean>().Value();
}

Napi::Value TruncSample(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::trunc_normal_sample(tensor_arg(info, 0, "options.out"), tensor_arg(info, 1, "options.noise"),
                             tensor_arg(info, 2, "mu"), tensor_arg(info, 3, "logStd"),
                             number_arg(info, 4, "options.temperature"), index_arg(info, 5, "seed"),
                             index_arg(info, 6, "offset"), given_noise_arg(info, 7));
    return done(info);
  });
}

// (gradMu, gradLogStd, mu, logStd, noise, gradAction, temperature)
Napi::Value TruncBackward(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::trunc_normal_backward(tensor_arg(info, 0, "options.gradMu"),
                               tensor_arg(info, 1, "options.gradLogStd"), tensor_arg(info, 2, "mu"),
                               tensor_arg(info, 3, "logStd"), tensor_arg(info, 4, "noise"),
                               tensor_arg(info, 5, "gradAction"),
                               number_arg(info, 6, "options.temperature"));
    return done(info);
  });
}

// (out, action, mu, logStd, temperature)
Napi::Value TruncLogProb(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::trunc_normal_log_prob(tensor_arg(info, 0, "options.out"), tensor_arg(info, 1, "action"),
                               tensor_arg(info, 2, "mu"), tensor_arg(info, 3, "logStd"),
                               number_arg(info, 4, "options.temperature"));
    return done(info);
  });
}

// (action, noise, logProb, mu, logStd, seed, offset)
Napi::Value TanhSample(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::tanh_gauss_sample(tensor_arg(info, 0, "options.out"), tensor_arg(info, 1, "options.noise"),
                           tensor_arg(info, 2, "options.logProb"), tensor_arg(info, 3, "mu"),
                           tensor_arg(info, 4, "logStd"), index_arg(info, 5, "seed"),
                           index_arg(info, 6, "offset"), given_noise_arg(info, 7));
    return done(info);
  });
}

// (gradMu, gradLogStd, mu, logStd, noise, gradAction, gradLogProb | null)
Napi::Value TanhBackward(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    TensorView glp;
    const bool has_glp = optional_tensor_arg(info, 6, "gradLogProb", glp);
    ops::tanh_gauss_backward(tensor_arg(info, 0, "options.gradMu"),
                             tensor_arg(info, 1, "options.gradLogStd"), tensor_arg(info, 2, "mu"),
                             tensor_arg(info, 3, "logStd"), tensor_arg(info, 4, "noise"),
                             tensor_arg(info, 5, "gradAction"), has_glp ? &glp : nullptr);
    return done(info);
  });
}

// (p) -> Phi^-1(p)
Napi::Value NormalIcdf(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    return Napi::Number::New(info.Env(), ops::normal_icdf(number_arg(info, 0, "p")));
  });
}

// (out, high, seed, offset)
Napi::Value RandomIndices(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::random_indices(tensor_arg(info, 0, "options.out"), number_arg(info, 1, "high"),
                        index_arg(info, 2, "seed"), index_arg(info, 3, "offset"));
    return done(info);
  });
}

// (out, src, indices, checkIndices)
Napi::Value GatherRows(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::gather_rows(tensor_arg(info, 0, "options.out"), tensor_arg(info, 1, "src"),
                     tensor_arg(info, 2, "indices"), bool_arg(info, 3, "options.checkIndices"));
    return done(info);
  });
}

// (dst, rows, start)
Napi::Value ScatterRows(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::scatter_rows(tensor_arg(info, 0, "dst"), tensor_arg(info, 1, "rows"),
                      number_arg(info, 2, "start"));
    return done(info);
  });
}

// (y, q, reward, mask, gamma, logProb | null, alpha | null)
Napi::Value SacTarget(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    TensorView lp, alpha;
    const bool has_lp = optional_tensor_arg(info, 5, "options.logProb", lp);
    const bool has_alpha = optional_tensor_arg(info, 6, "options.alpha", alpha);
    ops::sac_target(tensor_arg(info, 0, "options.out"), tensor_arg(info, 1, "q"),
                    tensor_arg(info, 2, "reward"), tensor_arg(info, 3, "mask"),
                    number_arg(info, 4, "gamma"), has_lp ? &lp : nullptr,
                    has_alpha ? &alpha : nullptr);
    return done(info);
  });
}

// (loss, gradQ, q, y)
Napi::Value SacCriticLoss(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::sac_critic_loss(tensor_arg(info, 0, "options.loss"), tensor_arg(info, 1, "options.gradQ"),
                         tensor_arg(info, 2, "q"), tensor_arg(info, 3, "y"));
    return done(info);
  });
}

// (loss, gradQ, q, logProb | null, alpha | null, gradLogProb | null, alphaLoss | null,
//  gradLogAlpha | null, targetEntropy)
Napi::Value SacActorLoss(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    TensorView lp, alpha, glp, aloss, gla;
    const bool has_lp = optional_tensor_arg(info, 3, "options.logProb", lp);
    const bool has_alpha = optional_tensor_arg(info, 4, "options.alpha", alpha);
    ops::ActorLossOutputs extra;
    if (optional_tensor_arg(info, 5, "options.gradLogProb", glp)) extra.grad_log_prob = &glp;
    if (optional_tensor_arg(info, 6, "options.alphaLoss", aloss)) extra.alpha_loss = &aloss;
    if (optional_tensor_arg(info, 7, "options.gradLogAlpha", gla)) extra.grad_log_alpha = &gla;
    ops::sac_actor_loss(tensor_arg(info, 0, "options.loss"), tensor_arg(info, 1, "options.gradQ"),
                        tensor_arg(info, 2, "q"), has_lp ? &lp : nullptr,
                        has_alpha ? &alpha : nullptr, extra,
                        number_arg(info, 8, "options.targetEntropy"));
    return done(info);
  });
}

}  // namespace

void register_sac(Napi::Env env, Napi::Object exports) {
  const std::pair<const char*, Napi::Value (*)(const Napi::CallbackInfo&)> fns[] = {
      {"rlTruncatedNormalSample", TruncSample},
      {"rlTruncatedNormalBackward", TruncBackward},
      {"rlTruncatedNormalLogProb", TruncLogProb},
      {"rlTanhGaussianSample", TanhSample},
      {"rlTanhGaussianBackward", TanhBackward},
      {"rlNormalIcdf", NormalIcdf},
      {"rlRandomIndices", RandomIndices},
      {"rlGatherRows", GatherRows},
      {"rlScatterRows", ScatterRows},
      {"rlSacTarget", SacTarget},
      {"rlSacCriticLoss", SacCriticLoss},
      {"rlSacActorLoss", SacActorLoss},
  };
  for (const auto& [name, fn] : fns) exports.Set(name, Napi::Function::New(env, fn, name));
}

}  // namespace era::addon

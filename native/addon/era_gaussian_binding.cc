// N-API wrappers of the continuous-control ERA op (native/ops/era_gaussian.h). lib/era/gaussian.ts
// resolves the options (entropyPerDim or targetEntropy, delta, mode) into the total target and the
// clip bounds; the op layer checks them again.
#include "../ops/era_gaussian.h"
#include "args.h"
#include "bindings.h"
#include "errors.h"
#include "tensor_handle.h"

namespace era::addon {
namespace {

TensorView tensor_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = i < info.Length() ? info[i] : info.Env().Undefined();
  return NativeTensor::FromValue(info.Env(), v, name)->View(name);
}

bool bool_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsBoolean())
    throw_type("a boolean", name, i < info.Length() ? describe_js(info[i]) : "undefined");
  return info[i].As<Napi::Boolean>().Value();
}

// (targetEntropy, logStdMin, logStdMax, clipUpper) starting at argument i.
ops::GaussianParams params_arg(const Napi::CallbackInfo& info, size_t i) {
  ops::GaussianParams p;
  p.target_entropy = number_arg(info, i, "options.targetEntropy");
  p.log_std_min = number_arg(info, i + 1, "options.logStdMin");
  p.log_std_max = number_arg(info, i + 2, "options.logStdMax");
  p.clip_upper = bool_arg(info, i + 3, "clipUpper");
  return p;
}

// eraGaussianForward(out, raw, targetEntropy, logStdMin, logStdMax, clipUpper)
Napi::Value Forward(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::era_gaussian_forward(tensor_arg(info, 0, "out"), tensor_arg(info, 1, "raw"),
                              params_arg(info, 2));
    return info.Env().Undefined();
  });
}

// eraGaussianBackward(gradRaw, raw, gradLogStd, targetEntropy, logStdMin, logStdMax, clipUpper)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::era_gaussian_backward(tensor_arg(info, 0, "out"), tensor_arg(info, 1, "raw"),
                               tensor_arg(info, 2, "gradLogStd"), params_arg(info, 3));
    return info.Env().Undefined();
  });
}

}  // namespace

void register_era_gaussian(Napi::Env env, Napi::Object exports) {
  exports.Set("eraGaussianForward", Napi::Function::New(env, Forward, "eraGaussianForward"));
  exports.Set("eraGaussianBackward", Napi::Function::New(env, Backward, "eraGaussianBackward"));
}

}  // namespace era::addon

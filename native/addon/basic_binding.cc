// N-API wrappers of the basic ops (native/ops/basic.h). Arguments arrive as NativeTensor handles
// and numbers; the op layer does the shape/dtype/device checks.
#include "../ops/basic.h"
#include "../ops/check.h"
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

// sharesMemory(a, b): whether the two tensors' bytes overlap (for checks that must see every
// block of a multi-block op before the first one runs).
Napi::Value SharesMemory(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    return Napi::Boolean::New(info.Env(), ops::overlaps(tensor_arg(info, 0, "a"), tensor_arg(info, 1, "b")));
  });
}

Napi::Value Fill(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::fill(tensor_arg(info, 0, "out"), number_arg(info, 1, "value"));
    return info.Env().Undefined();
  });
}

Napi::Value Copy(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::copy(tensor_arg(info, 0, "dst"), tensor_arg(info, 1, "src"));
    return info.Env().Undefined();
  });
}

Napi::Value Add(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::add(tensor_arg(info, 0, "options.out"), tensor_arg(info, 1, "a"), tensor_arg(info, 2, "b"),
             number_arg(info, 3, "alpha"));
    return info.Env().Undefined();
  });
}

Napi::Value Scale(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::scale(tensor_arg(info, 0, "options.out"), tensor_arg(info, 1, "x"), number_arg(info, 2, "alpha"));
    return info.Env().Undefined();
  });
}

Napi::Value Exp(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::exponential(tensor_arg(info, 0, "options.out"), tensor_arg(info, 1, "x"));
    return info.Env().Undefined();
  });
}

Napi::Value RandomUniform(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::random_uniform(tensor_arg(info, 0, "out"), index_arg(info, 1, "seed"),
                        index_arg(info, 2, "offset"), number_arg(info, 3, "low"),
                        number_arg(info, 4, "high"));
    return info.Env().Undefined();
  });
}

Napi::Value RandomNormal(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::random_normal(tensor_arg(info, 0, "out"), index_arg(info, 1, "seed"),
                       index_arg(info, 2, "offset"), number_arg(info, 3, "mean"),
                       number_arg(info, 4, "std"));
    return info.Env().Undefined();
  });
}

}  // namespace

void register_basic(Napi::Env env, Napi::Object exports) {
  exports.Set("sharesMemory", Napi::Function::New(env, SharesMemory, "sharesMemory"));
  exports.Set("fill", Napi::Function::New(env, Fill, "fill"));
  exports.Set("copy", Napi::Function::New(env, Copy, "copy"));
  exports.Set("add", Napi::Function::New(env, Add, "add"));
  exports.Set("scale", Napi::Function::New(env, Scale, "scale"));
  exports.Set("exp", Napi::Function::New(env, Exp, "exp"));
  exports.Set("randomUniform", Napi::Function::New(env, RandomUniform, "randomUniform"));
  exports.Set("randomNormal", Napi::Function::New(env, RandomNormal, "randomNormal"));
}

}  // namespace era::addon

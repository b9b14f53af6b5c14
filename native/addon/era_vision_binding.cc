// N-API wrappers of the classification ERA op (native/ops/era_vision.h). lib/era/vision.ts
// validates the options first; the op layer checks them again.
#include "../ops/era_vision.h"
#include "args.h"
#include "bindings.h"
#include "dense_args.h"
#include "errors.h"
#include "tensor_handle.h"

namespace era::addon {
namespace {

TensorView tensor_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = i < info.Length() ? info[i] : info.Env().Undefined();
  return NativeTensor::FromValue(info.Env(), v, name)->View(name);
}

// (minEntropy, tau) starting at argument i.
ops::VisionParams params_arg(const Napi::CallbackInfo& info, size_t i) {
  return {number_arg(info, i, "options.minEntropy"), number_arg(info, i + 1, "options.tau")};
}

// eraSoftmaxForward(out, logits, minEntropy, tau)
Napi::Value Forward(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::era_vision_forward(tensor_arg(info, 0, "out"), tensor_arg(info, 1, "logits"),
                            params_arg(info, 2));
    return info.Env().Undefined();
  });
}

// eraSoftmaxBackward(gradLogits, logits, gradOut, minEntropy, tau)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::era_vision_backward(tensor_arg(info, 0, "out"), tensor_arg(info, 1, "logits"),
                             tensor_arg(info, 2, "gradOut"), params_arg(info, 3));
    return info.Env().Undefined();
  });
}

// eraSoftmaxCrossEntropy(gradLogits, logits, labels, minEntropy, tau, labelSmoothing, lossOut?)
// -> mean loss (NaN when lossOut is given: the loss is written there)
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    TensorView loss_out;
    const bool has_loss_out = dense::optional_tensor_arg(info, 6, "options.lossOut", loss_out);
    double loss = ops::era_vision_cross_entropy(
        tensor_arg(info, 0, "out"), tensor_arg(info, 1, "logits"), tensor_arg(info, 2, "labels"),
        params_arg(info, 3), number_arg(info, 5, "options.labelSmoothing"),
        has_loss_out ? &loss_out : nullptr);
    return Napi::Number::New(info.Env(), loss);
  });
}

}  // namespace

void register_era_vision(Napi::Env env, Napi::Object exports) {
  exports.Set("eraSoftmaxForward", Napi::Function::New(env, Forward, "eraSoftmaxForward"));
  exports.Set("eraSoftmaxBackward", Napi::Function::New(env, Backward, "eraSoftmaxBackward"));
  exports.Set("eraSoftmaxCrossEntropy",
              Napi::Function::New(env, CrossEntropy, "eraSoftmaxCrossEntropy"));
}

}  // namespace era::addon

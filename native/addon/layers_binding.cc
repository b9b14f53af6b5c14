// N-API wrappers of the dense-layer ops (native/ops/layers.h). lib/nn/functional.ts validates
// first; the op layer checks every argument again.
#include "../ops/layers.h"
#include "bindings.h"
#include "dense_args.h"
#include "errors.h"

namespace era::addon {
namespace {

using namespace dense;

Activation activation_arg(const Napi::CallbackInfo& info, size_t i) {
  return static_cast<Activation>(code_arg(info, i, "activation", 4, "an activation code 0..3"));
}

ops::ReduceDim dim_arg(const Napi::CallbackInfo& info, size_t i) {
  return static_cast<ops::ReduceDim>(code_arg(info, i, "options.dim", 3, "a dim code 0..2"));
}

// activation(out, x, activation)
Napi::Value ActivationFwd(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::activation(tensor_arg(info, 0, "options.out"), tensor_arg(info, 1, "x"), activation_arg(info, 2));
    return info.Env().Undefined();
  });
}

// activationBackward(dx, dy, y, activation)
Napi::Value ActivationBwd(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::activation_backward(tensor_arg(info, 0, "options.out"), tensor_arg(info, 1, "dy"),
                             tensor_arg(info, 2, "y"), activation_arg(info, 3));
    return info.Env().Undefined();
  });
}

// layerNorm(y, mean, rstd, x, weight, bias, eps)
Napi::Value LayerNormFwd(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::layer_norm(tensor_arg(info, 0, "options.out"), tensor_arg(info, 1, "options.mean"),
                    tensor_arg(info, 2, "options.rstd"), tensor_arg(info, 3, "x"),
                    tensor_arg(info, 4, "weight"), tensor_arg(info, 5, "bias"),
                    number_arg(info, 6, "options.eps"));
    return info.Env().Undefined();
  });
}

// layerNormBackward(dx | null, dWeight | null, dBias | null, dy, x, weight, mean, rstd, accumulate)
Napi::Value LayerNormBwd(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    TensorView dx, dw, db;
    const bool has_dx = optional_tensor_arg(info, 0, "options.dx", dx);
    const bool has_dw = optional_tensor_arg(info, 1, "options.dWeight", dw);
    const bool has_db = optional_tensor_arg(info, 2, "options.dBias", db);
    ops::layer_norm_backward(has_dx ? &dx : nullptr, has_dw ? &dw : nullptr, has_db ? &db : nullptr,
                             tensor_arg(info, 3, "dy"), tensor_arg(info, 4, "x"),
                             tensor_arg(info, 5, "weight"), tensor_arg(info, 6, "mean"),
                             tensor_arg(info, 7, "rstd"), bool_arg(info, 8, "options.accumulate"));
    return info.Env().Undefined();
  });
}

// concat(out, inputs[])
Napi::Value Concat(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::concat(tensor_arg(info, 0, "options.out"), tensors_arg(info, 1, "inputs"));
    return info.Env().Undefined();
  });
}

// split(outs[], x)
Napi::Value Split(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::split(tensors_arg(info, 0, "options.out"), tensor_arg(info, 1, "x"));
    return info.Env().Undefined();
  });
}

// mseLoss(out, pred, target)
Napi::Value MseLoss(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::mse_loss(tensor_arg(info, 0, "options.out"), tensor_arg(info, 1, "pred"),
                  tensor_arg(info, 2, "target"));
    return info.Env().Undefined();
  });
}

// mseLossBackward(grad, pred, target, scale)
Napi::Value MseLossBwd(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::mse_loss_backward(tensor_arg(info, 0, "options.out"), tensor_arg(info, 1, "pred"),
                           tensor_arg(info, 2, "target"), number_arg(info, 3, "options.scale"));
    return info.Env().Undefined();
  });
}

// reduceSum(out, x, dim, mean, accumulate)
Napi::Value ReduceSum(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::reduce_sum(tensor_arg(info, 0, "options.out"), tensor_arg(info, 1, "x"), dim_arg(info, 2),
                    bool_arg(info, 3, "mean"), bool_arg(info, 4, "options.accumulate"));
    return info.Env().Undefined();
  });
}

// reduceSumBackward(dx, dy, dim, mean, accumulate)
Napi::Value ReduceSumBwd(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::reduce_sum_backward(tensor_arg(info, 0, "options.out"), tensor_arg(info, 1, "dy"),
                             dim_arg(info, 2), bool_arg(info, 3, "mean"),
                             bool_arg(info, 4, "options.accumulate"));
    return info.Env().Undefined();
  });
}

}  // namespace

void register_layers(Napi::Env env, Napi::Object exports) {
  exports.Set("activation", Napi::Function::New(env, ActivationFwd, "activation"));
  exports.Set("activationBackward", Napi::Function::New(env, ActivationBwd, "activationBackward"));
  exports.Set("layerNorm", Napi::Function::New(env, LayerNormFwd, "layerNorm"));
  exports.Set("layerNormBackward", Napi::Function::New(env, LayerNormBwd, "layerNormBackward"));
  exports.Set("concat", Napi::Function::New(env, Concat, "concat"));
  exports.Set("split", Napi::Function::New(env, Split, "split"));
  exports.Set("mseLoss", Napi::Function::New(env, MseLoss, "mseLoss"));
  exports.Set("mseLossBackward", Napi::Function::New(env, MseLossBwd, "mseLossBackward"));
  exports.Set("reduceSum", Napi::Function::New(env, ReduceSum, "reduceSum"));
  exports.Set("reduceSumBackward", Napi::Function::New(env, ReduceSumBwd, "reduceSumBackward"));
}

}  // namespace era::addon

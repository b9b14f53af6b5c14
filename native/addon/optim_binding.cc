// N-API wrappers of the optimizer ops (native/ops/optim.h). lib/nn/optim.ts validates first; the
// op layer checks every argument again.
#include "../ops/optim.h"
#include "bindings.h"
#include "dense_args.h"
#include "errors.h"

namespace era::addon {
namespace {

using namespace dense;

// adamStep(params, grads, m, v, lr, beta1, beta2, eps, weightDecay, step, stepCounter?)
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::AdamOptions o;
    o.lr = number_arg(info, 4, "options.lr");
    o.beta1 = number_arg(info, 5, "options.beta1");
    o.beta2 = number_arg(info, 6, "options.beta2");
    o.eps = number_arg(info, 7, "options.eps");
    o.weight_decay = number_arg(info, 8, "options.weightDecay");
    o.step = number_arg(info, 9, "step");
    TensorView counter;
    if (optional_tensor_arg(info, 10, "stepCounter", counter)) o.step_counter = &counter;
    ops::adam_step(tensor_arg(info, 0, "params"), tensor_arg(info, 1, "grads"),
                   tensor_arg(info, 2, "m"), tensor_arg(info, 3, "v"), o);
    return info.Env().Undefined();
  });
}

// sgdStep(params, grads, buf | null, lr, momentum, nesterov, weightDecay)
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    TensorView buf;
    const bool has_buf = optional_tensor_arg(info, 2, "buf", buf);
    ops::SgdOptions o;
    o.lr = number_arg(info, 3, "options.lr");
    o.momentum = number_arg(info, 4, "options.momentum");
    o.nesterov = bool_arg(info, 5, "options.nesterov");
    o.weight_decay = number_arg(info, 6, "options.weightDecay");
    ops::sgd_step(tensor_arg(info, 0, "params"), tensor_arg(info, 1, "grads"),
                  has_buf ? &buf : nullptr, o);
    return info.Env().Undefined();
  });
}

// clipGradNorm(grads[], maxNorm, normOut)
Napi::Value ClipGradNorm(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    std::vector<TensorView> grads = tensors_arg(info, 0, "grads");
    ops::clip_grad_norm(grads, number_arg(info, 1, "maxNorm"), tensor_arg(info, 2, "options.out"));
    return info.Env().Undefined();
  });
}

// polyakUpdate(target, online, tau)
Napi::Value PolyakUpdate(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    ops::polyak_update(tensor_arg(info, 0, "target"), tensor_arg(info, 1, "online"),
                       number_arg(info, 2, "tau"));
    return info.Env().Undefined();
  });
}

}  // namespace

void register_optim(Napi::Env env, Napi::Object exports) {
  exports.Set("adamStep", Napi::Function::New(env, AdamStep, "adamStep"));
  exports.Set("sgdStep", Napi::Function::New(env, SgdStep, "sgdStep"));
  exports.Set("clipGradNorm", Napi::Function::New(env, ClipGradNorm, "clipGradNorm"));
  exports.Set("polyakUpdate", Napi::Function::New(env, PolyakUpdate, "polyakUpdate"));
}

}  // namespace era::addon

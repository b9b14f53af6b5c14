// Module entry: one AddonData per environment, the NativeTensor class, and every binding file.
#include <napi.h>

#include "bindings.h"
#include "errors.h"
#include "tensor_handle.h"

namespace era::addon {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);
  Napi::Function tensor = NativeTensor::Define(env);
  data->tensor_ctor = Napi::Persistent(tensor);
  exports.Set("NativeTensor", tensor);
  register_runtime(env, exports);
  register_cpu(env, exports);
  register_basic(env, exports);
  register_era_gaussian(env, exports);
  register_era_vision(env, exports);
  register_era_logits(env, exports);
  register_gemm(env, exports);
  register_layers(env, exports);
  register_optim(env, exports);
  register_sac(env, exports);
  register_mlp(env, exports);
  register_graph(env, exports);
  return exports;
}

}  // namespace era::addon

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return era::addon::Init(env, exports);
}

NODE_API_MODULE(era, InitModule)

// Each binding file registers its functions on the module's exports.
#pragma once
#include <napi.h>

namespace era::addon {

void register_runtime(Napi::Env env, Napi::Object exports);
void register_cpu(Napi::Env env, Napi::Object exports);
void register_basic(Napi::Env env, Napi::Object exports);
void register_era_gaussian(Napi::Env env, Napi::Object exports);
void register_era_vision(Napi::Env env, Napi::Object exports);
void register_era_logits(Napi::Env env, Napi::Object exports);
void register_gemm(Napi::Env env, Napi::Object exports);
void register_layers(Napi::Env env, Napi::Object exports);
void register_optim(Napi::Env env, Napi::Object exports);
void register_sac(Napi::Env env, Napi::Object exports);
void register_mlp(Napi::Env env, Napi::Object exports);
void register_graph(Napi::Env env, Napi::Object exports);

}  // namespace era::addon

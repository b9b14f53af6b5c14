// Argument unwrapping shared by the dense-network bindings (gemm, layers, optim).
#pragma once
#include <napi.h>

#include <string>
#include <utility>
#include <vector>

#include "../core/tensor.h"
#include "args.h"
#include "tensor_handle.h"

namespace era::addon::dense {

inline Napi::Value arg(const Napi::CallbackInfo& info, size_t i) {
  return i < info.Length() ? info[i] : info.Env().Undefined();
}

inline TensorView tensor_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return NativeTensor::FromValue(info.Env(), arg(info, i), name)->View(name);
}

// null or undefined -> false (slot left empty); otherwise a tensor into `slot`.
inline bool optional_tensor_arg(const Napi::CallbackInfo& info, size_t i, const char* name,
                                TensorView& slot) {
  Napi::Value v = arg(info, i);
  if (v.IsNull() || v.IsUndefined()) return false;
  slot = NativeTensor::FromValue(info.Env(), v, name)->View(name);
  return true;
}

inline bool bool_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = arg(info, i);
  if (!v.IsBoolean()) throw_type("a boolean", name, describe_js(v));
  return v.As<Napi::Boolean>().Value();
}

// An integer code in [0, count).
inline int code_arg(const Napi::CallbackInfo& info, size_t i, const char* name, int count,
                    const char* what) {
  double v = number_arg(info, i, name);
  if (!(v >= 0) || v >= count || v != static_cast<double>(static_cast<int>(v)))
    throw_range(what, name, describe_js(info[i]));
  return static_cast<int>(v);
}

inline std::vector<TensorView> tensors_arg(const Napi::CallbackInfo& info, size_t i,
                                           const char* name) {
  Napi::Value v = arg(info, i);
  if (!v.IsArray()) throw_type("an array of Tensors", name, describe_js(v));
  Napi::Array arr = v.As<Napi::Array>();
  // Every element is read (which may run JS: an accessor) before any memory is looked at, so no
  // JS can detach a CPU tensor's buffer between its check and its use.
  std::vector<std::pair<NativeTensor*, std::string>> items;
  const uint32_t n = arr.Length();
  items.reserve(n);
  for (uint32_t k = 0; k < n; ++k) {
    std::string item = std::string(name) + "[" + std::to_string(k) + "]";
    NativeTensor* t = NativeTensor::FromValue(info.Env(), arr.Get(k), item.c_str());
    items.emplace_back(t, std::move(item));
  }
  std::vector<TensorView> out;
  out.reserve(items.size());
  for (const auto& [t, item] : items) out.push_back(t->View(item.c_str()));
  return out;
}

}  // namespace era::addon::dense

// Unwrapping JS arguments in the addon. The TS layer validates first; these checks make sure no
// value from JS can crash native code even when that layer is bypassed.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/error.h"

namespace era::addon {

inline std::string describe_js(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return std::string(v.As<Napi::Boolean>().Value() ? "true" : "false") + " of type boolean";
    case napi_number: return v.As<Napi::Number>().ToString().Utf8Value() + " of type number";
    case napi_string: return "a string";
    case napi_bigint: return "a bigint";
    case napi_function: return "a function";
    default: return v.IsArray() ? "an array" : v.IsTypedArray() ? "a typed array" : "an object";
  }
}

inline std::string string_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsString())
    throw_type("a string", name, i < info.Length() ? describe_js(info[i]) : "undefined");
  return info[i].As<Napi::String>().Utf8Value();
}

// A list of names (kernel choices, say) as a JS array, and as "'a', 'b'" for error messages.
inline Napi::Array string_array(Napi::Env env, const std::vector<std::string>& names) {
  Napi::Array out = Napi::Array::New(env, names.size());
  for (uint32_t i = 0; i < names.size(); ++i) out.Set(i, names[i]);
  return out;
}

inline std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}

inline double number_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber())
    throw_type("a number", name, i < info.Length() ? describe_js(info[i]) : "undefined");
  return info[i].As<Napi::Number>().DoubleValue();
}

// A non-negative integer that a double holds exactly (seeds, offsets, counts).
inline uint64_t index_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  double v = number_arg(info, i, name);
  if (!(v >= 0) || v > 9007199254740991.0 || std::floor(v) != v)
    throw_range("a non-negative safe integer", name, describe_js(info[i]));
  return static_cast<uint64_t>(v);
}

}  // namespace era::addon

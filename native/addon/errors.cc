#include "errors.h"

namespace era::addon {

AddonData& addon_data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

const char* error_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Type: return "ERA_INVALID_TYPE";
    case ErrorKind::Range: return "ERA_INVALID_VALUE";
    case ErrorKind::Disposed: return "ERA_DISPOSED";
    case ErrorKind::Cuda: return "ERA_CUDA_ERROR";
    case ErrorKind::OutOfMemory: return "ERA_OUT_OF_MEMORY";
    case ErrorKind::NoDevice: return "ERA_NO_DEVICE";
    case ErrorKind::Internal: return "ERA_INTERNAL";
  }
  return "ERA_INTERNAL";
}

Napi::Error to_js_error(Napi::Env env, ErrorKind kind, const std::string& message) {
  Napi::Error err;
  if (kind == ErrorKind::Type) {
    err = Napi::TypeError::New(env, message);
  } else if (kind == ErrorKind::Range) {
    err = Napi::RangeError::New(env, message);
  } else {
    AddonData& data = addon_data(env);
    if (!data.error_class.IsEmpty()) {
      Napi::Object obj = data.error_class.New(
          {Napi::String::New(env, message), Napi::String::New(env, error_code(kind))});
      return Napi::Error(env, obj);
    }
    err = Napi::Error::New(env, message);
  }
  err.Set("code", Napi::String::New(env, error_code(kind)));
  return err;
}

Napi::Error to_js_error(Napi::Env env, const Error& e) { return to_js_error(env, e.kind(), e.what()); }

}  // namespace era::addon

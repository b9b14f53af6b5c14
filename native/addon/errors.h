// Turning native failures into JS exceptions. era::Error kinds map to TypeError, RangeError or the
// package's EraError (registered from lib/errors.ts) with a `code`; any other C++ exception becomes
// an EraError too, so no input can take the process down.
#pragma once
#include <napi.h>

#include <new>

#include "../core/error.h"

namespace era::addon {

struct AddonData {
  Napi::FunctionReference tensor_ctor;  // NativeTensor, for instanceof checks
  Napi::FunctionReference error_class;  // lib/errors.ts EraError, once registered
};

AddonData& addon_data(Napi::Env env);
const char* error_code(ErrorKind kind);
Napi::Error to_js_error(Napi::Env env, const Error& e);
Napi::Error to_js_error(Napi::Env env, ErrorKind kind, const std::string& message);

// Runs a binding body and converts escaping native exceptions into JS ones.
template <typename F>
auto guarded(Napi::Env env, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const Error& e) {
    throw to_js_error(env, e);
  } catch (const std::bad_alloc&) {
    throw to_js_error(env, ErrorKind::OutOfMemory, "host out of memory");
  } catch (const std::exception& e) {
    throw to_js_error(env, ErrorKind::Internal, std::string("internal error: ") + e.what());
  }
}

}  // namespace era::addon

// Backend introspection and control: info(), memory(), emptyCache(), synchronize(), event timers,
// and registering the EraError class that native errors are thrown as.
#include "../core/cuda_runtime.h"
#include "args.h"
#include "bindings.h"
#include "errors.h"
#include "tensor_handle.h"

#ifndef ERA_NAPI_API_LEVEL
#define ERA_NAPI_API_LEVEL NAPI_VERSION
#endif
#ifndef ERA_COMPILER
#define ERA_COMPILER "unknown"
#endif

namespace era::addon {
namespace {

Napi::Value Info(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    Napi::Env env = info.Env();
    cuda_rt::DeviceInfo d = cuda_rt::device_info();
    Napi::Object out = Napi::Object::New(env);
    Napi::Object build = Napi::Object::New(env);
    build.Set("cuda", cuda_rt::built_with_cuda());
    build.Set("cudaArchitectures", cuda_rt::build_architectures());
    build.Set("napiVersion", ERA_NAPI_API_LEVEL);
    // Where Node runs this addon's finalizers: during GC for a module declaring the experimental
    // Node-API version (see CMakeLists.txt), else from the event loop.
    build.Set("finalizers", NAPI_VERSION == NAPI_VERSION_EXPERIMENTAL ? "gc" : "event-loop");
    build.Set("compiler", ERA_COMPILER);
#ifdef NDEBUG
    build.Set("buildType", "Release");
#else
    build.Set("buildType", "Debug");
#endif
    out.Set("build", build);
    Napi::Object cuda = Napi::Object::New(env);
    cuda.Set("available", d.available);
    if (!d.available) cuda.Set("reason", d.reason);
    cuda.Set("deviceIndex", d.index);
    cuda.Set("name", d.name);
    cuda.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    cuda.Set("smCount", d.sm_count);
    cuda.Set("totalMemory", static_cast<double>(d.total_memory));
    cuda.Set("freeMemory", static_cast<double>(d.free_memory));
    cuda.Set("l2CacheBytes", static_cast<double>(d.l2_bytes));
    cuda.Set("driverVersion", d.driver_version);
    cuda.Set("runtimeVersion", d.runtime_version);
    out.Set("cuda", cuda);
    return out;
  });
}

Napi::Value Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LiveCounters& live = live_counters();
  cuda_rt::AllocatorStats s = cuda_rt::allocator_stats();
  Napi::Object out = Napi::Object::New(env);
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("tensors", static_cast<double>(live.tensors[0].load()));
  cpu.Set("bytes", static_cast<double>(live.bytes[0].load()));
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("tensors", static_cast<double>(live.tensors[1].load()));
  cuda.Set("bytes", static_cast<double>(live.bytes[1].load()));
  cuda.Set("allocatedBytes", static_cast<double>(s.in_use));
  cuda.Set("cachedBytes", static_cast<double>(s.cached));
  cuda.Set("peakBytes", static_cast<double>(s.peak));
  cuda.Set("deviceAllocations", static_cast<double>(s.device_allocations));
  cuda.Set("cacheHits", static_cast<double>(s.cache_hits));
  cuda.Set("pinnedReadCachedBytes", static_cast<double>(s.pinned_read_cached));
  out.Set("cpu", cpu);
  out.Set("cuda", cuda);
  // What V8 counts as external memory (the whole process's; CUDA tensors report their bytes):
  // a change of 0 returns the current total.
  int64_t external = 0;
  napi_adjust_external_memory(env, 0, &external);
  out.Set("v8ExternalBytes", static_cast<double>(external));
  return out;
}

Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    cuda_rt::empty_cache();
    return info.Env().Undefined();
  });
}

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    cuda_rt::synchronize("synchronize");
    return info.Env().Undefined();
  });
}

Napi::Value TimerStart(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    cuda_rt::timer_start();
    return info.Env().Undefined();
  });
}

Napi::Value TimerStop(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] { return Napi::Number::New(info.Env(), cuda_rt::timer_stop_ms()); });
}

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    if (info.Length() < 1 || !info[0].IsFunction())
      throw_type("a constructor", "errorClass", info.Length() ? describe_js(info[0]) : "undefined");
    addon_data(info.Env()).error_class = Napi::Persistent(info[0].As<Napi::Function>());
    return info.Env().Undefined();
  });
}

}  // namespace

void register_runtime(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("memory", Napi::Function::New(env, Memory, "memory"));
  exports.Set("emptyCache", Napi::Function::New(env, EmptyCache, "emptyCache"));
  exports.Set("synchronize", Napi::Function::New(env, Synchronize, "synchronize"));
  exports.Set("timerStart", Napi::Function::New(env, TimerStart, "timerStart"));
  exports.Set("timerStop", Napi::Function::New(env, TimerStop, "timerStop"));
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
}

}  // namespace era::addon

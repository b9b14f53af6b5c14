// N-API wrappers of CUDA graph capture (native/core/cuda_runtime.h). A captured graph travels to JS
// as an External holding the graph; graphDispose frees it at once, and a finalizer frees it where
// the JS object is collected without being disposed.
#include "../core/cuda_runtime.h"
#include "../ops/gemm.h"
#include "args.h"
#include "bindings.h"
#include "errors.h"

namespace era::addon {
namespace {

struct GraphHolder {
  cuda_rt::Graph* graph = nullptr;
};

GraphHolder* holder_arg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsExternal())
    throw_type("a captured graph", "graph", i < info.Length() ? describe_js(info[i]) : "undefined");
  return info[i].As<Napi::External<GraphHolder>>().Data();
}

Napi::Value Begin(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    // The GEMM decides once whether this device runs its wgmma kernel, by a probe that cannot run
    // while recording; probed here, a graph recorded before any eager product (warmup 0) records
    // the same kernel an eager call would use.
    if (cuda_rt::available()) ops::cuda_gemm_kernels();
    cuda_rt::begin_capture("captureGraph");
    return info.Env().Undefined();
  });
}

Napi::Value End(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto* h = new GraphHolder();
    try {
      h->graph = cuda_rt::end_capture("captureGraph");
    } catch (...) {
      delete h;
      throw;
    }
    return Napi::External<GraphHolder>::New(info.Env(), h, [](Napi::Env, GraphHolder* g) {
      cuda_rt::destroy_graph(g->graph);
      delete g;
    });
  });
}

Napi::Value Abort(const Napi::CallbackInfo& info) {
  cuda_rt::abort_capture();
  return info.Env().Undefined();
}

Napi::Value Capturing(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), cuda_rt::capturing());
}

Napi::Value Launch(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    GraphHolder* h = holder_arg(info, 0);
    if (!h->graph) throw_type("a live graph", "graph", "a disposed graph");
    cuda_rt::launch_graph(h->graph, "graph.replay");
    return info.Env().Undefined();
  });
}

Napi::Value Nodes(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    return Napi::Number::New(info.Env(), static_cast<double>(cuda_rt::graph_nodes(holder_arg(info, 0)->graph)));
  });
}

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    GraphHolder* h = holder_arg(info, 0);
    cuda_rt::destroy_graph(h->graph);
    h->graph = nullptr;
    return info.Env().Undefined();
  });
}

}  // namespace

void register_graph(Napi::Env env, Napi::Object exports) {
  exports.Set("graphBegin", Napi::Function::New(env, Begin, "graphBegin"));
  exports.Set("graphEnd", Napi::Function::New(env, End, "graphEnd"));
  exports.Set("graphAbort", Napi::Function::New(env, Abort, "graphAbort"));
  exports.Set("graphCapturing", Napi::Function::New(env, Capturing, "graphCapturing"));
  exports.Set("graphLaunch", Napi::Function::New(env, Launch, "graphLaunch"));
  exports.Set("graphNodes", Napi::Function::New(env, Nodes, "graphNodes"));
  exports.Set("graphDispose", Napi::Function::New(env, Dispose, "graphDispose"));
}

}  // namespace era::addon

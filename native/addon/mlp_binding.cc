// N-API wrapper of the MLP model object (native/models/mlp.h). lib/nn/mlp.ts validates first and
// owns the parameter, gradient and workspace tensors; this object holds references to them and
// runs a whole forward or backward in one call.
#include <memory>
#include <string>

#include "../models/mlp.h"
#include "../ops/gemm.h"
#include "bindings.h"
#include "dense_args.h"
#include "errors.h"
#include "tensor_handle.h"

namespace era::addon {
namespace {

using namespace dense;

Napi::Value prop(const Napi::Object& o, const char* key) { return o.Get(key); }

int64_t size_value(const Napi::Value& v, const std::string& name) {
  if (!v.IsNumber()) throw_type("a positive integer", name, describe_js(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 1) || d > 9007199254740991.0 || d != static_cast<double>(static_cast<int64_t>(d)))
    throw_range("a positive integer", name, describe_js(v));
  return static_cast<int64_t>(d);
}

int64_t size_prop(const Napi::Object& o, const char* key, const char* name) {
  return size_value(prop(o, key), name);
}

int code_prop(const Napi::Object& o, const char* key, const char* name, int count) {
  Napi::Value v = prop(o, key);
  if (!v.IsNumber()) throw_type("a code", name, describe_js(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d >= count || d != static_cast<double>(static_cast<int>(d)))
    throw_range("a code in [0, " + std::to_string(count) + ")", name, describe_js(v));
  return static_cast<int>(d);
}

models::MlpConfig config_arg(const Napi::CallbackInfo& info) {
  Napi::Value v = arg(info, 0);
  if (!v.IsObject()) throw_type("an options object", "options", describe_js(v));
  Napi::Object o = v.As<Napi::Object>();
  models::MlpConfig c;
  c.input = size_prop(o, "inputSize", "options.inputSize");
  c.output = size_prop(o, "outputSize", "options.outputSize");
  Napi::Value hidden = prop(o, "hiddenSizes");
  if (!hidden.IsArray()) throw_type("an array of positive integers", "options.hiddenSizes", describe_js(hidden));
  Napi::Array arr = hidden.As<Napi::Array>();
  if (arr.Length() > 64) throw_range("at most 64 hidden layers", "options.hiddenSizes", describe_js(hidden));
  for (uint32_t i = 0; i < arr.Length(); ++i)
    c.hidden.push_back(size_value(arr.Get(i), "options.hiddenSizes[" + std::to_string(i) + "]"));
  c.act = static_cast<Activation>(code_prop(o, "activation", "options.activation", 4));
  c.out_act = static_cast<Activation>(code_prop(o, "outputActivation", "options.outputActivation", 4));
  Napi::Value ln = prop(o, "layerNorm");
  if (!ln.IsBoolean()) throw_type("a boolean", "options.layerNorm", describe_js(ln));
  c.layer_norm = ln.As<Napi::Boolean>().Value();
  Napi::Value eps = prop(o, "eps");
  if (!eps.IsNumber()) throw_type("a positive number", "options.eps", describe_js(eps));
  c.eps = eps.As<Napi::Number>().DoubleValue();
  c.ensemble = size_prop(o, "ensemble", "options.ensemble");
  c.precision = static_cast<ops::Precision>(code_prop(o, "precision", "options.precision", 3));
  return c;
}

Napi::Array int_array(Napi::Env env, const std::vector<int64_t>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(v[i])));
  return a;
}

class NativeMlp : public Napi::ObjectWrap<NativeMlp> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeMlp",
                       {
                           InstanceMethod("info", &NativeMlp::Info),
                           InstanceMethod("workspaceLayout", &NativeMlp::WorkspaceLayout),
                           InstanceMethod("setBlocks", &NativeMlp::SetBlocks),
                           InstanceMethod("setWorkspace", &NativeMlp::SetWorkspace),
                           InstanceMethod("forward", &NativeMlp::Forward),
                           InstanceMethod("backward", &NativeMlp::Backward),
                           InstanceMethod("dispose", &NativeMlp::Dispose),
                       });
  }

  // new NativeMlp(config): the model's layout; setBlocks() then hands it its tensors.
  explicit NativeMlp(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeMlp>(info) {
    guarded(info.Env(), [&] { model_ = std::make_unique<models::Mlp>(config_arg(info)); });
  }

 private:
  models::Mlp& model() {
    if (!model_) throw Error(ErrorKind::Disposed, expected_message("a live MLP", "this", "a disposed MLP"));
    return *model_;
  }

  TensorView view_of(const Napi::ObjectReference& ref, const char* name) {
    if (ref.IsEmpty()) throw_range("a tensor (setBlocks and setWorkspace come first)", name, "none");
    return NativeTensor::FromValue(Env(), ref.Value(), name)->View(name);
  }

  models::MlpBuffers buffers() {
    models::MlpBuffers b;
    b.params = view_of(params_, "params");
    b.grads = view_of(grads_, "grads");
    b.workspace = view_of(workspace_, "workspace");
    b.capacity = capacity_;
    return b;
  }

  // info() -> { numParameters, parameterCount, parameters: [{ name, shape, offset }] }
  Napi::Value Info(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      models::Mlp& m = model();
      Napi::Object out = Napi::Object::New(env);
      out.Set("numParameters", Napi::Number::New(env, static_cast<double>(m.num_parameters())));
      out.Set("parameterCount", Napi::Number::New(env, static_cast<double>(m.parameter_count())));
      Napi::Array list = Napi::Array::New(env, m.parameters().size());
      for (size_t i = 0; i < m.parameters().size(); ++i) {
        const models::MlpParam& p = m.parameters()[i];
        Napi::Object o = Napi::Object::New(env);
        o.Set("name", Napi::String::New(env, p.name));
        o.Set("shape", int_array(env, p.shape));
        o.Set("offset", Napi::Number::New(env, static_cast<double>(p.offset)));
        list.Set(static_cast<uint32_t>(i), o);
      }
      out.Set("parameters", list);
      return out;
    });
  }

  // workspaceLayout(capacity) -> { size, x, y, dx } (element offsets)
  Napi::Value WorkspaceLayout(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      const uint64_t cap = index_arg(info, 0, "capacity");
      if (cap < 1 || cap > (uint64_t{1} << 40)) throw_range("a positive batch capacity", "capacity", describe_js(info[0]));
      const models::MlpWorkspace w = model().workspace(static_cast<int64_t>(cap));
      Napi::Object out = Napi::Object::New(env);
      out.Set("size", Napi::Number::New(env, static_cast<double>(w.size)));
      out.Set("x", Napi::Number::New(env, static_cast<double>(w.x)));
      out.Set("y", Napi::Number::New(env, static_cast<double>(w.y)));
      out.Set("dx", Napi::Number::New(env, static_cast<double>(w.dx)));
      return out;
    });
  }

  // setBlocks(params, grads): f32 tensors of E * numParameters elements each, on one device.
  Napi::Value SetBlocks(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      models::Mlp& m = model();
      const int64_t n = m.config().ensemble * m.num_parameters();
      TensorView views[2];
      for (size_t i = 0; i < 2; ++i) {
        const char* name = i == 0 ? "params" : "grads";
        views[i] = tensor_arg(info, i, name);
        if (views[i].dtype != DType::F32) throw_type("an f32 tensor", name, views[i].describe());
        if (views[i].numel != n) throw_range(std::to_string(n) + " elements", name, views[i].describe());
      }
      if (views[1].device != views[0].device)
        throw_type(std::string("a ") + device_name(views[0].device) + " tensor (the device of params)",
                   "grads", views[1].describe());
      if (ops::overlaps(views[0], views[1]))
        throw_range("a tensor that does not share memory with grads", "params", views[0].describe());
      params_ = Napi::Persistent(arg(info, 0).As<Napi::Object>());
      grads_ = Napi::Persistent(arg(info, 1).As<Napi::Object>());
      return info.Env().Undefined();
    });
  }

  // setWorkspace(tensor, capacity): adopts a workspace sized for batches of up to `capacity` rows.
  Napi::Value SetWorkspace(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      models::Mlp& m = model();
      tensor_arg(info, 0, "workspace");  // a live tensor
      const uint64_t cap = index_arg(info, 1, "capacity");
      Napi::ObjectReference previous = std::move(workspace_);
      const int64_t previous_capacity = capacity_;
      workspace_ = Napi::Persistent(arg(info, 0).As<Napi::Object>());
      capacity_ = static_cast<int64_t>(cap);
      try {
        m.attach_workspace(buffers());
      } catch (...) {
        workspace_ = std::move(previous);
        capacity_ = previous_capacity;
        throw;
      }
      return info.Env().Undefined();
    });
  }

  // forward(x): the output lands in the workspace (lib/nn/mlp.ts hands out a view of it).
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      models::Mlp& m = model();
      m.forward(buffers(), tensor_arg(info, 0, "x"));
      return Napi::Number::New(info.Env(), static_cast<double>(m.batch()));
    });
  }

  // backward(dy, inputGrad, paramGrads[, accumulate = true])
  Napi::Value Backward(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      models::Mlp& m = model();
      const bool accumulate = info.Length() > 3 ? bool_arg(info, 3, "options.accumulate") : true;
      m.backward(buffers(), tensor_arg(info, 0, "dy"), bool_arg(info, 1, "options.inputGrad"),
                 bool_arg(info, 2, "options.paramGrads"), accumulate);
      return info.Env().Undefined();
    });
  }

  // dispose(): drops the model and its references (the tensors are lib/nn/mlp.ts's to free).
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    model_.reset();
    for (Napi::ObjectReference* r : {&params_, &grads_, &workspace_})
      if (!r->IsEmpty()) r->Reset();
    return info.Env().Undefined();
  }

  std::unique_ptr<models::Mlp> model_;
  Napi::ObjectReference params_, grads_, workspace_;
  int64_t capacity_ = 0;
};

}  // namespace

void register_mlp(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeMlp", NativeMlp::Define(env));
}

}  // namespace era::addon

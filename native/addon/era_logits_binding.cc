// N-API wrappers of the LLM ERA activation (native/ops/era_logits.h). Tensors arrive as
// NativeTensor handles, options as one plain object whose fields lib/era/logits.ts fills in;
// the op layer checks shapes, dtypes, devices and values.
#include <cmath>
#include <string>

#include "../ops/era_logits.h"
#include "args.h"
#include "bindings.h"
#include "errors.h"
#include "tensor_handle.h"

namespace era::addon {
namespace {

TensorView tensor_at(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = i < info.Length() ? info[i] : info.Env().Undefined();
  return NativeTensor::FromValue(info.Env(), v, name)->View(name);
}

double number_field(const Napi::Object& o, const char* key) {
  const std::string name = std::string("options.") + key;
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw_type("a number", name, describe_js(v));
  return v.As<Napi::Number>().DoubleValue();
}

bool bool_field(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) throw_type("a boolean", std::string("options.") + key, describe_js(v));
  return v.As<Napi::Boolean>().Value();
}

int int_field(const Napi::Object& o, const char* key) {
  const double d = number_field(o, key);
  if (!(d >= -2147483648.0 && d <= 2147483647.0) || std::floor(d) != d)
    throw_range("an integer", std::string("options.") + key, describe_js(o.Get(key)));
  return static_cast<int>(d);
}

EraLogitsParams params_arg(const Napi::CallbackInfo& info, size_t i, bool forward) {
  if (i >= info.Length() || !info[i].IsObject() || info[i].IsArray())
    throw_type("an options object", "options", i < info.Length() ? describe_js(info[i]) : "undefined");
  Napi::Object o = info[i].As<Napi::Object>();
  EraLogitsParams p;
  p.temperature = number_field(o, "temperature");
  p.top_k = int_field(o, "topK");
  p.validate = bool_field(o, "validateIndices");
  if (forward) {
    p.omega_low = number_field(o, "omegaLow");
    p.omega_high = number_field(o, "omegaHigh");
    p.k = number_field(o, "k");
    p.top_fraction = number_field(o, "topFraction");
    p.reference_test = bool_field(o, "referenceTest");
    p.rescale_advantages = bool_field(o, "rescaleAdvantages");
  }
  return p;
}

// eraLogitsForward(logits, tokens, offsets, advantages, logProbs, entropy, responseEntropy,
//                  scale, advantagesOut, options)
Napi::Value Forward(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    // The options first: reading them may run JS (accessors), which must not come between a
    // tensor's check and its use.
    const EraLogitsParams params = params_arg(info, 9, true);
    ops::EraLogitsOutputs out{tensor_at(info, 4, "logProbs"), tensor_at(info, 5, "entropy"),
                              tensor_at(info, 6, "responseEntropy"), tensor_at(info, 7, "scale"),
                              tensor_at(info, 8, "advantagesOut")};
    ops::era_logits_forward(tensor_at(info, 0, "logits"), tensor_at(info, 1, "tokens"),
                            tensor_at(info, 2, "offsets"), tensor_at(info, 3, "advantages"), out,
                            params);
    return info.Env().Undefined();
  });
}

// eraLogitsBackward(logits, tokens, gradLogProbs, scale, logProbs, grad, options)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    const EraLogitsParams params = params_arg(info, 6, false);  // first: see Forward
    ops::era_logits_backward(tensor_at(info, 0, "logits"), tensor_at(info, 1, "tokens"),
                             tensor_at(info, 2, "gradLogProbs"), tensor_at(info, 3, "scale"),
                             tensor_at(info, 4, "logProbs"), tensor_at(info, 5, "grad"), params);
    return info.Env().Undefined();
  });
}

}  // namespace

void register_era_logits(Napi::Env env, Napi::Object exports) {
  exports.Set("eraLogitsForward", Napi::Function::New(env, Forward, "eraLogitsForward"));
  exports.Set("eraLogitsBackward", Napi::Function::New(env, Backward, "eraLogitsBackward"));
}

}  // namespace era::addon

#include "tensor_handle.h"

#include <cstdlib>
#include <cstring>

#include "../core/cuda_runtime.h"
#include "args.h"
#include "errors.h"

namespace era::addon {

LiveCounters& live_counters() {
  static LiveCounters c{};
  return c;
}

namespace {

napi_typedarray_type typed_array_type(DType t) {
  switch (t) {
    case DType::F32: return napi_float32_array;
    case DType::I32: return napi_int32_array;
    case DType::BF16: return napi_uint16_array;
  }
  return napi_float32_array;
}

const char* typed_array_name(DType t) {
  switch (t) {
    case DType::F32: return "Float32Array";
    case DType::I32: return "Int32Array";
    case DType::BF16: return "Uint16Array";
  }
  return "TypedArray";
}

const char* typed_array_name(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
  return "TypedArray";
}

// Checks that `value` is a TypedArray of the tensor's dtype with exactly `numel` elements.
Napi::TypedArray require_host_array(const Napi::Value& value, DType dtype, int64_t numel,
                                    const char* name) {
  if (!value.IsTypedArray())
    throw_type(std::string("a ") + typed_array_name(dtype), name, describe_js(value));
  Napi::TypedArray arr = value.As<Napi::TypedArray>();
  if (arr.TypedArrayType() != typed_array_type(dtype))
    throw_type(std::string("a ") + typed_array_name(dtype) + " (dtype " + dtype_name(dtype) + ")",
               name, std::string("a ") + typed_array_name(arr.TypedArrayType()));
  if (static_cast<int64_t>(arr.ElementLength()) != numel)
    throw_range(std::to_string(numel) + " elements", name,
                std::to_string(arr.ElementLength()) + " elements");
  return arr;
}

}  // namespace

Napi::Function NativeTensor::Define(Napi::Env env) {
  return DefineClass(env, "NativeTensor",
                     {
                         InstanceMethod("dispose", &NativeTensor::Dispose),
                         InstanceMethod("isDisposed", &NativeTensor::IsDisposed),
                         InstanceMethod("readSync", &NativeTensor::ReadSync),
                         InstanceMethod("readAsync", &NativeTensor::ReadAsync),
                         InstanceMethod("write", &NativeTensor::Write),
                         InstanceMethod("hostArray", &NativeTensor::HostArray),
                     });
}

NativeTensor* NativeTensor::FromValue(Napi::Env env, const Napi::Value& value, const char* name) {
  AddonData& data = addon_data(env);
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(data.tensor_ctor.Value()))
    throw_type("a Tensor", name, describe_js(value));
  return Napi::ObjectWrap<NativeTensor>::Unwrap(value.As<Napi::Object>());
}

// new NativeTensor(dtype, device, shape, data?)         a tensor that owns its memory
// new NativeTensor(dtype, device, shape, null, parent, offset)   a view of parent's elements
//                                                              [offset, offset + numel(shape))
NativeTensor::NativeTensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTensor>(info) {
  guarded(info.Env(), [&] { Construct(info); });
}

void NativeTensor::Construct(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double dtype = number_arg(info, 0, "dtype");
  if (dtype != 0 && dtype != 1 && dtype != 2) throw_range("0 (f32), 1 (i32) or 2 (bf16)", "dtype", describe_js(info[0]));
  double device = number_arg(info, 1, "device");
  if (device != 0 && device != 1) throw_range("0 (cpu) or 1 (cuda)", "device", describe_js(info[1]));
  desc_.dtype = static_cast<DType>(static_cast<int>(dtype));
  desc_.device = static_cast<Device>(static_cast<int>(device));

  if (info.Length() < 3 || !info[2].IsArray())
    throw_type("an array of dimensions", "shape", info.Length() < 3 ? "undefined" : describe_js(info[2]));
  Napi::Array shape = info[2].As<Napi::Array>();
  if (shape.Length() > static_cast<uint32_t>(kMaxDims))
    throw_range("at most " + std::to_string(kMaxDims) + " dimensions", "shape",
                std::to_string(shape.Length()) + " dimensions");
  desc_.ndim = static_cast<int>(shape.Length());
  double numel = 1;
  for (int i = 0; i < desc_.ndim; ++i) {
    Napi::Value d = shape.Get(static_cast<uint32_t>(i));
    double v = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
    if (!(v >= 0) || v != static_cast<double>(static_cast<int64_t>(v)))
      throw_range("non-negative integer dimensions", "shape", "dimension " + describe_js(d));
    desc_.shape[i] = static_cast<int64_t>(v);
    numel *= v;
  }
  if (numel > 9007199254740991.0 / 4) throw_range("fewer than 2^51 elements", "shape", std::to_string(numel) + " elements");
  desc_.numel = static_cast<int64_t>(numel);
  if (info.Length() > 4 && !info[4].IsUndefined() && !info[4].IsNull()) return ConstructView(info);

  bool has_data = info.Length() > 3 && !info[3].IsUndefined() && !info[3].IsNull();
  Napi::TypedArray data;
  if (has_data) data = require_host_array(info[3], desc_.dtype, desc_.numel, "data");

  LiveCounters& live = live_counters();
  int dev = static_cast<int>(desc_.device);
  if (desc_.device == Device::CPU) {
    if (!has_data) data = NewHostArray(env);
    host_ = Napi::Persistent(data);
  } else {
    device_ptr_ = cuda_rt::device_alloc(desc_.bytes(), "tensor");
    desc_.data = device_ptr_;
    if (has_data && desc_.bytes()) {
      try {
        cuda_rt::upload(device_ptr_, static_cast<char*>(data.ArrayBuffer().Data()) + data.ByteOffset(),
                        desc_.bytes(), "tensor");
      } catch (...) {
        cuda_rt::device_free(device_ptr_);
        device_ptr_ = nullptr;
        throw;
      }
    }
    Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(desc_.bytes()));
  }
  live.tensors[dev]++;
  live.bytes[dev] += static_cast<int64_t>(desc_.bytes());
  disposed_ = false;
}

void NativeTensor::ConstructView(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[3].IsUndefined() && !info[3].IsNull())
    throw_type("null (a view has no data of its own)", "data", describe_js(info[3]));
  NativeTensor* parent = FromValue(env, info[4], "parent");
  if (parent->Gone())
    throw Error(ErrorKind::Disposed, expected_message("a live tensor", "parent", "a disposed tensor"));
  if (parent->desc_.dtype != desc_.dtype)
    throw_type(std::string(dtype_name(parent->desc_.dtype)) + " (the dtype of parent)", "dtype",
               dtype_name(desc_.dtype));
  if (parent->desc_.device != desc_.device)
    throw_type(std::string(device_name(parent->desc_.device)) + " (the device of parent)", "device",
               device_name(desc_.device));
  const double off = number_arg(info, 5, "offset");
  const double room = static_cast<double>(parent->desc_.numel - desc_.numel);
  if (!(off >= 0) || off != static_cast<double>(static_cast<int64_t>(off)) || off > room)
    throw_range("an integer offset in [0, " + std::to_string(parent->desc_.numel - desc_.numel) +
                    "] (parent has " + std::to_string(parent->desc_.numel) + " elements, the view " +
                    std::to_string(desc_.numel) + ")",
                "offset", describe_js(info[5]));
  // A view of a view references the root directly: one hop to the memory, one object kept alive.
  root_ = parent->root_ ? parent->root_ : parent;
  byte_offset_ = parent->byte_offset_ + static_cast<size_t>(off) * dtype_size(desc_.dtype);
  if (desc_.device == Device::CPU) {
    Napi::TypedArray whole = root_->host_.Value();
    Napi::ArrayBuffer buf = whole.ArrayBuffer();
    const size_t at = whole.ByteOffset() + byte_offset_;
    const size_t n = static_cast<size_t>(desc_.numel);
    Napi::TypedArray sub;
    switch (desc_.dtype) {
      case DType::F32: sub = Napi::Float32Array::New(env, n, buf, at); break;
      case DType::I32: sub = Napi::Int32Array::New(env, n, buf, at); break;
      case DType::BF16: sub = Napi::Uint16Array::New(env, n, buf, at); break;
    }
    host_ = Napi::Persistent(sub);
  }
  root_ref_ = Napi::Persistent(root_->Value());
  disposed_ = false;
}

// Zeroed host memory as an ArrayBuffer. V8 ends the process when it cannot allocate one, so a
// large request is first tried with malloc (and given back at once): a size the C heap refuses
// is an out-of-memory error naming the op instead. V8 then allocates and owns the buffer, so it
// is freed by the garbage collection itself (an external buffer's memory waited for the event
// loop to turn, piling up in loops that never yield).
static Napi::ArrayBuffer new_host_buffer(Napi::Env env, size_t bytes, const char* op) {
  if (bytes >= (size_t{1} << 20)) {
    void* probe = std::malloc(bytes);
    if (!probe)
      throw Error(ErrorKind::OutOfMemory, std::string(op) + ": out of host memory allocating " + std::to_string(bytes) + " bytes");
    std::free(probe);
  }
  return Napi::ArrayBuffer::New(env, bytes);
}

Napi::TypedArray NativeTensor::NewHostArray(Napi::Env env) const {
  const size_t n = static_cast<size_t>(desc_.numel);
  Napi::ArrayBuffer buffer = new_host_buffer(env, desc_.bytes(), "tensor");
  switch (desc_.dtype) {
    case DType::F32: return Napi::Float32Array::New(env, n, buffer, 0);
    case DType::I32: return Napi::Int32Array::New(env, n, buffer, 0);
    case DType::BF16: return Napi::Uint16Array::New(env, n, buffer, 0);
  }
  return Napi::Float32Array::New(env, n, buffer, 0);
}

NativeTensor::~NativeTensor() {
  // Collected without dispose() (a GC finalizer): hand back to V8 the bytes Construct reported, or
  // its count of external memory only grows. napi_adjust_external_memory takes a basic env, so a
  // finalizer may call it.
  if (!disposed_ && device_ptr_) {
    int64_t adjusted = 0;
    napi_adjust_external_memory(Env(), -static_cast<int64_t>(desc_.bytes()), &adjusted);
  }
  Release();
}

void NativeTensor::Release() {
  if (disposed_) return;
  disposed_ = true;
  if (root_) {  // a view: drop the hold on the root, free nothing
    root_ = nullptr;
    if (!root_ref_.IsEmpty()) root_ref_.Reset();
    if (!host_.IsEmpty()) host_.Reset();
    return;
  }
  LiveCounters& live = live_counters();
  int dev = static_cast<int>(desc_.device);
  live.tensors[dev]--;
  live.bytes[dev] -= static_cast<int64_t>(desc_.bytes());
  if (device_ptr_) {
    cuda_rt::device_free(device_ptr_);
    device_ptr_ = nullptr;
  }
  if (!host_.IsEmpty()) host_.Reset();
}

TensorView NativeTensor::View(const char* name) const {
  if (disposed_)
    throw Error(ErrorKind::Disposed,
                expected_message("a live tensor", name, "a disposed tensor (it was disposed)"));
  if (root_ && root_->disposed_)
    throw Error(ErrorKind::Disposed,
                expected_message("a live tensor", name,
                                 "a view of a disposed tensor (its parent was disposed)"));
  TensorView v = desc_;
  if (root_ && desc_.device == Device::CUDA) v.data = static_cast<char*>(root_->device_ptr_) + byte_offset_;
  if (desc_.device == Device::CPU) {
    Napi::TypedArray arr = host_.Value();
    // A transferred or detached ArrayBuffer has no memory behind it any more.
    if (arr.ByteLength() < desc_.bytes())
      throw Error(ErrorKind::Disposed,
                  expected_message("a tensor whose ArrayBuffer is still attached", name,
                                   "a tensor whose ArrayBuffer was detached or transferred"));
    v.data = static_cast<char*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
  }
  return v;
}

Napi::Value NativeTensor::Dispose(const Napi::CallbackInfo& info) {
  if (!disposed_ && device_ptr_)
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -static_cast<int64_t>(desc_.bytes()));
  Release();
  return info.Env().Undefined();
}

Napi::Value NativeTensor::IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Gone());
}

// readSync(out?): the contents copied into `out` (same dtype and size) or a fresh host array
// (synchronises with the device for CUDA tensors).
Napi::Value NativeTensor::ReadSync(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    TensorView v = View("tensor");
    bool has_out = info.Length() > 0 && !info[0].IsUndefined();
    Napi::TypedArray out = has_out ? require_host_array(info[0], v.dtype, v.numel, "out") : NewHostArray(info.Env());
    void* dst = static_cast<char*>(out.ArrayBuffer().Data()) + out.ByteOffset();
    if (v.bytes() == 0) return out;
    if (v.device == Device::CPU)
      std::memcpy(dst, v.data, v.bytes());
    else
      cuda_rt::download(dst, v.data, v.bytes(), "read");
    return out;
  });
}

namespace {
class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, cuda_rt::PendingRead* read, Napi::TypedArray out)
      : Napi::AsyncWorker(env, "era.read"), read_(read), deferred_(Napi::Promise::Deferred::New(env)) {
    out_ = Napi::Persistent(out);
    dst_ = static_cast<char*>(out.ArrayBuffer().Data()) + out.ByteOffset();
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    std::string err = cuda_rt::finish_read(read_, dst_);
    read_ = nullptr;
    if (!err.empty()) SetError(err);
  }
  void OnOK() override { deferred_.Resolve(out_.Value()); }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(to_js_error(Env(), ErrorKind::Cuda, e.Message()).Value());
  }

 private:
  cuda_rt::PendingRead* read_;
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::TypedArray> out_;
  void* dst_ = nullptr;
};
}  // namespace

// Promise of a fresh host copy; the device copy is ordered after all work queued so far.
Napi::Value NativeTensor::ReadAsync(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    TensorView v = View("tensor");
    if (v.device == Device::CPU || v.bytes() == 0) {
      Napi::TypedArray copy = NewHostArray(env);
      if (v.bytes()) std::memcpy(static_cast<char*>(copy.ArrayBuffer().Data()) + copy.ByteOffset(), v.data, v.bytes());
      auto d = Napi::Promise::Deferred::New(env);
      d.Resolve(copy);
      return d.Promise();
    }
    Napi::TypedArray out = NewHostArray(env);
    cuda_rt::PendingRead* read = cuda_rt::begin_read(v.data, v.bytes(), "read");
    auto* worker = new ReadWorker(env, read, out);
    Napi::Promise p = worker->Promise();
    worker->Queue();
    return p;
  });
}

// write(data): copies a host TypedArray of the same dtype and size into the tensor.
Napi::Value NativeTensor::Write(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    TensorView v = View("tensor");
    Napi::TypedArray src = require_host_array(info.Length() ? info[0] : info.Env().Undefined(),
                                              v.dtype, v.numel, "data");
    const void* p = static_cast<char*>(src.ArrayBuffer().Data()) + src.ByteOffset();
    if (v.bytes() == 0) return info.Env().Undefined();
    if (v.device == Device::CPU)
      std::memmove(v.data, p, v.bytes());
    else
      cuda_rt::upload(v.data, p, v.bytes(), "write");
    return info.Env().Undefined();
  });
}

// The wrapped TypedArray of a CPU tensor (zero copy out).
Napi::Value NativeTensor::HostArray(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    TensorView v = View("tensor");
    if (v.device != Device::CPU)
      throw_type("a cpu tensor (use toArray() or read() for cuda tensors)", "tensor", v.describe());
    return host_.Value();
  });
}

}  // namespace era::addon

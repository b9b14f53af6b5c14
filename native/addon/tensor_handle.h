// NativeTensor: the native half of lib/tensor.ts. A CPU tensor references the caller's TypedArray
// (zero copy); a CUDA tensor owns a caching-allocator block. dispose() frees at once; the GC
// finalizer is only a safety net for tensors nobody disposed.
//
// A view (reshape, slice) owns no memory: it references the root tensor that does, plus a byte
// offset into it, and holds the root's JS object so the GC cannot free the memory under it.
// Disposing a view never frees the root; using a view whose root was disposed throws the
// disposed error. Views count neither tensors nor bytes in era.memory().
#pragma once
#include <napi.h>

#include <atomic>

#include "../core/tensor.h"

namespace era::addon {

struct LiveCounters {
  std::atomic<int64_t> tensors[2];
  std::atomic<int64_t> bytes[2];
};
LiveCounters& live_counters();

class NativeTensor : public Napi::ObjectWrap<NativeTensor> {
 public:
  static Napi::Function Define(Napi::Env env);
  // The tensor behind `value`, or a TypeError naming `name`.
  static NativeTensor* FromValue(Napi::Env env, const Napi::Value& value, const char* name);

  explicit NativeTensor(const Napi::CallbackInfo& info);
  ~NativeTensor() override;

  // A view for an op; throws era::Error (Disposed) naming `name` when the tensor is gone.
  TensorView View(const char* name) const;
  // True once this tensor, or the root it views, was disposed.
  bool Gone() const { return disposed_ || (root_ && root_->disposed_); }

 private:
  void Construct(const Napi::CallbackInfo& info);
  void ConstructView(const Napi::CallbackInfo& info);
  void Release();
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
  Napi::Value ReadSync(const Napi::CallbackInfo& info);
  Napi::Value ReadAsync(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value HostArray(const Napi::CallbackInfo& info);
  Napi::TypedArray NewHostArray(Napi::Env env) const;

  TensorView desc_;      // data is the device pointer (CUDA) or refreshed per use (CPU)
  void* device_ptr_ = nullptr;
  Napi::Reference<Napi::TypedArray> host_;  // CPU: the memory (a view: a subarray of the root's)
  NativeTensor* root_ = nullptr;            // views: the tensor that owns the memory
  Napi::ObjectReference root_ref_;          // views: keeps the root's JS object alive
  size_t byte_offset_ = 0;                  // views: where this view starts in the root
  bool disposed_ = true;  // until construction succeeds
};

}  // namespace era::addon

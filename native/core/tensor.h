// A non-owning view of a contiguous tensor: what ops and kernels receive. Ownership lives in the
// addon (a JS TypedArray for CPU tensors, a caching-allocator block for CUDA tensors).
#pragma once
#include <cstdint>
#include <string>

#include "dtype.h"
#include "error.h"

namespace era {

constexpr int kMaxDims = 8;

struct TensorView {
  void* data = nullptr;
  DType dtype = DType::F32;
  Device device = Device::CPU;
  int ndim = 0;
  int64_t shape[kMaxDims] = {0};
  int64_t numel = 0;

  size_t bytes() const { return static_cast<size_t>(numel) * dtype_size(dtype); }
  int64_t dim(int i) const { return shape[i < 0 ? ndim + i : i]; }

  template <typename T>
  T* ptr() const { return static_cast<T*>(data); }

  std::string shape_string() const {
    std::string s = "[";
    for (int i = 0; i < ndim; ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
  }

  // "a cuda f32 tensor of shape [2, 3]": used in error messages.
  std::string describe() const {
    return std::string("a ") + device_name(device) + " " + dtype_name(dtype) +
           " tensor of shape " + shape_string();
  }
};

}  // namespace era

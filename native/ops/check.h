// Argument checks shared by every op: the native half of "validate in TS, check again natively".
// Messages follow "Expected <what> for <name> but received <got>".
#pragma once
#include <cmath>
#include <initializer_list>
#include <string>

#include "../core/cuda_runtime.h"
#include "../core/error.h"
#include "../core/tensor.h"

namespace era::ops {

inline void require_dtype(const TensorView& t, std::initializer_list<DType> allowed,
                          const char* name) {
  std::string what;
  for (DType d : allowed) {
    if (t.dtype == d) return;
    what += (what.empty() ? "" : " or ") + std::string(dtype_name(d));
  }
  throw_type(what + " tensor", name, t.describe());
}

inline void require_same_device(const TensorView& t, const TensorView& ref, const char* name,
                                const char* ref_name) {
  if (t.device != ref.device)
    throw_type(std::string(device_name(ref.device)) + " tensor (the device of " + ref_name + ")",
               name, t.describe());
}

inline void require_same_dtype(const TensorView& t, const TensorView& ref, const char* name,
                               const char* ref_name) {
  if (t.dtype != ref.dtype)
    throw_type(std::string(dtype_name(ref.dtype)) + " tensor (the dtype of " + ref_name + ")",
               name, t.describe());
}

inline bool same_shape(const TensorView& a, const TensorView& b) {
  if (a.ndim != b.ndim) return false;
  for (int i = 0; i < a.ndim; ++i)
    if (a.shape[i] != b.shape[i]) return false;
  return true;
}

inline void require_same_shape(const TensorView& t, const TensorView& ref, const char* name,
                               const char* ref_name) {
  if (!same_shape(t, ref))
    throw_range("shape " + ref.shape_string() + " (the shape of " + ref_name + ")", name,
                t.describe());
}

inline void require_finite(double v, const char* name) {
  if (!std::isfinite(v)) throw_range("a finite number", name, std::to_string(v));
}

// CUDA work needs a device; say which op wanted it.
inline void require_cuda_for(const TensorView& t, const char* op) {
  if (t.device == Device::CUDA) cuda_rt::require(op);
}

}  // namespace era::ops

// Argument checks shared by every op: the native half of "validate in TS, check again natively".
// Messages follow "Expected <what> for <name> but received <got>".
#pragma once
#include <cmath>
#include <cstdint>
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

// True when the byte ranges of two tensors on one device overlap (ops refuse outputs that alias
// inputs: the CPU kernels would read elements they already overwrote, and the CUDA kernels, which
// declare their pointers __restrict__ and read inputs through the read-only cache, give
// scheduling-dependent results).
inline bool overlaps(const TensorView& x, const TensorView& y) {
  if (x.device != y.device || x.bytes() == 0 || y.bytes() == 0) return false;
  auto xb = reinterpret_cast<uintptr_t>(x.data), yb = reinterpret_cast<uintptr_t>(y.data);
  return xb < yb + y.bytes() && yb < xb + x.bytes();
}

// An output (or a second output) that shares no memory with `other`.
inline void require_no_alias(const TensorView& out, const char* out_name, const TensorView& other,
                             const char* other_name) {
  if (overlaps(out, other))
    throw_range(std::string("a tensor that does not share memory with ") + other_name, out_name,
                out.describe());
}

// A tensor and the name the caller knows it by; a null tensor (an optional argument left out) is
// skipped by the list form of require_no_alias.
struct Named {
  const TensorView* t;
  const char* name;
};

inline void require_no_alias(const TensorView& out, const char* out_name,
                             std::initializer_list<Named> others) {
  for (const Named& o : others)
    if (o.t) require_no_alias(out, out_name, *o.t, o.name);
}

// For ops whose kernels read every element of `in` before writing the same element of `out`
// (from the same thread) and never again: `out` may be `in` itself (same start and size), but
// must not partly overlap it.
inline void require_in_place_or_apart(const TensorView& out, const char* out_name,
                                      const TensorView& in, const char* in_name) {
  if (out.data == in.data && out.bytes() == in.bytes()) return;
  if (overlaps(out, in))
    throw_range(std::string(in_name) +
                    " itself (in place) or a tensor that does not share memory with it",
                out_name, out.describe());
}

// CUDA work needs a device; say which op wanted it.
inline void require_cuda_for(const TensorView& t, const char* op) {
  if (t.device == Device::CUDA) cuda_rt::require(op);
}

}  // namespace era::ops

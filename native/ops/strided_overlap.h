// Alias checks for operands that are sets of equally spaced ranges (an ensemble's per-member rows
// or matrices inside a flat block). Two such sets can interleave without sharing a byte — member
// weights and member biases one block apart — so comparing their overall spans is not enough.
#pragma once
#include <cstdint>

#include "../core/tensor.h"

namespace era::ops {

// `count` ranges of `len` elements each, the first at `data`, one every `stride` elements.
struct Strided {
  const void* data = nullptr;
  Device device = Device::CPU;
  int64_t esize = 4;
  int64_t count = 0, stride = 0, len = 0;
};

inline Strided whole(const TensorView& t) {
  return {t.data, t.device, static_cast<int64_t>(dtype_size(t.dtype)), 1, 0, t.numel};
}

namespace detail {
inline int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
inline int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }
}  // namespace detail

// True when some range of `a` shares a byte with some range of `b`. Exact when both sets have the
// same stride (or one is a single range); otherwise conservative (overlapping spans count).
inline bool strided_overlap(const Strided& a, const Strided& b) {
  if (a.device != b.device || a.count == 0 || b.count == 0 || a.len == 0 || b.len == 0) return false;
  const int64_t a0 = static_cast<int64_t>(reinterpret_cast<uintptr_t>(a.data));
  const int64_t b0 = static_cast<int64_t>(reinterpret_cast<uintptr_t>(b.data));
  const int64_t la = a.len * a.esize, lb = b.len * b.esize;
  // A stride of 0 repeats one range: count it once.
  const int64_t sa = a.count > 1 ? a.stride * a.esize : 0, sb = b.count > 1 ? b.stride * b.esize : 0;
  const int64_t na = sa ? a.count : 1, nb = sb ? b.count : 1;
  const int64_t a_end = a0 + (na - 1) * sa + la, b_end = b0 + (nb - 1) * sb + lb;
  if (!(a0 < b_end && b0 < a_end)) return false;
  if (sa == 0 && sb == 0) return true;
  if (sa != 0 && sb != 0 && sa != sb) return true;
  // Ranges a0 + i·s and b0 + j·s overlap iff -lb < δ + (j - i)·s < la, δ = b0 - a0.
  const int64_t s = sa != 0 ? sa : sb;
  const int64_t delta = b0 - a0;
  const int64_t kmin = detail::floor_div(-lb - delta, s) + 1;
  const int64_t kmax = detail::ceil_div(la - delta, s) - 1;
  const int64_t lo = kmin > -(na - 1) ? kmin : -(na - 1);
  const int64_t hi = kmax < nb - 1 ? kmax : nb - 1;
  return lo <= hi;
}

}  // namespace era::ops

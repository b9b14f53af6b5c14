// Sub-ranges of a flat tensor as TensorViews: how a model addresses the parts of its parameter,
// gradient and workspace blocks without allocating. The caller guarantees the range fits.
#pragma once
#include <cstdint>
#include <initializer_list>

#include "../core/tensor.h"

namespace era::models {

// Elements [offset, offset + numel(shape)) of `base`, shaped `shape`.
inline TensorView region(const TensorView& base, int64_t offset, std::initializer_list<int64_t> shape) {
  TensorView v = base;
  v.data = static_cast<char*>(base.data) + offset * static_cast<int64_t>(dtype_size(base.dtype));
  v.ndim = 0;
  v.numel = 1;
  for (int64_t d : shape) {
    v.shape[v.ndim++] = d;
    v.numel *= d;
  }
  return v;
}

}  // namespace era::models

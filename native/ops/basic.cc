#include "basic.h"

#include <cstring>

#include "../cpu/elementwise.h"
#include "../cpu/random.h"
#include "check.h"
#include "dispatch.h"
#ifdef ERA_WITH_CUDA
#include "../cuda/elementwise.h"
#include "../cuda/random.h"
#endif

namespace era::ops {

namespace {
int32_t to_i32(double v, const char* name) {
  if (v != static_cast<double>(static_cast<int32_t>(v)) || v < -2147483648.0 || v > 2147483647.0)
    throw_range("a 32-bit integer", name, std::to_string(v));
  return static_cast<int32_t>(v);
}
}  // namespace

void fill(const TensorView& out, double value) {
  require_dtype(out, {DType::F32, DType::I32}, "out");
  if (out.dtype == DType::I32) {
    int32_t v = to_i32(value, "value");
    dispatch(out.device, "fill", [&] { cpu::fill_i32(out.ptr<int32_t>(), out.numel, v); },
             [&](void* s) { ERA_CUDA_ONLY(cuda::fill_i32(out.ptr<int32_t>(), out.numel, v, s);) (void)s; });
  } else {
    // NaN and infinities are legal fill values for f32 (e.g. poisoning outputs in tests).
    float v = static_cast<float>(value);
    dispatch(out.device, "fill", [&] { cpu::fill_f32(out.ptr<float>(), out.numel, v); },
             [&](void* s) { ERA_CUDA_ONLY(cuda::fill_f32(out.ptr<float>(), out.numel, v, s);) (void)s; });
  }
}

void copy(const TensorView& dst, const TensorView& src) {
  require_same_dtype(src, dst, "src", "dst");
  if (src.numel != dst.numel)
    throw_range(std::to_string(dst.numel) + " elements (the size of dst)", "src", src.describe());
  size_t bytes = dst.bytes();
  if (bytes == 0) return;
  if (dst.device == Device::CPU && src.device == Device::CPU) {
    std::memmove(dst.data, src.data, bytes);
  } else if (dst.device == Device::CUDA && src.device == Device::CUDA) {
    if (dst.data == src.data) return;
    if (overlaps(dst, src)) {
      // cudaMemcpy of overlapping ranges is undefined: go through a scratch block, so views of one
      // tensor copy as memmove does on the CPU. Freeing it at once is safe (stream-ordered reuse).
      void* scratch = cuda_rt::device_alloc(bytes, "copy");
      try {
        cuda_rt::device_copy(scratch, src.data, bytes, "copy");
        cuda_rt::device_copy(dst.data, scratch, bytes, "copy");
      } catch (...) {
        cuda_rt::device_free(scratch);
        throw;
      }
      cuda_rt::device_free(scratch);
      return;
    }
    cuda_rt::device_copy(dst.data, src.data, bytes, "copy");
  } else if (dst.device == Device::CUDA) {
    cuda_rt::upload(dst.data, src.data, bytes, "copy");
  } else {
    cuda_rt::download(dst.data, src.data, bytes, "copy");
  }
}

void add(const TensorView& out, const TensorView& a, const TensorView& b, double alpha) {
  require_dtype(a, {DType::F32, DType::I32}, "a");
  require_same_dtype(b, a, "b", "a");
  require_same_dtype(out, a, "options.out", "a");
  require_same_device(b, a, "b", "a");
  require_same_device(out, a, "options.out", "a");
  require_same_shape(b, a, "b", "a");
  require_same_shape(out, a, "options.out", "a");
  require_finite(alpha, "alpha");
  // Element-wise: element i of a and b is read by the thread that then writes out[i] and by no
  // other, so out may be a or b itself; a shifted view would read elements already overwritten.
  require_in_place_or_apart(out, "options.out", a, "a");
  require_in_place_or_apart(out, "options.out", b, "b");
  if (a.dtype == DType::I32) {
    int32_t al = to_i32(alpha, "alpha");
    dispatch(a.device, "add",
             [&] { cpu::add_i32(out.ptr<int32_t>(), a.ptr<int32_t>(), b.ptr<int32_t>(), al, a.numel); },
             [&](void* s) { ERA_CUDA_ONLY(cuda::add_i32(out.ptr<int32_t>(), a.ptr<int32_t>(), b.ptr<int32_t>(), al, a.numel, s);) (void)s; });
  } else {
    float al = static_cast<float>(alpha);
    dispatch(a.device, "add",
             [&] { cpu::add_f32(out.ptr<float>(), a.ptr<float>(), b.ptr<float>(), al, a.numel); },
             [&](void* s) { ERA_CUDA_ONLY(cuda::add_f32(out.ptr<float>(), a.ptr<float>(), b.ptr<float>(), al, a.numel, s);) (void)s; });
  }
}

void scale(const TensorView& out, const TensorView& in, double alpha) {
  require_dtype(in, {DType::F32}, "x");
  require_same_dtype(out, in, "options.out", "x");
  require_same_device(out, in, "options.out", "x");
  require_same_shape(out, in, "options.out", "x");
  require_finite(alpha, "alpha");
  require_in_place_or_apart(out, "options.out", in, "x");
  float al = static_cast<float>(alpha);
  dispatch(in.device, "scale", [&] { cpu::scale_f32(out.ptr<float>(), in.ptr<float>(), al, in.numel); },
           [&](void* s) { ERA_CUDA_ONLY(cuda::scale_f32(out.ptr<float>(), in.ptr<float>(), al, in.numel, s);) (void)s; });
}

void exponential(const TensorView& out, const TensorView& in) {
  require_dtype(in, {DType::F32}, "x");
  require_same_dtype(out, in, "options.out", "x");
  require_same_device(out, in, "options.out", "x");
  require_same_shape(out, in, "options.out", "x");
  require_in_place_or_apart(out, "options.out", in, "x");
  dispatch(in.device, "exp", [&] { cpu::exp_f32(out.ptr<float>(), in.ptr<float>(), in.numel); },
           [&](void* s) { ERA_CUDA_ONLY(cuda::exp_f32(out.ptr<float>(), in.ptr<float>(), in.numel, s);) (void)s; });
}

void random_uniform(const TensorView& out, uint64_t seed, uint64_t offset, double low,
                    double high) {
  require_dtype(out, {DType::F32}, "out");
  require_finite(low, "low");
  require_finite(high, "high");
  if (!(high > low)) throw_range("a number greater than low", "high", std::to_string(high));
  float lo = static_cast<float>(low), hi = static_cast<float>(high);
  dispatch(out.device, "uniform", [&] { cpu::uniform_f32(out.ptr<float>(), out.numel, seed, offset, lo, hi); },
           [&](void* s) { ERA_CUDA_ONLY(cuda::uniform_f32(out.ptr<float>(), out.numel, seed, offset, lo, hi, s);) (void)s; });
}

void random_normal(const TensorView& out, uint64_t seed, uint64_t offset, double mean,
                   double stddev) {
  require_dtype(out, {DType::F32}, "out");
  require_finite(mean, "mean");
  require_finite(stddev, "std");
  if (stddev < 0) throw_range("a non-negative number", "std", std::to_string(stddev));
  float m = static_cast<float>(mean), sd = static_cast<float>(stddev);
  dispatch(out.device, "normal", [&] { cpu::normal_f32(out.ptr<float>(), out.numel, seed, offset, m, sd); },
           [&](void* s) { ERA_CUDA_ONLY(cuda::normal_f32(out.ptr<float>(), out.numel, seed, offset, m, sd, s);) (void)s; });
}

}  // namespace era::ops

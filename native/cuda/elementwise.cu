// Element-wise basics. f32 paths use 16-byte vectors when every pointer is 16-byte aligned
// (caching-allocator blocks always are) and a scalar tail for the remainder. a + alpha*b is written
// with explicit round-to-nearest intrinsics so nvcc cannot fuse it into an FMA: the result then
// matches the CPU reference bit for bit.
#include "elementwise.h"
#include "launch.cuh"

namespace era::cuda {
namespace {

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

template <typename T>
__global__ void fill_kernel(T* out, int64_t n, T value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = value;
}

__global__ void fill_f32x4_kernel(float4* out, int64_t n4, float value) {
  float4 v = make_float4(value, value, value, value);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n4;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = v;
}

__device__ __forceinline__ float axpy(float a, float alpha, float b) {
  return __fadd_rn(a, __fmul_rn(alpha, b));
}

__global__ void add_f32_kernel(float* out, const float* a, const float* b, float alpha,
                               int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = axpy(a[i], alpha, b[i]);
}

__global__ void add_f32x4_kernel(float4* out, const float4* a, const float4* b, float alpha,
                                 int64_t n4) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n4;
       i += int64_t(gridDim.x) * blockDim.x) {
    float4 x = a[i], y = b[i];
    out[i] = make_float4(axpy(x.x, alpha, y.x), axpy(x.y, alpha, y.y), axpy(x.z, alpha, y.z),
                         axpy(x.w, alpha, y.w));
  }
}

__global__ void add_i32_kernel(int32_t* out, const int32_t* a, const int32_t* b, int32_t alpha,
                               int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = static_cast<int32_t>(static_cast<uint32_t>(a[i]) +
                                  static_cast<uint32_t>(alpha) * static_cast<uint32_t>(b[i]));
}

__global__ void scale_f32_kernel(float* out, const float* in, float alpha, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = alpha * in[i];
}

__global__ void scale_f32x4_kernel(float4* out, const float4* in, float alpha, int64_t n4) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n4;
       i += int64_t(gridDim.x) * blockDim.x) {
    float4 x = in[i];
    out[i] = make_float4(alpha * x.x, alpha * x.y, alpha * x.z, alpha * x.w);
  }
}

// expf, not __expf: within 2 ulp of exp like the CPU's std::exp (the fast form is not).
__global__ void exp_f32_kernel(float* out, const float* in, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = expf(in[i]);
}

}  // namespace

void fill_f32(float* out, int64_t n, float value, void* stream) {
  if (n == 0) return;
  int64_t n4 = aligned16(out) ? n / 4 : 0;
  if (n4) fill_f32x4_kernel<<<grid_for(n4), kBlock, 0, as_stream(stream)>>>(
      reinterpret_cast<float4*>(out), n4, value);
  if (n - 4 * n4)
    fill_kernel<float><<<grid_for(n - 4 * n4), kBlock, 0, as_stream(stream)>>>(
        out + 4 * n4, n - 4 * n4, value);
}

void fill_i32(int32_t* out, int64_t n, int32_t value, void* stream) {
  if (n == 0) return;
  fill_kernel<int32_t><<<grid_for(n), kBlock, 0, as_stream(stream)>>>(out, n, value);
}

void add_f32(float* out, const float* a, const float* b, float alpha, int64_t n, void* stream) {
  if (n == 0) return;
  int64_t n4 = aligned16(out) && aligned16(a) && aligned16(b) ? n / 4 : 0;
  if (n4) add_f32x4_kernel<<<grid_for(n4), kBlock, 0, as_stream(stream)>>>(
      reinterpret_cast<float4*>(out), reinterpret_cast<const float4*>(a),
      reinterpret_cast<const float4*>(b), alpha, n4);
  if (n - 4 * n4)
    add_f32_kernel<<<grid_for(n - 4 * n4), kBlock, 0, as_stream(stream)>>>(
        out + 4 * n4, a + 4 * n4, b + 4 * n4, alpha, n - 4 * n4);
}

void add_i32(int32_t* out, const int32_t* a, const int32_t* b, int32_t alpha, int64_t n,
             void* stream) {
  if (n == 0) return;
  add_i32_kernel<<<grid_for(n), kBlock, 0, as_stream(stream)>>>(out, a, b, alpha, n);
}

void scale_f32(float* out, const float* in, float alpha, int64_t n, void* stream) {
  if (n == 0) return;
  int64_t n4 = aligned16(out) && aligned16(in) ? n / 4 : 0;
  if (n4) scale_f32x4_kernel<<<grid_for(n4), kBlock, 0, as_stream(stream)>>>(
      reinterpret_cast<float4*>(out), reinterpret_cast<const float4*>(in), alpha, n4);
  if (n - 4 * n4)
    scale_f32_kernel<<<grid_for(n - 4 * n4), kBlock, 0, as_stream(stream)>>>(
        out + 4 * n4, in + 4 * n4, alpha, n - 4 * n4);
}

void exp_f32(float* out, const float* in, int64_t n, void* stream) {
  if (n == 0) return;
  exp_f32_kernel<<<grid_for(n), kBlock, 0, as_stream(stream)>>>(out, in, n);
}

}  // namespace era::cuda

// Fused continuous-control ERA. Per row (one warp): max and sum-exp of r for w = softmax(r), then
// l_pre = k w + hi and the clip, in registers; the backward adds one dot product sum w * gp.
// D is small in practice (6..61), so the whole row lives in one or two registers per lane;
// longer rows stream from memory.
#include "era_gaussian.h"
#include "launch.cuh"
#include "warp_row.cuh"

namespace era::cuda {
namespace {

// Softmax statistics of a row: w_i = exp(r_i - max) * inv_sum.
template <int CHUNKS>
__device__ __forceinline__ void softmax_stats(const WarpRow<1, CHUNKS>& r, int64_t d, int lane,
                                              float& mx, float& inv_sum) {
  float m = -INFINITY;
  for_each_owned<1, CHUNKS>(d, lane, [&](int slot, int64_t i) { m = fmaxf(m, r(slot, i)); });
  mx = warp_max(m);
  float s = 0.f;
  for_each_owned<1, CHUNKS>(d, lane, [&](int slot, int64_t i) { s += expf(r(slot, i) - mx); });
  inv_sum = 1.f / warp_sum(s);
}

template <int CHUNKS>
__global__ void __launch_bounds__(kWarp * kRowsPerBlock)
gaussian_forward_kernel(float* __restrict__ out, const float* __restrict__ raw, int64_t rows,
                        int64_t d, float k, float lo, float hi, bool clip_upper) {
  const int lane = threadIdx.x % kWarp;
  const int64_t stride = int64_t(gridDim.x) * kRowsPerBlock;
  // Rows are warp-uniform, so every lane of a warp takes part in every shuffle.
  for (int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp; row < rows;
       row += stride) {
    WarpRow<1, CHUNKS> r;
    r.load(raw + row * d, d, lane);
    float mx, inv_sum;
    softmax_stats(r, d, lane, mx, inv_sum);
    store_owned<1, CHUNKS>(out + row * d, d, lane, [&](int slot, int64_t i) {
      float l = k * (expf(r(slot, i) - mx) * inv_sum) + hi;
      // Comparisons rather than fmaxf/fminf so NaN propagates (as jnp.clip does).
      if (l < lo) l = lo;
      if (clip_upper && l > hi) l = hi;
      return l;
    });
  }
}

template <int CHUNKS>
__global__ void __launch_bounds__(kWarp * kRowsPerBlock)
gaussian_backward_kernel(float* __restrict__ grad_raw, const float* __restrict__ raw,
                         const float* __restrict__ grad, int64_t rows, int64_t d, float k,
                         float lo, float hi, bool clip_upper) {
  const int lane = threadIdx.x % kWarp;
  const int64_t stride = int64_t(gridDim.x) * kRowsPerBlock;
  for (int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp; row < rows;
       row += stride) {
    WarpRow<1, CHUNKS> r, g;
    r.load(raw + row * d, d, lane);
    g.load(grad + row * d, d, lane);
    float mx, inv_sum;
    softmax_stats(r, d, lane, mx, inv_sum);
    // gp_i = g_i where the clip is inactive (strictly inside), else 0.
    auto gp = [&](int slot, int64_t i, float w) {
      float l = k * w + hi;
      bool inside = l > lo && (!clip_upper || l < hi);
      return inside ? g(slot, i) : 0.f;
    };
    float dot = 0.f;
    for_each_owned<1, CHUNKS>(d, lane, [&](int slot, int64_t i) {
      float w = expf(r(slot, i) - mx) * inv_sum;
      dot += w * gp(slot, i, w);
    });
    dot = warp_sum(dot);
    store_owned<1, CHUNKS>(grad_raw + row * d, d, lane, [&](int slot, int64_t i) {
      float w = expf(r(slot, i) - mx) * inv_sum;
      return k * w * (gp(slot, i, w) - dot);
    });
  }
}

}  // namespace

// Registers hold rows of up to 64 values (the usual action dims); longer rows stream.
void era_gaussian_forward_f32(float* out, const float* raw, int64_t rows, int64_t d, float k,
                              float lo, float hi, bool clip_upper, void* stream) {
  if (rows == 0 || d == 0) return;
  const dim3 grid(row_blocks(rows)), block(kWarp * kRowsPerBlock);
  cudaStream_t s = as_stream(stream);
  if (d <= 32)
    gaussian_forward_kernel<1><<<grid, block, 0, s>>>(out, raw, rows, d, k, lo, hi, clip_upper);
  else if (d <= 64)
    gaussian_forward_kernel<2><<<grid, block, 0, s>>>(out, raw, rows, d, k, lo, hi, clip_upper);
  else
    gaussian_forward_kernel<0><<<grid, block, 0, s>>>(out, raw, rows, d, k, lo, hi, clip_upper);
}

void era_gaussian_backward_f32(float* grad_raw, const float* raw, const float* grad,
                               int64_t rows, int64_t d, float k, float lo, float hi,
                               bool clip_upper, void* stream) {
  if (rows == 0 || d == 0) return;
  const dim3 grid(row_blocks(rows)), block(kWarp * kRowsPerBlock);
  cudaStream_t s = as_stream(stream);
  if (d <= 32)
    gaussian_backward_kernel<1><<<grid, block, 0, s>>>(grad_raw, raw, grad, rows, d, k, lo, hi,
                                                       clip_upper);
  else if (d <= 64)
    gaussian_backward_kernel<2><<<grid, block, 0, s>>>(grad_raw, raw, grad, rows, d, k, lo, hi,
                                                       clip_upper);
  else
    gaussian_backward_kernel<0><<<grid, block, 0, s>>>(grad_raw, raw, grad, rows, d, k, lo, hi,
                                                       clip_upper);
}

}  // namespace era::cuda

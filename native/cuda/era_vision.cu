// Fused classification ERA, one warp per row (warp_row.cuh). Each pass is a register sweep over
// the row held by the warp; only the reductions (max, min, sums) cross lanes.
//   forward:   max/min/sum-exp of x  ->  write z'(p) - z'(p_min)
//   backward:  max/sum-exp  ->  dot = sum g c rho  ->  write g c rho - p dot
//   CE:        max/min/sum-exp  ->  sums for the loss and its gradient  ->  write the gradient
// Rows of at most 1024 logits stay in registers (read from memory once); longer rows stream.
#include <climits>
#include <type_traits>

#include "era_vision.h"
#include "launch.cuh"
#include "warp_row.cuh"

namespace era::cuda {
namespace {

// u = -1 - ln h >= -1 - ln u_b >= 0 in exact arithmetic; when tau is near e, u_b is near 1/e and
// rounding can push u just below 0, so it is floored there (a comparison, so NaN still flows).
__device__ __forceinline__ float u_of(float h) {
  const float u = -1.f - logf(h);  // full-accuracy logf: this difference cancels
  return u < 0.f ? 0.f : u;
}

// z' = h^{-1}(h) by the reference's closed form, h = s p + b (era-spec §3.2).
__device__ __forceinline__ float zprime(float p, float s, float b) {
  const float u = u_of(fmaf(s, p, b));
  return -1.f - sqrtf(2.f * u) - 0.75f * u;  // as activate() computes it
}

// Everything the backward needs at one element: p, z', and c * rho (c = -dz'/du, rho = s p / h).
struct Act {
  float p, z, c_rho;
};

// The derivative side uses the 2-ulp rsqrtf and __fdividef (h >= b > 0 is a normal float for any
// valid minEntropy short of the exact bound): far inside the f32 tolerance and cheaper than IEEE
// division and reciprocal square root.
__device__ __forceinline__ Act activate(float x, float mx, float inv_sum, float s, float b) {
  const float p = expf(x - mx) * inv_sum;
  const float h = fmaf(s, p, b);
  const float u = u_of(h);
  const float r = sqrtf(2.f * u);
  return {p, -1.f - r - 0.75f * u, (rsqrtf(2.f * u) + 0.75f) * __fdividef(s * p, h)};
}

// Row statistics from the first sweep: max and min of x (min x gives min p, and z' is increasing
// in p, so min z' = z'(p_min) needs no extra sweep) and 1 / sum exp(x - max).
struct Stats {
  float mx, mn, inv_sum;
};

template <int VEC, int CHUNKS>
__device__ __forceinline__ Stats row_stats(const WarpRow<VEC, CHUNKS>& x, int64_t n, int lane) {
  float mx = -INFINITY, mn = INFINITY;
  for_each_owned<VEC, CHUNKS>(n, lane, [&](int slot, int64_t i) {
    mx = fmaxf(mx, x(slot, i));
    mn = fminf(mn, x(slot, i));
  });
  mx = warp_max(mx);
  mn = warp_min(mn);
  float sum = 0.f;
  for_each_owned<VEC, CHUNKS>(n, lane, [&](int slot, int64_t i) { sum += expf(x(slot, i) - mx); });
  return {mx, mn, 1.f / warp_sum(sum)};
}

#define ERA_ROW_LOOP(row, rows)                                                          \
  for (int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp; row < rows; \
       row += int64_t(gridDim.x) * kRowsPerBlock)

template <int VEC, int CHUNKS>
__global__ void __launch_bounds__(kWarp * kRowsPerBlock)
vision_forward_kernel(float* __restrict__ out, const float* __restrict__ x, int64_t rows,
                      int64_t n, float s, float b) {
  const int lane = threadIdx.x % kWarp;
  ERA_ROW_LOOP(row, rows) {  // warp-uniform: every lane joins every shuffle
    WarpRow<VEC, CHUNKS> xr;
    xr.load(x + row * n, n, lane);
    const Stats st = row_stats(xr, n, lane);
    // The detached min shift (the argmin element computes this same z', so its output is 0).
    const float zmin = zprime(expf(st.mn - st.mx) * st.inv_sum, s, b);
    store_owned<VEC, CHUNKS>(out + row * n, n, lane, [&](int slot, int64_t i) {
      return activate(xr(slot, i), st.mx, st.inv_sum, s, b).z - zmin;
    });
  }
}

template <int VEC, int CHUNKS>
__global__ void __launch_bounds__(kWarp * kRowsPerBlock)
vision_backward_kernel(float* __restrict__ grad_x, const float* __restrict__ x,
                       const float* __restrict__ grad_out, int64_t rows, int64_t n, float s,
                       float b) {
  const int lane = threadIdx.x % kWarp;
  ERA_ROW_LOOP(row, rows) {
    WarpRow<VEC, CHUNKS> xr, gr;
    xr.load(x + row * n, n, lane);
    gr.load(grad_out + row * n, n, lane);
    const Stats st = row_stats(xr, n, lane);
    float dot = 0.f;
    for_each_owned<VEC, CHUNKS>(n, lane, [&](int slot, int64_t i) {
      dot += gr(slot, i) * activate(xr(slot, i), st.mx, st.inv_sum, s, b).c_rho;
    });
    dot = warp_sum(dot);
    store_owned<VEC, CHUNKS>(grad_x + row * n, n, lane, [&](int slot, int64_t i) {
      const Act a = activate(xr(slot, i), st.mx, st.inv_sum, s, b);
      return gr(slot, i) * a.c_rho - a.p * dot;
    });
  }
}

// With q = softmax(out) and target t = (1-eps) onehot(y) + eps/n, the loss is
// lse(out) - sum t out and g = dL/dout = (q - t) / rows. out's max is known after the first sweep
// (out_max = z'(p_max) - zmin, p_max = 1/sum), so a single second sweep gathers
//   Z = sum e^(out - out_max), A = sum e^(out - out_max) c rho, T = sum c rho, S = sum out
// and sum_i g_i c_i rho_i = (A/Z - (1-eps) (c rho)_y - eps/n T) / rows; the third sweep writes
// g c rho - p (that sum).
template <int VEC, int CHUNKS>
__global__ void __launch_bounds__(kWarp * kRowsPerBlock)
vision_cross_entropy_kernel(float* __restrict__ grad_x, const float* __restrict__ x,
                            const int32_t* __restrict__ labels, int64_t rows, int64_t n, float s,
                            float b, float eps, float* __restrict__ row_loss) {
  const int lane = threadIdx.x % kWarp;
  const float inv_rows = 1.f / static_cast<float>(rows);
  const float eps_n = eps / static_cast<float>(n);
  ERA_ROW_LOOP(row, rows) {
    const float* xrow = x + row * n;
    WarpRow<VEC, CHUNKS> xr;
    xr.load(xrow, n, lane);
    const Stats st = row_stats(xr, n, lane);
    const float zmin = zprime(expf(st.mn - st.mx) * st.inv_sum, s, b);
    const float out_max = zprime(st.inv_sum, s, b) - zmin;

    float z_sum = 0.f, a_sum = 0.f, t_sum = 0.f, out_sum = 0.f;
    for_each_owned<VEC, CHUNKS>(n, lane, [&](int slot, int64_t i) {
      const Act a = activate(xr(slot, i), st.mx, st.inv_sum, s, b);
      const float out = a.z - zmin;
      const float e = expf(out - out_max);
      z_sum += e;
      a_sum += e * a.c_rho;
      t_sum += a.c_rho;
      out_sum += out;
    });
    z_sum = warp_sum(z_sum);
    a_sum = warp_sum(a_sum);
    t_sum = warp_sum(t_sum);
    out_sum = warp_sum(out_sum);

    // A bad label reads nothing: the row's loss becomes NaN and the op raises RangeError.
    const int32_t y = labels[row];
    const bool ok = y >= 0 && y < n;
    float out_y = 0.f, c_rho_y = 0.f;
    if (ok) {
      const Act a = activate(__ldg(xrow + y), st.mx, st.inv_sum, s, b);
      out_y = a.z - zmin;
      c_rho_y = a.c_rho;
    }
    const float inv_z = 1.f / z_sum;
    const float dot = (a_sum * inv_z - (1.f - eps) * c_rho_y - eps_n * t_sum) * inv_rows;
    if (lane == 0)
      row_loss[row] = ok ? logf(z_sum) + out_max - (1.f - eps) * out_y - eps_n * out_sum : NAN;

    store_owned<VEC, CHUNKS>(grad_x + row * n, n, lane, [&](int slot, int64_t i) {
      // Recomputed rather than kept from the previous sweep: three more register arrays would
      // cost more occupancy than the math costs.
      const Act a = activate(xr(slot, i), st.mx, st.inv_sum, s, b);
      const float e = expf(a.z - zmin - out_max);
      const float t = eps_n + (i == y ? 1.f - eps : 0.f);
      return (e * inv_z - t) * inv_rows * a.c_rho - a.p * dot;
    });
  }
}

// One block; thread t sums rows t, t + 1024, ... in double, then a fixed tree: the same inputs
// give the same bits on every run (no float atomics). It also finds the first bad label.
constexpr int kReduceThreads = 1024;

__global__ void __launch_bounds__(kReduceThreads)
cross_entropy_reduce_kernel(const float* __restrict__ row_loss, const int32_t* __restrict__ labels,
                            int64_t rows, int64_t n, CrossEntropyResult* __restrict__ result,
                            float* __restrict__ loss_out) {
  __shared__ double sums[kReduceThreads];
  __shared__ long long bad[kReduceThreads];
  double acc = 0.0;
  long long first_bad = LLONG_MAX;
  for (int64_t i = threadIdx.x; i < rows; i += kReduceThreads) {
    acc += static_cast<double>(row_loss[i]);
    const int32_t y = labels[i];
    if ((y < 0 || y >= n) && i < first_bad) first_bad = i;
  }
  sums[threadIdx.x] = acc;
  bad[threadIdx.x] = first_bad;
  __syncthreads();
  for (int half = kReduceThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) {
      sums[threadIdx.x] += sums[threadIdx.x + half];
      bad[threadIdx.x] = min(bad[threadIdx.x], bad[threadIdx.x + half]);
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    result->loss = sums[0] / static_cast<double>(rows);
    result->bad_row = bad[0] == LLONG_MAX ? -1 : bad[0];
    if (loss_out) *loss_out = bad[0] == LLONG_MAX ? static_cast<float>(result->loss) : NAN;
  }
}

template <int V>
using Int = std::integral_constant<int, V>;

// Picks the row layout: 16-byte vectors when every row is 16-byte aligned, and the smallest
// register capacity (32 * VEC * CHUNKS floats) that holds the row, up to 1024; beyond, stream.
template <class Launch>
void with_row_layout(int64_t n, bool vec4, Launch&& launch) {
  if (vec4) {
    if (n <= 128) launch(Int<4>{}, Int<1>{});
    else if (n <= 256) launch(Int<4>{}, Int<2>{});
    else if (n <= 1024) launch(Int<4>{}, Int<8>{});
    else launch(Int<4>{}, Int<0>{});
  } else {
    if (n <= 32) launch(Int<1>{}, Int<1>{});
    else if (n <= 128) launch(Int<1>{}, Int<4>{});
    else if (n <= 256) launch(Int<1>{}, Int<8>{});
    else if (n <= 1024) launch(Int<1>{}, Int<32>{});
    else launch(Int<1>{}, Int<0>{});
  }
}

}  // namespace

void era_vision_forward_f32(float* out, const float* x, int64_t rows, int64_t n, float s, float b,
                            void* stream) {
  if (rows == 0) return;
  const bool vec4 = n % 4 == 0 && is_aligned16(out) && is_aligned16(x);
  with_row_layout(n, vec4, [&](auto vec, auto chunks) {
    vision_forward_kernel<decltype(vec)::value, decltype(chunks)::value>
        <<<row_blocks(rows), kWarp * kRowsPerBlock, 0, as_stream(stream)>>>(out, x, rows, n, s, b);
  });
}

void era_vision_backward_f32(float* grad_x, const float* x, const float* grad_out, int64_t rows,
                             int64_t n, float s, float b, void* stream) {
  if (rows == 0) return;
  const bool vec4 = n % 4 == 0 && is_aligned16(grad_x) && is_aligned16(x) && is_aligned16(grad_out);
  with_row_layout(n, vec4, [&](auto vec, auto chunks) {
    vision_backward_kernel<decltype(vec)::value, decltype(chunks)::value>
        <<<row_blocks(rows), kWarp * kRowsPerBlock, 0, as_stream(stream)>>>(grad_x, x, grad_out,
                                                                           rows, n, s, b);
  });
}

void era_vision_cross_entropy_f32(float* grad_x, const float* x, const int32_t* labels,
                                  int64_t rows, int64_t n, float s, float b, float eps,
                                  float* row_loss, CrossEntropyResult* result, float* loss_out,
                                  void* stream) {
  if (rows == 0) return;
  cudaStream_t st = as_stream(stream);
  const bool vec4 = n % 4 == 0 && is_aligned16(grad_x) && is_aligned16(x);
  with_row_layout(n, vec4, [&](auto vec, auto chunks) {
    vision_cross_entropy_kernel<decltype(vec)::value, decltype(chunks)::value>
        <<<row_blocks(rows), kWarp * kRowsPerBlock, 0, st>>>(grad_x, x, labels, rows, n, s, b, eps,
                                                            row_loss);
  });
  cross_entropy_reduce_kernel<<<1, kReduceThreads, 0, st>>>(row_loss, labels, rows, n, result, loss_out);
}

}  // namespace era::cuda

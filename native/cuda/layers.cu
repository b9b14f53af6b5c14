// Dense-layer kernels: element-wise activations, LayerNorm (one warp per row; parameter grads
// as column sums), column copies for concat/split, MSE, and the sum/mean reductions.
#include <string>

#include "../core/cuda_runtime.h"
#include "dense_reduce.cuh"
#include "launch.cuh"
#include "layers.h"

namespace era::cuda {

double* reduction_scratch(const char* op) {
  static double* scratch = nullptr;
  if (!scratch) {
    void* p = nullptr;
    cuda_rt::check(cudaMalloc(&p, kScratchDoubles * sizeof(double)), op);
    scratch = static_cast<double*>(p);
  }
  return scratch;
}

namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 8;   // row kernels: one warp per row, 256-thread blocks
constexpr int kColsPerBlock = 32;  // column reductions: 32 columns x 8 row groups per block
constexpr int kRowGroups = 8;

__device__ __forceinline__ float warp_total(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__global__ void activation_forward_kernel(float* y, const float* x, int64_t n, Activation act) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = activate(x[i], act);
}

__global__ void activation_backward_kernel(float* dx, const float* dy, const float* y, int64_t n,
                                           Activation act) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = activation_grad(dy[i], y[i], act);
}

// One warp per row: mean, then the (two-pass) variance, then y. Row r belongs to ensemble member
// r / rows_per_member, whose weight and bias rows sit w_stride and b_stride apart.
// `act` is applied to y in the same pass (the MLP's LayerNorm -> activation: one launch, not two).
__global__ void layer_norm_forward_kernel(float* y, float* mean, float* rstd, const float* x,
                                          const float* w, const float* b, int64_t rows, int64_t d,
                                          float eps, int64_t rows_per_member, int64_t w_stride,
                                          int64_t b_stride, Activation act) {
  const int lane = threadIdx.x % kWarp;
  const int64_t row = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / kWarp;
  if (row >= rows) return;
  const int64_t member = row / rows_per_member;
  w += member * w_stride;
  b += member * b_stride;
  const float* xr = x + row * d;
  float s = 0.f;
  for (int64_t j = lane; j < d; j += kWarp) s += xr[j];
  const float mu = warp_total(s) / static_cast<float>(d);
  float ss = 0.f;
  for (int64_t j = lane; j < d; j += kWarp) {
    const float c = xr[j] - mu;
    ss += c * c;
  }
  const float rs = rsqrtf(warp_total(ss) / static_cast<float>(d) + eps);
  float* yr = y + row * d;
  for (int64_t j = lane; j < d; j += kWarp) yr[j] = activate((xr[j] - mu) * rs * w[j] + b[j], act);
  if (lane == 0) {
    mean[row] = mu;
    rstd[row] = rs;
  }
}

// The gradient reaching the LayerNorm's output: dy itself, or with a fused activation (ya: its
// output, the forward's y) dy * act'(.), recomputed where needed rather than stored.
__device__ __forceinline__ float ln_out_grad(const float* dy, const float* ya, int64_t i,
                                             Activation act) {
  return ya ? activation_grad(dy[i], ya[i], act) : dy[i];
}

// dx for one row per warp: rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w.
__global__ void layer_norm_backward_dx_kernel(float* dx, const float* dy, const float* ya,
                                              Activation act, const float* x, const float* w,
                                              const float* mean, const float* rstd, int64_t rows,
                                              int64_t d, int64_t rows_per_member,
                                              int64_t w_stride) {
  const int lane = threadIdx.x % kWarp;
  const int64_t row = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / kWarp;
  if (row >= rows) return;
  w += (row / rows_per_member) * w_stride;
  const float* xr = x + row * d;
  const float* dyr = dy + row * d;
  const float* yar = ya ? ya + row * d : nullptr;
  const float mu = mean[row], rs = rstd[row];
  float sg = 0.f, sgx = 0.f;
  for (int64_t j = lane; j < d; j += kWarp) {
    const float g = ln_out_grad(dyr, yar, j, act) * w[j];
    sg += g;
    sgx += g * (xr[j] - mu) * rs;
  }
  const float mg = warp_total(sg) / static_cast<float>(d);
  const float mgx = warp_total(sgx) / static_cast<float>(d);
  float* dxr = dx + row * d;
  for (int64_t j = lane; j < d; j += kWarp) {
    const float xhat = (xr[j] - mu) * rs;
    dxr[j] = rs * (ln_out_grad(dyr, yar, j, act) * w[j] - mg - xhat * mgx);
  }
}

// Column sums over rows, reduced across the block's row groups in a fixed order:
// dw[c] = sum g * xhat, db[c] = sum g (g as in ln_out_grad), and with dxs (the MLP's linear
// bias gradient, fused here to save its own launch) dxs[c] = sum dx, reading the dx the dx
// kernel wrote before this one. blockIdx.y is the ensemble member: it sums its own
// rows_per_member rows into its parameter rows (dw_stride, db_stride, dxs_stride apart).
__global__ void layer_norm_params_kernel(float* dw, float* db, float* dxs, const float* dy,
                                         const float* ya, Activation act, const float* x,
                                         const float* dx, const float* mean, const float* rstd,
                                         int64_t rows_per_member, int64_t d, int accumulate,
                                         int64_t dw_stride, int64_t db_stride,
                                         int64_t dxs_stride) {
  __shared__ float sw[kRowGroups][kColsPerBlock + 1];
  __shared__ float sb[kRowGroups][kColsPerBlock + 1];
  __shared__ float sx[kRowGroups][kColsPerBlock + 1];
  const int tx = threadIdx.x % kColsPerBlock, ty = threadIdx.x / kColsPerBlock;
  const int64_t c = blockIdx.x * int64_t(kColsPerBlock) + tx;
  const int64_t r0 = blockIdx.y * rows_per_member, r1 = r0 + rows_per_member;
  if (dw) dw += blockIdx.y * dw_stride;
  if (db) db += blockIdx.y * db_stride;
  if (dxs) dxs += blockIdx.y * dxs_stride;
  float aw = 0.f, ab = 0.f, ax = 0.f;
  if (c < d) {
    for (int64_t r = r0 + ty; r < r1; r += kRowGroups) {
      const float g = ln_out_grad(dy, ya, r * d + c, act);
      aw += g * (x[r * d + c] - mean[r]) * rstd[r];
      ab += g;
      if (dxs) ax += dx[r * d + c];
    }
  }
  sw[ty][tx] = aw;
  sb[ty][tx] = ab;
  sx[ty][tx] = ax;
  __syncthreads();
  if (ty == 0 && c < d) {
    float tw = 0.f, tb = 0.f, tx_sum = 0.f;
    for (int k = 0; k < kRowGroups; ++k) {
      tw += sw[k][tx];
      tb += sb[k][tx];
      tx_sum += sx[k][tx];
    }
    if (dw) dw[c] = accumulate ? dw[c] + tw : tw;
    if (db) db[c] = accumulate ? db[c] + tb : tb;
    if (dxs) dxs[c] = accumulate ? dxs[c] + tx_sum : tx_sum;
  }
}

// dx = act'(.) * dy from the forward output y, and per member the column sums of dx (the bias
// gradient of the linear layer before the activation) in the same pass; blockIdx.y is the member.
__global__ void activation_backward_colsum_kernel(float* dx, float* colsum, const float* dy,
                                                  const float* y, Activation act,
                                                  int64_t rows_per_member, int64_t d,
                                                  int accumulate, int64_t colsum_stride) {
  __shared__ float part[kRowGroups][kColsPerBlock + 1];
  const int tx = threadIdx.x % kColsPerBlock, ty = threadIdx.x / kColsPerBlock;
  const int64_t c = blockIdx.x * int64_t(kColsPerBlock) + tx;
  const int64_t r0 = blockIdx.y * rows_per_member, r1 = r0 + rows_per_member;
  colsum += blockIdx.y * colsum_stride;
  float a = 0.f;
  if (c < d) {
    for (int64_t r = r0 + ty; r < r1; r += kRowGroups) {
      const float g = activation_grad(dy[r * d + c], y[r * d + c], act);
      dx[r * d + c] = g;
      a += g;
    }
  }
  part[ty][tx] = a;
  __syncthreads();
  if (ty == 0 && c < d) {
    float t = 0.f;
    for (int k = 0; k < kRowGroups; ++k) t += part[k][tx];
    colsum[c] = accumulate ? colsum[c] + t : t;
  }
}

// blockIdx.y: one of `blocks` independent [rows, d] -> [d] reductions laid end to end.
__global__ void reduce_first_kernel(float* out, const float* x, int64_t rows, int64_t d,
                                    float alpha, int accumulate) {
  __shared__ float part[kRowGroups][kColsPerBlock + 1];
  const int tx = threadIdx.x % kColsPerBlock, ty = threadIdx.x / kColsPerBlock;
  const int64_t c = blockIdx.x * int64_t(kColsPerBlock) + tx;
  x += blockIdx.y * rows * d;
  out += blockIdx.y * d;
  float a = 0.f;
  if (c < d)
    for (int64_t r = ty; r < rows; r += kRowGroups) a += x[r * d + c];
  part[ty][tx] = a;
  __syncthreads();
  if (ty == 0 && c < d) {
    float t = 0.f;
    for (int k = 0; k < kRowGroups; ++k) t += part[k][tx];
    out[c] = accumulate ? out[c] + alpha * t : alpha * t;
  }
}

__global__ void reduce_last_kernel(float* out, const float* x, int64_t rows, int64_t d,
                                   float alpha, int accumulate) {
  const int lane = threadIdx.x % kWarp;
  const int64_t row = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / kWarp;
  if (row >= rows) return;
  float s = 0.f;
  for (int64_t j = lane; j < d; j += kWarp) s += x[row * d + j];
  s = warp_total(s);
  if (lane == 0) out[row] = accumulate ? out[row] + alpha * s : alpha * s;
}

// concat / split along the last dim: up to kMaxParts parts per launch, so a concat or split of
// the SAC's few parts is one kernel rather than one per part.
constexpr int kMaxParts = 8;
struct ColumnParts {
  float* data[kMaxParts];
  int64_t col[kMaxParts + 1];  // part p holds the whole's columns [col[p], col[p + 1])
  int n;
};

__global__ void column_parts_kernel(float* whole, int64_t total, ColumnParts parts, int64_t rows,
                                    int to_whole) {
  const int64_t c0 = parts.col[0], span = parts.col[parts.n] - c0, count = rows * span;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / span, c = c0 + (i - r * span);
    int p = 0;
    while (c >= parts.col[p + 1]) ++p;  // (parts of no columns are stepped over)
    float* part = parts.data[p] + r * (parts.col[p + 1] - parts.col[p]) + (c - parts.col[p]);
    float* w = whole + r * total + c;
    if (to_whole) *w = *part;
    else *part = *w;
  }
}

__global__ void mse_backward_kernel(float* grad, const float* pred, const float* target, int64_t n,
                                    float k) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    grad[i] = k * (pred[i] - target[i]);
}

__global__ void broadcast_kernel(float* dx, const float* dy, int64_t n, int64_t d, int mode,
                                 float alpha, int accumulate) {
  // mode 0: dy is one value; 1: dy[row] (over the last dim); 2: dy[column] (over the first).
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float v = alpha * dy[mode == 0 ? 0 : mode == 1 ? i / d : i % d];
    dx[i] = accumulate ? dx[i] + v : v;
  }
}

// Reduction functors.
struct LoadF {
  const float* x;
  __device__ double operator()(int64_t i) const { return x[i]; }
};
struct SquaredDiffF {
  const float* p;
  const float* t;
  __device__ double operator()(int64_t i) const {
    const double e = static_cast<double>(p[i]) - t[i];
    return e * e;
  }
};
struct StoreScaled {
  float* out;
  double alpha;
  int accumulate;
  __device__ void operator()(double total) const {
    out[0] = static_cast<float>((accumulate ? static_cast<double>(out[0]) : 0.0) + alpha * total);
  }
};

unsigned rows_to_blocks(int64_t rows) {
  return static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock);
}

unsigned col_blocks(int64_t d) {
  return static_cast<unsigned>((d + kColsPerBlock - 1) / kColsPerBlock);
}

}  // namespace

void activation_forward(float* y, const float* x, int64_t n, Activation act, void* stream) {
  if (n == 0) return;
  activation_forward_kernel<<<grid_for(n), kBlock, 0, as_stream(stream)>>>(y, x, n, act);
}

void activation_backward(float* dx, const float* dy, const float* y, int64_t n, Activation act,
                         void* stream) {
  if (n == 0) return;
  activation_backward_kernel<<<grid_for(n), kBlock, 0, as_stream(stream)>>>(dx, dy, y, n, act);
}

void activation_backward_colsum(float* dx, float* colsum, const float* dy, const float* y,
                                int64_t rows, int64_t d, Activation act, bool accumulate,
                                int64_t members, int64_t colsum_stride, void* stream) {
  if (rows == 0 || d == 0) return;
  const dim3 grid(col_blocks(d), static_cast<unsigned>(members));
  activation_backward_colsum_kernel<<<grid, kColsPerBlock * kRowGroups, 0, as_stream(stream)>>>(
      dx, colsum, dy, y, act, rows / members, d, accumulate ? 1 : 0, colsum_stride);
}

void layer_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* weight,
                        const float* bias, int64_t rows, int64_t d, float eps, int64_t members,
                        int64_t w_stride, int64_t b_stride, Activation act, void* stream) {
  if (rows == 0) return;
  layer_norm_forward_kernel<<<rows_to_blocks(rows), kRowsPerBlock * kWarp, 0, as_stream(stream)>>>(
      y, mean, rstd, x, weight, bias, rows, d, eps, rows / members, w_stride, b_stride, act);
}

void layer_norm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x,
                         const float* weight, const float* mean, const float* rstd, int64_t rows,
                         int64_t d, bool accumulate, int64_t members, int64_t w_stride,
                         int64_t dw_stride, int64_t db_stride, const LayerNormFusion& fused,
                         void* stream) {
  cudaStream_t st = as_stream(stream);
  const int64_t rows_per_member = rows / members;
  const float* ya = fused.act_out;
  const Activation act = ya ? fused.act : Activation::None;
  float* dxs = dx ? fused.dx_colsum : nullptr;
  if (rows > 0 && dx)
    layer_norm_backward_dx_kernel<<<rows_to_blocks(rows), kRowsPerBlock * kWarp, 0, st>>>(
        dx, dy, ya, act, x, weight, mean, rstd, rows, d, rows_per_member, w_stride);
  if ((dweight || dbias || dxs) && d > 0) {
    const dim3 grid(col_blocks(d), static_cast<unsigned>(members));
    layer_norm_params_kernel<<<grid, kColsPerBlock * kRowGroups, 0, st>>>(
        dweight, dbias, dxs, dy, ya, act, x, dx, mean, rstd, rows_per_member, d,
        accumulate ? 1 : 0, dw_stride, db_stride, fused.dx_colsum_stride);
  }
}

void copy_column_parts(float* whole, int64_t total, float* const* parts, const int64_t* widths,
                       size_t n, int64_t rows, bool to_whole, void* stream) {
  int64_t col = 0;
  for (size_t first = 0; first < n; first += kMaxParts) {
    ColumnParts p{};
    p.n = static_cast<int>(n - first < size_t(kMaxParts) ? n - first : size_t(kMaxParts));
    p.col[0] = col;
    for (int k = 0; k < p.n; ++k) {
      p.data[k] = parts[first + k];
      col += widths[first + k];
      p.col[k + 1] = col;
    }
    const int64_t count = rows * (p.col[p.n] - p.col[0]);
    if (count > 0)
      column_parts_kernel<<<grid_for(count), kBlock, 0, as_stream(stream)>>>(whole, total, p, rows,
                                                                            to_whole ? 1 : 0);
  }
}

void mse_forward(float* loss, const float* pred, const float* target, int64_t n, void* stream) {
  reduce_launch(SquaredDiffF{pred, target}, n, StoreScaled{loss, 1.0 / static_cast<double>(n), 0},
                as_stream(stream), "mseLoss");
}

void mse_backward(float* grad, const float* pred, const float* target, int64_t n, float scale,
                  void* stream) {
  if (n == 0) return;
  const float k = static_cast<float>(2.0 * scale / static_cast<double>(n));
  mse_backward_kernel<<<grid_for(n), kBlock, 0, as_stream(stream)>>>(grad, pred, target, n, k);
}

void reduce_all(float* out, const float* x, int64_t n, double alpha, bool accumulate, void* stream) {
  reduce_launch(LoadF{x}, n, StoreScaled{out, alpha, accumulate ? 1 : 0}, as_stream(stream), "sum");
}

void reduce_last(float* out, const float* x, int64_t rows, int64_t d, double alpha, bool accumulate,
                 void* stream) {
  if (rows == 0) return;
  if (rows == 1) {  // one long row: the two-stage reduction spreads it over the device
    reduce_all(out, x, d, alpha, accumulate, stream);
    return;
  }
  reduce_last_kernel<<<rows_to_blocks(rows), kRowsPerBlock * kWarp, 0, as_stream(stream)>>>(
      out, x, rows, d, static_cast<float>(alpha), accumulate ? 1 : 0);
}

void reduce_first(float* out, const float* x, int64_t rows, int64_t d, double alpha,
                  bool accumulate, void* stream, int64_t blocks) {
  if (d == 0 || blocks == 0) return;
  const dim3 grid(col_blocks(d), static_cast<unsigned>(blocks));
  reduce_first_kernel<<<grid, kColsPerBlock * kRowGroups, 0, as_stream(stream)>>>(
      out, x, rows, d, static_cast<float>(alpha), accumulate ? 1 : 0);
}

void broadcast(float* dx, const float* dy, int64_t rows, int64_t d, int mode, float alpha,
               bool accumulate, void* stream) {
  if (rows == 0 || d == 0) return;
  broadcast_kernel<<<grid_for(rows * d), kBlock, 0, as_stream(stream)>>>(
      dx, dy, rows * d, d, mode, alpha, accumulate ? 1 : 0);
}

}  // namespace era::cuda

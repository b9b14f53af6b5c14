// Fused optimizer kernels over flat f32 blocks: one pass reads p, g (and the moments) and writes
// them back. Gradient clipping is three deterministic launches per call, all on the device.
#include <cmath>

#include "dense_reduce.cuh"
#include "launch.cuh"
#include "optim.h"

namespace era::cuda {
namespace {

// The grid-stride loop both Adam kernels run.
__device__ __forceinline__ void adam_block(float* p, const float* g, float* m, float* v, int64_t n,
                                           const AdamHyper& h) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    float pi = p[i], mi = m[i], vi = v[i];
    adam_update(pi, g[i], mi, vi, h);
    p[i] = pi;
    m[i] = mi;
    v[i] = vi;
  }
}

__global__ void adam_kernel(float* p, const float* g, float* m, float* v, int64_t n, AdamHyper h) {
  adam_block(p, g, m, v, n, h);
}

__global__ void increment_kernel(int32_t* counter) { counter[0] += 1; }

// Reads the step count written by increment_kernel (the launch before it on the same stream).
__global__ void adam_counted_kernel(float* p, const float* g, float* m, float* v, int64_t n,
                                    AdamHyper h, double beta1, double beta2, const int32_t* counter) {
  adam_bias_corrections(beta1, beta2, static_cast<double>(counter[0]), h.bc1, h.bc2);
  adam_block(p, g, m, v, n, h);
}

__global__ void sgd_kernel(float* p, const float* g, float* buf, int64_t n, float lr,
                           float momentum, int nesterov, float weight_decay) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float pi = p[i];
    const float gi = g[i] + weight_decay * pi;
    float update = gi;
    if (momentum != 0.f) {
      const float b = momentum * buf[i] + gi;
      buf[i] = b;
      update = nesterov ? gi + momentum * b : b;
    }
    p[i] = pi - lr * update;
  }
}

__global__ void polyak_kernel(float* target, const float* online, int64_t n, float tau) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    target[i] = (1.f - tau) * target[i] + tau * online[i];
}

struct SquareF {
  const float* x;
  __device__ double operator()(int64_t i) const {
    const double v = x[i];
    return v * v;
  }
};

// Adds a block's sum of squares into the running total (first block: sets it).
struct AccumulateTotal {
  double* total;
  int first;
  __device__ void operator()(double s) const { *total = first ? s : *total + s; }
};

// norm = sqrt(total); scale = norm < max_norm ? 1 : max_norm / norm (optax clip_by_global_norm).
__global__ void clip_finalize_kernel(const double* total, double* scale, float* norm,
                                     float max_norm) {
  const double nrm = sqrt(*total);
  *norm = static_cast<float>(nrm);
  *scale = nrm < static_cast<double>(max_norm) ? 1.0 : static_cast<double>(max_norm) / nrm;
}

__global__ void clip_scale_kernel(float* g, int64_t n, const double* scale) {
  const double s = *scale;
  if (s == 1.0) return;
  const float sf = static_cast<float>(s);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    g[i] *= sf;
}

}  // namespace

void adam_step(float* p, const float* g, float* m, float* v, int64_t n, const AdamHyper& h,
               void* stream) {
  if (n == 0) return;
  adam_kernel<<<grid_for(n), kBlock, 0, as_stream(stream)>>>(p, g, m, v, n, h);
}

void adam_step_counted(float* p, const float* g, float* m, float* v, int64_t n, const AdamHyper& h,
                       double beta1, double beta2, int32_t* counter, void* stream) {
  increment_kernel<<<1, 1, 0, as_stream(stream)>>>(counter);
  if (n == 0) return;
  adam_counted_kernel<<<grid_for(n), kBlock, 0, as_stream(stream)>>>(p, g, m, v, n, h, beta1, beta2, counter);
}

void sgd_step(float* p, const float* g, float* buf, int64_t n, float lr, float momentum,
              bool nesterov, float weight_decay, void* stream) {
  if (n == 0) return;
  sgd_kernel<<<grid_for(n), kBlock, 0, as_stream(stream)>>>(p, g, buf, n, lr, momentum,
                                                            nesterov ? 1 : 0, weight_decay);
}

void polyak(float* target, const float* online, int64_t n, float tau, void* stream) {
  if (n == 0) return;
  polyak_kernel<<<grid_for(n), kBlock, 0, as_stream(stream)>>>(target, online, n, tau);
}

void clip_grad_norm(float* const* grads, const int64_t* sizes, int count, float max_norm,
                    float* norm, void* stream) {
  cudaStream_t st = as_stream(stream);
  double* scratch = reduction_scratch("clipGradNorm");
  double* total = scratch + kMaxPartials;
  double* scale = scratch + kMaxPartials + 1;
  for (int i = 0; i < count; ++i)
    reduce_launch(SquareF{grads[i]}, sizes[i], AccumulateTotal{total, i == 0 ? 1 : 0}, st,
                  "clipGradNorm");
  if (count == 0) cudaMemsetAsync(total, 0, sizeof(double), st);
  clip_finalize_kernel<<<1, 1, 0, st>>>(total, scale, norm, max_norm);
  for (int i = 0; i < count; ++i)
    if (sizes[i] > 0)
      clip_scale_kernel<<<grid_for(sizes[i]), kBlock, 0, st>>>(grads[i], sizes[i], scale);
}

}  // namespace era::cuda

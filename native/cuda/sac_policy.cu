// SAC policy distributions on the GPU. Element-wise work runs grid-stride, one thread per element;
// the per-row log-probs run one warp per row (lanes stride over the D action dims, a double warp
// sum). The math is native/core/sac_math.h in double: these ops are launch- and memory-bound at
// RL sizes (B x D ~ 1e4), so double costs nothing measurable and keeps Phi / Phi^-1 accurate.
#include "../core/philox.h"
#include "../core/sac_math.h"
#include "launch.cuh"
#include "sac_policy.h"
#include "warp_row.cuh"

namespace era::cuda {
namespace {

__device__ __forceinline__ double warp_sum_double(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

__global__ void trunc_sample_kernel(float* __restrict__ action, float* __restrict__ noise,
                                    const float* __restrict__ mu,
                                    const float* __restrict__ log_std, int64_t n,
                                    double temperature, uint64_t seed, uint64_t offset,
                                    bool given_noise) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float u = given_noise ? noise[i] : philox_uniform(seed, offset, static_cast<uint64_t>(i), 0.f, 1.f);
    const sac::TruncNormal t = sac::trunc_normal(mu[i], log_std[i], temperature);
    action[i] = sac::trunc_action(sac::trunc_draw(t, u));
    if (!given_noise) noise[i] = u;  // given noise is an input: never written (it may alias mu)
  }
}

__global__ void trunc_backward_kernel(float* __restrict__ grad_mu,
                                      float* __restrict__ grad_log_std,
                                      const float* __restrict__ mu,
                                      const float* __restrict__ log_std,
                                      const float* __restrict__ noise,
                                      const float* __restrict__ grad_action, int64_t n,
                                      double temperature) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const sac::TruncNormal t = sac::trunc_normal(mu[i], log_std[i], temperature);
    double gm, gl;
    sac::trunc_grad(t, noise[i], grad_action[i], gm, gl);
    grad_mu[i] = static_cast<float>(gm);
    grad_log_std[i] = static_cast<float>(gl);
  }
}

// Rows are warp-uniform, so every lane of a warp takes part in every shuffle.
__global__ void __launch_bounds__(kWarp * kRowsPerBlock)
trunc_log_prob_kernel(float* __restrict__ out, const float* __restrict__ action,
                      const float* __restrict__ mu, const float* __restrict__ log_std,
                      int64_t rows, int64_t d, double temperature) {
  const int lane = threadIdx.x % kWarp;
  const int64_t stride = int64_t(gridDim.x) * kRowsPerBlock;
  for (int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp; row < rows;
       row += stride) {
    double sum = 0;
    for (int64_t j = row * d + lane; j < (row + 1) * d; j += kWarp)
      sum += sac::trunc_log_prob(sac::trunc_normal(mu[j], log_std[j], temperature), action[j]);
    sum = warp_sum_double(sum);
    if (lane == 0) out[row] = static_cast<float>(sum);
  }
}

__global__ void __launch_bounds__(kWarp * kRowsPerBlock)
tanh_sample_kernel(float* __restrict__ action, float* __restrict__ noise,
                   float* __restrict__ log_prob, const float* __restrict__ mu,
                   const float* __restrict__ log_std, int64_t rows, int64_t d, uint64_t seed,
                   uint64_t offset, bool given_noise) {
  const int lane = threadIdx.x % kWarp;
  const int64_t stride = int64_t(gridDim.x) * kRowsPerBlock;
  for (int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp; row < rows;
       row += stride) {
    double sum = 0;
    for (int64_t j = row * d + lane; j < (row + 1) * d; j += kWarp) {
      const float e = given_noise ? noise[j] : philox_normal(seed, offset, static_cast<uint64_t>(j), 0.f, 1.f);
      const double l = log_std[j];
      const double u = static_cast<double>(mu[j]) + exp(l) * e;
      action[j] = static_cast<float>(tanh(u));
      if (!given_noise) noise[j] = e;
      sum += sac::tanh_gauss_log_prob(e, l, u);
    }
    sum = warp_sum_double(sum);
    if (lane == 0) log_prob[row] = static_cast<float>(sum);
  }
}

__global__ void tanh_backward_kernel(float* __restrict__ grad_mu,
                                     float* __restrict__ grad_log_std,
                                     const float* __restrict__ mu,
                                     const float* __restrict__ log_std,
                                     const float* __restrict__ noise,
                                     const float* __restrict__ grad_action,
                                     const float* __restrict__ grad_log_prob, int64_t n,
                                     int64_t d) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const double gl = grad_log_prob ? static_cast<double>(grad_log_prob[i / d]) : 0.0;
    double gm, gs;
    sac::tanh_gauss_grad(mu[i], log_std[i], noise[i], grad_action[i], gl, gm, gs);
    grad_mu[i] = static_cast<float>(gm);
    grad_log_std[i] = static_cast<float>(gs);
  }
}

}  // namespace

void trunc_normal_sample_f32(float* action, float* noise, const float* mu, const float* log_std,
                             int64_t n, double temperature, uint64_t seed, uint64_t offset,
                             bool given_noise, void* stream) {
  if (n == 0) return;
  trunc_sample_kernel<<<grid_for(n), kBlock, 0, as_stream(stream)>>>(action, noise, mu, log_std,
                                                                     n, temperature, seed, offset,
                                                                     given_noise);
}

void trunc_normal_backward_f32(float* grad_mu, float* grad_log_std, const float* mu,
                               const float* log_std, const float* noise, const float* grad_action,
                               int64_t n, double temperature, void* stream) {
  if (n == 0) return;
  trunc_backward_kernel<<<grid_for(n), kBlock, 0, as_stream(stream)>>>(
      grad_mu, grad_log_std, mu, log_std, noise, grad_action, n, temperature);
}

void trunc_normal_log_prob_f32(float* out, const float* action, const float* mu,
                               const float* log_std, int64_t rows, int64_t d, double temperature,
                               void* stream) {
  if (rows == 0) return;
  trunc_log_prob_kernel<<<row_blocks(rows), kWarp * kRowsPerBlock, 0, as_stream(stream)>>>(
      out, action, mu, log_std, rows, d, temperature);
}

void tanh_gauss_sample_f32(float* action, float* noise, float* log_prob, const float* mu,
                           const float* log_std, int64_t rows, int64_t d, uint64_t seed,
                           uint64_t offset, bool given_noise, void* stream) {
  if (rows == 0) return;
  tanh_sample_kernel<<<row_blocks(rows), kWarp * kRowsPerBlock, 0, as_stream(stream)>>>(
      action, noise, log_prob, mu, log_std, rows, d, seed, offset, given_noise);
}

void tanh_gauss_backward_f32(float* grad_mu, float* grad_log_std, const float* mu,
                             const float* log_std, const float* noise, const float* grad_action,
                             const float* grad_log_prob, int64_t rows, int64_t d, void* stream) {
  const int64_t n = rows * d;
  if (n == 0) return;
  tanh_backward_kernel<<<grid_for(n), kBlock, 0, as_stream(stream)>>>(
      grad_mu, grad_log_std, mu, log_std, noise, grad_action, grad_log_prob, n, d);
}

}  // namespace era::cuda

// SAC's twin-critic math on the GPU. The target is element-wise; each loss runs one block per seed
// (a seed's twins and its batch row), which writes its gradients and reduces its loss in double
// with a fixed-order block sum: deterministic, no atomics, no workspace, one launch.
#include "dense_reduce.cuh"
#include "launch.cuh"
#include "sac_loss.h"

namespace era::cuda {
namespace {

constexpr int kLossThreads = 256;

// min that propagates NaN, as the CPU reference (and jnp.minimum) does.
__device__ __forceinline__ double twin_min(double a, double b) {
  return (a != a || b != b) ? a + b : (a < b ? a : b);
}

__device__ __forceinline__ double seed_row(SeedRows r, int64_t s, int64_t b) {
  return static_cast<double>(r.p[s * r.stride + b]);
}

__global__ void target_kernel(float* __restrict__ y, const float* __restrict__ q,
                              SeedRows reward, SeedRows mask, double gamma, SeedRows log_prob,
                              const float* __restrict__ alpha, int64_t seeds, int64_t batch) {
  const int64_t total = seeds * batch;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t s = e / batch, b = e - s * batch;
    double v = twin_min(q[2 * s * batch + b], q[(2 * s + 1) * batch + b]);
    if (log_prob.p) v -= static_cast<double>(alpha[s]) * seed_row(log_prob, s, b);
    y[e] = static_cast<float>(seed_row(reward, s, b) + gamma * seed_row(mask, s, b) * v);
  }
}

__global__ void __launch_bounds__(kLossThreads)
critic_loss_kernel(float* __restrict__ loss, float* __restrict__ grad_q,
                   const float* __restrict__ q, SeedRows y, int64_t batch) {
  const int64_t s = blockIdx.x;
  const double inv_b = 1.0 / static_cast<double>(batch);
  double sum = 0;
  for (int64_t b = threadIdx.x; b < batch; b += blockDim.x) {
    const double t = seed_row(y, s, b);
    const int64_t i1 = 2 * s * batch + b, i2 = i1 + batch;
    const double r1 = static_cast<double>(q[i1]) - t, r2 = static_cast<double>(q[i2]) - t;
    grad_q[i1] = static_cast<float>(2.0 * r1 * inv_b);
    grad_q[i2] = static_cast<float>(2.0 * r2 * inv_b);
    sum += r1 * r1 + r2 * r2;
  }
  sum = block_sum_double(sum);
  if (threadIdx.x == 0) loss[s] = static_cast<float>(sum * inv_b);
}

__global__ void __launch_bounds__(kLossThreads)
actor_loss_kernel(float* __restrict__ loss, float* __restrict__ grad_q,
                  const float* __restrict__ q, SeedRows log_prob, const float* __restrict__ alpha,
                  float* __restrict__ grad_log_prob, float* __restrict__ alpha_loss,
                  float* __restrict__ grad_log_alpha, double target_entropy, int64_t batch) {
  const int64_t s = blockIdx.x;
  const double inv_b = 1.0 / static_cast<double>(batch);
  const double a = log_prob.p ? static_cast<double>(alpha[s]) : 0.0;
  double sum = 0, ent = 0;
  for (int64_t b = threadIdx.x; b < batch; b += blockDim.x) {
    const int64_t i1 = 2 * s * batch + b, i2 = i1 + batch;
    const float q1 = q[i1], q2 = q[i2];
    // All of the min's gradient to the smaller twin; half each on a tie.
    const double w1 = q1 < q2 ? 1.0 : (q1 > q2 ? 0.0 : 0.5);
    grad_q[i1] = static_cast<float>(-w1 * inv_b);
    grad_q[i2] = static_cast<float>(-(1.0 - w1) * inv_b);
    sum -= twin_min(q1, q2);
    if (log_prob.p) {
      const double lp = seed_row(log_prob, s, b);
      sum += a * lp;
      ent += lp + target_entropy;
      if (grad_log_prob) grad_log_prob[s * batch + b] = static_cast<float>(a * inv_b);
    }
  }
  sum = block_sum_double(sum);
  ent = block_sum_double(ent);
  if (threadIdx.x == 0) {
    loss[s] = static_cast<float>(sum * inv_b);
    if (alpha_loss) alpha_loss[s] = static_cast<float>(-a * ent * inv_b);
    if (grad_log_alpha) grad_log_alpha[s] = static_cast<float>(-a * ent * inv_b);
  }
}

// Seeds are blocks; gridDim.x allows 2^31 - 1, far above any seed count.
unsigned seed_blocks(int64_t seeds) { return static_cast<unsigned>(seeds); }

}  // namespace

void sac_target_f32(float* y, const float* q, SeedRows reward, SeedRows mask, double gamma,
                    SeedRows log_prob, const float* alpha, int64_t seeds, int64_t batch,
                    void* stream) {
  const int64_t total = seeds * batch;
  if (total == 0) return;
  target_kernel<<<grid_for(total), kBlock, 0, as_stream(stream)>>>(y, q, reward, mask, gamma,
                                                                   log_prob, alpha, seeds, batch);
}

void sac_critic_loss_f32(float* loss, float* grad_q, const float* q, SeedRows y, int64_t seeds,
                         int64_t batch, void* stream) {
  if (seeds == 0) return;
  critic_loss_kernel<<<seed_blocks(seeds), kLossThreads, 0, as_stream(stream)>>>(loss, grad_q, q,
                                                                                 y, batch);
}

void sac_actor_loss_f32(float* loss, float* grad_q, const float* q, SeedRows log_prob,
                        const float* alpha, float* grad_log_prob, float* alpha_loss,
                        float* grad_log_alpha, double target_entropy, int64_t seeds,
                        int64_t batch, void* stream) {
  if (seeds == 0) return;
  actor_loss_kernel<<<seed_blocks(seeds), kLossThreads, 0, as_stream(stream)>>>(
      loss, grad_q, q, log_prob, alpha, grad_log_prob, alpha_loss, grad_log_alpha,
      target_entropy, batch);
}

}  // namespace era::cuda

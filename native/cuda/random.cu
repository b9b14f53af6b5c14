#include "../core/philox.h"
#include "launch.cuh"
#include "random.h"

namespace era::cuda {
namespace {

__global__ void uniform_kernel(float* out, int64_t n, uint64_t seed, uint64_t offset, float low,
                               float high) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = philox_uniform(seed, offset, static_cast<uint64_t>(i), low, high);
}

__global__ void normal_kernel(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean,
                              float stddev) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = philox_normal(seed, offset, static_cast<uint64_t>(i), mean, stddev);
}

}  // namespace

void uniform_f32(float* out, int64_t n, uint64_t seed, uint64_t offset, float low, float high,
                 void* stream) {
  if (n == 0) return;
  uniform_kernel<<<grid_for(n), kBlock, 0, as_stream(stream)>>>(out, n, seed, offset, low, high);
}

void normal_f32(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float stddev,
                void* stream) {
  if (n == 0) return;
  normal_kernel<<<grid_for(n), kBlock, 0, as_stream(stream)>>>(out, n, seed, offset, mean,
                                                               stddev);
}

}  // namespace era::cuda

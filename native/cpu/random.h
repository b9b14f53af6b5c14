// CPU Philox draws: element i of a draw is philox_uniform/normal(seed, offset, i), the same
// function the CUDA kernels evaluate.
#pragma once
#include <cstdint>

namespace era::cpu {

void uniform_f32(float* out, int64_t n, uint64_t seed, uint64_t offset, float low, float high);
void normal_f32(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float stddev);

}  // namespace era::cpu

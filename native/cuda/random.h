// Launchers of the Philox draws; element i equals the CPU reference's element i.
#pragma once
#include <cstdint>

namespace era::cuda {

void uniform_f32(float* out, int64_t n, uint64_t seed, uint64_t offset, float low, float high,
                 void* stream);
void normal_f32(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float stddev,
                void* stream);

}  // namespace era::cuda

#include "random.h"

#include "../core/philox.h"

namespace era::cpu {

void uniform_f32(float* out, int64_t n, uint64_t seed, uint64_t offset, float low, float high) {
  for (int64_t i = 0; i < n; ++i) out[i] = philox_uniform(seed, offset, i, low, high);
}

void normal_f32(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float stddev) {
  for (int64_t i = 0; i < n; ++i) out[i] = philox_normal(seed, offset, i, mean, stddev);
}

}  // namespace era::cpu

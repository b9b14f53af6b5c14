#include "elementwise.h"

#include <cmath>

namespace era::cpu {

void fill_f32(float* out, int64_t n, float value) {
  for (int64_t i = 0; i < n; ++i) out[i] = value;
}

void fill_i32(int32_t* out, int64_t n, int32_t value) {
  for (int64_t i = 0; i < n; ++i) out[i] = value;
}

void add_f32(float* out, const float* a, const float* b, float alpha, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + alpha * b[i];
}

void add_i32(int32_t* out, const int32_t* a, const int32_t* b, int32_t alpha, int64_t n) {
  // Wrap-around arithmetic in unsigned, as the CUDA kernel does (no signed-overflow UB).
  for (int64_t i = 0; i < n; ++i)
    out[i] = static_cast<int32_t>(static_cast<uint32_t>(a[i]) +
                                  static_cast<uint32_t>(alpha) * static_cast<uint32_t>(b[i]));
}

void scale_f32(float* out, const float* in, float alpha, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = alpha * in[i];
}

void exp_f32(float* out, const float* in, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = std::exp(in[i]);
}

}  // namespace era::cpu

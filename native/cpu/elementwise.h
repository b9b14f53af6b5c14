// CPU reference kernels for the element-wise basics.
#pragma once
#include <cstdint>

namespace era::cpu {

void fill_f32(float* out, int64_t n, float value);
void fill_i32(int32_t* out, int64_t n, int32_t value);
// out = a + alpha * b
void add_f32(float* out, const float* a, const float* b, float alpha, int64_t n);
void add_i32(int32_t* out, const int32_t* a, const int32_t* b, int32_t alpha, int64_t n);
// out = alpha * in
void scale_f32(float* out, const float* in, float alpha, int64_t n);
void exp_f32(float* out, const float* in, int64_t n);

}  // namespace era::cpu

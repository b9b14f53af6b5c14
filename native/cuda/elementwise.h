// Launchers of the element-wise CUDA kernels (enqueue on `stream`, return at once).
#pragma once
#include <cstdint>

namespace era::cuda {

void fill_f32(float* out, int64_t n, float value, void* stream);
void fill_i32(int32_t* out, int64_t n, int32_t value, void* stream);
void add_f32(float* out, const float* a, const float* b, float alpha, int64_t n, void* stream);
void add_i32(int32_t* out, const int32_t* a, const int32_t* b, int32_t alpha, int64_t n,
             void* stream);
void scale_f32(float* out, const float* in, float alpha, int64_t n, void* stream);
void exp_f32(float* out, const float* in, int64_t n, void* stream);

}  // namespace era::cuda

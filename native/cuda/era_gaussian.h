// Launchers of the fused continuous-control ERA kernels (era-spec §1.2-1.3): one warp per row of
// D, one launch for the forward and one for the backward. Enqueue on `stream` and return.
#pragma once
#include <cstdint>

namespace era::cuda {

void era_gaussian_forward_f32(float* out, const float* raw, int64_t rows, int64_t d, float k,
                              float lo, float hi, bool clip_upper, void* stream);

void era_gaussian_backward_f32(float* grad_raw, const float* raw, const float* grad,
                               int64_t rows, int64_t d, float k, float lo, float hi,
                               bool clip_upper, void* stream);

}  // namespace era::cuda

// Launchers of the fused classification ERA kernels (era-spec §3.2-3.3): one warp per row of n
// logits. Enqueue on `stream` and return.
#pragma once
#include <cstdint>

namespace era::cuda {

// What the cross-entropy launch leaves in device memory for the op to read back.
struct CrossEntropyResult {
  double loss;       // mean over rows of the per-row loss (summed in a fixed order, in double)
  long long bad_row; // first row whose label is outside [0, n), or -1
};

void era_vision_forward_f32(float* out, const float* x, int64_t rows, int64_t n, float s, float b,
                            void* stream);

void era_vision_backward_f32(float* grad_x, const float* x, const float* grad_out, int64_t rows,
                             int64_t n, float s, float b, void* stream);

// Forward + backward of cross entropy on the ERA output in one launch (grad_x and the per-row
// losses in row_loss, `rows` floats of scratch), then one single-block launch that reduces
// row_loss deterministically and finds the first bad label into *result (and, when loss_out is
// not null, the mean as f32 into *loss_out: NaN where a label is bad). Rows with a bad label
// read nothing out of bounds; their gradient row is unspecified (the op reports the error).
void era_vision_cross_entropy_f32(float* grad_x, const float* x, const int32_t* labels,
                                  int64_t rows, int64_t n, float s, float b, float eps,
                                  float* row_loss, CrossEntropyResult* result, float* loss_out,
                                  void* stream);

}  // namespace era::cuda

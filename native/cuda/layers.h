// Launchers of the dense-layer CUDA kernels (enqueue on `stream`, return at once). Semantics
// match native/cpu/layers.h one for one. Reductions are deterministic: fixed grids, fixed
// summation order, no atomics.
#pragma once
#include <cstdint>

#include "../core/activation.h"

namespace era::cuda {

void activation_forward(float* y, const float* x, int64_t n, Activation act, void* stream);
void activation_backward(float* dx, const float* dy, const float* y, int64_t n, Activation act,
                         void* stream);

// activation_backward over [rows, d], plus per member (`members` equal blocks of rows) the
// column sums of dx into colsum + e * colsum_stride (written, or added to with accumulate).
// dx may be dy.
void activation_backward_colsum(float* dx, float* colsum, const float* dy, const float* y,
                                int64_t rows, int64_t d, Activation act, bool accumulate,
                                int64_t members, int64_t colsum_stride, void* stream);

// Work the LayerNorm backward does in its own passes for the MLP (LN -> activation -> ...):
//   act_out: the activation's output (the forward's y; null: none). dy is then the gradient of
//     that output, and dy * act'(.) is what reaches the LayerNorm.
//   dx_colsum: per member, the column sums of dx (the bias gradient of the linear layer that
//     feeds the LayerNorm), rows dx_colsum_stride apart, written or added to like dweight.
struct LayerNormFusion {
  const float* act_out = nullptr;
  Activation act = Activation::None;
  float* dx_colsum = nullptr;
  int64_t dx_colsum_stride = 0;
};

// Ensembles as in cpu::layer_norm_*: `members` equal blocks of rows, block e using the parameter
// rows at e * stride. Forward applies `act` to y in the same pass.
void layer_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* weight,
                        const float* bias, int64_t rows, int64_t d, float eps, int64_t members,
                        int64_t w_stride, int64_t b_stride, Activation act, void* stream);
void layer_norm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x,
                         const float* weight, const float* mean, const float* rstd, int64_t rows,
                         int64_t d, bool accumulate, int64_t members, int64_t w_stride,
                         int64_t dw_stride, int64_t db_stride, const LayerNormFusion& fused,
                         void* stream);

// concat (to_whole) or split along the last dim of whole [rows, total] with parts [rows, widths[i]]
// side by side (sum of widths = total): one launch per 8 parts.
void copy_column_parts(float* whole, int64_t total, float* const* parts, const int64_t* widths,
                       size_t n, int64_t rows, bool to_whole, void* stream);

void mse_forward(float* loss, const float* pred, const float* target, int64_t n, void* stream);
void mse_backward(float* grad, const float* pred, const float* target, int64_t n, float scale,
                  void* stream);

void reduce_all(float* out, const float* x, int64_t n, double alpha, bool accumulate, void* stream);
void reduce_last(float* out, const float* x, int64_t rows, int64_t d, double alpha, bool accumulate,
                 void* stream);
// blocks > 1: that many [rows, d] -> [d] reductions side by side (x [blocks, rows, d] -> out
// [blocks, d]) in one launch (at most 65535).
void reduce_first(float* out, const float* x, int64_t rows, int64_t d, double alpha,
                  bool accumulate, void* stream, int64_t blocks = 1);
void broadcast(float* dx, const float* dy, int64_t rows, int64_t d, int mode, float alpha,
               bool accumulate, void* stream);

}  // namespace era::cuda

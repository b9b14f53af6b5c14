// CPU reference kernels of the dense-network layers: activations, LayerNorm, column copies
// (concat and its split backward), MSE loss and the sum/mean reductions. Statistics and reductions
// accumulate in double.
#pragma once
#include <cstdint>

#include "../core/activation.h"

namespace era::cpu {

// y = act(x); dx = dy * act'(x) written from the forward output y.
void activation_forward(float* y, const float* x, int64_t n, Activation act);
void activation_backward(float* dx, const float* dy, const float* y, int64_t n, Activation act);

// x [rows, d] -> y [rows, d], mean [rows], rstd [rows] (biased variance, rstd = 1/sqrt(var + eps)).
// Ensembles: the rows form `members` consecutive equal blocks, and block e reads its weight and
// bias row at weight + e * w_stride, bias + e * b_stride (members 1, strides 0: one shared row).
void layer_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* weight,
                        const float* bias, int64_t rows, int64_t d, float eps,
                        int64_t members, int64_t w_stride, int64_t b_stride);
// dx [rows, d] (written); dweight, dbias (nullable; block e's row at dweight + e * dw_stride,
// dbias + e * db_stride; written, or added to when accumulate).
void layer_norm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x,
                         const float* weight, const float* mean, const float* rstd, int64_t rows,
                         int64_t d, bool accumulate, int64_t members, int64_t w_stride,
                         int64_t dw_stride, int64_t db_stride);

// dst[r, dst_off + c] = src[r, src_off + c] for r < rows, c < cols (row strides in elements).
void copy_columns(float* dst, int64_t dst_stride, int64_t dst_off, const float* src,
                  int64_t src_stride, int64_t src_off, int64_t rows, int64_t cols);

// loss[0] = mean((pred - target)^2); grad = scale * 2 (pred - target) / n.
void mse_forward(float* loss, const float* pred, const float* target, int64_t n);
void mse_backward(float* grad, const float* pred, const float* target, int64_t n, float scale);

// out = (accumulate ? out : 0) + alpha * sum, over all elements (out [1]), over the last dim
// (x [rows, d] -> out [rows]) or over the first dim (x [rows, d] -> out [d]).
void reduce_all(float* out, const float* x, int64_t n, double alpha, bool accumulate);
void reduce_last(float* out, const float* x, int64_t rows, int64_t d, double alpha, bool accumulate);
void reduce_first(float* out, const float* x, int64_t rows, int64_t d, double alpha, bool accumulate);

// The backward of the reductions: dx [rows, d] = (accumulate ? dx : 0) + alpha * dy broadcast,
// mode 0 (all): dy[0]; mode 1 (last dim): dy[r]; mode 2 (first dim): dy[c].
void broadcast(float* dx, const float* dy, int64_t rows, int64_t d, int mode, float alpha,
               bool accumulate);

}  // namespace era::cpu

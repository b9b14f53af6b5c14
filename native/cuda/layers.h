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

// Ensembles as in cpu::layer_norm_*: `members` equal blocks of rows, block e using the parameter
// rows at e * stride.
void layer_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* weight,
                        const float* bias, int64_t rows, int64_t d, float eps, int64_t members,
                        int64_t w_stride, int64_t b_stride, void* stream);
void layer_norm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x,
                         const float* weight, const float* mean, const float* rstd, int64_t rows,
                         int64_t d, bool accumulate, int64_t members, int64_t w_stride,
                         int64_t dw_stride, int64_t db_stride, void* stream);

void copy_columns(float* dst, int64_t dst_stride, int64_t dst_off, const float* src,
                  int64_t src_stride, int64_t src_off, int64_t rows, int64_t cols, void* stream);

void mse_forward(float* loss, const float* pred, const float* target, int64_t n, void* stream);
void mse_backward(float* grad, const float* pred, const float* target, int64_t n, float scale,
                  void* stream);

void reduce_all(float* out, const float* x, int64_t n, double alpha, bool accumulate, void* stream);
void reduce_last(float* out, const float* x, int64_t rows, int64_t d, double alpha, bool accumulate,
                 void* stream);
void reduce_first(float* out, const float* x, int64_t rows, int64_t d, double alpha,
                  bool accumulate, void* stream);
void broadcast(float* dx, const float* dy, int64_t rows, int64_t d, int mode, float alpha,
               bool accumulate, void* stream);

}  // namespace era::cuda

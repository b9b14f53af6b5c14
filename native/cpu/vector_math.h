// Element-wise math spans whose AVX2 / AVX-512 build is chosen at run time (one binary for every
// x86-64). The builds agree bitwise only because the project compiles with -ffp-contract=off
// (CMakeLists.txt, binding.gyp): with contraction the wider builds would fuse multiply-adds.
// Both builds compute the same float operations in the same order (no FMA contraction: the
// project compiles with -ffp-contract=off), so results are bitwise identical on every CPU.
#pragma once
#include <cstdint>

#include "../core/activation.h"

namespace era::cpu {

// y[i] = elu(x[i] + bias[i]) (bias may be null); y may be x. ELU as expm1.h computes it.
void elu_span(float* y, const float* x, const float* bias, int64_t n);

// One row of layer norm over d values: mean and 1/std (float64 sums), y = (x - mean) * rstd * w + b.
void layer_norm_row(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b, int64_t d,
                    float eps);
// Its input gradient for one row, given the row's mean and rstd.
void layer_norm_row_backward(float* dx, const float* dy, const float* x, const float* w, double mu, double rs, int64_t d);

// Layer norm's parameter-gradient sums over rows [r0, r1) for the columns [c0, c0 + cols), in
// double and in row order: sw[j] += dy[r, c0 + j] * xhat[r, c0 + j], sb[j] += dy[r, c0 + j], where
// xhat = (x - mean[r]) * rstd[r] and rows are d apart.
void layer_norm_param_sums(double* sw, double* sb, const float* dy, const float* x, const float* mean, const float* rstd,
                           int64_t r0, int64_t r1, int64_t d, int64_t c0, int64_t cols);

// A GEMM's epilogue on a block of its output: out[r][c] = act(out[r][c] + bias[c]) for r < rows,
// c < cols, rows ldc apart; bias may be null.
void bias_activation(float* out, int64_t ldc, const float* bias, int64_t rows, int64_t cols, Activation act);

// The builds: 0 baseline (SSE2 on x86-64), 1 AVX2, 2 AVX-512. The functions above run the highest
// this CPU supports (vector_math_level()). set_vector_math_level picks a lower one for the
// self-test, which compares the builds; it returns the level now in use.
int vector_math_level();
int set_vector_math_level(int level);

}  // namespace era::cpu

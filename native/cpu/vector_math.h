// Element-wise math spans whose AVX2 / AVX-512 build is chosen at run time (one binary for every
// x86-64).
// Both builds compute the same float operations in the same order (no FMA contraction: the
// project compiles with -ffp-contract=off), so results are bitwise identical on every CPU.
#pragma once
#include <cstdint>

#include "../core/activation.h"

namespace era::cpu {

// y[i] = elu(x[i] + bias[i]) (bias may be null); y may be x. ELU as expm1.h computes it.
void elu_span(float* y, const float* x, const float* bias, int64_t n);

// A GEMM's epilogue on a block of its output: out[r][c] = act(out[r][c] + bias[c]) for r < rows,
// c < cols, rows ldc apart; bias may be null.
void bias_activation(float* out, int64_t ldc, const float* bias, int64_t rows, int64_t cols, Activation act);

// The builds: 0 baseline (SSE2 on x86-64), 1 AVX2, 2 AVX-512. elu_span runs the highest this CPU
// supports; elu_span_level runs a given one (at most vector_math_level()), for the self-test.
int vector_math_level();
void elu_span_level(int level, float* y, const float* x, const float* bias, int64_t n);

}  // namespace era::cpu

// The CPU GEMM: out = act(beta * out + op(a) · op(b) + bias), f32 accumulation, packed for the
// cache, a SIMD micro-kernel (gemm_kernels.h) and the worker threads of parallel.h. A call is one
// [m, n] product or a batch of them at fixed strides. The result does not depend on the thread
// count: every element is summed in the same order whichever thread computes it.
#pragma once
#include <cstdint>

#include "../core/activation.h"

namespace era::cpu {

// How operands are read: f32, or raw bf16 bits; and how f32 operands are rounded before the
// product (to emulate the GPU's tf32 / bf16 tensor-core precision; bf16 operands are exact).
enum class GemmInput : int { F32 = 0, BF16 = 1 };
enum class GemmRound : int { None = 0, TF32 = 1, BF16 = 2 };

struct GemmArgs {
  int64_t m = 0, n = 0, k = 0;
  const void* a = nullptr;  // [m, k], or [k, m] when trans_a
  const void* b = nullptr;  // [k, n], or [n, k] when trans_b
  bool trans_a = false, trans_b = false;
  GemmInput input = GemmInput::F32;
  GemmRound round = GemmRound::None;
  const float* bias = nullptr;  // [n] or null
  float* out = nullptr;         // [m, n]
  bool accumulate = false;      // beta = 1 (out is read) or 0 (out is only written)
  Activation act = Activation::None;
  // A batch of products: item i reads a + i * stride_a, b + i * stride_b, bias + i * stride_bias
  // and writes out + i * stride_out (strides in elements; 0 shares an operand).
  int64_t batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_bias = 0, stride_out = 0;
};

void gemm(const GemmArgs& args);

}  // namespace era::cpu

// The CPU GEMM: out = act(beta * out + op(a) · op(b) + bias), f32 accumulation, blocked and
// packed for the cache (no threads). One call is one [m, n] product; the op layer loops batches.
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
};

void gemm(const GemmArgs& args);

}  // namespace era::cpu

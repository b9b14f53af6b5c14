// Launchers of the CUDA GEMM: out = act(beta * out + op(a) · op(b) + bias) with f32 output.
// precision 0: exact f32 (FMA kernel); 1: tf32 tensor cores; 2: bf16 tensor cores (f32 inputs are
// rounded to bf16 in the fragment loads; bf16 inputs go straight to ldmatrix). f32 accumulation.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../core/activation.h"

namespace era::cuda {

struct GemmParams {
  int m = 0, n = 0, k = 0;
  int batch = 1;                     // grid of independent products
  const void* a = nullptr;           // [m, k] or [k, m] (trans_a); f32 or bf16
  int64_t stride_a = 0;              // elements between batch entries (0: shared)
  bool trans_a = false;
  const void* b = nullptr;           // [k, n] or [n, k] (trans_b)
  int64_t stride_b = 0;
  bool trans_b = false;
  const float* bias = nullptr;       // [n] per batch entry, or null
  int64_t stride_bias = 0;
  float* out = nullptr;              // [m, n]
  int64_t stride_out = 0;
  bool accumulate = false;           // beta = 1
  Activation act = Activation::None;
  bool bf16_inputs = false;          // a and b hold bf16 (then precision must be 2)
  int precision = 0;                 // 0 f32, 1 tf32, 2 bf16
};

void gemm(const GemmParams& p, void* stream);

// Which kernel bf16 products take: "auto" (the Hopper wgmma kernel for products large enough to
// fill the GPU with its 128 x 256 tiles, where it runs; mma.sync otherwise), "mma" (always
// mma.sync) or "wgmma" (wherever it applies: bf16 operands that allow 16-byte copies). For tests
// and benches that compare them; one setting for the process.
std::vector<std::string> gemm_kernel_choices();  // those this build and device can use
std::string gemm_kernel_choice();
bool gemm_set_kernel_choice(const std::string& name);  // false for a name not in the list

// The tile configuration gemm() would choose ("tc-bf16 128x256 NN vec", "fma 32x32 TN", ...), for
// benches and tests.
const char* gemm_kernel_name(const GemmParams& p);

}  // namespace era::cuda

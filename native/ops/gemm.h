// matmul: out = act(beta * out + op(a) · op(b) + bias), the one GEMM entry every layer uses.
// Validates every argument and dispatches cpu | cuda.
#pragma once
#include <string>
#include <vector>

#include "../core/activation.h"
#include "../core/tensor.h"
#include "check.h"  // overlaps(), for the callers that included it from here

namespace era::ops {

// Numeric codes are part of the addon ABI (lib/nn/functional.ts PRECISION_CODE).
enum class Precision : int { F32 = 0, TF32 = 1, BF16 = 2 };

struct MatmulOptions {
  bool trans_a = false;   // a is [k, m] (op(a) = aᵀ)
  bool trans_b = false;   // b is [n, k] (op(b) = bᵀ)
  Activation act = Activation::None;
  bool accumulate = false;  // beta = 1: out is added to (before bias and activation)
  Precision precision = Precision::F32;
};

// a: f32 or bf16, [m, k] (or [k, m] with trans_a), optionally with a leading batch dim;
// b: a's dtype, [k, n] (or [n, k] with trans_b), optionally batched; out: f32 [m, n] or
// [batch, m, n]; bias: null, f32 [n] or [batch, n]. 2-D operands are shared across the batch.
void matmul(const TensorView& out, const TensorView& a, const TensorView& b,
            const TensorView* bias, const MatmulOptions& options);

// The kernel matmul would run for a problem (benches and tests print it).
struct GemmShape {
  int64_t m = 0, n = 0, k = 0, batch = 1;
  bool trans_a = false, trans_b = false, bf16 = false;
  Precision precision = Precision::F32;
};
std::string matmul_kernel_name(const GemmShape& shape, Device device);

// The CUDA GEMM's kernel choice for bf16 products (native/cuda/gemm.h): the names this device can
// use ("auto", "mma", and "wgmma" on an sm_90a build with a compute capability 9.0 GPU), the one in
// use, and the setter (false for a name not in the list). Each requires CUDA (throws NoDevice).
std::vector<std::string> cuda_gemm_kernels();
std::string cuda_gemm_kernel();
// Why this device offers no "wgmma" (no sm_90a code, another GPU, the probe's failed result check,
// or "not probed yet" while a graph records); empty where it is offered. Requires CUDA.
std::string cuda_gemm_wgmma_unavailable();
bool set_cuda_gemm_kernel(const std::string& name);

// The largest m, n or k the CUDA GEMM takes: its tile counts and offsets are 32-bit, and a tile
// (at most 256 wide) past 2^31 - 1 would wrap them. Batches are split into launches and may be larger.
constexpr int64_t kMaxCudaGemmDim = (int64_t(1) << 31) - 1024;
constexpr const char* kMaxCudaGemmDimText = "at most 2147482624 (2^31 - 1024: the CUDA kernels' 32-bit tile arithmetic)";

}  // namespace era::ops

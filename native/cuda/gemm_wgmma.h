// The Hopper GEMM kernel (gemm_wgmma.cu): bf16 operands, f32 accumulation in registers through
// wgmma.mma_async (sm_90a), for the large products where the tensor cores' full rate matters.
// gemm.cu decides when to use it (gemm_set_kernel in gemm.h: 'auto', 'mma' or 'wgmma').
#pragma once
#include "gemm.h"

namespace era::cuda {

// Whether this build and device run the kernel: it is compiled for sm_90a only, and a probe kernel
// from the same image, launched once, says whether the wgmma code was what loaded. Not while a
// CUDA graph records on `stream` (the probe synchronises): then false until it has run.
bool wgmma_available(void* stream);

// Whether the kernel takes this problem: bf16 operands that allow 16-byte copies (gemm_common.cuh
// vec_ok), any m, n, k and layout.
bool wgmma_supports(const GemmParams& p);

// Its block tile, for the choice and the kernel name.
constexpr int kWgmmaBm = 128, kWgmmaBn = 256;

void wgmma_gemm(const GemmParams& p, void* stream);

}  // namespace era::cuda

// The Hopper GEMM kernel (gemm_wgmma.cu): bf16 operands, f32 accumulation in registers through
// wgmma.mma_async (sm_90a), for the large products where the tensor cores' full rate matters.
// gemm.cu decides when to use it (gemm_set_kernel in gemm.h: 'auto', 'mma' or 'wgmma').
#pragma once
#include <string>

#include "gemm.h"

namespace era::cuda {

// Whether this build and device run the kernel. Probed once: the kernel is compiled for sm_90a
// only, so a probe kernel from the same image says whether the wgmma code was what loaded; where
// it did, one small ragged batched product per layout (NN, NT, TN, TT) through the kernel must
// match a plain reference kernel, or the kernel is refused (a line on stderr says why) and bf16
// products stay on mma.sync. Not while a CUDA graph records on `stream` (the probe synchronises):
// then false until it has run. The test hook ERA_CUDA_WGMMA_PROBE_CORRUPT ("1" or a layout's
// name) spoils the kernel's probe output so that the tests see the check refuse it.
bool wgmma_available(void* stream);

// Why wgmma_available says false: "not probed yet", no sm_90a code in this build, a device that
// cannot run it, or the failed result check ("result check failed for layout TN (...): ...").
// Empty when the kernel is used.
std::string wgmma_unavailable_reason();

// Whether the kernel takes this problem: bf16 operands that allow 16-byte copies (gemm_common.cuh
// vec_ok), any m, n, k and layout.
bool wgmma_supports(const GemmParams& p);

// Its block tile, for the choice and the kernel name.
constexpr int kWgmmaBm = 128, kWgmmaBn = 256;

void wgmma_gemm(const GemmParams& p, void* stream);

}  // namespace era::cuda

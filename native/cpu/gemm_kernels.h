// The GEMM's register micro-kernels: each computes an mr x nr block of C from a block of A read
// at two strides (a packed panel, or f32 A where it lies, so it needs no copy) and a packed panel
// of B (kc x nr, zero-padded), so the blocking and threading in gemm.cc are shared.
// A portable one always exists; AVX-512 and AVX2+FMA ones are used where the CPU has them (checked
// at run time, so one build serves every x86-64 machine). They differ in rounding only: FMA rounds once per
// multiply-add, the portable one twice.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace era::cpu {

struct GemmMicroKernel {
  const char* name;
  int64_t mr, nr;
  // c[0:rows, 0:cols] = (add ? c : 0) + A · bp over kc steps, where A(r, p) = a[r * a_row + p * a_depth]
  // for r < rows (rows past `rows` are never read); ldc is c's row stride; rows <= mr, cols <= nr.
  // With add false c is only written (the first k-block of a GEMM: no zeroing pass over C first);
  // the sum is still 0 + A · bp, so a -0 comes out as +0 in both forms.
  void (*run)(int64_t kc, const float* a, int64_t a_row, int64_t a_depth, const float* bp, float* c, int64_t ldc,
              int64_t rows, int64_t cols, bool add);
};

const GemmMicroKernel& portable_gemm_kernel();
// Null where this build or this CPU has no AVX2 and FMA.
const GemmMicroKernel* avx2_gemm_kernel();
// Null where this build or this CPU has no AVX-512F; bitwise the same results as the AVX2 one.
const GemmMicroKernel* avx512_gemm_kernel();

// The kernel gemm() uses: the fastest this CPU runs, unless set_gemm_kernel chose another.
const GemmMicroKernel& active_gemm_kernel();
// The kernels this CPU can run, fastest first.
std::vector<std::string> available_gemm_kernels();
// Selects a kernel by name; false (and no change) when it is not available here.
bool set_gemm_kernel(const std::string& name);

}  // namespace era::cpu

// The AVX2+FMA micro-kernel: 6 x 16, twelve ymm accumulators, one broadcast of A and two loads of
// B per step. Compiled with a target attribute rather than -mavx2, so the rest of the addon stays
// baseline x86-64 and this function only runs after the CPU check says it may.
#include "gemm_kernels.h"

#include <algorithm>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define ERA_GEMM_AVX2 1
#include <immintrin.h>
#endif

namespace era::cpu {

#if ERA_GEMM_AVX2
namespace {

constexpr int64_t MR = 6;
constexpr int64_t NR = 16;

// The twelve accumulators are named variables, not an array: with an array GCC keeps a copy in
// memory and stores every accumulator on every step (half the speed).
__attribute__((target("avx2,fma"))) void avx2_6x16(int64_t kc, const float* a, int64_t a_row, int64_t a_depth,
                                                     const float* bp, float* c, int64_t ldc, int64_t rows, int64_t cols, bool add) {
  // One base pointer per row and one running offset: each step is a single index increment.
  // Rows past `rows` repeat the last valid one (their results are never stored).
  const float* a0 = a;
  const float* a1 = a + std::min<int64_t>(1, rows - 1) * a_row;
  const float* a2 = a + std::min<int64_t>(2, rows - 1) * a_row;
  const float* a3 = a + std::min<int64_t>(3, rows - 1) * a_row;
  const float* a4 = a + std::min<int64_t>(4, rows - 1) * a_row;
  const float* a5 = a + std::min<int64_t>(5, rows - 1) * a_row;
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  int64_t off = 0;
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_loadu_ps(bp);
    const __m256 b1 = _mm256_loadu_ps(bp + 8);
    __m256 x = _mm256_broadcast_ss(a0 + off);
    c00 = _mm256_fmadd_ps(x, b0, c00);
    c01 = _mm256_fmadd_ps(x, b1, c01);
    x = _mm256_broadcast_ss(a1 + off);
    c10 = _mm256_fmadd_ps(x, b0, c10);
    c11 = _mm256_fmadd_ps(x, b1, c11);
    x = _mm256_broadcast_ss(a2 + off);
    c20 = _mm256_fmadd_ps(x, b0, c20);
    c21 = _mm256_fmadd_ps(x, b1, c21);
    x = _mm256_broadcast_ss(a3 + off);
    c30 = _mm256_fmadd_ps(x, b0, c30);
    c31 = _mm256_fmadd_ps(x, b1, c31);
    x = _mm256_broadcast_ss(a4 + off);
    c40 = _mm256_fmadd_ps(x, b0, c40);
    c41 = _mm256_fmadd_ps(x, b1, c41);
    x = _mm256_broadcast_ss(a5 + off);
    c50 = _mm256_fmadd_ps(x, b0, c50);
    c51 = _mm256_fmadd_ps(x, b1, c51);
    off += a_depth;
    bp += NR;
  }
  const __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (rows == MR && cols == NR) {
    const __m256 zero = _mm256_setzero_ps();
    for (int r = 0; r < MR; ++r) {
      float* row = c + r * ldc;
      _mm256_storeu_ps(row, _mm256_add_ps(add ? _mm256_loadu_ps(row) : zero, acc[r][0]));
      _mm256_storeu_ps(row + 8, _mm256_add_ps(add ? _mm256_loadu_ps(row + 8) : zero, acc[r][1]));
    }
    return;
  }
  // A ragged edge: only the valid part of C is touched.
  alignas(32) float tile[MR][NR];
  for (int r = 0; r < MR; ++r) {
    _mm256_store_ps(tile[r], acc[r][0]);
    _mm256_store_ps(tile[r] + 8, acc[r][1]);
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t q = 0; q < cols; ++q) c[r * ldc + q] = (add ? c[r * ldc + q] : 0.f) + tile[r][q];
}

bool cpu_has_avx2_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

}  // namespace

const GemmMicroKernel* avx2_gemm_kernel() {
  static const GemmMicroKernel k{"avx2-fma", MR, NR, avx2_6x16};
  static const bool supported = cpu_has_avx2_fma();
  return supported ? &k : nullptr;
}

#else

const GemmMicroKernel* avx2_gemm_kernel() { return nullptr; }

#endif

}  // namespace era::cpu

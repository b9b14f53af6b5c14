// The portable micro-kernel (4 x 8, plain C++ the compiler vectorises for the target it has), and
// the run-time choice between it and the AVX2 one.
#include <algorithm>
#include <atomic>

#include "gemm_kernels.h"

namespace era::cpu {
namespace {

constexpr int64_t MR = 4;
constexpr int64_t NR = 8;

void portable_4x8(int64_t kc, const float* a, int64_t a_row, int64_t a_depth, const float* bp, float* c, int64_t ldc,
                  int64_t rows, int64_t cols) {
  // Rows past `rows` repeat the last valid one (their results are never stored).
  const float* arow[MR];
  for (int64_t r = 0; r < MR; ++r) arow[r] = a + std::min(r, rows - 1) * a_row;
  float acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    const float* bv = bp + p * NR;
    for (int64_t r = 0; r < MR; ++r) {
      const float ar = arow[r][p * a_depth];
      for (int64_t q = 0; q < NR; ++q) acc[r][q] += ar * bv[q];
    }
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t q = 0; q < cols; ++q) c[r * ldc + q] += acc[r][q];
}

const GemmMicroKernel* best_kernel() {
  const GemmMicroKernel* fast = avx2_gemm_kernel();
  return fast ? fast : &portable_gemm_kernel();
}

std::atomic<const GemmMicroKernel*>& active() {
  static std::atomic<const GemmMicroKernel*> k{best_kernel()};
  return k;
}

}  // namespace

const GemmMicroKernel& portable_gemm_kernel() {
  static const GemmMicroKernel k{"portable", MR, NR, portable_4x8};
  return k;
}

const GemmMicroKernel& active_gemm_kernel() { return *active().load(); }

std::vector<std::string> available_gemm_kernels() {
  std::vector<std::string> names;
  if (const GemmMicroKernel* k = avx2_gemm_kernel()) names.push_back(k->name);
  names.push_back(portable_gemm_kernel().name);
  return names;
}

bool set_gemm_kernel(const std::string& name) {
  const GemmMicroKernel* k = nullptr;
  if (name == portable_gemm_kernel().name) k = &portable_gemm_kernel();
  else if (avx2_gemm_kernel() && name == avx2_gemm_kernel()->name) k = avx2_gemm_kernel();
  if (!k) return false;
  active().store(k);
  return true;
}

}  // namespace era::cpu

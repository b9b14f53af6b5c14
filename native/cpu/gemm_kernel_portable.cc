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
                  int64_t rows, int64_t cols, bool add) {
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
    for (int64_t q = 0; q < cols; ++q) c[r * ldc + q] = (add ? c[r * ldc + q] : 0.f) + acc[r][q];
}

// The kernels this CPU runs, fastest first (the portable one always).
std::vector<const GemmMicroKernel*> usable_kernels() {
  std::vector<const GemmMicroKernel*> ks;
  for (const GemmMicroKernel* k : {avx512_gemm_kernel(), avx2_gemm_kernel()})
    if (k) ks.push_back(k);
  ks.push_back(&portable_gemm_kernel());
  return ks;
}

const GemmMicroKernel* best_kernel() { return usable_kernels().front(); }

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
  for (const GemmMicroKernel* k : usable_kernels()) names.push_back(k->name);
  return names;
}

bool set_gemm_kernel(const std::string& name) {
  for (const GemmMicroKernel* k : usable_kernels()) {
    if (name == k->name) {
      active().store(k);
      return true;
    }
  }
  return false;
}

}  // namespace era::cpu

#include "vector_math.h"

#include "../core/expm1.h"

namespace era::cpu {
namespace {

// The loop body, compiled once per target below. Inlined so each copy vectorises for its target.
__attribute__((always_inline)) inline void elu_loop(float* y, const float* x, const float* bias, int64_t n) {
  if (bias) {
    for (int64_t i = 0; i < n; ++i) y[i] = elu(x[i] + bias[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = elu(x[i]);
  }
}

void elu_span_baseline(float* y, const float* x, const float* bias, int64_t n) { elu_loop(y, x, bias, n); }

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// ELU's expm1 is float64 arithmetic: AVX2 does four lanes and AVX-512 eight where the baseline
// SSE2 does two.
__attribute__((target("avx2"))) void elu_span_avx2(float* y, const float* x, const float* bias, int64_t n) {
  elu_loop(y, x, bias, n);
}

__attribute__((target("avx512f"))) void elu_span_avx512(float* y, const float* x, const float* bias, int64_t n) {
  elu_loop(y, x, bias, n);
}

int cpu_vector_level() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return 2;
  return __builtin_cpu_supports("avx2") ? 1 : 0;
}
#else
void elu_span_avx2(float* y, const float* x, const float* bias, int64_t n) { elu_loop(y, x, bias, n); }
void elu_span_avx512(float* y, const float* x, const float* bias, int64_t n) { elu_loop(y, x, bias, n); }
int cpu_vector_level() { return 0; }
#endif

const int kVectorLevel = cpu_vector_level();

}  // namespace

void elu_span_level(int level, float* y, const float* x, const float* bias, int64_t n) {
  if (level == 2) elu_span_avx512(y, x, bias, n);
  else if (level == 1) elu_span_avx2(y, x, bias, n);
  else elu_span_baseline(y, x, bias, n);
}

void elu_span(float* y, const float* x, const float* bias, int64_t n) { elu_span_level(kVectorLevel, y, x, bias, n); }

namespace {
template <Activation A>
void bias_activation_rows(float* out, int64_t ldc, const float* bias, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = out + r * ldc;
    if constexpr (A == Activation::Elu) {
      elu_span(row, row, bias, cols);
    } else if (bias) {
      for (int64_t c = 0; c < cols; ++c) row[c] = activate(row[c] + bias[c], A);
    } else {
      for (int64_t c = 0; c < cols; ++c) row[c] = activate(row[c], A);
    }
  }
}
}  // namespace

void bias_activation(float* out, int64_t ldc, const float* bias, int64_t rows, int64_t cols, Activation act) {
  if (!bias && act == Activation::None) return;
  switch (act) {
    case Activation::Relu: return bias_activation_rows<Activation::Relu>(out, ldc, bias, rows, cols);
    case Activation::Elu: return bias_activation_rows<Activation::Elu>(out, ldc, bias, rows, cols);
    case Activation::Tanh: return bias_activation_rows<Activation::Tanh>(out, ldc, bias, rows, cols);
    default: return bias_activation_rows<Activation::None>(out, ldc, bias, rows, cols);
  }
}

int vector_math_level() { return kVectorLevel; }

}  // namespace era::cpu

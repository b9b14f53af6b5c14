// Each function here has one body, compiled three times: for the baseline (SSE2 on x86-64), with
// AVX2 and with AVX-512, by target attributes so that the rest of the addon stays baseline. The
// highest build the CPU supports is picked once at load. The builds round every operation the
// same way (no FMA contraction), so they agree bitwise.
#include "vector_math.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "../core/expm1.h"

namespace era::cpu {
namespace {

#define ERA_BODY __attribute__((always_inline)) inline

// ---- bodies --------------------------------------------------------------------------------

ERA_BODY void elu_body(float* y, const float* x, const float* bias, int64_t n) {
  if (bias) {
    for (int64_t i = 0; i < n; ++i) y[i] = elu(x[i] + bias[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = elu(x[i]);
  }
}

// Float64 sums in 8 interleaved lanes (independent chains that vectorise), tail first, then the
// lanes in order: a fixed order, so no result depends on the build or the thread count.
constexpr int64_t kLanes = 8;

ERA_BODY void layer_norm_row_body(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                                  int64_t d, float eps) {
  const int64_t body = d / kLanes * kLanes;
  double part[kLanes] = {};
  for (int64_t j = 0; j < body; j += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) part[l] += x[j + l];
  double s = 0;
  for (int64_t j = body; j < d; ++j) s += x[j];
  for (int64_t l = 0; l < kLanes; ++l) s += part[l];
  const double mu = d ? s / static_cast<double>(d) : 0.0;

  double sq[kLanes] = {};
  for (int64_t j = 0; j < body; j += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) {
      const double c = x[j + l] - mu;
      sq[l] += c * c;
    }
  double ss = 0;
  for (int64_t j = body; j < d; ++j) {
    const double c = x[j] - mu;
    ss += c * c;
  }
  for (int64_t l = 0; l < kLanes; ++l) ss += sq[l];
  const double var = d ? ss / static_cast<double>(d) : 0.0;
  const double rs = 1.0 / std::sqrt(var + static_cast<double>(eps));
  *mean = static_cast<float>(mu);
  *rstd = static_cast<float>(rs);
  for (int64_t j = 0; j < d; ++j) y[j] = static_cast<float>((x[j] - mu) * rs * w[j] + b[j]);
}

ERA_BODY void layer_norm_row_backward_body(float* dx, const float* dy, const float* x, const float* w, double mu, double rs,
                                           int64_t d) {
  // dxhat = dy * w; dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
  const int64_t body = d / kLanes * kLanes;
  double pg[kLanes] = {}, pgx[kLanes] = {};
  for (int64_t j = 0; j < body; j += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) {
      const double g = static_cast<double>(dy[j + l]) * w[j + l];
      pg[l] += g;
      pgx[l] += g * ((x[j + l] - mu) * rs);
    }
  double sum_g = 0, sum_gx = 0;
  for (int64_t j = body; j < d; ++j) {
    const double g = static_cast<double>(dy[j]) * w[j];
    sum_g += g;
    sum_gx += g * ((x[j] - mu) * rs);
  }
  for (int64_t l = 0; l < kLanes; ++l) {
    sum_g += pg[l];
    sum_gx += pgx[l];
  }
  const double mg = d ? sum_g / static_cast<double>(d) : 0.0;
  const double mgx = d ? sum_gx / static_cast<double>(d) : 0.0;
  for (int64_t j = 0; j < d; ++j) {
    const double xhat = (x[j] - mu) * rs;
    const double g = static_cast<double>(dy[j]) * w[j];
    dx[j] = static_cast<float>(rs * (g - mg - xhat * mgx));
  }
}

ERA_BODY void layer_norm_param_sums_body(double* sw, double* sb, const float* dy, const float* x, const float* mean,
                                         const float* rstd, int64_t r0, int64_t r1, int64_t d, int64_t c0, int64_t cols) {
  // Rows outer, columns inner: contiguous reads that vectorise, each column still summed in row order.
  for (int64_t r = r0; r < r1; ++r) {
    const double mu = mean[r], rs = rstd[r];
    const float* dyr = dy + r * d + c0;
    const float* xr = x + r * d + c0;
    for (int64_t j = 0; j < cols; ++j) {
      const double g = dyr[j];
      sw[j] += g * ((xr[j] - mu) * rs);
      sb[j] += g;
    }
  }
}

// ---- the three builds of each body -----------------------------------------------------------

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ERA_AVX2 __attribute__((target("avx2")))
#define ERA_AVX512 __attribute__((target("avx512f")))
#else
#define ERA_AVX2
#define ERA_AVX512
#endif

#define ERA_THREE_BUILDS(name, params, args)           \
  void name##_baseline params { name##_body args; }    \
  ERA_AVX2 void name##_avx2 params { name##_body args; } \
  ERA_AVX512 void name##_avx512 params { name##_body args; }

ERA_THREE_BUILDS(elu, (float* y, const float* x, const float* bias, int64_t n), (y, x, bias, n))
ERA_THREE_BUILDS(layer_norm_row,
                 (float* y, float* mean, float* rstd, const float* x, const float* w, const float* b, int64_t d, float eps),
                 (y, mean, rstd, x, w, b, d, eps))
ERA_THREE_BUILDS(layer_norm_row_backward,
                 (float* dx, const float* dy, const float* x, const float* w, double mu, double rs, int64_t d),
                 (dx, dy, x, w, mu, rs, d))
ERA_THREE_BUILDS(layer_norm_param_sums,
                 (double* sw, double* sb, const float* dy, const float* x, const float* mean, const float* rstd, int64_t r0,
                  int64_t r1, int64_t d, int64_t c0, int64_t cols),
                 (sw, sb, dy, x, mean, rstd, r0, r1, d, c0, cols))

int cpu_vector_level() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return 2;
  return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
  return 0;
#endif
}

const int kSupportedLevel = cpu_vector_level();
std::atomic<int> active_level{kSupportedLevel};  // lowered only by the self-test

template <typename F>
F build(int level, F baseline, F avx2, F avx512) {
  return level >= 2 ? avx512 : level == 1 ? avx2 : baseline;
}

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

int vector_math_level() { return kSupportedLevel; }

int set_vector_math_level(int level) {
  const int used = std::clamp(level, 0, kSupportedLevel);
  active_level.store(used, std::memory_order_relaxed);
  return used;
}

void elu_span(float* y, const float* x, const float* bias, int64_t n) {
  build(active_level.load(std::memory_order_relaxed), elu_baseline, elu_avx2, elu_avx512)(y, x, bias, n);
}

void layer_norm_row(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b, int64_t d,
                    float eps) {
  build(active_level.load(std::memory_order_relaxed), layer_norm_row_baseline, layer_norm_row_avx2, layer_norm_row_avx512)(y, mean, rstd, x, w, b, d, eps);
}

void layer_norm_row_backward(float* dx, const float* dy, const float* x, const float* w, double mu, double rs, int64_t d) {
  build(active_level.load(std::memory_order_relaxed), layer_norm_row_backward_baseline, layer_norm_row_backward_avx2, layer_norm_row_backward_avx512)(
      dx, dy, x, w, mu, rs, d);
}

void layer_norm_param_sums(double* sw, double* sb, const float* dy, const float* x, const float* mean, const float* rstd,
                           int64_t r0, int64_t r1, int64_t d, int64_t c0, int64_t cols) {
  build(active_level.load(std::memory_order_relaxed), layer_norm_param_sums_baseline, layer_norm_param_sums_avx2,
        layer_norm_param_sums_avx512)(sw, sb, dy, x, mean, rstd, r0, r1, d, c0, cols);
}

void bias_activation(float* out, int64_t ldc, const float* bias, int64_t rows, int64_t cols, Activation act) {
  if (!bias && act == Activation::None) return;
  switch (act) {
    case Activation::Relu: return bias_activation_rows<Activation::Relu>(out, ldc, bias, rows, cols);
    case Activation::Elu: return bias_activation_rows<Activation::Elu>(out, ldc, bias, rows, cols);
    case Activation::Tanh: return bias_activation_rows<Activation::Tanh>(out, ldc, bias, rows, cols);
    default: return bias_activation_rows<Activation::None>(out, ldc, bias, rows, cols);
  }
}

}  // namespace era::cpu

// CPU reference of the LLM ERA activation. Straight loops in float64 so the CUDA kernels and the
// finite-difference tests have something exact to compare with; clarity over speed.
#include "era_logits.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

namespace era::cpu {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr float kSentinel = -1e4f;  // the reference's log-prob for tokens outside the top-k set

inline float bf16_to_float(uint16_t b) {
  uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even (what the CUDA kernels do); NaN stays NaN.
inline uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

inline double value(float x) { return x; }
inline double value(uint16_t b) { return bf16_to_float(b); }

// Order keys: unsigned integers in the IEEE-754 total order of the raw bit patterns.
inline uint32_t order_key(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
inline uint32_t order_key(uint16_t b) {
  return (b & 0x8000u) ? (~uint32_t(b) & 0xffffu) : (uint32_t(b) | 0x8000u);
}

inline void store(float* out, double g) { *out = static_cast<float>(g); }
inline void store(uint16_t* out, double g) { *out = float_to_bf16(static_cast<float>(g)); }

// The top-k set of a row: the first k indices when sorting by (logit descending, index ascending),
// i.e. ties at the boundary go to the lower vocabulary index. Unordered.
template <typename T>
void top_k_set(const T* row, int64_t v, int k, std::vector<int32_t>& idx) {
  idx.resize(static_cast<size_t>(v));
  std::iota(idx.begin(), idx.end(), 0);
  auto before = [row](int32_t a, int32_t b) {
    uint32_t ka = order_key(row[a]), kb = order_key(row[b]);
    return ka != kb ? ka > kb : a < b;
  };
  std::nth_element(idx.begin(), idx.begin() + (k - 1), idx.end(), before);
  idx.resize(static_cast<size_t>(k));
}

template <typename T>
void forward_impl(const T* logits, int64_t n, int64_t v, const int32_t* tokens,
                  const int32_t* offsets, int64_t r, const float* adv, float* log_probs,
                  float* entropy, float* response_entropy, float* scale_out, float* adv_out,
                  const EraLogitsParams& p) {
  const double c_of[3] = {1.0, p.k, 1.0 / p.k};
  const double inv_t = 1.0 / p.temperature;
  std::vector<double> H(n), m_row(n), zy_row(n), log_s(3 * n);
  std::vector<char> in_set(n);
  std::vector<int32_t> sel;

  // Per row: entropy of z over the full vocabulary, and log sum exp(c (z - m)) over the support.
  for (int64_t t = 0; t < n; ++t) {
    const T* row = logits + t * v;
    double m = -kInf;
    for (int64_t i = 0; i < v; ++i) m = std::fmax(m, value(row[i]) * inv_t);
    double s1 = 0, tt = 0, sc[3] = {0, 0, 0};
    for (int64_t i = 0; i < v; ++i) {
      double d = value(row[i]) * inv_t - m;
      double e = std::exp(d);
      s1 += e;
      tt += e * d;
      if (p.top_k == 0)
        for (int j = 0; j < 3; ++j) sc[j] += std::exp(c_of[j] * d);
    }
    H[t] = std::log(s1) - tt / s1;
    const int32_t y = tokens[t];
    in_set[t] = 1;
    if (p.top_k > 0) {
      top_k_set(row, v, p.top_k, sel);
      in_set[t] = std::find(sel.begin(), sel.end(), y) != sel.end();
      for (int32_t i : sel) {
        double d = value(row[i]) * inv_t - m;
        for (int j = 0; j < 3; ++j) sc[j] += std::exp(c_of[j] * d);
      }
    }
    m_row[t] = m;
    zy_row[t] = value(row[y]) * inv_t;
    for (int j = 0; j < 3; ++j) log_s[3 * t + j] = std::log(sc[j]);
    entropy[t] = static_cast<float>(H[t]);
  }

  // Per response: H_resp = mean of the top-K token entropies, then each token's scale, log-prob
  // and (rescaled) advantage.
  std::vector<double> h;
  for (int64_t b = 0; b < r; ++b) {
    const int64_t lo = offsets[b], hi = offsets[b + 1], len = hi - lo;
    if (len == 0) {
      response_entropy[b] = 0.0f;
      continue;
    }
    const int64_t kk = std::max<int64_t>(1, static_cast<int64_t>(std::floor(p.top_fraction * double(len))));
    h.assign(H.begin() + lo, H.begin() + hi);
    // NaN ranks highest (as in the CUDA kernel's bit-pattern order), so it poisons the mean.
    std::partial_sort(h.begin(), h.begin() + kk, h.end(), [](double a, double c) {
      return (std::isnan(a) && !std::isnan(c)) || a > c;
    });
    double sum = 0;
    for (int64_t i = 0; i < kk; ++i) sum += h[i];
    const double hr = sum / double(kk);
    response_entropy[b] = static_cast<float>(hr);
    const bool low = hr < p.omega_low, high = hr > p.omega_high;
    const bool first_positive = adv[lo] > 0.0f;  // era-spec §2.5: float test on the first token
    for (int64_t t = lo; t < hi; ++t) {
      const float a = adv[t];
      // era-spec §2.4: the released code truncates A to int64, so its test is A >= 1.
      const bool pass = p.reference_test ? a >= 1.0f : a > 0.0f;
      const int sel_c = (low && pass) ? 1 : (high && pass) ? 2 : 0;
      const double c = c_of[sel_c];
      scale_out[t] = static_cast<float>(c);
      log_probs[t] = in_set[t] ? static_cast<float>(c * (zy_row[t] - m_row[t]) - log_s[3 * t + sel_c])
                               : kSentinel;
      double out = a;
      if (p.rescale_advantages && first_positive) {
        if (low) out = double(a) / p.k;
        else if (high) out = double(a) * p.k;
      }
      adv_out[t] = static_cast<float>(out);
    }
  }
}

// The anchor of q_i = e^(lp + c (z_i - anchor)). Normally the token's logit and the forward's
// log-prob; when that logit is −inf (lp = −inf, and −inf + inf would be NaN) the softmax is taken
// from the values themselves: anchor = max z, lp = -log sum e^(c (z - anchor)).
struct QAnchor {
  double zy, lp;
};

template <class ValueAt>
QAnchor softmax_anchor(double zy, double lp, double c, int64_t count, ValueAt value_at) {
  if (zy != -kInf) return {zy, lp};
  double m = -kInf;
  for (int64_t i = 0; i < count; ++i) m = std::fmax(m, value_at(i));
  double s = 0;
  for (int64_t i = 0; i < count; ++i) s += std::exp(c * (value_at(i) - m));
  return {m, -std::log(s)};
}

template <typename T>
void backward_impl(const T* logits, T* grad, int64_t n, int64_t v, const int32_t* tokens,
                   const float* g, const float* scale, const float* log_probs, double temperature,
                   int top_k) {
  const double inv_t = 1.0 / temperature;
  std::vector<int32_t> sel;
  std::vector<double> zsel;
  for (int64_t t = 0; t < n; ++t) {
    const T* row = logits + t * v;
    T* out = grad + t * v;
    const int32_t y = tokens[t];
    const double c = scale[t], lp = log_probs[t];
    const double coef = c * double(g[t]) * inv_t;
    const double zy = value(row[y]) * inv_t;  // read before the row is written (in place)
    const double gy = -coef * std::expm1(lp);  // coef (1 - q_y)
    if (top_k == 0) {
      const QAnchor q0 = softmax_anchor(zy, lp, c, v, [&](int64_t i) { return value(row[i]) * inv_t; });
      for (int64_t i = 0; i < v; ++i) {
        const double q = std::exp(q0.lp + c * (value(row[i]) * inv_t - q0.zy));
        store(out + i, i == y ? gy : -coef * q);
      }
      continue;
    }
    top_k_set(row, v, top_k, sel);
    const bool inside = std::find(sel.begin(), sel.end(), y) != sel.end();
    zsel.resize(sel.size());
    for (size_t j = 0; j < sel.size(); ++j) zsel[j] = value(row[sel[j]]) * inv_t;
    for (int64_t i = 0; i < v; ++i) store(out + i, 0.0);
    if (!inside) continue;  // the reference's sentinel: no gradient
    const QAnchor q0 = softmax_anchor(zy, lp, c, int64_t(zsel.size()), [&](int64_t j) { return zsel[j]; });
    for (size_t j = 0; j < sel.size(); ++j)
      store(out + sel[j], sel[j] == y ? gy : -coef * std::exp(q0.lp + c * (zsel[j] - q0.zy)));
  }
}

}  // namespace

void era_logits_forward(const void* logits, bool bf16, int64_t n, int64_t v, const int32_t* tokens,
                        const int32_t* offsets, int64_t r, const float* advantages,
                        float* log_probs, float* entropy, float* response_entropy, float* scale,
                        float* advantages_out, const EraLogitsParams& p) {
  if (bf16)
    forward_impl(static_cast<const uint16_t*>(logits), n, v, tokens, offsets, r, advantages,
                 log_probs, entropy, response_entropy, scale, advantages_out, p);
  else
    forward_impl(static_cast<const float*>(logits), n, v, tokens, offsets, r, advantages,
                 log_probs, entropy, response_entropy, scale, advantages_out, p);
}

void era_logits_backward(const void* logits, void* grad, bool bf16, int64_t n, int64_t v,
                         const int32_t* tokens, const float* grad_log_probs, const float* scale,
                         const float* log_probs, double temperature, int top_k) {
  if (bf16)
    backward_impl(static_cast<const uint16_t*>(logits), static_cast<uint16_t*>(grad), n, v, tokens,
                  grad_log_probs, scale, log_probs, temperature, top_k);
  else
    backward_impl(static_cast<const float*>(logits), static_cast<float*>(grad), n, v, tokens,
                  grad_log_probs, scale, log_probs, temperature, top_k);
}

}  // namespace era::cpu

#include "era_gaussian.h"

#include <cmath>
#include <limits>
#include <vector>

namespace era::cpu {

namespace {

// w = softmax(row) into `w` (double). Max-shifted, so any finite row is safe; NaN propagates.
void softmax_row(const float* row, int64_t d, std::vector<double>& w) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < d; ++i) m = std::fmax(m, static_cast<double>(row[i]));
  double sum = 0;
  for (int64_t i = 0; i < d; ++i) sum += (w[i] = std::exp(static_cast<double>(row[i]) - m));
  for (int64_t i = 0; i < d; ++i) w[i] /= sum;
}

}  // namespace

void era_gaussian_forward_f32(float* out, const float* raw, int64_t rows, int64_t d, double k,
                              double lo, double hi, bool clip_upper) {
  std::vector<double> w(static_cast<size_t>(d));
  for (int64_t r = 0; r < rows; ++r) {
    softmax_row(raw + r * d, d, w);
    for (int64_t i = 0; i < d; ++i) {
      double l = k * w[i] + hi;
      // Written as comparisons (not fmax/fmin) so a NaN l_pre stays NaN, as jnp.clip does.
      if (l < lo) l = lo;
      if (clip_upper && l > hi) l = hi;
      out[r * d + i] = static_cast<float>(l);
    }
  }
}

void era_gaussian_backward_f32(float* grad_raw, const float* raw, const float* grad,
                               int64_t rows, int64_t d, double k, double lo, double hi,
                               bool clip_upper) {
  std::vector<double> w(static_cast<size_t>(d)), gp(static_cast<size_t>(d));
  for (int64_t r = 0; r < rows; ++r) {
    softmax_row(raw + r * d, d, w);
    double dot = 0;
    for (int64_t i = 0; i < d; ++i) {
      double l = k * w[i] + hi;
      // The clip passes the gradient only strictly inside (lo, hi); ties have measure zero.
      bool inside = l > lo && (!clip_upper || l < hi);
      gp[i] = inside ? static_cast<double>(grad[r * d + i]) : 0.0;
      dot += w[i] * gp[i];
    }
    for (int64_t i = 0; i < d; ++i)
      grad_raw[r * d + i] = static_cast<float>(k * w[i] * (gp[i] - dot));
  }
}

}  // namespace era::cpu

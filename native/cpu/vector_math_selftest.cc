// Checks of vector_math.cc that the JS tests cannot make: every build this CPU runs (baseline,
// AVX2, AVX-512) gives bitwise the same ELU, layer-norm rows and parameter sums, and that ELU is within one float ulp of long-double
// expm1 on a dense sweep of [-104, 0] (the count that are not the nearest float is printed, and
// must stay under 1%). Built with the addon (build/Release/
// era_vector_math_selftest) and run by test/cpu-threads.test.ts.
#include <algorithm>
#include <cmath>
#include <iterator>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "selftest.h"
#include "vector_math.h"

using era::selftest::check;

namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Ulps between two finite floats of the same sign.
int64_t ulps(float a, float b) { return std::llabs(static_cast<int64_t>(bits(a) & 0x7fffffffu) - static_cast<int64_t>(bits(b) & 0x7fffffffu)); }

}  // namespace

int main() {
  using namespace era::cpu;
  const int top = vector_math_level();
  std::printf("vector builds on this CPU: baseline%s%s\n", top >= 1 ? ", avx2" : "", top >= 2 ? ", avx512" : "");

  // Every 61st float bit pattern from -0 down to -104 (about 18 million), then specials, positives
  // and a tail that is not a multiple of any vector width.
  std::vector<float> x;
  for (uint32_t u = 0x80000000u; u <= 0xc2d00000u; u += 61) x.push_back(from_bits(u));
  const float specials[] = {0.f, -0.f, INFINITY, -INFINITY, NAN, -NAN, 1e-45f, -1e-45f, 3.5f, -200.f, 1e30f, -1e30f};
  for (float s : specials) x.push_back(s);
  for (int i = 0; i < 1001; ++i) x.push_back(static_cast<float>(i) * 0.37f - 185.f);
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> bias(x.size());
  for (int64_t i = 0; i < n; ++i) bias[i] = static_cast<float>((i % 17) - 8) * 0.125f;

  std::vector<float> want(x.size()), want_biased(x.size()), got(x.size());
  set_vector_math_level(0);
  elu_span(want.data(), x.data(), nullptr, n);
  elu_span(want_biased.data(), x.data(), bias.data(), n);

  // Accuracy of the baseline build against long double.
  int64_t worst = 0, not_nearest = 0, checked = 0;
  float worst_at = 0.f;
  bool identity_above_zero = true;
  for (int64_t i = 0; i < n; ++i) {
    const float xi = x[i], yi = want[i];
    if (std::isnan(xi)) {
      check(std::isnan(yi), "elu(NaN) is NaN");
      continue;
    }
    if (xi > 0.f) {
      identity_above_zero = identity_above_zero && bits(yi) == bits(xi);
      continue;
    }
    const float ref = static_cast<float>(std::expm1(static_cast<long double>(xi)));
    const int64_t d = ulps(yi, ref);
    if (d > worst) worst = d, worst_at = xi;
    not_nearest += d != 0;
    ++checked;
  }
  check(identity_above_zero, "elu(x) = x for every x > 0");
  check(worst <= 1, "elu within 1 ulp of long-double expm1 (worst " + std::to_string(worst) + " ulps at x = " + std::to_string(worst_at) + ")");
  check(bits(want[n - 1001 - 12 + 1]) == bits(-0.f), "elu(-0) is -0");
  check(not_nearest * 100 < checked, "elu is the nearest float on more than 99% of the inputs");
  std::printf("elu on %lld inputs <= 0: worst %lld ulp, %lld not the nearest float\n", static_cast<long long>(checked),
              static_cast<long long>(worst), static_cast<long long>(not_nearest));

  // The bias form is elu(x + bias), element for element.
  bool same = true;
  for (int64_t i = 0; i < n && same; ++i) {
    float one;
    const float s = x[i] + bias[i];
    elu_span(&one, &s, nullptr, 1);
    same = bits(one) == bits(want_biased[i]);
  }
  check(same, "elu_span with a bias is elu(x + bias)");

  // Layer norm rows of odd and round widths, forward and backward, on the baseline build.
  std::vector<float> lx, lw, lb, ldy;
  uint32_t state = 12345;
  const auto next = [&] {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(state >> 8) / 16777216.f * 4.f - 2.f;
  };
  const int64_t widths[] = {1, 7, 8, 9, 64, 255, 256, 1000};
  for (int64_t d : widths)
    for (int64_t j = 0; j < d; ++j) lx.push_back(next() * 3.f + 1.f), lw.push_back(next()), lb.push_back(next()), ldy.push_back(next());
  const auto layer_norm_all = [&](std::vector<float>& y, std::vector<float>& stats, std::vector<float>& dx) {
    y.assign(lx.size(), 0.f);
    dx.assign(lx.size(), 0.f);
    stats.assign(2 * std::size(widths), 0.f);
    int64_t at = 0, row = 0;
    for (int64_t d : widths) {
      layer_norm_row(y.data() + at, &stats[2 * row], &stats[2 * row + 1], lx.data() + at, lw.data() + at, lb.data() + at, d, 1e-5f);
      layer_norm_row_backward(dx.data() + at, ldy.data() + at, lx.data() + at, lw.data() + at, stats[2 * row], stats[2 * row + 1], d);
      at += d, ++row;
    }
  };
  std::vector<float> ln_y, ln_stats, ln_dx;
  layer_norm_all(ln_y, ln_stats, ln_dx);

  // The parameter-gradient column sums on a 37 x 300 block (rows 2..35, columns 5..299: odd
  // offsets and a ragged tail), against a plain float64 loop.
  constexpr int64_t kPsRows = 37, kPsD = 300, kPsR0 = 2, kPsR1 = 35, kPsC0 = 5, kPsCols = 295;
  std::vector<float> ps_dy(kPsRows * kPsD), ps_x(kPsRows * kPsD), ps_mean(kPsRows), ps_rstd(kPsRows);
  for (auto& v : ps_dy) v = next();
  for (auto& v : ps_x) v = next() * 2.f + 0.5f;
  for (int64_t r = 0; r < kPsRows; ++r) ps_mean[r] = next() * 0.25f, ps_rstd[r] = 1.f + 0.2f * next();
  const auto param_sums = [&] {
    std::vector<double> sums(2 * kPsCols, 0.0);
    layer_norm_param_sums(sums.data(), sums.data() + kPsCols, ps_dy.data(), ps_x.data(), ps_mean.data(), ps_rstd.data(),
                          kPsR0, kPsR1, kPsD, kPsC0, kPsCols);
    return sums;
  };
  const std::vector<double> ps_want = param_sums();
  {
    double worst = 0;
    for (int64_t j = 0; j < kPsCols; ++j) {
      double sw = 0, sb = 0;
      for (int64_t r = kPsR0; r < kPsR1; ++r) {
        const double g = ps_dy[r * kPsD + kPsC0 + j];
        sw += g * ((ps_x[r * kPsD + kPsC0 + j] - static_cast<double>(ps_mean[r])) * ps_rstd[r]);
        sb += g;
      }
      worst = std::max({worst, std::fabs(ps_want[j] - sw), std::fabs(ps_want[kPsCols + j] - sb)});
    }
    check(worst < 1e-12, "layer_norm_param_sums matches a float64 loop");
  }
  // Against float64 for the widest row: the mean of y is the mean of b plus what w carries.
  {
    const int64_t d = 1000, at = static_cast<int64_t>(lx.size()) - d;
    double mu = 0, var = 0;
    for (int64_t j = 0; j < d; ++j) mu += lx[at + j];
    mu /= d;
    for (int64_t j = 0; j < d; ++j) var += (lx[at + j] - mu) * (lx[at + j] - mu);
    const double rs = 1.0 / std::sqrt(var / d + 1e-5);
    double worst = 0;
    for (int64_t j = 0; j < d; ++j) worst = std::max(worst, std::fabs(ln_y[at + j] - ((lx[at + j] - mu) * rs * lw[at + j] + lb[at + j])));
    check(std::fabs(ln_stats[2 * 7] - mu) < 1e-6 && std::fabs(ln_stats[2 * 7 + 1] - rs) < 1e-6 * rs && worst < 1e-5,
          "layer_norm_row matches float64 on a row of 1000");
  }

  // Every build agrees bitwise, whole and in odd-length pieces (vector bodies and scalar tails).
  for (int level = 1; level <= top; ++level) {
    const std::string name = level == 1 ? "avx2" : "avx512";
    check(set_vector_math_level(level) == level, name + " build selected");
    elu_span(got.data(), x.data(), nullptr, n);
    check(std::memcmp(got.data(), want.data(), x.size() * 4) == 0, name + " build equals the baseline");
    elu_span(got.data(), x.data(), bias.data(), n);
    check(std::memcmp(got.data(), want_biased.data(), x.size() * 4) == 0, name + " build with a bias equals the baseline");
    for (int64_t len : {1, 3, 7, 15, 17, 33}) {
      std::vector<float> piece(static_cast<size_t>(len));
      elu_span(piece.data(), x.data() + 5, nullptr, len);
      check(std::memcmp(piece.data(), want.data() + 5, static_cast<size_t>(len) * 4) == 0, name + " build on " + std::to_string(len) + " elements");
    }
    std::vector<float> y, stats, dx;
    layer_norm_all(y, stats, dx);
    check(y == ln_y && stats == ln_stats && dx == ln_dx, name + " layer norm rows (forward and backward) equal the baseline");
    check(param_sums() == ps_want, name + " layer norm parameter sums equal the baseline");
  }
  set_vector_math_level(top);
  // In place (y == x), as the GEMM epilogue calls it.
  got = x;
  elu_span(got.data(), got.data(), nullptr, n);
  check(std::memcmp(got.data(), want.data(), x.size() * 4) == 0, "elu_span in place");

  return era::selftest::summary();
}

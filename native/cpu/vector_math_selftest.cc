// Checks of vector_math.cc that the JS tests cannot make: every build this CPU runs (baseline,
// AVX2, AVX-512) gives bitwise the same ELU, and that ELU is within one float ulp of long-double
// expm1 on a dense sweep of [-104, 0] (it has been correctly rounded on every float checked; the
// count of those that are not is printed). Built with the addon (build/Release/
// era_vector_math_selftest) and run by test/cpu-threads.test.ts.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "vector_math.h"

namespace {

int failed = 0, passed = 0;

void check(bool ok, const std::string& what) {
  if (ok) {
    ++passed;
  } else {
    ++failed;
    std::printf("FAILED: %s\n", what.c_str());
  }
}

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
  elu_span_level(0, want.data(), x.data(), nullptr, n);
  elu_span_level(0, want_biased.data(), x.data(), bias.data(), n);

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
  std::printf("elu on %lld inputs <= 0: worst %lld ulp, %lld not the nearest float\n", static_cast<long long>(checked),
              static_cast<long long>(worst), static_cast<long long>(not_nearest));

  // The bias form is elu(x + bias), element for element.
  bool same = true;
  for (int64_t i = 0; i < n && same; ++i) {
    float one;
    const float s = x[i] + bias[i];
    elu_span_level(0, &one, &s, nullptr, 1);
    same = bits(one) == bits(want_biased[i]);
  }
  check(same, "elu_span with a bias is elu(x + bias)");

  // Every build agrees bitwise, whole and in odd-length pieces (vector bodies and scalar tails).
  for (int level = 1; level <= top; ++level) {
    const std::string name = level == 1 ? "avx2" : "avx512";
    elu_span_level(level, got.data(), x.data(), nullptr, n);
    check(std::memcmp(got.data(), want.data(), x.size() * 4) == 0, name + " build equals the baseline");
    elu_span_level(level, got.data(), x.data(), bias.data(), n);
    check(std::memcmp(got.data(), want_biased.data(), x.size() * 4) == 0, name + " build with a bias equals the baseline");
    for (int64_t len : {1, 3, 7, 15, 17, 33}) {
      std::vector<float> piece(static_cast<size_t>(len));
      elu_span_level(level, piece.data(), x.data() + 5, nullptr, len);
      check(std::memcmp(piece.data(), want.data() + 5, static_cast<size_t>(len) * 4) == 0, name + " build on " + std::to_string(len) + " elements");
    }
  }
  // In place (y == x), as the GEMM epilogue calls it.
  got = x;
  elu_span(got.data(), got.data(), nullptr, n);
  check(std::memcmp(got.data(), want.data(), x.size() * 4) == 0, "elu_span in place");

  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

// expm1 and ELU (forward and backward) on the host. glibc's expm1f is a scalar call of about 20 ns, and ELU on a SAC
// critic's hidden layers makes millions of them per update; these versions are float64
// arithmetic with no branches, which the compiler vectorises. Their float result is the float64
// value rounded once: correctly rounded on every float we checked, where expm1f may be 1 ulp off.
// Every select is made on integer bits with masks: with ?: or a floating-point comparison GCC
// keeps a branch and gives up on vectorising. Device code keeps CUDA's expm1f.
#pragma once
#include <cstdint>
#include <cstring>

#include "bf16.h"  // f32_bits, f32_from_bits

namespace era {

namespace expm1_detail {
// c ? a : b by masks; GCC turns a plain ?: here back into a branch.
inline uint32_t select(bool c, uint32_t a, uint32_t b) {
  const uint32_t m = 0u - static_cast<uint32_t>(c);
  return (a & m) | (b & ~m);
}
}  // namespace expm1_detail

// expm1(x) for x <= 0; ±0 and NaN come back unchanged, and below -104 the result is -1.
inline float expm1_nonpositive(float xf) {
  using namespace expm1_detail;
  const uint32_t u = f32_bits(xf);
  const uint32_t mag = u & 0x7fffffffu;
  const bool pass = (mag > 0x7f800000u) | (mag == 0u);  // NaN or ±0
  const bool clamp = mag > 0x42d00000u;                 // |x| > 104 (-inf too)
  const uint32_t uc = select(pass, 0x80000000u, select(clamp, 0xc2d00000u, u));
  const double x = static_cast<double>(f32_from_bits(uc));
  // x = n ln2 + r with n an integer and |r| <= ln2 / 2: adding 1.5 * 2^52 rounds x / ln2 to an
  // integer in the low mantissa bits, from which 2^n is built with integer arithmetic.
  const double shift = 0x1.8p52;
  const double t = x * 1.4426950408889634 + shift;
  const double n = t - shift;
  const double r = x - n * 0.6931471805599453;
  // expm1(r) by its Taylor series to r^12 (the r^13 term is below 2e-16 for |r| <= 0.347).
  double p = 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r * r + r;
  uint64_t tb, sb;
  std::memcpy(&tb, &t, 8);
  std::memcpy(&sb, &shift, 8);
  const uint64_t two_n_bits = (tb - sb + 1023u) << 52;  // n + 1023 in the exponent field (n in [-151, 0])
  double two_n;
  std::memcpy(&two_n, &two_n_bits, 8);
  // expm1(x) = 2^n (expm1(r) + 1) - 1; with n = 0 that is expm1(r) + 0, exact for tiny x.
  const double y = two_n * p + (two_n - 1.0);
  return f32_from_bits(select(pass, u, f32_bits(static_cast<float>(y))));
}

// ELU (alpha = 1): x for x > 0, expm1(x) otherwise; NaN in, NaN out.
inline float elu(float x) {
  using namespace expm1_detail;
  const uint32_t u = f32_bits(x);
  const bool positive = static_cast<int32_t>(u) > 0;  // sign clear and not +0 (+NaN passes too)
  const float neg = expm1_nonpositive(f32_from_bits(select(positive, 0u, u)));
  return f32_from_bits(select(positive, u, f32_bits(neg)));
}

// ELU's derivative from its output: dy for y > 0, dy * (y + 1) otherwise (NaN y gives NaN). A
// ?: here stays a branch, which mispredicts on every other element of a hidden layer.
inline float elu_grad(float dy, float y) {
  using namespace expm1_detail;
  const uint32_t u = f32_bits(y);
  const bool positive = u - 1u < 0x7f800000u;  // 0 < y <= +inf: sign clear, not zero, not NaN
  const float negative_side = dy * (y + 1.f);
  return f32_from_bits(select(positive, f32_bits(dy), f32_bits(negative_side)));
}

}  // namespace era

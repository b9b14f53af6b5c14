// Philox4x32-10 (Salmon et al., SC'11): a counter-based generator, so element i of a draw is a
// pure function of (seed, offset + i) and the CPU and CUDA backends produce the same numbers.
// The float conversions below use explicit rounding on the device so that nvcc cannot contract
// them into FMAs that the host code would not do.
#pragma once
#include <cmath>
#include <cstdint>

#include "host_device.h"

namespace era {

struct Philox4 {
  uint32_t v[4];
};

ERA_HD void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

ERA_HD Philox4 philox4x32_10(Philox4 c, uint32_t k0, uint32_t k1) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
#if defined(__CUDACC__)
#pragma unroll
#endif
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(M0, c.v[0], hi0, lo0);
    philox_mulhilo(M1, c.v[2], hi1, lo1);
    Philox4 n;
    n.v[0] = hi1 ^ c.v[1] ^ k0;
    n.v[1] = lo1;
    n.v[2] = hi0 ^ c.v[3] ^ k1;
    n.v[3] = lo0;
    c = n;
    k0 += W0;
    k1 += W1;
  }
  return c;
}

// The block of four words for counter `block` under `seed`: counter (block_lo, block_hi, 0, 0).
ERA_HD Philox4 philox_block(uint64_t seed, uint64_t block) {
  Philox4 c = {{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0u, 0u}};
  return philox4x32_10(c, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// A 32-bit word to a float strictly inside (0, 1): the top 23 bits plus one half, times 2^-23.
// Both ends are exact floats (2^-24 and 1 - 2^-24); with 24 bits the top value k + 0.5 = 2^24 - 0.5
// would round to 2^24 and give exactly 1.
ERA_HD float philox_unit_float(uint32_t x) {
  return (static_cast<float>(x >> 9) + 0.5f) * 1.1920928955078125e-07f;
}

// A 32-bit word to a double strictly inside (0, 1).
ERA_HD double philox_unit_double(uint32_t x) {
  return (static_cast<double>(x) + 0.5) * 2.3283064365386963e-10;
}

ERA_HD double philox_mul_add(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(__dmul_rn(a, b), c);
#else
  return a * b + c;
#endif
}

// Uniform draw for element i of a call that starts at counter `offset` (a multiple of 4).
ERA_HD float philox_uniform(uint64_t seed, uint64_t offset, uint64_t i, float low, float high) {
  Philox4 r = philox_block(seed, offset / 4 + i / 4);
  double u = philox_unit_float(r.v[i % 4]);
  return static_cast<float>(philox_mul_add(static_cast<double>(high) - low, u, low));
}

// Normal draw for element i (Box-Muller in double, cosine branch): two words of block
// offset/4 + i/2. Rounded to float, CPU and CUDA agree to within one float ulp (double libm).
ERA_HD float philox_normal(uint64_t seed, uint64_t offset, uint64_t i, float mean, float stddev) {
  Philox4 r = philox_block(seed, offset / 4 + i / 2);
  const int lane = static_cast<int>(i % 2) * 2;
  double u1 = philox_unit_double(r.v[lane]);
  double u2 = philox_unit_double(r.v[lane + 1]);
  double radius = sqrt(-2.0 * log(u1));
  double z = radius * cos(6.283185307179586 * u2);
  return static_cast<float>(philox_mul_add(z, stddev, mean));
}

// How far the generator's counter advances for a draw of n values (keeps offsets multiples of 4).
inline uint64_t philox_uniform_advance(uint64_t n) { return (n + 3) / 4 * 4; }
inline uint64_t philox_normal_advance(uint64_t n) { return (n + 1) / 2 * 4; }

}  // namespace era

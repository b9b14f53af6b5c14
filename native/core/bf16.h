// Host-side bf16 and tf32 rounding, bit-compatible with the CUDA conversions the GEMM uses:
// f32 -> bf16 rounds to nearest even (__float2bfloat16_rn), f32 -> tf32 rounds to nearest with
// ties away from zero (cvt.rna.tf32.f32). The CPU GEMM applies them to its operands so that a
// 'tf32' or 'bf16' product on the CPU differs from the GPU's only by summation order.
#pragma once
#include <cstdint>
#include <cstring>

namespace era {

inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float f32_from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline float bf16_to_f32(uint16_t b) { return f32_from_bits(static_cast<uint32_t>(b) << 16); }

inline uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// f32 rounded to bf16 precision, returned as f32.
inline float round_bf16(float f) { return bf16_to_f32(f32_to_bf16(f)); }

// f32 rounded to tf32 precision (10 explicit mantissa bits), ties away from zero.
inline float round_tf32(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7f800000u) == 0x7f800000u) return f;  // inf, nan unchanged
  u = (u + 0x1000u) & 0xffffe000u;
  return f32_from_bits(u);
}

}  // namespace era

// Vector builds of the GEMM's B packing for f32 operands with no rounding (gemm_pack.cc).
#pragma once
#include <cstdint>

namespace era::cpu {

// Packs lines [first, first + count) of an f32 operand (element (line, p) at
// data[line * line_stride + p * depth_stride]) into panels of w lines, out[panel][p][lane], lanes
// past `count` zero: the same bytes as gemm.cc's generic loop. False (nothing written) where this
// CPU has no AVX2.
bool pack_f32_panels_fast(const float* data, int64_t line_stride, int64_t depth_stride, int64_t first, int64_t count,
                          int64_t k, int64_t w, float* out);

}  // namespace era::cpu

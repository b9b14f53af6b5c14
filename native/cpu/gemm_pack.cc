// Vector builds of the GEMM's B packing for plain f32 operands (no rounding), the common case of
// a training step. Packing is a copy, so these give exactly the bytes of the generic loop in
// gemm.cc, only faster:
//  - lines that run along the depth (a transposed operand, e.g. W in dx = dy · Wᵀ): 8 x 8 blocks
//    transposed in AVX registers instead of one scalar store per element, which was most of the
//    packing time in `era train sac`;
//  - lines that run across the depth: each depth step's row copied with AVX-512 (or AVX2) loads
//    and stores.
// Chosen only where the CPU has AVX2 (checked at run time); elsewhere gemm.cc's loop packs.
#include "gemm_pack.h"

#include <algorithm>

#include "vector_math.h"  // vector_math_level: the AVX builds this CPU runs

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ERA_PACK_X86 1
#include <immintrin.h>
#endif

namespace era::cpu {

#if ERA_PACK_X86
namespace {

// out[p * w + j] = in_line_j[p] for 8 lines (j < 8) and 8 depth steps: an 8 x 8 transpose.
__attribute__((target("avx2"))) inline void transpose8x8(const float* const (&line)[8], int64_t p, float* out,
                                                        int64_t w) {
  const __m256 r0 = _mm256_loadu_ps(line[0] + p), r1 = _mm256_loadu_ps(line[1] + p);
  const __m256 r2 = _mm256_loadu_ps(line[2] + p), r3 = _mm256_loadu_ps(line[3] + p);
  const __m256 r4 = _mm256_loadu_ps(line[4] + p), r5 = _mm256_loadu_ps(line[5] + p);
  const __m256 r6 = _mm256_loadu_ps(line[6] + p), r7 = _mm256_loadu_ps(line[7] + p);
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(out + 0 * w, _mm256_permute2f128_ps(s0, s4, 0x20));
  _mm256_storeu_ps(out + 1 * w, _mm256_permute2f128_ps(s1, s5, 0x20));
  _mm256_storeu_ps(out + 2 * w, _mm256_permute2f128_ps(s2, s6, 0x20));
  _mm256_storeu_ps(out + 3 * w, _mm256_permute2f128_ps(s3, s7, 0x20));
  _mm256_storeu_ps(out + 4 * w, _mm256_permute2f128_ps(s0, s4, 0x31));
  _mm256_storeu_ps(out + 5 * w, _mm256_permute2f128_ps(s1, s5, 0x31));
  _mm256_storeu_ps(out + 6 * w, _mm256_permute2f128_ps(s2, s6, 0x31));
  _mm256_storeu_ps(out + 7 * w, _mm256_permute2f128_ps(s3, s7, 0x31));
}

// Lines contiguous along the depth: groups of 8 full lanes go through transpose8x8 in steps of 8
// depth; the depth tail, a partial group and the zero lanes are scalar.
__attribute__((target("avx2"))) void pack_depth_contiguous(const float* data, int64_t line_stride, int64_t first,
                                                          int64_t count, int64_t k, int64_t w, float* out) {
  const int64_t k8 = k / 8 * 8;
  for (int64_t l0 = 0; l0 < count; l0 += w) {
    const int64_t valid = std::min(w, count - l0);
    float* panel = out + (l0 / w) * k * w;
    int64_t lane = 0;
    for (; lane + 8 <= valid; lane += 8) {
      const float* line[8];
      for (int j = 0; j < 8; ++j) line[j] = data + (first + l0 + lane + j) * line_stride;
      for (int64_t p = 0; p < k8; p += 8) transpose8x8(line, p, panel + p * w + lane, w);
      for (int64_t p = k8; p < k; ++p)
        for (int j = 0; j < 8; ++j) panel[p * w + lane + j] = line[j][p];
    }
    for (; lane < valid; ++lane) {
      const float* src = data + (first + l0 + lane) * line_stride;
      for (int64_t p = 0; p < k; ++p) panel[p * w + lane] = src[p];
    }
    for (; lane < w; ++lane)
      for (int64_t p = 0; p < k; ++p) panel[p * w + lane] = 0.f;
  }
}

// Lines adjacent in memory (depth steps `depth_stride` apart): one row copy per depth step.
// Inlined into each build below, so each compiles it for its own vector width.
__attribute__((always_inline)) inline void row_copy_body(const float* data, int64_t line_stride, int64_t depth_stride,
                                                         int64_t first, int64_t count, int64_t k, int64_t w,
                                                         float* out) {
  for (int64_t l0 = 0; l0 < count; l0 += w) {
    const int64_t valid = std::min(w, count - l0);
    float* panel = out + (l0 / w) * k * w;
    const float* src = data + (first + l0) * line_stride;
    for (int64_t p = 0; p < k; ++p) {
      float* dst = panel + p * w;
      const float* row = src + p * depth_stride;
      for (int64_t lane = 0; lane < valid; ++lane) dst[lane] = row[lane * line_stride];
      for (int64_t lane = valid; lane < w; ++lane) dst[lane] = 0.f;
    }
  }
}

__attribute__((target("avx512f"))) void pack_rows_avx512(const float* data, int64_t line_stride, int64_t depth_stride,
                                                        int64_t first, int64_t count, int64_t k, int64_t w,
                                                        float* out) {
  if (line_stride != 1) return row_copy_body(data, line_stride, depth_stride, first, count, k, w, out);
  // line_stride 1 (the usual case): whole-vector copies, 16 floats at a time, and a masked one for
  // a ragged panel's last valid lanes and the zero lanes after them.
  for (int64_t l0 = 0; l0 < count; l0 += w) {
    const int64_t valid = std::min(w, count - l0);
    float* panel = out + (l0 / w) * k * w;
    const float* src = data + first + l0;
    const __mmask16 tail = valid % 16 ? static_cast<__mmask16>((1u << (valid % 16)) - 1) : 0;
    const int64_t full = valid / 16 * 16;
    for (int64_t p = 0; p < k; ++p) {
      float* dst = panel + p * w;
      const float* row = src + p * depth_stride;
      int64_t lane = 0;
      for (; lane < full; lane += 16) _mm512_storeu_ps(dst + lane, _mm512_loadu_ps(row + lane));
      if (lane < w) {
        // The partial vector (zero past `valid`), then whole zero vectors up to w.
        _mm512_mask_storeu_ps(dst + lane, static_cast<__mmask16>(w - lane >= 16 ? 0xFFFF : (1u << (w - lane)) - 1),
                              _mm512_maskz_loadu_ps(tail, row + lane));
        for (lane += 16; lane < w; lane += 16)
          _mm512_mask_storeu_ps(dst + lane, static_cast<__mmask16>(w - lane >= 16 ? 0xFFFF : (1u << (w - lane)) - 1),
                                _mm512_setzero_ps());
      }
    }
  }
}

__attribute__((target("avx2"))) void pack_rows_avx2(const float* data, int64_t line_stride, int64_t depth_stride,
                                                   int64_t first, int64_t count, int64_t k, int64_t w, float* out) {
  row_copy_body(data, line_stride, depth_stride, first, count, k, w, out);
}

}  // namespace

bool pack_f32_panels_fast(const float* data, int64_t line_stride, int64_t depth_stride, int64_t first, int64_t count,
                          int64_t k, int64_t w, float* out) {
  static const int level = vector_math_level();
  if (level == 0) return false;
  if (depth_stride == 1) {
    pack_depth_contiguous(data, line_stride, first, count, k, w, out);
  } else if (level == 2) {
    pack_rows_avx512(data, line_stride, depth_stride, first, count, k, w, out);
  } else {
    pack_rows_avx2(data, line_stride, depth_stride, first, count, k, w, out);
  }
  return true;
}

#else

bool pack_f32_panels_fast(const float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, float*) { return false; }

#endif

}  // namespace era::cpu

// Blocked GEMM in the usual three-level form: B is packed in KC x NC blocks (NR-column panels),
// A in MC x KC blocks (MR-row panels), and an MR x NR register micro-kernel runs over the panels.
// Packing also transposes, converts bf16 and applies the tf32/bf16 rounding, so the micro-kernel
// sees one layout only. Ragged edges are zero-padded inside the packed panels.
#include "gemm.h"

#include <algorithm>
#include <vector>

#include "../core/bf16.h"

namespace era::cpu {
namespace {

constexpr int64_t MR = 4;
constexpr int64_t NR = 8;
constexpr int64_t MC = 64;
constexpr int64_t KC = 256;
constexpr int64_t NC = 512;

// Element (i, j) of a logical [rows, cols] operand stored row-major as [rows, cols], or as
// [cols, rows] when `trans`, read as f32 and rounded.
struct Operand {
  const void* data;
  int64_t rows, cols;
  bool trans;
  GemmInput input;
  GemmRound round;

  float get(int64_t i, int64_t j) const {
    int64_t idx = trans ? j * rows + i : i * cols + j;
    float v = input == GemmInput::BF16 ? bf16_to_f32(static_cast<const uint16_t*>(data)[idx])
                                       : static_cast<const float*>(data)[idx];
    if (round == GemmRound::TF32) return round_tf32(v);
    if (round == GemmRound::BF16) return round_bf16(v);
    return v;
  }
};

// A block [i0, i0+mc) x [p0, p0+kc) into MR-row panels: ap[panel][p][r].
void pack_a(const Operand& a, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* ap) {
  for (int64_t ip = 0; ip < mc; ip += MR) {
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t r = 0; r < MR; ++r)
        *ap++ = ip + r < mc ? a.get(i0 + ip + r, p0 + p) : 0.f;
  }
}

// B block [p0, p0+kc) x [j0, j0+nc) into NR-column panels: bp[panel][p][c].
void pack_b(const Operand& b, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* bp) {
  for (int64_t jp = 0; jp < nc; jp += NR) {
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t c = 0; c < NR; ++c)
        *bp++ = jp + c < nc ? b.get(p0 + p, j0 + jp + c) : 0.f;
  }
}

// c[0:mr, 0:nr] += ap (kc x MR) · bp (kc x NR); ldc is the row stride of c.
void micro_kernel(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int64_t mr,
                  int64_t nr) {
  float acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    const float* av = ap + p * MR;
    const float* bv = bp + p * NR;
    for (int64_t r = 0; r < MR; ++r) {
      const float ar = av[r];
      for (int64_t q = 0; q < NR; ++q) acc[r][q] += ar * bv[q];
    }
  }
  if (mr == MR && nr == NR) {
    for (int64_t r = 0; r < MR; ++r)
      for (int64_t q = 0; q < NR; ++q) c[r * ldc + q] += acc[r][q];
  } else {
    for (int64_t r = 0; r < mr; ++r)
      for (int64_t q = 0; q < nr; ++q) c[r * ldc + q] += acc[r][q];
  }
}

}  // namespace

void gemm(const GemmArgs& g) {
  const int64_t m = g.m, n = g.n, k = g.k;
  if (m == 0 || n == 0) return;
  float* out = g.out;
  if (!g.accumulate) std::fill(out, out + m * n, 0.f);

  if (k > 0) {
    const Operand a{g.a, m, k, g.trans_a, g.input, g.round};
    const Operand b{g.b, k, n, g.trans_b, g.input, g.round};
    std::vector<float> ap(static_cast<size_t>(((std::min(MC, m) + MR - 1) / MR) * MR * KC));
    std::vector<float> bp(static_cast<size_t>(((std::min(NC, n) + NR - 1) / NR) * NR * KC));
    for (int64_t j0 = 0; j0 < n; j0 += NC) {
      const int64_t nc = std::min(NC, n - j0);
      for (int64_t p0 = 0; p0 < k; p0 += KC) {
        const int64_t kc = std::min(KC, k - p0);
        pack_b(b, p0, kc, j0, nc, bp.data());
        for (int64_t i0 = 0; i0 < m; i0 += MC) {
          const int64_t mc = std::min(MC, m - i0);
          pack_a(a, i0, mc, p0, kc, ap.data());
          for (int64_t ip = 0; ip < mc; ip += MR) {
            for (int64_t jp = 0; jp < nc; jp += NR) {
              micro_kernel(kc, ap.data() + ip * kc, bp.data() + jp * kc,
                           out + (i0 + ip) * n + (j0 + jp), n, std::min(MR, mc - ip),
                           std::min(NR, nc - jp));
            }
          }
        }
      }
    }
  }

  if (g.bias || g.act != Activation::None) {
    for (int64_t i = 0; i < m; ++i) {
      float* row = out + i * n;
      for (int64_t j = 0; j < n; ++j) row[j] = activate(row[j] + (g.bias ? g.bias[j] : 0.f), g.act);
    }
  }
}

}  // namespace era::cpu

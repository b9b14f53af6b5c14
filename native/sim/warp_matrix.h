// The CUDA simulator's stand-ins for the warp-wide PTX of gemm.cu: ldmatrix, mma.sync (bf16
// m16n8k16 and tf32 m16n8k8, f32 accumulate), cvt.rna.tf32 and cp.async; and for gemm_wgmma.cu,
// the warpgroup's wgmma.mma_async with both operands in shared memory. Included by cuda_sim.h.
// cp.async and wgmma are asynchronous here as on the GPU: their work is done at the wait_group
// that retires it (fiber.h's async_issue), the latest moment the PTX rules allow.
// The fragment layouts follow the PTX ISA's "Matrix Fragments for mma.m16n8k16 / mma.m16n8k8"
// and "ldmatrix" sections: groupID = lane / 4 and threadID_in_group = lane % 4 pick the rows and
// columns each lane holds, the lower 16 bits of a register hold the lower-indexed element.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace era_sim {

inline float bf16_bits_to_float(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16: lanes 8j..8j+7 give the row addresses of
// matrix j; every lane receives, in r[j], two 16-bit elements of matrix j: row lane/4, columns
// 2(lane%4) and 2(lane%4)+1, or with .trans the same of the transposed matrix.
inline void ldmatrix_x4(uint32_t (&r)[4], const void* row_address, bool transpose) {
  const void* rows[32];
  warp_all_gather(row_address, rows);
  const int lane = lane_id();
  for (int j = 0; j < 4; ++j) {
    uint16_t e[2];
    for (int h = 0; h < 2; ++h) {
      const int row = transpose ? 2 * (lane % 4) + h : lane / 4;
      const int col = transpose ? lane / 4 : 2 * (lane % 4) + h;
      std::memcpy(&e[h], static_cast<const unsigned char*>(rows[8 * j + row]) + 2 * col, 2);
    }
    r[j] = static_cast<uint32_t>(e[0]) | (static_cast<uint32_t>(e[1]) << 16);
  }
}

struct MmaOperands {
  uint32_t a[4];
  uint32_t b[2];
};

// D = A B + D for one m16n8 tile held across the warp. `a_at(ops, row, k)` and `b_at(ops, k, n)`
// decode the fragments; the products are summed in double and rounded once, a close stand-in for
// the tensor core's wide internal accumulation.
template <int K, class AAt, class BAt>
void mma_tile(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], AAt a_at, BAt b_at) {
  MmaOperands mine;
  std::memcpy(mine.a, a, sizeof mine.a);
  std::memcpy(mine.b, b, sizeof mine.b);
  MmaOperands all[32];
  warp_all_gather(mine, all);
  const int lane = lane_id(), g = lane / 4, t = lane % 4;
  for (int i = 0; i < 4; ++i) {
    const int row = g + (i >= 2 ? 8 : 0), col = 2 * t + (i & 1);
    double acc = d[i];
    for (int k = 0; k < K; ++k) acc += static_cast<double>(a_at(all, row, k)) * b_at(all, k, col);
    d[i] = static_cast<float>(acc);
  }
}

// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32. A (16x16): register (row >= 8) + 2 (k >= 8)
// of lane 4 (row % 8) + (k % 8) / 2, half k % 2. B (16x8): register (k >= 8) of lane 4 n + (k % 8) / 2.
inline void mma_bf16_m16n8k16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  auto half = [](uint32_t w, int k) { return bf16_bits_to_float(static_cast<uint16_t>(k & 1 ? w >> 16 : w)); };
  mma_tile<16>(
      d, a, b,
      [&](const MmaOperands* all, int row, int k) {
        return half(all[4 * (row % 8) + (k % 8) / 2].a[(row >= 8) + 2 * (k >= 8)], k);
      },
      [&](const MmaOperands* all, int k, int n) { return half(all[4 * n + (k % 8) / 2].b[k >= 8], k); });
}

// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32. A (16x8): register (row >= 8) + 2 (k >= 4) of
// lane 4 (row % 8) + k % 4. B (8x8): register (k >= 4) of lane 4 n + k % 4. A tf32 operand is an f32
// bit pattern whose low 13 mantissa bits the tensor core ignores.
inline void mma_tf32_m16n8k8(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  auto tf32 = [](uint32_t w) {
    w &= 0xffffe000u;
    float f;
    std::memcpy(&f, &w, 4);
    return f;
  };
  mma_tile<8>(
      d, a, b,
      [&](const MmaOperands* all, int row, int k) {
        return tf32(all[4 * (row % 8) + k % 4].a[(row >= 8) + 2 * (k >= 4)]);
      },
      [&](const MmaOperands* all, int k, int n) { return tf32(all[4 * n + k % 4].b[k >= 4]); });
}

// cvt.rna.tf32.f32: round to 10 mantissa bits, ties away from zero. Infinity passes through; a NaN
// becomes the canonical NaN, whose payload survives the 13 bits the tensor core ignores.
inline uint32_t f32_to_tf32_rna(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fffffffu;
  if ((u & 0x7f800000u) == 0x7f800000u) return u;
  return (u + 0x1000u) & 0xffffe000u;
}

// cp.async.cg.shared.global with a source size of 16 or 0 (zero fill). The copy is done when a
// cp.async.wait_group retires its group (fiber.h's async_wait); until then the destination holds
// all-ones bytes (NaN), so a read that comes before the wait, or a cp.async that overwrites data
// another thread still reads, shows up in the result.
inline void cp_async16(void* dst, const void* src, bool valid) {
  if (reinterpret_cast<uintptr_t>(dst) % 16) misaligned_access(dst, 16, 16, "cp.async to shared memory");
  if (valid && reinterpret_cast<uintptr_t>(src) % 16) misaligned_access(src, 16, 16, "cp.async from global memory");
  std::memset(dst, 0xff, 16);
  AsyncOp op{};
  op.run = [](const AsyncOp& o) {
    if (o.src) std::memcpy(o.dst, o.src, 16);
    else std::memset(o.dst, 0, 16);
  };
  op.dst = dst;
  op.src = valid ? src : nullptr;
  async_issue(AsyncKind::CpAsync, op);
}
inline void cp_async_commit() { async_commit(AsyncKind::CpAsync); }
inline void cp_async_wait(int n) { async_wait(AsyncKind::CpAsync, n); }

// One bf16 element of a wgmma operand in shared memory: row `mn` (of m or n) and column `k` of the
// matrix a descriptor names. The PTX ISA's "Matrix Descriptor Format": start address, leading and
// stride byte offsets in 16-byte units (bits 0-13, 16-29, 32-45), base offset (bits 49-51), swizzle
// mode (bits 62-63; 1 = 128 bytes, the only one emulated). With the 128-byte swizzle (its
// "canonical layouts", as CUTLASS's make_gmma_desc writes them) a K-major operand is rows of 8
// 16-byte chunks, 128 bytes apart, 8-row groups `stride` apart, k contiguous within a row; an
// MN-major one has 64 m or n contiguous per k row, k rows 128 bytes apart, 8-k groups `stride`
// apart and 64-wide blocks `leading` apart. The swizzle then XORs address bits 4-6 (the chunk)
// with bits 7-9 (the row within its 1024-byte group).
inline float wgmma_operand(uint64_t desc, bool mn_major, int mn, int k) {
  const unsigned start = static_cast<unsigned>(desc & 0x3FFF) << 4;
  const unsigned leading = static_cast<unsigned>((desc >> 16) & 0x3FFF) << 4;
  const unsigned stride = static_cast<unsigned>((desc >> 32) & 0x3FFF) << 4;
  const unsigned base_offset = static_cast<unsigned>((desc >> 49) & 7), swizzle = static_cast<unsigned>(desc >> 62);
  if (swizzle != 1 || base_offset != 0) {
    std::fprintf(stderr, "era-sim: wgmma descriptor %#llx: only the 128-byte swizzle with base offset 0 is emulated\n",
                 static_cast<unsigned long long>(desc));
    misaligned_access(dynamic_shared(), 16, 16, "wgmma descriptor");
    return 0.f;
  }
  unsigned offset = mn_major ? start + (mn / 64) * leading + (mn % 64) * 2 + (k / 8) * stride + (k % 8) * 128
                             : start + (mn / 8) * stride + (mn % 8) * 128 + k * 2;
  offset ^= ((offset >> 7) & 7) << 4;
  uint16_t bits;
  std::memcpy(&bits, static_cast<const unsigned char*>(dynamic_shared()) + offset, 2);
  return bf16_bits_to_float(bits);
}

// wgmma.mma_async.sync.aligned.m64nNk16.f32.bf16.bf16 d, desc-a, desc-b, 1, 1, 1, trans-a, trans-b,
// done now: D (64 x N) += A (64 x 16) B (16 x N) over the warpgroup (4 consecutive warps), A and B
// read from shared memory. trans = 1 marks an MN-major operand. Warp w of the group holds rows
// 16 w .. 16 w + 15; lane l holds, for each n8 block j, d[4 j + i] at row 16 w + l / 4 + 8 (i >= 2),
// column 8 j + 2 (l % 4) + (i & 1), as mma.sync's m16n8 fragment repeated along n.
template <int N>
void wgmma_now(float (&d)[N / 2], uint64_t desc_a, uint64_t desc_b, int trans_a, int trans_b) {
  const int tid = static_cast<int>(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z));
  const int w = (tid / 32) % 4, lane = tid % 32, g = lane / 4, t = lane % 4;
  float a[2][16];
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < 16; ++k) a[h][k] = wgmma_operand(desc_a, trans_a != 0, 16 * w + g + 8 * h, k);
  for (int j = 0; j < N / 8; ++j)
    for (int i = 0; i < 4; ++i) {
      const int col = 8 * j + 2 * t + (i & 1);
      double acc = d[4 * j + i];
      for (int k = 0; k < 16; ++k) acc += static_cast<double>(a[i >= 2][k]) * wgmma_operand(desc_b, trans_b != 0, col, k);
      d[4 * j + i] = static_cast<float>(acc);
    }
}

// The same, issued asynchronously as the GPU runs it: the product (reading shared memory and
// updating d) happens when wgmma.wait_group retires its group. So a stage overwritten before that
// wait feeds the product wrong operands, as it may on a GPU. d must stay put until then (on the
// GPU the registers are off limits until the wait too).
template <int N>
void wgmma_m64nNk16_bf16(float (&d)[N / 2], uint64_t desc_a, uint64_t desc_b, int trans_a, int trans_b) {
  AsyncOp op{};
  op.run = [](const AsyncOp& o) {
    wgmma_now<N>(*static_cast<float(*)[N / 2]>(o.dst), o.a, o.b, o.i, o.j);
  };
  op.dst = &d;
  op.a = desc_a;
  op.b = desc_b;
  op.i = trans_a;
  op.j = trans_b;
  async_issue(AsyncKind::Wgmma, op);
}
inline void wgmma_commit() { async_commit(AsyncKind::Wgmma); }
inline void wgmma_wait(int n) { async_wait(AsyncKind::Wgmma, n); }

}  // namespace era_sim

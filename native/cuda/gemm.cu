// The CUDA GEMM: out = act(beta * out + op(a) · op(b) + bias), f32 output and accumulation.
//
// Two kernels here, each templated on the operand layouts (TA: a is [k, m]; TB: b is [n, k]) so
// that the forward (NN) and both backward products (NT: dx = dy · Wᵀ, TN: dW = xᵀ · dy) read their
// operands where they lie, without transposed copies, and a third in gemm_wgmma.cu (the Hopper
// warpgroup kernel for large bf16 products, sm_90a; the choice is gemm_set_kernel_choice's):
//
// - tc_gemm: tensor cores through mma.sync. bf16 m16n8k16 or tf32 m16n8k8, f32 accumulators.
//   Block tile BM x BN x BK (BK = 64 or 128 bytes of the stored element) over a grid of warps;
//   STAGES-deep cp.async pipeline into padded shared memory (16-byte copies with zero fill past
//   the edges when the leading dimensions allow it, element-wise bounded loads otherwise).
//   bf16 operands reach the MMAs through ldmatrix (.trans for the layouts that need it); f32
//   operands are read from shared memory and rounded (cvt.rna.tf32, or to bf16 pairs).
// - fma_gemm: the exact f32 path (precision 'f32'): register-blocked SIMT FMAs, double-buffered
//   shared memory with the next tile prefetched into registers.
//
// Both share the epilogue (beta, bias, activation, bounds) and a grouped tile order (GROUP_M rows
// of tiles share their B columns in L2). The tile size is picked per problem: the largest whose
// grid fills the SMs, else the smallest (the SAC sizes, 256 x 512, land on 32 x 32 tiles).
// Every global load and store is bounds-checked, so any m, n, k works (k = 0 gives
// act(beta * out + bias)).
#include <cuda_bf16.h>

#include <atomic>
#include <climits>
#include <cstring>
#include <string>

#include "../core/cuda_runtime.h"
#include "gemm.h"
#include "gemm_common.cuh"
#include "gemm_wgmma.h"
#include "launch.cuh"

namespace era::cuda {
namespace {

using namespace gemm_detail;
using bf16 = __nv_bfloat16;

// ---------------------------------------------------------------------------------------------
// PTX wrappers.
#if defined(ERA_CUDA_SIM)
// The CUDA simulator (native/sim/) emulates these warp-wide instructions on the CPU.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  era_sim::ldmatrix_x4(r, p, false);
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) {
  era_sim::ldmatrix_x4(r, p, true);
}
__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4],
                                         const uint32_t (&b)[2]) {
  era_sim::mma_bf16_m16n8k16(d, a, b);
}
__device__ __forceinline__ void mma_tf32(float (&d)[4], const uint32_t (&a)[4],
                                         const uint32_t (&b)[2]) {
  era_sim::mma_tf32_m16n8k8(d, a, b);
}
__device__ __forceinline__ uint32_t to_tf32(float f) { return era_sim::f32_to_tf32_rna(f); }
#else
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4],
                                         const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ void mma_tf32(float (&d)[4], const uint32_t (&a)[4],
                                         const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ uint32_t to_tf32(float f) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(f));
  return r;
}

#endif  // ERA_CUDA_SIM

// Two floats as a bf16x2 register: `lo` (the smaller k) in the low half.
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  uint32_t bits;
  memcpy(&bits, &v, sizeof(bits));  // not a pointer cast: that breaks strict aliasing in host builds (the simulator)
  return bits;
}

// ---------------------------------------------------------------------------------------------
// Tile loads: a [R x C] tile at (r0, c0) of a row-major [rows x cols] matrix into shared memory
// with row stride SLD; zero outside the matrix.
template <typename S, int R, int C, int SLD, int THREADS>
__device__ __forceinline__ void load_tile(S* __restrict__ dst, const S* __restrict__ src, int rows,
                                          int cols, int r0, int c0, bool vec) {
  constexpr int E = 16 / sizeof(S);  // elements per 16-byte chunk
  static_assert(C % E == 0, "tile width must be whole chunks");
  if (vec) {
    // cols % E == 0 and src 16-byte aligned: a chunk is wholly inside or wholly outside.
    constexpr int CHUNKS = R * C / E;
#pragma unroll
    for (int i = threadIdx.x; i < CHUNKS; i += THREADS) {
      const int r = i / (C / E), c = (i % (C / E)) * E;
      const int gr = r0 + r, gc = c0 + c;
      const bool ok = gr < rows && gc < cols;
      const S* g = ok ? src + static_cast<long long>(gr) * cols + gc : src;
      cp_async16(dst + r * SLD + c, g, ok);
    }
  } else {
    constexpr int ELEMS = R * C;
#pragma unroll 4
    for (int i = threadIdx.x; i < ELEMS; i += THREADS) {
      const int r = i / C, c = i % C;
      const int gr = r0 + r, gc = c0 + c;
      S v;
      if (gr < rows && gc < cols) v = src[static_cast<long long>(gr) * cols + gc];
      else v = S(0.f);
      dst[r * SLD + c] = v;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Tensor-core kernel.
template <int BM_, int BN_, int WARPS_M_, int WARPS_N_, int STAGES_, int BK_BYTES_>
struct TcCfg {
  static constexpr int BM = BM_, BN = BN_, WARPS_M = WARPS_M_, WARPS_N = WARPS_N_;
  static constexpr int STAGES = STAGES_;
  static constexpr int BK_BYTES = BK_BYTES_;  // k extent of a stage, in bytes of the stored element
  static constexpr int THREADS = WARPS_M * WARPS_N * 32;
  static constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N;
  static constexpr int MI = WM / 16, NI = WN / 8;
  static_assert(WM % 16 == 0 && WN % 16 == 0, "warp tile must be whole 16x16 blocks");
};

// Small problems get smaller tiles (more blocks) and a longer k step per stage (fewer barriers
// along k: the SAC layers are latency-bound).
using CfgL = TcCfg<128, 256, 2, 4, 4, 64>;   // 8 warps of 64 x 64
using CfgM = TcCfg<128, 128, 2, 4, 4, 64>;   // 8 warps of 64 x 32
using CfgS = TcCfg<64, 64, 2, 2, 3, 128>;    // 4 warps of 32 x 32
using CfgXS = TcCfg<32, 32, 2, 2, 4, 128>;   // 4 warps of 16 x 16

// Shared-memory geometry for element type S and layouts TA / TB.
template <class Cfg, typename S, bool TA, bool TB>
struct TcSmem {
  static constexpr int BK = Cfg::BK_BYTES / sizeof(S);      // e.g. 32 bf16 or 16 f32
  static constexpr int PAD_K = sizeof(S) == 2 ? 8 : 4;       // rows along k
  static constexpr int PAD_MN = 8;                           // rows along m or n
  // A: [BM][BK + PAD_K] (k contiguous) or, with TA, [BK][BM + PAD_MN] (m contiguous).
  static constexpr int SLD_A = TA ? Cfg::BM + PAD_MN : BK + PAD_K;
  static constexpr int A_ELEMS = TA ? BK * SLD_A : Cfg::BM * SLD_A;
  // B: [BK][BN + PAD_MN] (n contiguous) or, with TB, [BN][BK + PAD_K] (k contiguous).
  static constexpr int SLD_B = TB ? BK + PAD_K : Cfg::BN + PAD_MN;
  static constexpr int B_ELEMS = TB ? Cfg::BN * SLD_B : BK * SLD_B;
  static constexpr int STAGE_ELEMS = A_ELEMS + B_ELEMS;
  static constexpr int BYTES = Cfg::STAGES * STAGE_ELEMS * static_cast<int>(sizeof(S));
  static_assert((SLD_A * sizeof(S)) % 16 == 0 && (SLD_B * sizeof(S)) % 16 == 0, "16-byte rows");
  static_assert((A_ELEMS * sizeof(S)) % 16 == 0, "16-byte stage parts");
};

template <class Cfg, typename S, bool MMA_BF16, bool TA, bool TB>
__global__ void __launch_bounds__(Cfg::THREADS, 1) tc_gemm_kernel(Args args) {
  using Sm = TcSmem<Cfg, S, TA, TB>;
  constexpr int BM = Cfg::BM, BN = Cfg::BN, BK = Sm::BK;
  constexpr int MI = Cfg::MI, NI = Cfg::NI;
  constexpr int KSTEP = MMA_BF16 ? 16 : 8;
  constexpr bool LDMATRIX = sizeof(S) == 2;  // bf16 operands in shared memory
  static_assert(!LDMATRIX || MMA_BF16, "bf16 operands use the bf16 MMA");
  static_assert(NI % 2 == 0, "B fragments are loaded in pairs of n8 tiles");

  extern __shared__ __align__(16) unsigned char smem_raw[];
  S* smem = reinterpret_cast<S*>(smem_raw);

  const BlockTile<S> tile = block_tile<S, BM, BN>(args);
  const int m0 = tile.m0, n0 = tile.n0;
  const S *A = tile.a, *B = tile.b;

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wm = warp / Cfg::WARPS_N, wn = warp % Cfg::WARPS_N;
  const int g = lane / 4, t = lane % 4;  // the mma fragment's row group and thread-in-group
  const bool vec = args.vec != 0;

  auto stage_a = [&](int s) { return smem + s * Sm::STAGE_ELEMS; };
  auto stage_b = [&](int s) { return smem + s * Sm::STAGE_ELEMS + Sm::A_ELEMS; };

  auto load_stage = [&](int s, int kt) {
    const int k0 = kt * BK;
    if (TA) load_tile<S, BK, BM, Sm::SLD_A, Cfg::THREADS>(stage_a(s), A, args.k, args.m, k0, m0, vec);
    else load_tile<S, BM, BK, Sm::SLD_A, Cfg::THREADS>(stage_a(s), A, args.m, args.k, m0, k0, vec);
    if (TB) load_tile<S, BN, BK, Sm::SLD_B, Cfg::THREADS>(stage_b(s), B, args.n, args.k, n0, k0, vec);
    else load_tile<S, BK, BN, Sm::SLD_B, Cfg::THREADS>(stage_b(s), B, args.k, args.n, k0, n0, vec);
  };

  float acc[MI][NI][4];
#pragma unroll
  for (int i = 0; i < MI; ++i)
#pragma unroll
    for (int j = 0; j < NI; ++j)
#pragma unroll
      for (int q = 0; q < 4; ++q) acc[i][j][q] = 0.f;

  const int KT = (args.k + BK - 1) / BK;
#pragma unroll
  for (int s = 0; s < Cfg::STAGES - 1; ++s) {
    if (s < KT) load_stage(s, s);
    cp_async_commit();
  }

  for (int kt = 0; kt < KT; ++kt) {
    cp_async_wait<Cfg::STAGES - 2>();  // tile kt has landed (this thread's copies)
    __syncthreads();                   // ... everyone's; and stage (kt - 1) is free to refill
    {
      const int pf = kt + Cfg::STAGES - 1;
      if (pf < KT) load_stage(pf % Cfg::STAGES, pf);
      cp_async_commit();
    }
    const S* As = stage_a(kt % Cfg::STAGES);
    const S* Bs = stage_b(kt % Cfg::STAGES);
    // Element (m, k) of the A tile and (k, n) of the B tile, whatever their layout.
    auto a_at = [&](int m, int k) -> float {
      return static_cast<float>(TA ? As[k * Sm::SLD_A + m] : As[m * Sm::SLD_A + k]);
    };
    auto b_at = [&](int k, int n) -> float {
      return static_cast<float>(TB ? Bs[n * Sm::SLD_B + k] : Bs[k * Sm::SLD_B + n]);
    };

#pragma unroll
    for (int kk = 0; kk < BK; kk += KSTEP) {
      uint32_t af[MI][4], bfr[NI][2];
#pragma unroll
      for (int i = 0; i < MI; ++i) {
        const int mb = wm * Cfg::WM + i * 16;
        if constexpr (LDMATRIX) {
          const int mat = lane >> 3, r = lane & 7;
          if (TA) {
            const int k = kk + r + ((mat >> 1) << 3), m = mb + ((mat & 1) << 3);
            ldmatrix_x4_trans(af[i], As + k * Sm::SLD_A + m);
          } else {
            const int m = mb + (lane & 15), k = kk + ((lane >> 4) << 3);
            ldmatrix_x4(af[i], As + m * Sm::SLD_A + k);
          }
        } else if constexpr (MMA_BF16) {
          af[i][0] = pack_bf16(a_at(mb + g, kk + 2 * t), a_at(mb + g, kk + 2 * t + 1));
          af[i][1] = pack_bf16(a_at(mb + g + 8, kk + 2 * t), a_at(mb + g + 8, kk + 2 * t + 1));
          af[i][2] = pack_bf16(a_at(mb + g, kk + 2 * t + 8), a_at(mb + g, kk + 2 * t + 9));
          af[i][3] = pack_bf16(a_at(mb + g + 8, kk + 2 * t + 8), a_at(mb + g + 8, kk + 2 * t + 9));
        } else {
          af[i][0] = to_tf32(a_at(mb + g, kk + t));
          af[i][1] = to_tf32(a_at(mb + g + 8, kk + t));
          af[i][2] = to_tf32(a_at(mb + g, kk + t + 4));
          af[i][3] = to_tf32(a_at(mb + g + 8, kk + t + 4));
        }
      }
#pragma unroll
      for (int j = 0; j < NI; j += 2) {
        const int nb = wn * Cfg::WN + j * 8;
        if constexpr (LDMATRIX) {
          const int mat = lane >> 3, r = lane & 7;
          uint32_t q[4];
          if (TB) {
            const int n = nb + r + ((mat >> 1) << 3), k = kk + ((mat & 1) << 3);
            ldmatrix_x4(q, Bs + n * Sm::SLD_B + k);
          } else {
            const int k = kk + r + ((mat & 1) << 3), n = nb + ((mat >> 1) << 3);
            ldmatrix_x4_trans(q, Bs + k * Sm::SLD_B + n);
          }
          bfr[j][0] = q[0];
          bfr[j][1] = q[1];
          bfr[j + 1][0] = q[2];
          bfr[j + 1][1] = q[3];
        } else {
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const int n = nb + h * 8 + g;
            if constexpr (MMA_BF16) {
              bfr[j + h][0] = pack_bf16(b_at(kk + 2 * t, n), b_at(kk + 2 * t + 1, n));
              bfr[j + h][1] = pack_bf16(b_at(kk + 2 * t + 8, n), b_at(kk + 2 * t + 9, n));
            } else {
              bfr[j + h][0] = to_tf32(b_at(kk + t, n));
              bfr[j + h][1] = to_tf32(b_at(kk + t + 4, n));
            }
          }
        }
      }
#pragma unroll
      for (int i = 0; i < MI; ++i)
#pragma unroll
        for (int j = 0; j < NI; ++j) {
          if constexpr (MMA_BF16) mma_bf16(acc[i][j], af[i], bfr[j]);
          else mma_tf32(acc[i][j], af[i], bfr[j]);
        }
    }
  }
  cp_async_wait<0>();

#pragma unroll
  for (int i = 0; i < MI; ++i) {
    const int r = m0 + wm * Cfg::WM + i * 16 + g;
#pragma unroll
    for (int j = 0; j < NI; ++j) {
      const int c = n0 + wn * Cfg::WN + j * 8 + 2 * t;
      store_pair(args, tile.bias, tile.out, r, c, acc[i][j][0], acc[i][j][1]);
      store_pair(args, tile.bias, tile.out, r + 8, c, acc[i][j][2], acc[i][j][3]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Exact f32 kernel: each thread owns a TM x TN block of out; A and B tiles are kept k-major in
// shared memory ([BK][BM], [BK][BN]) whatever their global layout.
template <int BM_, int BN_, int BK_, int TM_, int TN_>
struct FmaCfg {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
  static constexpr int TX = BN / TN, TY = BM / TM, THREADS = TX * TY;
  static constexpr int A_PER = BM * BK / THREADS, B_PER = BK * BN / THREADS;
  static_assert(BM * BK % THREADS == 0 && BK * BN % THREADS == 0, "whole loads per thread");
};

using FmaL = FmaCfg<128, 128, 8, 8, 8>;   // 256 threads
using FmaS = FmaCfg<64, 64, 16, 4, 4>;    // 256 threads
using FmaXS = FmaCfg<32, 32, 32, 2, 2>;   // 256 threads; a long k step for latency-bound sizes

template <class Cfg, bool TA, bool TB>
__global__ void __launch_bounds__(Cfg::THREADS, 1) fma_gemm_kernel(Args args) {
  constexpr int BM = Cfg::BM, BN = Cfg::BN, BK = Cfg::BK, TM = Cfg::TM, TN = Cfg::TN;
  constexpr int SA = BM + 4, SB = BN + 4;
  __shared__ __align__(16) float As[2][BK][SA];
  __shared__ __align__(16) float Bs[2][BK][SB];

  const BlockTile<float> tile = block_tile<float, BM, BN>(args);
  const int m0 = tile.m0, n0 = tile.n0;
  const float *A = tile.a, *B = tile.b;
  const int tid = threadIdx.x, tx = tid % Cfg::TX, ty = tid / Cfg::TX;
  const int M = args.m, N = args.n, K = args.k;

  float ra[Cfg::A_PER], rb[Cfg::B_PER];
  // Element e of this thread's share of the tile at k0: consecutive threads take consecutive
  // addresses along the operand's contiguous dimension (coalesced).
  auto a_coord = [&](int e, int& m, int& k) {
    const int idx = tid + e * Cfg::THREADS;
    if (TA) { m = idx % BM; k = idx / BM; } else { k = idx % BK; m = idx / BK; }
  };
  auto b_coord = [&](int e, int& k, int& n) {
    const int idx = tid + e * Cfg::THREADS;
    if (TB) { k = idx % BK; n = idx / BK; } else { n = idx % BN; k = idx / BN; }
  };
  auto fetch = [&](int k0) {
#pragma unroll
    for (int e = 0; e < Cfg::A_PER; ++e) {
      int m, k;
      a_coord(e, m, k);
      const int gm = m0 + m, gk = k0 + k;
      ra[e] = gm < M && gk < K ? A[TA ? static_cast<long long>(gk) * M + gm : static_cast<long long>(gm) * K + gk] : 0.f;
    }
#pragma unroll
    for (int e = 0; e < Cfg::B_PER; ++e) {
      int k, n;
      b_coord(e, k, n);
      const int gk = k0 + k, gn = n0 + n;
      rb[e] = gk < K && gn < N ? B[TB ? static_cast<long long>(gn) * K + gk : static_cast<long long>(gk) * N + gn] : 0.f;
    }
  };
  auto stash = [&](int buf) {
#pragma unroll
    for (int e = 0; e < Cfg::A_PER; ++e) {
      int m, k;
      a_coord(e, m, k);
      As[buf][k][m] = ra[e];
    }
#pragma unroll
    for (int e = 0; e < Cfg::B_PER; ++e) {
      int k, n;
      b_coord(e, k, n);
      Bs[buf][k][n] = rb[e];
    }
  };

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

  const int KT = (K + BK - 1) / BK;
  if (KT > 0) {
    fetch(0);
    stash(0);
    __syncthreads();
  }
  for (int kt = 0; kt < KT; ++kt) {
    const int cur = kt & 1;
    const bool more = kt + 1 < KT;
    if (more) fetch((kt + 1) * BK);  // in flight while this tile is multiplied
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      float av[TM], bv[TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) av[i] = As[cur][k][ty * TM + i];
#pragma unroll
      for (int j = 0; j < TN; ++j) bv[j] = Bs[cur][k][tx * TN + j];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    if (more) stash(cur ^ 1);  // the other buffer was last read before the previous barrier
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int r = m0 + ty * TM + i;
#pragma unroll
    for (int j = 0; j < TN; j += 2) {
      const int c = n0 + tx * TN + j;
      store_pair(args, tile.bias, tile.out, r, c, acc[i][j], j + 1 < TN ? acc[i][j + 1] : 0.f);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Host side.
// Index into the configurations (largest first): the largest tile whose grid (times the batch)
// fills the SMs, else the smallest; configurations needing more shared memory than the device
// allows (`bytes`, when given) are skipped.
template <int NCFG>
int pick(const GemmParams& p, const int (&bm)[NCFG], const int (&bn)[NCFG], const int* bytes = nullptr) {
  const long long sms = sm_count();
  for (int i = 0; i < NCFG - 1; ++i) {
    if (bytes && bytes[i] > smem_optin()) continue;
    if (tiles_for(p, bm[i], bn[i]) * p.batch >= sms) return i;
  }
  return NCFG - 1;
}

// Shared memory of a tensor-core configuration for element S, the most any layout needs.
template <class Cfg, typename S>
constexpr int tc_bytes() {
  int a = TcSmem<Cfg, S, false, false>::BYTES, b = TcSmem<Cfg, S, false, true>::BYTES;
  int c = TcSmem<Cfg, S, true, false>::BYTES, d = TcSmem<Cfg, S, true, true>::BYTES;
  int ab = a > b ? a : b, cd = c > d ? c : d;
  return ab > cd ? ab : cd;
}

constexpr int kTcBm[4] = {CfgL::BM, CfgM::BM, CfgS::BM, CfgXS::BM};
constexpr int kTcBytesBf16[4] = {tc_bytes<CfgL, bf16>(), tc_bytes<CfgM, bf16>(), tc_bytes<CfgS, bf16>(), tc_bytes<CfgXS, bf16>()};
constexpr int kTcBytesF32[4] = {tc_bytes<CfgL, float>(), tc_bytes<CfgM, float>(), tc_bytes<CfgS, float>(), tc_bytes<CfgXS, float>()};
constexpr int kTcBn[4] = {CfgL::BN, CfgM::BN, CfgS::BN, CfgXS::BN};
constexpr int kFmaBm[3] = {FmaL::BM, FmaS::BM, FmaXS::BM};
constexpr int kFmaBn[3] = {FmaL::BN, FmaS::BN, FmaXS::BN};


template <class Cfg, typename S, bool BF, bool TA, bool TB>
void run_tc(const Args& args, const GemmParams& p, cudaStream_t stream) {
  using Sm = TcSmem<Cfg, S, TA, TB>;
  auto kernel = tc_gemm_kernel<Cfg, S, BF, TA, TB>;
  static bool configured = false;
  if (!configured) {
    cuda_rt::check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Sm::BYTES),
                   "matmul");
    configured = true;
  }
  launch(kernel, tiles_for(p, Cfg::BM, Cfg::BN), Cfg::THREADS, Sm::BYTES, args, p, stream);
}

template <class Cfg, typename S, bool BF>
void run_tc_layout(const Args& args, const GemmParams& p, cudaStream_t stream) {
  if (p.trans_a) {
    if (p.trans_b) run_tc<Cfg, S, BF, true, true>(args, p, stream);
    else run_tc<Cfg, S, BF, true, false>(args, p, stream);
  } else {
    if (p.trans_b) run_tc<Cfg, S, BF, false, true>(args, p, stream);
    else run_tc<Cfg, S, BF, false, false>(args, p, stream);
  }
}

template <typename S, bool BF>
void run_tc_cfg(int cfg, const Args& args, const GemmParams& p, cudaStream_t stream) {
  switch (cfg) {
    case 0: run_tc_layout<CfgL, S, BF>(args, p, stream); break;
    case 1: run_tc_layout<CfgM, S, BF>(args, p, stream); break;
    case 2: run_tc_layout<CfgS, S, BF>(args, p, stream); break;
    default: run_tc_layout<CfgXS, S, BF>(args, p, stream); break;
  }
}

template <class Cfg>
void run_fma(const Args& args, const GemmParams& p, cudaStream_t stream) {
  const long long tiles = tiles_for(p, Cfg::BM, Cfg::BN);
  if (p.trans_a) {
    if (p.trans_b) launch(fma_gemm_kernel<Cfg, true, true>, tiles, Cfg::THREADS, 0, args, p, stream);
    else launch(fma_gemm_kernel<Cfg, true, false>, tiles, Cfg::THREADS, 0, args, p, stream);
  } else {
    if (p.trans_b) launch(fma_gemm_kernel<Cfg, false, true>, tiles, Cfg::THREADS, 0, args, p, stream);
    else launch(fma_gemm_kernel<Cfg, false, false>, tiles, Cfg::THREADS, 0, args, p, stream);
  }
}

}  // namespace

namespace {

enum Choice { kAuto, kMma, kWgmma };
const char* const kChoiceNames[] = {"auto", "mma", "wgmma"};
std::atomic<int> g_choice{kAuto};

// Whether a bf16 product goes to the wgmma kernel (gemm_wgmma.cu).
bool use_wgmma(const GemmParams& p, void* stream) {
  const int choice = g_choice.load();
  if (choice == kMma || !wgmma_supports(p)) return false;
  if (choice == kAuto && tiles_for(p, kWgmmaBm, kWgmmaBn) * p.batch < sm_count()) return false;
  return wgmma_available(stream);
}

}  // namespace

std::vector<std::string> gemm_kernel_choices() {
  std::vector<std::string> out{kChoiceNames[kAuto], kChoiceNames[kMma]};
  if (wgmma_available(cuda_rt::stream())) out.emplace_back(kChoiceNames[kWgmma]);
  return out;
}

std::string gemm_kernel_choice() { return kChoiceNames[g_choice.load()]; }

bool gemm_set_kernel_choice(const std::string& name) {
  for (const std::string& c : gemm_kernel_choices())
    if (c == name) {
      g_choice.store(name == "auto" ? kAuto : name == "mma" ? kMma : kWgmma);
      return true;
    }
  return false;
}

void gemm(const GemmParams& p, void* stream) {
  if (p.m <= 0 || p.n <= 0 || p.batch <= 0) return;
  if (use_wgmma(p, stream)) return wgmma_gemm(p, stream);
  cudaStream_t st = as_stream(stream);
  Args args{p.m, p.n, p.k, p.a, p.stride_a, p.b, p.stride_b, p.bias, p.stride_bias, p.out,
            p.stride_out, p.accumulate ? 1 : 0, static_cast<int>(p.act), vec_ok(p) ? 1 : 0};
  if (p.precision == 0) {
    switch (pick<3>(p, kFmaBm, kFmaBn)) {
      case 0: run_fma<FmaL>(args, p, st); break;
      case 1: run_fma<FmaS>(args, p, st); break;
      default: run_fma<FmaXS>(args, p, st); break;
    }
    return;
  }
  const int cfg = pick<4>(p, kTcBm, kTcBn, p.bf16_inputs ? kTcBytesBf16 : kTcBytesF32);
  if (p.bf16_inputs) run_tc_cfg<bf16, true>(cfg, args, p, st);
  else if (p.precision == 1) run_tc_cfg<float, false>(cfg, args, p, st);
  else run_tc_cfg<float, true>(cfg, args, p, st);
}

const char* gemm_kernel_name(const GemmParams& p) {
  static thread_local std::string name;
  const char* layout = p.trans_a ? (p.trans_b ? "TT" : "TN") : (p.trans_b ? "NT" : "NN");
  if (p.precision == 0) {
    const int c = pick<3>(p, kFmaBm, kFmaBn);
    name = "fma " + std::to_string(kFmaBm[c]) + "x" + std::to_string(kFmaBn[c]) + " " + layout;
  } else if (use_wgmma(p, cuda_rt::stream())) {
    name = std::string("wgmma-bf16 ") + std::to_string(kWgmmaBm) + "x" + std::to_string(kWgmmaBn) + " " + layout;
  } else {
    const int c = pick<4>(p, kTcBm, kTcBn, p.bf16_inputs ? kTcBytesBf16 : kTcBytesF32);
    name = std::string(p.bf16_inputs ? "tc-bf16" : p.precision == 1 ? "tc-tf32" : "tc-bf16(f32 in)") +
           " " + std::to_string(kTcBm[c]) + "x" + std::to_string(kTcBn[c]) + " " + layout +
           (vec_ok(p) ? " vec" : " scalar");
  }
  return name.c_str();
}

}  // namespace era::cuda

// LLM ERA activation kernels (era-spec §2.3-§2.7).
//
// Forward, topK = 0: one block per row reads the logits once (16-byte vectors) and keeps, relative to
// the running max m, S1 = sum e^(z-m), T = sum e^(z-m) (z-m) (entropy H = log S1 - T/S1), and the
// sums for the two other scales, Sk = sum e^(k(z-m)) and S1/k = sum e^((z-m)/k). Since max(c z) =
// c m for c > 0, the log-prob under any of the three scales is c (z_y - m) - log S_c: no second pass.
// With topK > 0 the block also finds the row's top-k set (radix select) and takes the three sums
// over that set instead. A second kernel, one block per response, forms H_resp (mean of the top
// fraction of the token entropies), then each token's scale, log-prob and advantage.
// Backward: one pass per row writing c g / T (onehot(y) - q), in place if asked, where
// q_v = e^(logp + c (z_v - z_y)) comes from the forward's log-prob and 1 - q_y = -expm1(logp) stays
// accurate when the token is nearly certain (an absolute normaliser in f32 would not).
#include <cmath>
#include <cstdint>

#include "era_logits.h"
#include "launch.cuh"

namespace era::cuda {
namespace {

constexpr int kRowBlock = 512;  // threads per row: 2 blocks (1024 threads) per SM at <= 64 registers
constexpr int kSegBlock = 256;  // threads per response
constexpr float kLog2e = 1.4426950408889634f;
constexpr unsigned kFull = 0xffffffffu;
constexpr float kSentinel = -1e4f;  // the reference's log-prob for tokens outside the top-k set

// One MUFU instruction; relative error ~2^-22, far below the tolerances that matter here.
__device__ __forceinline__ float ex2(float x) {
#if defined(ERA_CUDA_SIM)
  return exp2f(x);  // the CUDA simulator (native/sim/) runs this file on the CPU
#else
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
#endif
}

// IEEE-754 total order of the bit patterns as an unsigned integer (for radix selection).
__device__ __forceinline__ uint32_t f32_key(float x) {
  uint32_t u = __float_as_uint(x);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float f32_from_key(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

// ---- element types: f32, and bf16 held as raw uint16_t bits ---------------------------------
template <typename T>
struct Elem;

template <>
struct Elem<float> {
  static constexpr int kVec = 4;  // elements per 16-byte vector
  static constexpr int kKeyBits = 32;
  using Raw = float4;
  __device__ static float to_float(float x) { return x; }
  __device__ static float from_float(float f) { return f; }
  __device__ static uint32_t key(float x) { return f32_key(x); }
  __device__ static void unpack(const Raw& w, float (&x)[4]) {
    x[0] = w.x; x[1] = w.y; x[2] = w.z; x[3] = w.w;
  }
  __device__ static Raw pack(const float (&x)[4]) { return make_float4(x[0], x[1], x[2], x[3]); }
};

__device__ __forceinline__ uint32_t bf16x2_rn(float lo, float hi) {
#if defined(ERA_CUDA_SIM)
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (lo) is the low half
  uint32_t d;
  std::memcpy(&d, &v, 4);
  return d;
#else
  uint32_t d;  // cvt packs its first source into the upper half
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
  return d;
#endif
}

template <>
struct Elem<uint16_t> {
  static constexpr int kVec = 8;
  static constexpr int kKeyBits = 16;
  using Raw = uint4;
  __device__ static float to_float(uint16_t b) { return __uint_as_float(uint32_t(b) << 16); }
  __device__ static uint16_t from_float(float f) { return uint16_t(bf16x2_rn(f, 0.0f) & 0xffffu); }
  __device__ static uint32_t key(uint16_t b) {
    return (b & 0x8000u) ? (~uint32_t(b) & 0xffffu) : (uint32_t(b) | 0x8000u);
  }
  __device__ static void unpack(const Raw& w, float (&x)[8]) {
    const uint32_t p[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {  // little endian: the lower address is the low half
      x[2 * j] = __uint_as_float(p[j] << 16);
      x[2 * j + 1] = __uint_as_float(p[j] & 0xffff0000u);
    }
  }
  __device__ static Raw pack(const float (&x)[8]) {
    return make_uint4(bf16x2_rn(x[0], x[1]), bf16x2_rn(x[2], x[3]), bf16x2_rn(x[4], x[5]),
                      bf16x2_rn(x[6], x[7]));
  }
};

// Elements before the first 16-byte boundary of a row (rows start unaligned when V is not a
// multiple of the vector width).
template <typename T>
__device__ __forceinline__ int row_head(const T* row, int v) {
  const int head = int(((16u - (reinterpret_cast<uintptr_t>(row) & 15u)) & 15u) / sizeof(T));
  return head < v ? head : v;
}

// ---- online statistics of one row -----------------------------------------------------------
struct Acc {
  float m;                  // running max of z
  float s1, t, sk, sik;     // relative to m: sum e^d, sum e^d d, sum e^(k d), sum e^(d/k); d = z - m
};

struct KConsts {
  float k_l2e, ik_l2e;  // k log2(e), log2(e) / k
};

// kTwo (k == 2): u = e^(d/2) gives all three sums from one exponential: e^d = u^2, e^(2d) = u^4.
template <bool kTwo>
__device__ __forceinline__ void scale_factors(float d, KConsts kc, float& f1, float& fk, float& fik) {
  if (kTwo) {
    const float h = ex2(d * (0.5f * kLog2e));
    fik = h;
    f1 = h * h;
    fk = f1 * f1;
  } else {
    f1 = ex2(d * kLog2e);
    fk = ex2(d * kc.k_l2e);
    fik = ex2(d * kc.ik_l2e);
  }
}

// The max grew to new_m: every sum is relative to m, so shrink it (T also shifts by d S1).
template <bool kTwo>
__device__ __forceinline__ void acc_rescale(Acc& a, float new_m, KConsts kc) {
  if (a.m == -INFINITY) {  // nothing accumulated yet
    a.m = new_m;
    return;
  }
  const float d = a.m - new_m;
  float f1, fk, fik;
  scale_factors<kTwo>(d, kc, f1, fk, fik);
  a.t = f1 * fmaf(d, a.s1, a.t);
  a.s1 *= f1;
  a.sk *= fk;
  a.sik *= fik;
  a.m = new_m;
}

// What acc_add subtracts: the running max, or 0 while it is still −inf. Only −inf and NaN values
// arrive then (any other value raises the max first), and with 0 a −inf adds 0 to the sums (NaN
// to T, as the CPU's Σ p·z gets) and a NaN makes them NaN; −inf − (−inf) would turn a thread's
// first −inf logits (a masked vocabulary) into NaN sums for the whole row.
__device__ __forceinline__ float add_base(const Acc& a) { return a.m == -INFINITY ? 0.f : a.m; }

template <bool kTwo>
__device__ __forceinline__ void acc_add(Acc& a, float x, float inv_t, float base, KConsts kc) {
  const float d = fmaf(x, inv_t, -base);
  float e, ek, eik;
  scale_factors<kTwo>(d, kc, e, ek, eik);
  a.s1 += e;
  a.t = fmaf(e, d, a.t);
  a.sk += ek;
  a.sik += eik;
}

template <bool kTwo>
__device__ __forceinline__ Acc acc_combine(const Acc& a, const Acc& b, KConsts kc) {
  Acc r{fmaxf(a.m, b.m), 0.f, 0.f, 0.f, 0.f};
#pragma unroll
  for (int side = 0; side < 2; ++side) {
    const Acc& s = side ? b : a;
    if (s.m == -INFINITY) {  // no finite value on this side: its sums are 0, or NaN that must reach the row
      r.s1 += s.s1;
      r.t += s.t;
      r.sk += s.sk;
      r.sik += s.sik;
      continue;
    }
    const float d = s.m - r.m;
    float f1, fk, fik;
    scale_factors<kTwo>(d, kc, f1, fk, fik);
    r.s1 = fmaf(f1, s.s1, r.s1);
    r.t = fmaf(f1, fmaf(d, s.s1, s.t), r.t);
    r.sk = fmaf(fk, s.sk, r.sk);
    r.sik = fmaf(fik, s.sik, r.sik);
  }
  return r;
}

template <bool kTwo>
__device__ __forceinline__ Acc warp_combine(Acc a, KConsts kc) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    Acc o;
    o.m = __shfl_xor_sync(kFull, a.m, off);
    o.s1 = __shfl_xor_sync(kFull, a.s1, off);
    o.t = __shfl_xor_sync(kFull, a.t, off);
    o.sk = __shfl_xor_sync(kFull, a.sk, off);
    o.sik = __shfl_xor_sync(kFull, a.sik, off);
    a = acc_combine<kTwo>(a, o, kc);
  }
  return a;
}

// The row's totals, returned to every thread.
template <bool kTwo>
__device__ Acc block_combine(Acc a, KConsts kc) {
  __shared__ Acc part[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  a = warp_combine<kTwo>(a, kc);
  if (lane == 0) part[warp] = a;
  __syncthreads();
  if (warp == 0) {
    a = lane < int(blockDim.x >> 5) ? part[lane] : Acc{-INFINITY, 0.f, 0.f, 0.f, 0.f};
    a = warp_combine<kTwo>(a, kc);
    if (lane == 0) part[0] = a;
  }
  __syncthreads();
  return part[0];
}

// ---- radix selection --------------------------------------------------------------------------
struct RadixShared {
  int hist[256];
  int digit, above;
};

// The k-th largest (1 <= k <= n) of key_at(0..n-1), most significant byte first. On return (in
// every thread) theta is that key and quota the number of elements equal to theta that belong to
// the top k (k - quota elements are strictly greater). Block-uniform.
template <int kBits, typename KeyAt>
__device__ void radix_kth(int n, int k, KeyAt key_at, RadixShared& rs, uint32_t& theta,
                          int& quota) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  uint32_t prefix = 0, mask = 0;
  int kk = k;
#pragma unroll 1
  for (int shift = kBits - 8; shift >= 0; shift -= 8) {
    for (int i = threadIdx.x; i < 256; i += blockDim.x) rs.hist[i] = 0;
    __syncthreads();
    for (int base = 0; base < n; base += blockDim.x) {
      const int i = base + threadIdx.x;
      int bin = 256;  // not counted
      if (i < n) {
        const uint32_t key = key_at(i);
        if ((key & mask) == prefix) bin = int((key >> shift) & 255u);
      }
      // Logits share a few exponent bytes, so most lanes hit the same bin: add once per group.
      const unsigned peers = __match_any_sync(kFull, bin);
      if (bin < 256 && lane == __ffs(peers) - 1) atomicAdd(&rs.hist[bin], __popc(peers));
    }
    __syncthreads();
    if (warp == 0) {  // lane owns bins 8 lane .. 8 lane + 7; find the bin holding the kk-th from the top
      int h[8], own = 0;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        h[j] = rs.hist[lane * 8 + j];
        own += h[j];
      }
      int incl = own;  // suffix sum over lanes >= lane
#pragma unroll
      for (int off = 1; off < 32; off <<= 1) {
        const int o = __shfl_down_sync(kFull, incl, off);
        if (lane + off < 32) incl += o;
      }
      int above = incl - own;
#pragma unroll
      for (int j = 7; j >= 0; --j) {
        if (above < kk && above + h[j] >= kk) {
          rs.digit = lane * 8 + j;
          rs.above = above;
        }
        above += h[j];
      }
    }
    __syncthreads();
    prefix |= uint32_t(rs.digit) << shift;
    mask |= 255u << shift;
    kk -= rs.above;
    __syncthreads();  // rs is rewritten by the next pass
  }
  theta = prefix;
  quota = kk;
}

struct TopkShared {
  RadixShared rs;
  int idx[kEraLogitsMaxTopK];
  float val[kEraLogitsMaxTopK];
  int warp_ties[32];
  int warp_gt[32];
  int tie_cut;
};

// The row's top-k set under the order (logit descending, index ascending): everything above the
// k-th largest value theta, plus the lowest-index elements equal to theta up to k. Leaves the set
// in sh.idx/sh.val; an index i is in the set iff key(i) > theta or (key(i) == theta and
// i <= tie_cut).
template <typename T>
__device__ void select_topk(const T* row, int v, int k, TopkShared& sh, uint32_t& theta,
                            int& tie_cut) {
  using E = Elem<T>;
  int quota;
  radix_kth<E::kKeyBits>(v, k, [row](int i) { return E::key(row[i]); }, sh.rs, theta, quota);
  const int cnt_gt = k - quota;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (threadIdx.x == 0) sh.tie_cut = -1;
  __syncthreads();
  int taken = 0, found = 0;  // block-uniform counts of ties taken and greater elements seen
  for (int base = 0; base < v; base += blockDim.x) {
    const int i = base + threadIdx.x;
    uint32_t key = 0;
    float x = 0.f;
    if (i < v) {
      const T raw = row[i];
      key = E::key(raw);
      x = E::to_float(raw);
    }
    const bool gt = i < v && key > theta;
    const bool tie = i < v && key == theta;
    // Fewer than k of these in the row. Their slots go in index order (ballot within warps, scan
    // over warps), not in the order atomics land, so the sums over the set are the same every run.
    const unsigned bg = __ballot_sync(kFull, gt);
    if (lane == 0) sh.warp_gt[warp] = __popc(bg);
    __syncthreads();
    int chunk_gt = 0, before_gt = found;
    for (int w = 0; w < int(blockDim.x >> 5); ++w) {
      chunk_gt += sh.warp_gt[w];
      if (w < warp) before_gt += sh.warp_gt[w];
    }
    if (gt) {
      const int p = before_gt + __popc(bg & ((1u << lane) - 1u));
      sh.idx[p] = i;
      sh.val[p] = x;
    }
    const int nt = __syncthreads_count(tie);  // also: every warp_gt read is done
    if (nt > 0 && taken < quota) {  // rank ties by index: ballot within warps, scan over warps
      const unsigned b = __ballot_sync(kFull, tie);
      if (lane == 0) sh.warp_ties[warp] = __popc(b);
      __syncthreads();
      int before = taken;
      for (int w = 0; w < warp; ++w) before += sh.warp_ties[w];
      const int rank = before + __popc(b & ((1u << lane) - 1u));
      if (tie && rank < quota) {
        sh.idx[cnt_gt + rank] = i;
        sh.val[cnt_gt + rank] = x;
        atomicMax(&sh.tie_cut, i);
      }
      __syncthreads();  // warp_ties is reused by the next chunk
    }
    taken = min(quota, taken + nt);
    found += chunk_gt;
    if (taken >= quota && found >= cnt_gt) break;
  }
  __syncthreads();
  tie_cut = sh.tie_cut;
}

// ---- kernels ----------------------------------------------------------------------------------

// Per row: entropy[row] and ws[row] = {m, z_y, log S1, log Sk, log S1/k, in-set, -, -} with the
// sums over the full row (kTopK false) or over its top-k set (kTopK true).
template <typename T, bool kTwo, bool kTopK>
__global__ void __launch_bounds__(kRowBlock, 2)
row_forward_kernel(const T* __restrict__ logits, int v, const int32_t* __restrict__ tokens,
                   float inv_t, KConsts kc, float k, float inv_k, int top_k,
                   float* __restrict__ entropy, float4* __restrict__ ws) {
  using E = Elem<T>;
  using Raw = typename E::Raw;
  constexpr int W = E::kVec;
  constexpr int U = 4;  // vectors in flight per thread
  const int64_t r = blockIdx.x;
  const T* row = logits + r * int64_t(v);

  Acc a{-INFINITY, 0.f, 0.f, 0.f, 0.f};
  const int head = row_head(row, v);
  for (int i = threadIdx.x; i < head; i += kRowBlock) {
    const float x = E::to_float(row[i]);
    if (x * inv_t > a.m) acc_rescale<kTwo>(a, x * inv_t, kc);
    acc_add<kTwo>(a, x, inv_t, add_base(a), kc);
  }
  const Raw* body = reinterpret_cast<const Raw*>(row + head);
  const int nvec = (v - head) / W;
  int i = threadIdx.x;
  for (; i + (U - 1) * kRowBlock < nvec; i += U * kRowBlock) {
    Raw w[U];
#pragma unroll
    for (int u = 0; u < U; ++u) w[u] = __ldg(body + i + u * kRowBlock);
    float x[U][W];
    float bm = -INFINITY;
#pragma unroll
    for (int u = 0; u < U; ++u) {
      E::unpack(w[u], x[u]);
#pragma unroll
      for (int j = 0; j < W; ++j) bm = fmaxf(bm, x[u][j]);
    }
    // One max test per U*W elements keeps the rescale (rare after the first few) off the hot path.
    if (bm * inv_t > a.m) acc_rescale<kTwo>(a, bm * inv_t, kc);
    const float base = add_base(a);
#pragma unroll
    for (int u = 0; u < U; ++u)
#pragma unroll
      for (int j = 0; j < W; ++j) acc_add<kTwo>(a, x[u][j], inv_t, base, kc);
  }
  for (; i < nvec; i += kRowBlock) {
    float x[W];
    E::unpack(__ldg(body + i), x);
    float bm = -INFINITY;
#pragma unroll
    for (int j = 0; j < W; ++j) bm = fmaxf(bm, x[j]);
    if (bm * inv_t > a.m) acc_rescale<kTwo>(a, bm * inv_t, kc);
    const float base = add_base(a);
#pragma unroll
    for (int j = 0; j < W; ++j) acc_add<kTwo>(a, x[j], inv_t, base, kc);
  }
  for (int j = head + nvec * W + threadIdx.x; j < v; j += kRowBlock) {
    const float x = E::to_float(row[j]);
    if (x * inv_t > a.m) acc_rescale<kTwo>(a, x * inv_t, kc);
    acc_add<kTwo>(a, x, inv_t, add_base(a), kc);
  }
  a = block_combine<kTwo>(a, kc);

  const int y = tokens[r];
  const bool valid = y >= 0 && y < v;  // never read outside the row, even unvalidated
  float4 w0, w1;
  w0.x = a.m;
  w1.z = 0.f;
  w1.w = 0.f;
  if constexpr (!kTopK) {
    if (threadIdx.x == 0) {
      w0.y = valid ? E::to_float(row[y]) * inv_t : NAN;
      w0.z = logf(a.s1);
      w0.w = logf(a.sk);
      w1.x = logf(a.sik);
      w1.y = 1.f;
      entropy[r] = logf(a.s1) - a.t / a.s1;
      ws[2 * r] = w0;
      ws[2 * r + 1] = w1;
    }
  } else {
    __shared__ TopkShared sh;
    uint32_t theta;
    int tie_cut;
    select_topk(row, v, top_k, sh, theta, tie_cut);
    if (threadIdx.x < 32) {  // the three sums over the k selected logits (accurate expf: few terms)
      float s1 = 0.f, sk = 0.f, sik = 0.f;
      for (int j = threadIdx.x; j < top_k; j += 32) {
        const float d = sh.val[j] * inv_t - a.m;
        s1 += expf(d);
        sk += expf(k * d);
        sik += expf(inv_k * d);
      }
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) {
        s1 += __shfl_xor_sync(kFull, s1, off);
        sk += __shfl_xor_sync(kFull, sk, off);
        sik += __shfl_xor_sync(kFull, sik, off);
      }
      if (threadIdx.x == 0) {
        w0.y = valid ? E::to_float(row[y]) * inv_t : NAN;
        bool in_set = false;
        if (valid) {
          const uint32_t ky = E::key(row[y]);
          in_set = ky > theta || (ky == theta && y <= tie_cut);
        } else {
          in_set = true;  // NaN log-prob rather than the sentinel: the token id itself is bad
        }
        w0.z = logf(s1);
        w0.w = logf(sk);
        w1.x = logf(sik);
        w1.y = in_set ? 1.f : 0.f;
        entropy[r] = logf(a.s1) - a.t / a.s1;
        ws[2 * r] = w0;
        ws[2 * r + 1] = w1;
      }
    }
  }
}

struct SegParams {
  double top_fraction;
  float omega_low, omega_high, k, inv_k;
  bool reference_test, rescale;
};

__device__ double block_sum(double x, double* red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) x += __shfl_down_sync(kFull, x, off);
  if (lane == 0) red[warp] = x;
  __syncthreads();
  if (warp == 0) {
    x = lane < int(blockDim.x >> 5) ? red[lane] : 0.0;
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) x += __shfl_down_sync(kFull, x, off);
    if (lane == 0) red[0] = x;
  }
  __syncthreads();
  return red[0];
}

// One block per response: H_resp = mean of its top max(1, floor(f L)) token entropies (exact, by
// radix selection of the K-th largest), then per token the scale c, the log-prob under c z and the
// (rescaled) advantage.
__global__ void __launch_bounds__(kSegBlock)
segment_kernel(int64_t n, const int32_t* __restrict__ offsets, const float* __restrict__ adv,
               const float* __restrict__ entropy, const float4* __restrict__ ws, SegParams p,
               float* __restrict__ log_probs, float* __restrict__ scale,
               float* __restrict__ adv_out, float* __restrict__ resp_entropy) {
  __shared__ RadixShared rs;
  __shared__ double red[32];
  const int64_t b = blockIdx.x;
  // Clamped so that unvalidated offsets cannot index outside [0, n).
  const int64_t lo = min(max(int64_t(offsets[b]), int64_t(0)), n);
  const int64_t hi = min(max(int64_t(offsets[b + 1]), lo), n);
  const int len = int(hi - lo);
  if (len == 0) {  // an empty response: nothing to scale
    if (threadIdx.x == 0) resp_entropy[b] = 0.f;
    return;
  }
  const int kk = max(1, int(floor(p.top_fraction * double(len))));
  const float* h = entropy + lo;
  uint32_t theta;
  int quota;
  radix_kth<32>(len, kk, [h](int i) { return f32_key(h[i]); }, rs, theta, quota);
  double s = 0.0;
  for (int i = threadIdx.x; i < len; i += kSegBlock)
    if (f32_key(h[i]) > theta) s += h[i];
  s = block_sum(s, red);
  const float hr = float((s + double(quota) * double(f32_from_key(theta))) / double(kk));
  if (threadIdx.x == 0) resp_entropy[b] = hr;

  const bool low = hr < p.omega_low, high = hr > p.omega_high;  // NaN: neither
  const bool first_positive = adv[lo] > 0.f;  // era-spec §2.5: float test on the first token
  for (int64_t t = lo + threadIdx.x; t < hi; t += kSegBlock) {
    const float a = adv[t];
    // era-spec §2.4: the released code truncates A to int64, so its test is A >= 1.
    const bool pass = p.reference_test ? a >= 1.f : a > 0.f;
    const int sel = (low && pass) ? 1 : (high && pass) ? 2 : 0;
    const float c = sel == 1 ? p.k : sel == 2 ? p.inv_k : 1.f;
    const float4 w0 = ws[2 * t], w1 = ws[2 * t + 1];
    const float log_s = sel == 0 ? w0.z : sel == 1 ? w0.w : w1.x;
    const bool in_set = w1.y != 0.f;
    log_probs[t] = in_set ? c * (w0.y - w0.x) - log_s : kSentinel;
    scale[t] = c;
    float out = a;
    if (p.rescale && first_positive) {
      if (low) out = a / p.k;
      else if (high) out = a * p.k;
    }
    adv_out[t] = out;
  }
}

// A float reduced over the block, returned to every thread. The trailing barrier lets the caller
// reuse `red` at once.
template <class Op>
__device__ float block_reduce(float x, float* red, float identity, Op op) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) x = op(x, __shfl_xor_sync(kFull, x, off));
  if (lane == 0) red[warp] = x;
  __syncthreads();
  x = lane < int(blockDim.x >> 5) ? red[lane] : identity;
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) x = op(x, __shfl_xor_sync(kFull, x, off));
  __syncthreads();
  return x;
}

// When the sampled token's own logit is −inf, logp is −inf and e^(logp + c (z_v - z_y)) would be
// e^(−inf + inf) = NaN, though the gradient c g / T (onehot(y) - q) is finite. Such rows (a token
// sampled outside a mask: rare, and block-uniform) take the softmax from the values themselves: on
// return q_v = 2^((z_v - anchor) a + b) with anchor = max z and b = -log2 sum 2^((z - anchor) a).
// Every read of the values happens before the last barrier inside, so an in-place caller may
// write afterwards. NaN values make b NaN (the row's gradient is NaN, as its log-prob is).
template <class ValueAt>
__device__ void softmax_from_values(int n, ValueAt value_at, float a, float& anchor, float& b) {
  __shared__ float red[32];
  float m = -INFINITY;
  for (int i = threadIdx.x; i < n; i += blockDim.x) m = fmaxf(m, value_at(i));
  m = block_reduce(m, red, -INFINITY, [](float p, float q) { return fmaxf(p, q); });
  float s = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) s += exp2f((value_at(i) - m) * a);
  s = block_reduce(s, red, 0.f, [](float p, float q) { return p + q; });
  anchor = m;
  b = -log2f(s);
}

// Full-vocabulary backward: grad = c g / T (onehot(y) - q) with q_v = e^(logp + c (z_v - z_y)),
// one read and one write per element. No __restrict__: grad may be logits (in place); every element
// is read before the same thread writes it, and the token's logit is read before a barrier.
// Streaming hints: the row is not touched again.
template <typename T>
__global__ void __launch_bounds__(kRowBlock, 2)
row_backward_kernel(const T* logits, T* grad, int v, const int32_t* __restrict__ tokens,
                    const float* __restrict__ g, const float* __restrict__ scale,
                    const float* __restrict__ log_probs, float inv_t, bool vec) {
  using E = Elem<T>;
  using Raw = typename E::Raw;
  constexpr int W = E::kVec;
  constexpr int U = 2;
  const int64_t r = blockIdx.x;
  const T* row = logits + r * int64_t(v);
  T* out = grad + r * int64_t(v);
  const float c = scale[r], lp = log_probs[r];
  const int y = tokens[r];
  const bool valid = y >= 0 && y < v;
  const float xy = valid ? E::to_float(row[y]) : 0.f;
  __syncthreads();  // everyone has x_y before its owner may overwrite it
  // An out-of-range token (validation off) poisons its row instead of reading out of bounds.
  const float coef = valid ? c * g[r] * inv_t : NAN;
  const float gy = -coef * expm1f(lp);  // coef (1 - q_y)
  const float a = c * inv_t * kLog2e;  // q = 2^((x - anchor) a + b)
  float anchor = xy, b = lp * kLog2e;
  if (xy == -INFINITY)
    softmax_from_values(v, [&](int i) { return E::to_float(row[i]); }, a, anchor, b);
  auto grad_at = [&](int i, float x) { return i == y ? gy : -coef * ex2(fmaf(x - anchor, a, b)); };

  // The vector body reads the row and writes the output at the same element offsets, so both
  // must reach a 16-byte boundary at the same element: `vec` (the same for every row, whose
  // stride is shared) says they do; otherwise the whole row takes the scalar loop.
  const int head = vec ? row_head(row, v) : v;
  for (int i = threadIdx.x; i < head; i += kRowBlock)
    out[i] = E::from_float(grad_at(i, E::to_float(__ldcs(row + i))));
  const Raw* in_body = reinterpret_cast<const Raw*>(row + head);
  Raw* out_body = reinterpret_cast<Raw*>(out + head);
  const int nvec = (v - head) / W;
  int i = threadIdx.x;
  for (; i + (U - 1) * kRowBlock < nvec; i += U * kRowBlock) {
    Raw w[U];
#pragma unroll
    for (int u = 0; u < U; ++u) w[u] = __ldcs(in_body + i + u * kRowBlock);
#pragma unroll
    for (int u = 0; u < U; ++u) {
      float x[W];
      E::unpack(w[u], x);
      const int e0 = head + (i + u * kRowBlock) * W;
#pragma unroll
      for (int j = 0; j < W; ++j) x[j] = grad_at(e0 + j, x[j]);
      __stcs(out_body + i + u * kRowBlock, E::pack(x));
    }
  }
  for (; i < nvec; i += kRowBlock) {
    float x[W];
    E::unpack(__ldcs(in_body + i), x);
    const int e0 = head + i * W;
#pragma unroll
    for (int j = 0; j < W; ++j) x[j] = grad_at(e0 + j, x[j]);
    __stcs(out_body + i, E::pack(x));
  }
  for (int j = head + nvec * W + threadIdx.x; j < v; j += kRowBlock)
    out[j] = E::from_float(grad_at(j, E::to_float(__ldcs(row + j))));
}

template <typename T>
__device__ void row_fill(T* out, int v, float value) {
  using E = Elem<T>;
  using Raw = typename E::Raw;
  constexpr int W = E::kVec;
  const int head = row_head(out, v);
  const T s = E::from_float(value);
  float xs[W];
#pragma unroll
  for (int j = 0; j < W; ++j) xs[j] = value;
  const Raw vec = E::pack(xs);
  for (int i = threadIdx.x; i < head; i += blockDim.x) out[i] = s;
  Raw* body = reinterpret_cast<Raw*>(out + head);
  const int nvec = (v - head) / W;
  for (int i = threadIdx.x; i < nvec; i += blockDim.x) __stcs(body + i, vec);
  for (int j = head + nvec * W + threadIdx.x; j < v; j += blockDim.x) out[j] = s;
}

// Top-k backward: the gradient lives on the row's top-k set only (zero elsewhere, and a zero row
// when the token is outside the set: the reference's sentinel). The set is found again by the same
// radix selection as in the forward, so both agree on ties.
template <typename T>
__global__ void __launch_bounds__(kRowBlock)
row_backward_topk_kernel(const T* logits, T* grad, int v, const int32_t* __restrict__ tokens,
                         const float* __restrict__ g, const float* __restrict__ scale,
                         const float* __restrict__ log_probs, float inv_t, int top_k) {
  using E = Elem<T>;
  __shared__ TopkShared sh;
  const int64_t r = blockIdx.x;
  const T* row = logits + r * int64_t(v);
  T* out = grad + r * int64_t(v);
  const int y = tokens[r];
  const bool valid = y >= 0 && y < v;  // block-uniform
  uint32_t theta = 0, ky = 0;
  int tie_cut = -1;
  float xy = 0.f;
  if (valid) {
    select_topk(row, v, top_k, sh, theta, tie_cut);
    const T raw_y = row[y];
    xy = E::to_float(raw_y);
    ky = E::key(raw_y);
  }
  const bool inside = valid && (ky > theta || (ky == theta && y <= tie_cut));
  const float c = scale[r], lp = log_probs[r];
  const float a = c * inv_t * kLog2e;  // q = 2^((x - anchor) a + b) over the set
  float anchor = xy, b = lp * kLog2e;
  if (inside && xy == -INFINITY)  // a −inf token inside the set (fewer than k finite logits)
    softmax_from_values(top_k, [&](int j) { return sh.val[j]; }, a, anchor, b);
  __syncthreads();  // every read of the row is done before the first write (in place)
  row_fill(out, v, valid ? 0.f : NAN);
  __syncthreads();  // the zeros land before the set's values
  if (inside) {
    const float coef = c * g[r] * inv_t;
    for (int j = threadIdx.x; j < top_k; j += kRowBlock) {
      const int idx = sh.idx[j];
      const float q = exp2f(fmaf(sh.val[j] - anchor, a, b));
      out[idx] = E::from_float(idx == y ? -coef * expm1f(lp) : -coef * q);
    }
  }
}

__global__ void validate_kernel(const int32_t* __restrict__ tokens, int64_t n, int64_t v,
                                const int32_t* __restrict__ offsets, int64_t r, uint32_t* flags) {
  const int64_t count = offsets ? n + r + 1 : n;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count;
       i += int64_t(gridDim.x) * blockDim.x) {
    if (i < n) {
      const int32_t y = tokens[i];
      if (y < 0 || y >= v) atomicMin(&flags[0], uint32_t(i));
    } else {
      const int64_t j = i - n;
      const int64_t o = offsets[j];
      const bool bad = o < 0 || o > n || (j == 0 && o != 0) || (j == r && o != n) ||
                       (j > 0 && offsets[j - 1] > o);
      if (bad) atomicMin(&flags[1], uint32_t(j));
    }
  }
}

template <typename T, bool kTwo, bool kTopK>
void launch_rows(const void* logits, int64_t n, int v, const int32_t* tokens, float inv_t,
                 KConsts kc, float k, float inv_k, int top_k, float* entropy, float4* ws,
                 cudaStream_t s) {
  row_forward_kernel<T, kTwo, kTopK><<<unsigned(n), kRowBlock, 0, s>>>(
      static_cast<const T*>(logits), v, tokens, inv_t, kc, k, inv_k, top_k, entropy, ws);
}

template <typename T>
void launch_rows(const void* logits, int64_t n, int v, const int32_t* tokens, float inv_t,
                 KConsts kc, float k, float inv_k, int top_k, bool two, float* entropy,
                 float4* ws, cudaStream_t s) {
  if (two) {
    if (top_k > 0) launch_rows<T, true, true>(logits, n, v, tokens, inv_t, kc, k, inv_k, top_k, entropy, ws, s);
    else launch_rows<T, true, false>(logits, n, v, tokens, inv_t, kc, k, inv_k, top_k, entropy, ws, s);
  } else {
    if (top_k > 0) launch_rows<T, false, true>(logits, n, v, tokens, inv_t, kc, k, inv_k, top_k, entropy, ws, s);
    else launch_rows<T, false, false>(logits, n, v, tokens, inv_t, kc, k, inv_k, top_k, entropy, ws, s);
  }
}

template <typename T>
void launch_backward(const void* logits, void* grad, int64_t n, int v, const int32_t* tokens,
                     const float* g, const float* scale, const float* log_probs, float inv_t,
                     int top_k, cudaStream_t s) {
  if (top_k > 0)
    row_backward_topk_kernel<T><<<unsigned(n), kRowBlock, 0, s>>>(
        static_cast<const T*>(logits), static_cast<T*>(grad), v, tokens, g, scale, log_probs,
        inv_t, top_k);
  else
    row_backward_kernel<T><<<unsigned(n), kRowBlock, 0, s>>>(
        static_cast<const T*>(logits), static_cast<T*>(grad), v, tokens, g, scale, log_probs,
        inv_t, ((reinterpret_cast<uintptr_t>(logits) - reinterpret_cast<uintptr_t>(grad)) & 15) == 0);
}

}  // namespace

void era_logits_validate(const int32_t* tokens, int64_t n, int64_t v, const int32_t* offsets,
                         int64_t r, uint32_t* flags, void* stream) {
  cudaStream_t s = as_stream(stream);
  cudaMemsetAsync(flags, 0xff, 2 * sizeof(uint32_t), s);
  validate_kernel<<<grid_for(offsets ? n + r + 1 : n), kBlock, 0, s>>>(tokens, n, v, offsets, r,
                                                                      flags);
}

void era_logits_forward(const void* logits, bool bf16, int64_t n, int64_t v,
                        const int32_t* tokens, const int32_t* offsets, int64_t r,
                        const float* advantages, float* log_probs, float* entropy,
                        float* response_entropy, float* scale, float* advantages_out,
                        float* workspace, const EraLogitsParams& p, void* stream) {
  cudaStream_t s = as_stream(stream);
  float4* ws = reinterpret_cast<float4*>(workspace);
  const float inv_t = float(1.0 / p.temperature);
  const KConsts kc{float(p.k * 1.4426950408889634), float(1.4426950408889634 / p.k)};
  const bool two = p.k == 2.0;
  if (n > 0) {
    if (bf16)
      launch_rows<uint16_t>(logits, n, int(v), tokens, inv_t, kc, float(p.k), float(1.0 / p.k),
                            p.top_k, two, entropy, ws, s);
    else
      launch_rows<float>(logits, n, int(v), tokens, inv_t, kc, float(p.k), float(1.0 / p.k),
                         p.top_k, two, entropy, ws, s);
  }
  if (r > 0) {
    SegParams sp{p.top_fraction, float(p.omega_low), float(p.omega_high), float(p.k),
                 float(1.0 / p.k), p.reference_test, p.rescale_advantages};
    segment_kernel<<<unsigned(r), kSegBlock, 0, s>>>(n, offsets, advantages, entropy, ws, sp,
                                                      log_probs, scale, advantages_out,
                                                      response_entropy);
  }
}

void era_logits_backward(const void* logits, void* grad, bool bf16, int64_t n, int64_t v,
                         const int32_t* tokens, const float* grad_log_probs, const float* scale,
                         const float* log_probs, double temperature, int top_k, void* stream) {
  if (n == 0) return;
  cudaStream_t s = as_stream(stream);
  const float inv_t = float(1.0 / temperature);
  if (bf16)
    launch_backward<uint16_t>(logits, grad, n, int(v), tokens, grad_log_probs, scale, log_probs,
                              inv_t, top_k, s);
  else
    launch_backward<float>(logits, grad, n, int(v), tokens, grad_log_probs, scale, log_probs,
                           inv_t, top_k, s);
}

}  // namespace era::cuda

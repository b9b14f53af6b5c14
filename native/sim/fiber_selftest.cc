// Standalone check of the simulator's thread model (fiber.cc) and warp emulation (cuda_sim.h,
// warp_matrix.h). The kernels below are CUDA written for the simulator: this file is compiled as
// C++ with cuda_sim.h force-included, exactly like the rewritten native/cuda sources, so
// `__global__`, `__shared__`, the built-in variables and the intrinsics are the simulator's.
// Build (what the era_fiber_sim_selftest target does):
//   g++ -std=c++17 -O2 -Inative -Inative/cuda -I/usr/local/cuda/include
//       -include native/sim/cuda_sim.h native/sim/fiber_selftest.cc native/sim/fiber.cc
//       native/sim/cudart_sim.cc -o /tmp/fs && /tmp/fs
// Prints every check, then a PASS/FAIL line; exits nonzero on failure. Expected values are
// computed on the host from the CUDA/PTX definitions, never from the simulator's own code.
// The deadlock checks below make the simulator print "era-sim: ... deadlocked" lines, and the
// alignment check a "misaligned" one, to stderr: those lines are expected.
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <utility>
#include <vector>

namespace {

int g_checks = 0;
int g_failed = 0;

__attribute__((format(printf, 2, 3))) void check(bool ok, const char* fmt, ...) {
  ++g_checks;
  if (!ok) ++g_failed;
  std::printf("  %s ", ok ? "ok  " : "FAIL");
  va_list ap;
  va_start(ap, fmt);
  std::vprintf(fmt, ap);
  va_end(ap);
  std::printf("\n");
}

// kernel<<<grid, block, smem>>>(args) on the legacy stream; returns the launch's error (the
// last error, which this consumes so that every launch is judged on its own).
template <class... P, class... A>
cudaError_t launch(dim3 grid, dim3 block, size_t smem, const char* name, void (*kernel)(P...), A&&... args) {
  cudaGetLastError();
  era_sim::launch(era_sim::LaunchConfig(grid, block, smem, nullptr), name, kernel, std::forward<A>(args)...);
  return cudaGetLastError();
}

float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace

// ================================================================================================
// 1. threadIdx / blockIdx / blockDim / gridDim
// ================================================================================================

struct IdRecord {
  uint3 t{}, b{};
  dim3 bd{0, 0, 0}, gd{0, 0, 0};
  int lane = -1;
  int hits = 0;
  int same_after_barriers = 0;  // threadIdx and blockIdx read back the same after __syncthreads/__syncwarp
};

__global__ void k_ids(IdRecord* out) {
  const unsigned nthreads = blockDim.x * blockDim.y * blockDim.z;
  const unsigned block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  const unsigned tid = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  IdRecord& r = out[block * nthreads + tid];
  const uint3 t0 = threadIdx, b0 = blockIdx;
  r.t = threadIdx;
  r.b = blockIdx;
  r.bd = blockDim;
  r.gd = gridDim;
  r.lane = era_sim::lane_id();
  ++r.hits;
  __syncthreads();
  const bool same1 = t0.x == threadIdx.x && t0.y == threadIdx.y && t0.z == threadIdx.z && b0.x == blockIdx.x &&
                     b0.y == blockIdx.y && b0.z == blockIdx.z;
  __syncwarp();
  const bool same2 = t0.x == threadIdx.x && t0.y == threadIdx.y && t0.z == threadIdx.z;
  r.same_after_barriers = same1 && same2;
}

namespace {

void test_ids() {
  std::printf("built-in variables\n");
  struct Case {
    dim3 grid, block;
  };
  const Case cases[] = {
      {dim3(3, 2, 2), dim3(4, 3, 2)},   // 24 threads: one partial warp
      {dim3(2, 3, 1), dim3(48, 1, 1)},  // a full warp and a partial one (16 lanes)
      {dim3(1, 1, 2), dim3(8, 8, 4)},   // 256 threads, 3-D block
      {dim3(5, 1, 3), dim3(1, 1, 1)},   // single-thread blocks
      {dim3(1, 2, 1), dim3(33, 1, 31)}, // 1023 threads, warps straddle rows
  };
  for (const Case& c : cases) {
    const unsigned nb = c.grid.x * c.grid.y * c.grid.z, nt = c.block.x * c.block.y * c.block.z;
    std::vector<IdRecord> rec(static_cast<size_t>(nb) * nt);
    const cudaError_t e = launch(c.grid, c.block, 0, "k_ids", k_ids, rec.data());
    int bad_hits = 0, bad_ids = 0, bad_dims = 0, bad_lane = 0, bad_after = 0;
    for (unsigned bz = 0; bz < c.grid.z; ++bz)
      for (unsigned by = 0; by < c.grid.y; ++by)
        for (unsigned bx = 0; bx < c.grid.x; ++bx)
          for (unsigned tz = 0; tz < c.block.z; ++tz)
            for (unsigned ty = 0; ty < c.block.y; ++ty)
              for (unsigned tx = 0; tx < c.block.x; ++tx) {
                const unsigned block = (bz * c.grid.y + by) * c.grid.x + bx;
                const unsigned tid = (tz * c.block.y + ty) * c.block.x + tx;
                const IdRecord& r = rec[static_cast<size_t>(block) * nt + tid];
                bad_hits += r.hits != 1;
                bad_ids += !(r.t.x == tx && r.t.y == ty && r.t.z == tz && r.b.x == bx && r.b.y == by && r.b.z == bz);
                bad_dims += !(r.bd.x == c.block.x && r.bd.y == c.block.y && r.bd.z == c.block.z &&
                              r.gd.x == c.grid.x && r.gd.y == c.grid.y && r.gd.z == c.grid.z);
                bad_lane += r.lane != static_cast<int>(tid % 32);
                bad_after += r.same_after_barriers != 1;
              }
    check(e == cudaSuccess && bad_hits == 0 && bad_ids == 0 && bad_dims == 0 && bad_lane == 0 && bad_after == 0,
          "grid (%u,%u,%u) block (%u,%u,%u): every thread once with its own indices (%s; wrong: %d hits, "
          "%d ids, %d dims, %d lanes, %d changed across barriers)",
          c.grid.x, c.grid.y, c.grid.z, c.block.x, c.block.y, c.block.z, cudaGetErrorName(e), bad_hits, bad_ids,
          bad_dims, bad_lane, bad_after);
  }
  check(warpSize == 32, "warpSize is 32");
}

}  // namespace

// ================================================================================================
// 2. __syncthreads phases
// ================================================================================================

// Tree reduction in a static __shared__ array over a block of any size up to 1024. Without
// working barriers the first fiber would run through every level before the others wrote their
// slots, and the sum would be wrong.
__global__ void k_static_reduce(const int* in, int* out) {
  __shared__ int sh[1024];
  const int tid = threadIdx.x, n = blockDim.x;
  sh[tid] = in[blockIdx.x * n + tid];
  __syncthreads();
  int p = 1;
  while (p < n) p <<= 1;
  for (int s = p / 2; s > 0; s >>= 1) {
    if (tid < s && tid + s < n) sh[tid] += sh[tid + s];
    __syncthreads();
  }
  if (tid == 0) out[blockIdx.x] = sh[0];
}

// The same with dynamic shared memory (what `extern __shared__ int sh[];` becomes).
__global__ void k_dynamic_reduce(const int* in, int* out, uintptr_t* where) {
  int* sh = static_cast<int*>(era_sim::dynamic_shared());
  const int tid = threadIdx.x, n = blockDim.x;
  where[blockIdx.x * n + tid] = reinterpret_cast<uintptr_t>(sh);
  sh[tid] = in[blockIdx.x * n + tid];
  __syncthreads();
  int p = 1;
  while (p < n) p <<= 1;
  for (int s = p / 2; s > 0; s >>= 1) {
    if (tid < s && tid + s < n) sh[tid] += sh[tid + s];
    __syncthreads();
  }
  if (tid == 0) out[blockIdx.x] = sh[0];
}

// Threads at or past `active` return at once; the rest reduce with __syncthreads.
__global__ void k_early_return(const int* in, int* out, int active) {
  __shared__ int sh[1024];
  const int tid = threadIdx.x;
  if (tid >= active) return;
  sh[tid] = in[tid];
  __syncthreads();
  for (int s = 512; s > 0; s >>= 1) {
    if (tid < s && tid + s < active) sh[tid] += sh[tid + s];
    __syncthreads();
  }
  if (tid == 0) out[0] = sh[0];
}

// At every level the upper half returns while the lower half goes on to the next __syncthreads.
__global__ void k_shrinking(const int* in, int* out) {
  __shared__ int sh[1024];
  const int tid = threadIdx.x;
  sh[tid] = in[tid];
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (tid >= s) return;
    sh[tid] += sh[tid + s];
    __syncthreads();
  }
  out[0] = sh[0];
}

// Phases that each read what a neighbour wrote in the previous one (a barrier that does not wait
// shows up as a stale value).
__global__ void k_phases(int* out, int phases) {
  __shared__ int sh[2][1024];
  const int tid = threadIdx.x, n = blockDim.x;
  sh[0][tid] = tid;
  __syncthreads();
  for (int p = 0; p < phases; ++p) {
    const int src = p & 1;
    sh[src ^ 1][tid] = sh[src][(tid + 1) % n] + 1;
    __syncthreads();
  }
  out[tid] = sh[phases & 1][tid];
}

namespace {

std::vector<int> test_input(size_t n, int seed) {
  std::vector<int> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<int>((i * 7919 + seed * 104729) % 2001) - 1000;
  return v;
}

void test_barriers() {
  std::printf("__syncthreads\n");
  for (int n : {256, 1000, 1024}) {
    const int blocks = 3;
    const std::vector<int> in = test_input(static_cast<size_t>(n) * blocks, n);
    std::vector<int> out(blocks, 0), want(blocks, 0);
    for (int b = 0; b < blocks; ++b)
      for (int i = 0; i < n; ++i) want[b] += in[b * n + i];
    cudaError_t e = launch(dim3(blocks), dim3(n), 0, "k_static_reduce", k_static_reduce, in.data(), out.data());
    check(e == cudaSuccess && out == want, "static __shared__ tree reduction, %d blocks of %d threads (%s)", blocks,
          n, cudaGetErrorName(e));

    std::vector<int> dout(blocks, 0);
    std::vector<uintptr_t> where(static_cast<size_t>(n) * blocks, 0);
    e = launch(dim3(blocks), dim3(n), n * sizeof(int), "k_dynamic_reduce", k_dynamic_reduce, in.data(), dout.data(),
               where.data());
    bool one_address = true;
    for (uintptr_t w : where) one_address = one_address && w == where[0];
    check(e == cudaSuccess && dout == want, "dynamic shared memory tree reduction, %d blocks of %d threads (%s)",
          blocks, n, cudaGetErrorName(e));
    check(one_address && where[0] != 0 && where[0] % 128 == 0,
          "dynamic shared memory: one 128-byte aligned address for every thread (%#" PRIxPTR ")", where[0]);
  }

  for (int active : {1, 100, 255}) {
    const std::vector<int> in = test_input(256, active);
    int want = 0;
    for (int i = 0; i < active; ++i) want += in[i];
    int out = -1;
    const cudaError_t e = launch(dim3(1), dim3(256), 0, "k_early_return", k_early_return, in.data(), &out, active);
    check(e == cudaSuccess && out == want,
          "%d of 256 threads return at once, the rest reduce with __syncthreads (%s, got %d, want %d)", 256 - active,
          cudaGetErrorName(e), out, want);
  }
  for (int n : {64, 512, 1024}) {
    const std::vector<int> in = test_input(n, 3);
    int want = 0;
    for (int i = 0; i < n; ++i) want += in[i];
    int out = -1;
    const cudaError_t e = launch(dim3(1), dim3(n), 0, "k_shrinking", k_shrinking, in.data(), &out);
    check(e == cudaSuccess && out == want,
          "block of %d: the upper half returns at each level while the lower half keeps using "
          "__syncthreads (%s, got %d, want %d)",
          n, cudaGetErrorName(e), out, want);
  }
  {
    const int n = 200, phases = 37;
    std::vector<int> out(n, -1);
    const cudaError_t e = launch(dim3(1), dim3(n), 0, "k_phases", k_phases, out.data(), phases);
    int bad = 0;
    for (int t = 0; t < n; ++t) bad += out[t] != (t + phases) % n + phases;
    check(e == cudaSuccess && bad == 0, "%d neighbour-exchange phases over %d threads (%s, %d wrong)", phases, n,
          cudaGetErrorName(e), bad);
  }
}

}  // namespace

// ================================================================================================
// 3. block and warp collectives
// ================================================================================================

__global__ void k_syncthreads_count(int* out, int exit_from) {
  const int tid = threadIdx.x;
  if (tid >= exit_from) return;
  const int a = __syncthreads_count(tid % 3 == 0);
  const int b = __syncthreads_count(tid < 5);
  const int c = __syncthreads_count(7);  // any non-zero predicate counts once
  const int d = __syncthreads_count(0);
  out[4 * tid + 0] = a;
  out[4 * tid + 1] = b;
  out[4 * tid + 2] = c;
  out[4 * tid + 3] = d;
}

// Each shuffle form, every thread of a 64-thread block (two warps). `v` differs per thread.
enum ShflOp { kXor, kDown, kUp, kIdx };

__global__ void k_shfl_int(int* out, int op, int arg, int width) {
  const int tid = threadIdx.x;
  const int v = tid * 37 + 11;
  int r = 0;
  switch (op) {
    case kXor: r = __shfl_xor_sync(0xffffffffu, v, arg, width); break;
    case kDown: r = __shfl_down_sync(0xffffffffu, v, static_cast<unsigned>(arg), width); break;
    case kUp: r = __shfl_up_sync(0xffffffffu, v, static_cast<unsigned>(arg), width); break;
    case kIdx: r = __shfl_sync(0xffffffffu, v, static_cast<int>(threadIdx.x % 32 * 5 + arg) % 32, width); break;
  }
  out[tid] = r;
}

// The other types the kernels shuffle: float, double, long long (a double is one slot, not two).
__global__ void k_shfl_types(float* of, double* od, long long* ol) {
  const int tid = threadIdx.x;
  of[tid] = __shfl_xor_sync(0xffffffffu, tid * 0.5f + 0.25f, 5);
  od[tid] = __shfl_down_sync(0xffffffffu, tid * 1e100 + 1.0 / 3.0, 3, 16);
  ol[tid] = __shfl_sync(0xffffffffu, (static_cast<long long>(tid) << 40) + 7, 31 - era_sim::lane_id());
}

// Full-warp butterfly sum, as warp_row.cuh does it.
__global__ void k_warp_sum(float* out) {
  float v = static_cast<float>(threadIdx.x);
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  out[threadIdx.x] = v;
}

// A sub-warp shuffle in divergent code: only lanes 0-15 shuffle, with their own mask.
__global__ void k_shfl_partial_mask(int* out) {
  const int lane = threadIdx.x;
  int v = lane * 3;
  if (lane < 16)
    for (int o = 8; o > 0; o >>= 1) v += __shfl_xor_sync(0x0000ffffu, v, o);
  out[lane] = v;
}

// A 48-thread block: warp 1 has 16 lanes and names them in its masks.
__global__ void k_partial_warp(int* out, unsigned* ballots) {
  const int tid = threadIdx.x, lane = tid % 32;
  const unsigned mask = tid < 32 ? 0xffffffffu : 0x0000ffffu;
  int v = tid;
  for (int o = 16; o > 0; o >>= 1)
    if (o < 16 || tid < 32) v += __shfl_xor_sync(mask, v, o);
  out[tid] = v;
  ballots[tid] = __ballot_sync(mask, lane % 3 == 0);
}

__global__ void k_ballot_match(unsigned* ballot, unsigned* m_int, unsigned* m_ll, unsigned* m_f, int* any, int* all) {
  const int tid = threadIdx.x, lane = tid % 32;
  ballot[tid] = __ballot_sync(0xffffffffu, (tid * 7) % 5 < 2);
  m_int[tid] = __match_any_sync(0xffffffffu, tid % 5);
  m_ll[tid] = __match_any_sync(0xffffffffu, static_cast<long long>(lane / 3) << 33);
  m_f[tid] = __match_any_sync(0xffffffffu, static_cast<float>(lane & 6));
  any[tid] = __any_sync(0xffffffffu, tid == 40) + 2 * __any_sync(0xffffffffu, 0);
  all[tid] = __all_sync(0xffffffffu, tid != 40) + 2 * __all_sync(0xffffffffu, 1);
}

// Convergent code with a partial mask: lanes 0-15 vote among themselves while lanes 16-31 go
// straight to __syncthreads. Legal CUDA (each caller is in the mask; every lane in the mask
// calls); all lanes meet again at the barrier.
__global__ void k_partial_ballot(unsigned* out) {
  const int lane = threadIdx.x;
  if (lane < 16) out[lane] = __ballot_sync(0x0000ffffu, lane & 1);
  __syncthreads();
}
__global__ void k_partial_match(unsigned* out) {
  const int lane = threadIdx.x;
  if (lane < 16) out[lane] = __match_any_sync(0x0000ffffu, lane / 4);
  __syncthreads();
}

// CUDA: "__shfl_xor_sync ... If width is less than warpSize then each group of width consecutive
// threads are able to access elements from earlier groups of threads, however if they attempt
// to access elements from later groups of threads their own value of var will be returned."
__global__ void k_shfl_xor_across_groups(int* out) {
  const int tid = threadIdx.x;
  out[tid] = __shfl_xor_sync(0xffffffffu, tid * 37 + 11, 16, 16);
}

// CUDA: "If srcLane is outside the range [0:width-1], the value returned corresponds to the value
// of var held by the srcLane modulo width (i.e. within the same subsection)"; PTX takes b[4:0].
// Warp 1 asks for lane - 1 (negative for lane 0); warp 0 asks for the same lanes as
// lane + 15, so that no lane of warp 0 can index below the simulator's exchange slots.
__global__ void k_shfl_negative_src(int* out) {
  const int tid = threadIdx.x, lane = tid % 32;
  const int src = tid < 32 ? lane + 15 : lane - 1;
  out[tid] = __shfl_sync(0xffffffffu, tid * 37 + 11, src, 16);
}

namespace {

// The source lane of shfl.sync as the PTX ISA defines it. CUDA's __shfl_*_sync(mask, v, b,
// width) passes c = ((32 - width) << 8) | clamp, clamp 0x1f (0 for .up):
//   segmask = c[12:8]; maxLane = (lane & segmask) | (clamp & ~segmask); minLane = lane & segmask
//   .up: j = lane - b, valid if j >= maxLane   .down: j = lane + b, valid if j <= maxLane
//   .bfly: j = lane ^ b, valid if j <= maxLane .idx: j = minLane | (b[4:0] & ~segmask), valid if j <= maxLane
//   an invalid j reads the caller's own value.
int ptx_shfl_src(int op, int lane, int b, int width) {
  const int segmask = (32 - width) & 0x1f;
  const int clamp = op == kUp ? 0 : 0x1f;
  const int max_lane = (lane & segmask) | (clamp & ~segmask);
  const int min_lane = lane & segmask;
  int j = lane;
  bool valid = false;
  switch (op) {
    case kUp: j = lane - b; valid = j >= max_lane; break;
    case kDown: j = lane + b; valid = j <= max_lane; break;
    case kXor: j = lane ^ b; valid = j <= max_lane; break;
    case kIdx: j = min_lane | (b & 0x1f & ~segmask); valid = j <= max_lane; break;
  }
  return valid ? j : lane;
}

const char* op_name(int op) {
  switch (op) {
    case kXor: return "__shfl_xor_sync";
    case kDown: return "__shfl_down_sync";
    case kUp: return "__shfl_up_sync";
    default: return "__shfl_sync";
  }
}

void test_collectives() {
  std::printf("__syncthreads_count\n");
  for (int exit_from : {200, 150, 1}) {
    std::vector<int> out(4 * 200, -1);
    const cudaError_t e = launch(dim3(1), dim3(200), 0, "k_syncthreads_count", k_syncthreads_count, out.data(), exit_from);
    int want_a = 0, want_b = 0;
    for (int t = 0; t < exit_from; ++t) {
      want_a += t % 3 == 0;
      want_b += t < 5;
    }
    int bad = 0;
    for (int t = 0; t < 200; ++t) {
      const int* o = &out[4 * t];
      if (t < exit_from) bad += o[0] != want_a || o[1] != want_b || o[2] != exit_from || o[3] != 0;
      else bad += o[0] != -1;
    }
    check(e == cudaSuccess && bad == 0,
          "four __syncthreads_count in a row, 200 threads of which %d return first (%s, %d threads wrong; want "
          "%d %d %d 0)",
          200 - exit_from, cudaGetErrorName(e), bad, want_a, want_b, exit_from);
  }

  std::printf("warp shuffles (64 threads, two warps)\n");
  struct Case {
    int op, arg, width;
  };
  std::vector<Case> cases;
  for (int w : {32, 16, 8}) {
    for (int m = 1; m < w; m <<= 1) cases.push_back({kXor, m, w});
    for (int d : {1, 2, 3, 4, 8, 16, 31}) {
      if (d >= w && d != 31) continue;
      cases.push_back({kDown, d, w});
      cases.push_back({kUp, d, w});
    }
    for (int a : {0, 3, 17}) cases.push_back({kIdx, a, w});  // src (5 lane + a) % 32: often >= width
  }
  for (const Case& c : cases) {
    std::vector<int> out(64, -1);
    const cudaError_t e = launch(dim3(1), dim3(64), 0, "k_shfl_int", k_shfl_int, out.data(), c.op, c.arg, c.width);
    int bad = 0;
    for (int tid = 0; tid < 64; ++tid) {
      const int lane = tid % 32, base = tid - lane;
      const int b = c.op == kIdx ? (lane * 5 + c.arg) % 32 : c.arg;
      bad += out[tid] != (base + ptx_shfl_src(c.op, lane, b, c.width)) * 37 + 11;
    }
    check(e == cudaSuccess && bad == 0, "%s %s %d width %d (%s, %d lanes wrong)", op_name(c.op),
          c.op == kIdx ? "src (5 lane +" : c.op == kXor ? "laneMask" : "delta", c.arg, c.width, cudaGetErrorName(e),
          bad);
  }
  {
    std::vector<float> of(64);
    std::vector<double> od(64);
    std::vector<long long> ol(64);
    const cudaError_t e = launch(dim3(1), dim3(64), 0, "k_shfl_types", k_shfl_types, of.data(), od.data(), ol.data());
    int bad = 0;
    for (int tid = 0; tid < 64; ++tid) {
      const int lane = tid % 32, base = tid - lane;
      const int sx = base + ptx_shfl_src(kXor, lane, 5, 32), sd = base + ptx_shfl_src(kDown, lane, 3, 16),
                si = base + ptx_shfl_src(kIdx, lane, 31 - lane, 32);
      bad += of[tid] != sx * 0.5f + 0.25f;
      bad += od[tid] != sd * 1e100 + 1.0 / 3.0;
      bad += ol[tid] != (static_cast<long long>(si) << 40) + 7;
    }
    check(e == cudaSuccess && bad == 0, "float, double and long long shuffles (%s, %d values wrong)",
          cudaGetErrorName(e), bad);
  }
  {
    std::vector<float> out(96, -1);
    const cudaError_t e = launch(dim3(1), dim3(96), 0, "k_warp_sum", k_warp_sum, out.data());
    int bad = 0;
    for (int tid = 0; tid < 96; ++tid) {
      const int w = tid / 32;
      bad += out[tid] != static_cast<float>(32 * 32 * w + 31 * 32 / 2);
    }
    check(e == cudaSuccess && bad == 0, "butterfly warp sum in each of 3 warps (%s, %d wrong)", cudaGetErrorName(e), bad);
  }
  {
    std::vector<int> out(32, -1);
    const cudaError_t e = launch(dim3(1), dim3(32), 0, "k_shfl_partial_mask", k_shfl_partial_mask, out.data());
    int bad = 0;
    for (int l = 0; l < 32; ++l) bad += out[l] != (l < 16 ? 3 * 120 : 3 * l);
    check(e == cudaSuccess && bad == 0, "lanes 0-15 alone shuffle with mask 0x0000ffff (%s, %d wrong)",
          cudaGetErrorName(e), bad);
  }
  {
    std::vector<int> out(48, -1);
    std::vector<unsigned> ballots(48, 0);
    const cudaError_t e = launch(dim3(1), dim3(48), 0, "k_partial_warp", k_partial_warp, out.data(), ballots.data());
    int bad = 0;
    for (int tid = 0; tid < 48; ++tid) {
      const bool w0 = tid < 32;
      bad += out[tid] != (w0 ? 31 * 32 / 2 : (32 + 47) * 16 / 2);
      unsigned want = 0;
      for (int l = 0; l < (w0 ? 32 : 16); ++l)
        if (l % 3 == 0) want |= 1u << l;
      bad += ballots[tid] != want;
    }
    check(e == cudaSuccess && bad == 0, "48-thread block: shuffles and __ballot_sync in the 16-lane warp (%s, %d wrong)",
          cudaGetErrorName(e), bad);
  }

  std::printf("votes and matches (64 threads)\n");
  {
    std::vector<unsigned> ballot(64), m_int(64), m_ll(64), m_f(64);
    std::vector<int> any(64), all(64);
    const cudaError_t e = launch(dim3(1), dim3(64), 0, "k_ballot_match", k_ballot_match, ballot.data(), m_int.data(),
                                 m_ll.data(), m_f.data(), any.data(), all.data());
    int bad_ballot = 0, bad_int = 0, bad_ll = 0, bad_f = 0, bad_vote = 0;
    for (int tid = 0; tid < 64; ++tid) {
      const int lane = tid % 32, base = tid - lane;
      unsigned wb = 0, wi = 0, wl = 0, wf = 0;
      for (int l = 0; l < 32; ++l) {
        if (((base + l) * 7) % 5 < 2) wb |= 1u << l;
        if ((base + l) % 5 == tid % 5) wi |= 1u << l;
        if (l / 3 == lane / 3) wl |= 1u << l;
        if ((l & 6) == (lane & 6)) wf |= 1u << l;
      }
      bad_ballot += ballot[tid] != wb;
      bad_int += m_int[tid] != wi;
      bad_ll += m_ll[tid] != wl;
      bad_f += m_f[tid] != wf;
      bad_vote += any[tid] != (base == 32 ? 1 : 0) || all[tid] != (base == 32 ? 2 : 3);
    }
    check(e == cudaSuccess && bad_ballot == 0, "__ballot_sync (%s, %d lanes wrong)", cudaGetErrorName(e), bad_ballot);
    check(e == cudaSuccess && bad_int == 0 && bad_ll == 0 && bad_f == 0,
          "__match_any_sync on int, long long, float (%d, %d, %d lanes wrong)", bad_int, bad_ll, bad_f);
    check(e == cudaSuccess && bad_vote == 0, "__any_sync and __all_sync (%d lanes wrong)", bad_vote);
  }

  std::printf("collectives with a partial mask, and shuffle edge cases of the CUDA definition\n");
  {
    std::vector<unsigned> out(32, 0xdeadbeefu);
    const cudaError_t e = launch(dim3(1), dim3(32), 0, "k_partial_ballot", k_partial_ballot, out.data());
    int bad = 0;
    for (int l = 0; l < 16; ++l) bad += out[l] != 0x0000aaaau;
    check(e == cudaSuccess && bad == 0,
          "__ballot_sync(0x0000ffff) by lanes 0-15 while lanes 16-31 wait at __syncthreads (%s, %d wrong)",
          cudaGetErrorName(e), bad);
  }
  {
    std::vector<unsigned> out(32, 0xdeadbeefu);
    const cudaError_t e = launch(dim3(1), dim3(32), 0, "k_partial_match", k_partial_match, out.data());
    int bad = 0;
    for (int l = 0; l < 16; ++l) bad += out[l] != 0xfu << (4 * (l / 4));
    check(e == cudaSuccess && bad == 0,
          "__match_any_sync(0x0000ffff) by lanes 0-15 while lanes 16-31 wait at __syncthreads (%s, %d wrong)",
          cudaGetErrorName(e), bad);
  }
  {
    std::vector<int> out(64, -1);
    const cudaError_t e = launch(dim3(1), dim3(64), 0, "k_shfl_xor_across_groups", k_shfl_xor_across_groups, out.data());
    int bad = 0;
    for (int tid = 0; tid < 64; ++tid) {
      const int lane = tid % 32, base = tid - lane;
      bad += out[tid] != (base + ptx_shfl_src(kXor, lane, 16, 16)) * 37 + 11;
    }
    check(e == cudaSuccess && bad == 0,
          "__shfl_xor_sync laneMask 16 width 16: lanes 16-31 read lanes 0-15 (an earlier group) (%s, %d wrong)",
          cudaGetErrorName(e), bad);
  }
  {
    std::vector<int> out(64, -1);
    const cudaError_t e = launch(dim3(1), dim3(64), 0, "k_shfl_negative_src", k_shfl_negative_src, out.data());
    int bad = 0;
    for (int tid = 0; tid < 64; ++tid) {
      const int lane = tid % 32, base = tid - lane;
      bad += out[tid] != (base + ptx_shfl_src(kIdx, lane, (lane + 15) & 31, 16)) * 37 + 11;
    }
    check(e == cudaSuccess && bad == 0, "__shfl_sync src lane - 1 width 16: src -1 (lane 0) reads lane 15 of its group (%s, %d wrong)",
          cudaGetErrorName(e), bad);
  }
}

}  // namespace

// ================================================================================================
// 4. ldmatrix and mma.sync, from shared memory as a GEMM feeds them
// ================================================================================================
//
// Layout facts relied on, from the PTX ISA (9.7.14.5.8 "Matrix Fragments for mma.m16n8k16 with
// floating point type", 9.7.14.5.7 "Matrix Fragments for mma.m16n8k8", and "ldmatrix"), with
// groupID g = lane >> 2 and threadID_in_group t = lane % 4:
//  - mma.m16n8k16 .bf16 A (16x16): a0..a7 in four .b32 registers, two per register, the
//    lower-numbered element in the low 16 bits ("Elements (low to high)"). row(a_i) = g for
//    i in {0,1,4,5}, g + 8 otherwise; col(a_i) = 2t + (i & 1), + 8 for i >= 4.
//  - mma.m16n8k16 .bf16 B (16x8): b0..b3 in two registers; row(b_i) = k = 2t + (i & 1), + 8
//    for i >= 2; col = n = g.
//  - mma.m16n8k8 .tf32 A (16x8): a0 (g, t), a1 (g + 8, t), a2 (g, t + 4), a3 (g + 8, t + 4).
//    B (8x8): b0 (k = t, n = g), b1 (k = t + 4, n = g).
//  - C/D (16x8, .f32, both shapes): c0, c1 at row g, c2, c3 at row g + 8; col 2t + (i & 1).
//  - ldmatrix .m8n8 .x4 .b16: threads 8j..8j+7 give the addresses of rows 0..7 of matrix j;
//    destination register j of thread i holds row i / 4, columns 2 (i % 4) and 2 (i % 4) + 1 of
//    matrix j ("a group of four threads loads an entire row"), the lower column in the low half.
//    .trans loads the matrix "in column-major format": the same thread receives elements
//    (row 2 (i % 4), col i / 4) and (row 2 (i % 4) + 1, col i / 4) of the matrix as stored.
// Consequences used below: A row-major read with ldmatrix.x4 where matrix j covers rows 8 (j % 2)..
// and columns 8 (j / 2).. gives exactly a0..a7; B stored as Bt[n][k] read non-transposed, and B
// stored as [k][n] read with .trans, give b0..b3 of two n-tiles (matrices 0, 1: n 0-7; 2, 3: n 8-15).

constexpr int kLd = 24;  // padded shared row stride in bf16 elements (48 bytes: 16-byte aligned rows)

struct Bf16Case {
  const uint16_t* a;  // A[m][k], 16 x 16 bf16 bit patterns
  const uint16_t* b;  // B[k][n], 16 x 16
  const float* c;     // C[m][n], 16 x 16
  int variant;        // bit 0: A stored as At[k][m], read with .trans; bit 1: B stored as [k][n], read
                      // with .trans (else Bt[n][k], non-trans); bit 2: no ldmatrix, fragments built
                      // in registers from the PTX formulas (checks the mma alone)
  uint32_t* a_frag;   // [32][4] what each lane held
  uint32_t* b_frag;   // [32][4]
  float* d;           // D[m][n], 16 x 16 = A B + C, two m16n8k16 tiles
};

__global__ void k_mma_bf16(Bf16Case p) {
  __shared__ __align__(16) uint16_t As[16 * kLd];
  __shared__ __align__(16) uint16_t Bs[16 * kLd];
  const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
  const bool a_trans = p.variant & 1, b_kn = p.variant & 2;
  for (int e = lane; e < 256; e += 32) {
    const int r = e / 16, c = e % 16;  // A[r][c] = (m, k); B[r][c] = (k, n)
    As[a_trans ? c * kLd + r : r * kLd + c] = p.a[e];
    Bs[b_kn ? r * kLd + c : c * kLd + r] = p.b[e];
  }
  __syncthreads();
  uint32_t a[4], q[4];
  if (p.variant & 4) {
    auto pack = [](uint16_t lo, uint16_t hi) { return static_cast<uint32_t>(lo) | static_cast<uint32_t>(hi) << 16; };
    for (int r = 0; r < 4; ++r) {  // register r holds a_{2r}, a_{2r+1}
      const int i = 2 * r, row = g + ((i < 2 || (i >= 4 && i < 6)) ? 0 : 8), col = 2 * t + (i >= 4 ? 8 : 0);
      a[r] = pack(p.a[row * 16 + col], p.a[row * 16 + col + 1]);
    }
    for (int j = 0; j < 2; ++j)
      for (int r = 0; r < 2; ++r) {  // register r of n-tile j holds b_{2r}, b_{2r+1}
        const int k = 2 * t + 8 * r, n = 8 * j + g;
        q[2 * j + r] = pack(p.b[k * 16 + n], p.b[(k + 1) * 16 + n]);
      }
  } else {
    const int mat = lane >> 3, r = lane & 7;
    if (!a_trans) era_sim::ldmatrix_x4(a, As + (lane & 15) * kLd + (lane >> 4) * 8, false);
    else era_sim::ldmatrix_x4(a, As + (r + (mat >> 1) * 8) * kLd + (mat & 1) * 8, true);  // At[k][m]
    if (!b_kn) era_sim::ldmatrix_x4(q, Bs + (r + (mat >> 1) * 8) * kLd + (mat & 1) * 8, false);  // Bt[n][k]
    else era_sim::ldmatrix_x4(q, Bs + (r + (mat & 1) * 8) * kLd + (mat >> 1) * 8, true);        // B[k][n]
  }
  float d0[4], d1[4];
  for (int i = 0; i < 4; ++i) {
    const int row = g + (i >= 2 ? 8 : 0), col = 2 * t + (i & 1);
    d0[i] = p.c[row * 16 + col];
    d1[i] = p.c[row * 16 + 8 + col];
  }
  const uint32_t b0[2] = {q[0], q[1]}, b1[2] = {q[2], q[3]};
  era_sim::mma_bf16_m16n8k16(d0, a, b0);
  era_sim::mma_bf16_m16n8k16(d1, a, b1);
  for (int i = 0; i < 4; ++i) {
    const int row = g + (i >= 2 ? 8 : 0), col = 2 * t + (i & 1);
    p.d[row * 16 + col] = d0[i];
    p.d[row * 16 + 8 + col] = d1[i];
    p.a_frag[lane * 4 + i] = a[i];
    p.b_frag[lane * 4 + i] = q[i];
  }
}

struct Tf32Case {
  const float* a;  // A[m][k], 16 x 8
  const float* b;  // B[k][n], 8 x 8
  const float* c;  // C[m][n], 16 x 8
  int b_nk;        // B stored in shared memory as Bt[n][k] (the GEMM's TB layout)
  float* d;        // 16 x 8
};

// The GEMM's tf32 path: operands read from shared memory one by one and rounded with
// cvt.rna.tf32.f32, placed by the PTX fragment formulas.
__global__ void k_mma_tf32(Tf32Case p) {
  constexpr int LA = 12, LB = 12;
  __shared__ float As[16 * LA];
  __shared__ float Bs[8 * LB];
  const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
  for (int e = lane; e < 128; e += 32) As[(e / 8) * LA + e % 8] = p.a[e];
  for (int e = lane; e < 64; e += 32) {
    const int k = e / 8, n = e % 8;
    Bs[p.b_nk ? n * LB + k : k * LB + n] = p.b[e];
  }
  __syncthreads();
  auto a_at = [&](int m, int k) { return As[m * LA + k]; };
  auto b_at = [&](int k, int n) { return p.b_nk ? Bs[n * LB + k] : Bs[k * LB + n]; };
  auto cvt = [](float f) { return era_sim::f32_to_tf32_rna(f); };
  const uint32_t a[4] = {cvt(a_at(g, t)), cvt(a_at(g + 8, t)), cvt(a_at(g, t + 4)), cvt(a_at(g + 8, t + 4))};
  const uint32_t b[2] = {cvt(b_at(t, g)), cvt(b_at(t + 4, g))};
  float d[4];
  for (int i = 0; i < 4; ++i) d[i] = p.c[(g + (i >= 2 ? 8 : 0)) * 8 + 2 * t + (i & 1)];
  era_sim::mma_tf32_m16n8k8(d, a, b);
  for (int i = 0; i < 4; ++i) p.d[(g + (i >= 2 ? 8 : 0)) * 8 + 2 * t + (i & 1)] = d[i];
}

namespace {

float bf16_value(uint16_t b) { return bits_float(static_cast<uint32_t>(b) << 16); }

// Round a normal float to tf32 (10 fraction bits), ties away from zero: an arithmetic model
// independent of the bit trick in warp_matrix.h.
double tf32_rna_model(float f) {
  if (f == 0 || !std::isfinite(f)) return f;
  int e;
  std::frexp(f, &e);  // |f| = m 2^e, m in [0.5, 1)
  return std::ldexp(std::round(std::ldexp(static_cast<double>(f), 11 - e)), e - 11);  // round(): ties away
}

void test_mma() {
  std::printf("ldmatrix + mma.sync (one warp)\n");
  std::mt19937 rng(12345);
  auto random_bf16 = [&] {  // exact bf16: random sign, exponent 2^-4 .. 2^3, 7 fraction bits
    const uint32_t sign = rng() & 1, exp = 123 + rng() % 8, frac = rng() & 0x7f;
    return static_cast<uint16_t>(sign << 15 | exp << 7 | frac);
  };
  std::vector<uint16_t> A(256), B(256);
  std::vector<float> C(256);
  for (auto& x : A) x = random_bf16();
  for (auto& x : B) x = random_bf16();
  for (auto& x : C) x = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 64.0f;
  const char* names[] = {"A ldmatrix.x4, Bt[n][k] ldmatrix.x4", "A^T ldmatrix.x4.trans, Bt[n][k] ldmatrix.x4",
                         "A ldmatrix.x4, B[k][n] ldmatrix.x4.trans", "A^T ldmatrix.x4.trans, B[k][n] ldmatrix.x4.trans",
                         "fragments built from the PTX formulas (no ldmatrix)"};
  for (int variant : {0, 1, 2, 3, 4}) {
    std::vector<uint32_t> af(128, 0), bf(128, 0);
    std::vector<float> D(256, std::numeric_limits<float>::quiet_NaN());
    const Bf16Case p{A.data(), B.data(), C.data(), variant, af.data(), bf.data(), D.data()};
    const cudaError_t e = launch(dim3(1), dim3(32), 0, "k_mma_bf16", k_mma_bf16, p);
    int bad_a = 0, bad_b = 0, bad_d = 0;
    double worst = 0;
    for (int lane = 0; lane < 32; ++lane) {
      const int g = lane / 4, t = lane % 4;
      for (int i = 0; i < 8; ++i) {  // a_i: register i / 2, half i % 2
        const int row = g + ((i < 2 || (i >= 4 && i < 6)) ? 0 : 8), col = 2 * t + (i & 1) + (i >= 4 ? 8 : 0);
        bad_a += static_cast<uint16_t>(af[lane * 4 + i / 2] >> (16 * (i & 1))) != A[row * 16 + col];
      }
      for (int j = 0; j < 2; ++j)
        for (int i = 0; i < 4; ++i) {  // b_i of n-tile j: register 2 j + i / 2, half i % 2
          const int k = 2 * t + (i & 1) + (i >= 2 ? 8 : 0), n = 8 * j + g;
          bad_b += static_cast<uint16_t>(bf[lane * 4 + 2 * j + i / 2] >> (16 * (i & 1))) != B[k * 16 + n];
        }
    }
    for (int m = 0; m < 16; ++m)
      for (int n = 0; n < 16; ++n) {
        double ref = C[m * 16 + n], mag = std::fabs(ref);
        for (int k = 0; k < 16; ++k) {
          const double prod = static_cast<double>(bf16_value(A[m * 16 + k])) * bf16_value(B[k * 16 + n]);
          ref += prod;
          mag += std::fabs(prod);
        }
        const double err = std::fabs(D[m * 16 + n] - ref) / std::max(mag, 1e-30);
        worst = std::max(worst, err);
        bad_d += !(err <= 1e-5);
      }
    if (variant != 4)
      check(e == cudaSuccess && bad_a == 0 && bad_b == 0,
            "bf16 %s: registers hold the PTX fragments (%s, %d A and %d B elements wrong)", names[variant],
            cudaGetErrorName(e), bad_a, bad_b);
    check(e == cudaSuccess && bad_d == 0, "bf16 m16n8k16 x2, %s: D = A B + C (%d of 256 wrong, worst rel. error %.2g)",
          names[variant], bad_d, worst);
  }

  std::printf("mma.sync tf32 (one warp)\n");
  std::vector<float> TA(128), TB(64), TC(128);
  std::uniform_real_distribution<float> uni(-2.0f, 2.0f);
  for (auto& x : TA) x = uni(rng);
  for (auto& x : TB) x = uni(rng);
  for (auto& x : TC) x = uni(rng);
  for (int b_nk : {0, 1}) {
    std::vector<float> D(128, std::numeric_limits<float>::quiet_NaN());
    const Tf32Case p{TA.data(), TB.data(), TC.data(), b_nk, D.data()};
    const cudaError_t e = launch(dim3(1), dim3(32), 0, "k_mma_tf32", k_mma_tf32, p);
    int bad = 0, unrounded = 0;
    double worst = 0;
    for (int m = 0; m < 16; ++m)
      for (int n = 0; n < 8; ++n) {
        double ref = TC[m * 8 + n], mag = std::fabs(ref), plain = ref;
        for (int k = 0; k < 8; ++k) {
          const double prod = tf32_rna_model(TA[m * 8 + k]) * tf32_rna_model(TB[k * 8 + n]);
          ref += prod;
          mag += std::fabs(prod);
          plain += static_cast<double>(TA[m * 8 + k]) * TB[k * 8 + n];
        }
        const double err = std::fabs(D[m * 8 + n] - ref) / std::max(mag, 1e-30);
        worst = std::max(worst, err);
        bad += !(err <= 1e-5);
        unrounded += std::fabs(plain - ref) / std::max(mag, 1e-30) > 1e-5;  // the test can see the rounding
      }
    check(e == cudaSuccess && bad == 0 && unrounded > 64,
          "tf32 m16n8k8 through cvt.rna.tf32.f32, B in shared as %s: D = A B + C (%d of 128 wrong, worst rel. "
          "error %.2g; %d of 128 would differ without the rounding)",
          b_nk ? "Bt[n][k]" : "B[k][n]", bad, worst, unrounded);
  }
  {
    // A NaN operand makes its row of D NaN (whatever NaN bits it has).
    std::vector<float> NA = TA;
    NA[3 * 8 + 5] = bits_float(0x7fc00000u);  // quiet NaN in row 3
    NA[9 * 8 + 2] = bits_float(0x7f800001u);  // NaN whose payload lies in the low 13 bits, row 9
    std::vector<float> D(128, 0.0f);
    const Tf32Case p{NA.data(), TB.data(), TC.data(), 0, D.data()};
    const cudaError_t e = launch(dim3(1), dim3(32), 0, "k_mma_tf32", k_mma_tf32, p);
    int row3 = 0, row9 = 0, others = 0;
    for (int m = 0; m < 16; ++m)
      for (int n = 0; n < 8; ++n) {
        const bool nan = std::isnan(D[m * 8 + n]);
        if (m == 3) row3 += nan;
        else if (m == 9) row9 += nan;
        else others += nan;
      }
    check(e == cudaSuccess && row3 == 8 && row9 == 8 && others == 0,
          "tf32 NaN operands through cvt.rna.tf32.f32: quiet NaN row %d/8 NaN, NaN 0x7f800001 row %d/8 NaN, %d "
          "NaN elsewhere",
          row3, row9, others);
  }
}

// ================================================================================================
// 5. cvt.rna.tf32.f32 and cp.async zero fill
// ================================================================================================

void test_tf32_and_cp_async() {
  std::printf("f32_to_tf32_rna\n");
  struct Case {
    uint32_t in, want;
    const char* what;
  };
  const Case cases[] = {
      {0x3f801000u, 0x3f802000u, "1 + 2^-11 (a tie) rounds away from zero, not to even"},
      {0xbf801000u, 0xbf802000u, "-(1 + 2^-11) rounds away from zero"},
      {0x3f803000u, 0x3f804000u, "1 + 3 2^-11 (a tie) rounds up"},
      {0x3f800fffu, 0x3f800000u, "just below a tie rounds down"},
      {0x3f801001u, 0x3f802000u, "just above a tie rounds up"},
      {0x3fffffffu, 0x40000000u, "rounding carries into the exponent"},
      {0x7f7fffffu, 0x7f800000u, "FLT_MAX rounds to +inf"},
      {0x00001000u, 0x00002000u, "a subnormal tie rounds away from zero"},
      {0x7f800000u, 0x7f800000u, "+inf stays +inf"},
      {0xff800000u, 0xff800000u, "-inf stays -inf"},
      {0x00000000u, 0x00000000u, "+0 stays +0"},
      {0x80000000u, 0x80000000u, "-0 stays -0"},
  };
  for (const Case& c : cases) {
    const uint32_t got = era_sim::f32_to_tf32_rna(bits_float(c.in));
    check(got == c.want, "%#010x -> %#010x: %s (got %#010x)", c.in, c.want, c.what, got);
  }
  // A NaN must stay a NaN as the tensor core reads it, i.e. with the low 13 bits dropped.
  for (uint32_t nan : {0x7fc00000u, 0xffc00000u, 0x7fffffffu, 0x7f800001u, 0xff801fffu}) {
    const uint32_t got = era_sim::f32_to_tf32_rna(bits_float(nan));
    check(std::isnan(bits_float(got & 0xffffe000u)), "NaN %#010x -> %#010x is a NaN with the low 13 bits ignored",
          nan, got);
  }

  std::printf("cp_async16 (asynchronous: done when a wait retires its group)\n");
  unsigned char dst[64], src[16];
  for (int i = 0; i < 16; ++i) src[i] = static_cast<unsigned char>(0x10 + i);
  std::memset(dst, 0xab, sizeof dst);
  bool issued_ff = true, first_only = true, both = true, untouched = true;
  // One thread: group 1 copies src to dst[16..32), group 2 zero-fills dst[32..48) (src-size 0:
  // the source, here null, is never read).
  const std::function<void()> body = [&] {
    era_sim::cp_async16(dst + 16, src, true);
    era_sim::cp_async_commit();
    era_sim::cp_async16(dst + 32, nullptr, false);
    era_sim::cp_async_commit();
    for (int i = 16; i < 48; ++i) issued_ff = issued_ff && dst[i] == 0xff;
    era_sim::cp_async_wait(1);
    first_only = std::memcmp(dst + 16, src, 16) == 0;
    for (int i = 32; i < 48; ++i) first_only = first_only && dst[i] == 0xff;
    era_sim::cp_async_wait(0);
    both = std::memcmp(dst + 16, src, 16) == 0;
    for (int i = 32; i < 48; ++i) both = both && dst[i] == 0;
  };
  check(era_sim::run_grid(dim3(1), dim3(1), 0, "k_cp_async", body), "the one-thread grid runs");
  for (int i : {0, 15, 48, 63}) untouched = untouched && dst[i] == 0xab;
  check(issued_ff, "before any wait both destinations read as all-ones bytes (NaN)");
  check(first_only, "wait_group 1 with two groups pending does the older (the copy) and not the newer");
  check(both, "wait_group 0 does the rest: the zero fill");
  check(untouched, "exactly 16 bytes each: the bytes around them are untouched");
  int after_exit = 0;
  const std::function<void()> dropped = [&] {
    era_sim::cp_async16(dst, src, true);
    era_sim::cp_async_commit();
  };
  std::memset(dst, 0xab, sizeof dst);
  check(era_sim::run_grid(dim3(1), dim3(1), 0, "k_cp_async_unwaited", dropped), "a grid that never waits runs");
  for (int i = 0; i < 16; ++i) after_exit += dst[i] == 0xff;
  check(after_exit == 16, "work nobody waited for is dropped when the thread returns (%d of 16 bytes still NaN)", after_exit);
}

}  // namespace

// ================================================================================================
// 6. deadlock detection and launch limits
// ================================================================================================

__global__ void k_mixed_barriers(int* passed) {
  if (threadIdx.x < 16) __syncwarp();
  else __syncthreads();
  passed[blockIdx.x * blockDim.x + threadIdx.x] = 1;
}

// Deadlocks only in block 1 of the grid: lane 5 of every warp skips a shuffle its warp waits on
// while it waits at __syncthreads.
__global__ void k_late_deadlock(int* passed) {
  int v = threadIdx.x;
  if (blockIdx.x == 1 && threadIdx.x % 32 == 5) {
    __syncthreads();
  } else {
    v = __shfl_xor_sync(0xffffffffu, v, 1);
    __syncthreads();
  }
  passed[blockIdx.x * blockDim.x + threadIdx.x] = v + 1;
}

__global__ void k_mark(int* flag) {
  const unsigned nthreads = blockDim.x * blockDim.y * blockDim.z;
  const unsigned block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  const unsigned tid = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  flag[block * nthreads + tid] += 1;
}

// Each thread loads a float4 at `base + offset` floats and stores it at `out + offset` floats.
__global__ void k_vector_copy(const float* base, float* out, int offset) {
  const int i = threadIdx.x * 4 + offset;
  __stcs(reinterpret_cast<float4*>(out + i), __ldg(reinterpret_cast<const float4*>(base + i)));
}

namespace {

void test_deadlock_and_limits() {
  std::printf("deadlock detection\n");
  {
    std::vector<int> passed(32, 0);
    int* out = passed.data();
    const std::function<void()> body = [out] { k_mixed_barriers(out); };
    const bool ok = era_sim::run_grid(dim3(1), dim3(32), 0, "k_mixed_barriers", body);
    int n = 0;
    for (int x : passed) n += x;
    check(!ok && n == 0, "run_grid fails when lanes 0-15 __syncwarp and lanes 16-31 __syncthreads (returned %s, "
          "%d threads passed)", ok ? "true" : "false", n);
  }
  {
    std::vector<int> passed(64, 0);
    const cudaError_t e = launch(dim3(2), dim3(32), 0, "k_mixed_barriers", k_mixed_barriers, passed.data());
    const cudaError_t again = cudaGetLastError();
    int n = 0;
    for (int x : passed) n += x;
    check(e == cudaErrorLaunchFailure && again == cudaSuccess && n == 0,
          "the same through a launch: cudaGetLastError returns cudaErrorLaunchFailure once (%s then %s), the "
          "grid stops (%d threads passed)",
          cudaGetErrorName(e), cudaGetErrorName(again), n);
  }
  {
    std::vector<int> passed(3 * 64, 0);
    const cudaError_t e = launch(dim3(3), dim3(64), 0, "k_late_deadlock", k_late_deadlock, passed.data());
    int block0 = 0, later = 0;
    for (int i = 0; i < 64; ++i) block0 += passed[i] == ((i ^ 1) + 1);
    for (int i = 64; i < 192; ++i) later += passed[i] != 0;
    check(e == cudaErrorLaunchFailure && block0 == 64 && later == 0,
          "a deadlock in block 1 of 3: block 0 completes, blocks 1 and 2 do not, cudaErrorLaunchFailure (%s, "
          "block 0 %d/64 right, %d later threads passed)",
          cudaGetErrorName(e), block0, later);
  }
  {
    // After the deadlocks the next launches run normally: barriers, shuffles, votes.
    const std::vector<int> in = test_input(3 * 1000, 1000);
    std::vector<int> out(3, 0), want(3, 0);
    for (int b = 0; b < 3; ++b)
      for (int i = 0; i < 1000; ++i) want[b] += in[b * 1000 + i];
    cudaError_t e = launch(dim3(3), dim3(1000), 0, "k_static_reduce", k_static_reduce, in.data(), out.data());
    check(e == cudaSuccess && out == want, "after the deadlocks a 3 x 1000-thread reduction runs normally (%s)",
          cudaGetErrorName(e));
    std::vector<float> sums(96, -1);
    e = launch(dim3(1), dim3(96), 0, "k_warp_sum", k_warp_sum, sums.data());
    int bad = 0;
    for (int tid = 0; tid < 96; ++tid) bad += sums[tid] != static_cast<float>(32 * 32 * (tid / 32) + 31 * 32 / 2);
    std::vector<int> cnt(4 * 200, -1);
    const cudaError_t e2 = launch(dim3(1), dim3(200), 0, "k_syncthreads_count", k_syncthreads_count, cnt.data(), 200);
    check(e == cudaSuccess && bad == 0 && e2 == cudaSuccess && cnt[0] == 67 && cnt[4 * 199 + 1] == 5,
          "... and so do warp shuffles and __syncthreads_count (%s, %s)", cudaGetErrorName(e), cudaGetErrorName(e2));
  }

  std::printf("alignment\n");
  {
    // 16-byte vector loads and stores need 16-byte addresses on a GPU (cudaErrorMisalignedAddress).
    alignas(16) float in[64 + 4], out[64 + 4];
    for (int i = 0; i < 68; ++i) in[i] = static_cast<float>(i), out[i] = -1;
    cudaError_t e = launch(dim3(1), dim3(16), 0, "k_vector_copy", k_vector_copy, in, out, 0);
    bool copied = true;
    for (int i = 0; i < 64; ++i) copied &= out[i] == static_cast<float>(i);
    const cudaError_t bad = launch(dim3(1), dim3(16), 0, "k_vector_copy", k_vector_copy, in, out, 1);
    const cudaError_t after = launch(dim3(1), dim3(16), 0, "k_vector_copy", k_vector_copy, in, out, 4);
    check(e == cudaSuccess && copied && bad == cudaErrorMisalignedAddress && after == cudaSuccess,
          "aligned float4 __ldg/__stcs run (%s); one float off they fail with cudaErrorMisalignedAddress (%s); the "
          "next aligned launch runs (%s)",
          cudaGetErrorName(e), cudaGetErrorName(bad), cudaGetErrorName(after));
  }

  std::printf("launch limits\n");
  struct Case {
    dim3 grid, block;
    size_t smem;
    cudaError_t want;
    const char* what;
  };
  const Case cases[] = {
      {dim3(1), dim3(2048), 0, cudaErrorInvalidConfiguration, "2048 threads per block"},
      {dim3(1), dim3(32, 32, 2), 0, cudaErrorInvalidConfiguration, "32 x 32 x 2 = 2048 threads per block"},
      {dim3(1), dim3(32), 300 * 1024, cudaErrorInvalidConfiguration, "300 KiB of dynamic shared memory"},
      {dim3(1), dim3(32), 227 * 1024 + 1, cudaErrorInvalidConfiguration, "227 KiB + 1 byte of dynamic shared memory"},
      {dim3(1), dim3(1, 1, 65), 0, cudaErrorInvalidConfiguration, "block.z = 65"},
      {dim3(1, 65536), dim3(1), 0, cudaErrorInvalidConfiguration, "grid.y = 65536"},
      {dim3(0), dim3(32), 0, cudaErrorInvalidConfiguration, "an empty grid"},
      {dim3(1), dim3(32), 48 * 1024 + 1, cudaErrorInvalidValue, "48 KiB + 1 byte without the cudaFuncSetAttribute opt-in"},
      {dim3(1), dim3(32), 48 * 1024, cudaSuccess, "48 KiB without the opt-in (the default limit)"},
      {dim3(2), dim3(32, 32, 1), 0, cudaSuccess, "32 x 32 threads"},
  };
  for (const Case& c : cases) {
    const size_t n = static_cast<size_t>(c.grid.x) * c.grid.y * c.grid.z * c.block.x * c.block.y * c.block.z;
    std::vector<int> flag(std::max<size_t>(n, 1), 0);
    const cudaError_t e = launch(c.grid, c.block, c.smem, "k_mark", k_mark, flag.data());
    int ran = 0, once = 0;
    for (int x : flag) {
      ran += x;
      once += x == 1;
    }
    const bool ok = e == c.want && (c.want == cudaSuccess ? once == static_cast<int>(n) && ran == once : ran == 0);
    check(ok, "%s: %s (got %s, %d threads ran)", c.what, cudaGetErrorName(c.want), cudaGetErrorName(e), ran);
  }
  {
    // After the opt-in, the limits themselves run.
    check(cudaFuncSetAttribute(k_mark, cudaFuncAttributeMaxDynamicSharedMemorySize, 227 * 1024) == cudaSuccess,
          "cudaFuncSetAttribute(MaxDynamicSharedMemorySize, 227 KiB)");
    std::vector<int> flag(1024, 0);
    const cudaError_t e = launch(dim3(1), dim3(1024), 227 * 1024, "k_mark", k_mark, flag.data());
    int ran = 0;
    for (int x : flag) ran += x;
    check(e == cudaSuccess && ran == 1024, "1024 threads and 227 KiB after the opt-in (%s, %d of 1024 ran)",
          cudaGetErrorName(e), ran);
  }
  {
    std::vector<int> flag(64, 0);
    const cudaError_t e = launch(dim3(2), dim3(32), 0, "k_mark", k_mark, flag.data());
    int ran = 0;
    for (int x : flag) ran += x;
    check(e == cudaSuccess && ran == 64, "a normal launch after the refused ones (%s, %d of 64 ran)",
          cudaGetErrorName(e), ran);
  }
}

}  // namespace

int main() {
  test_ids();
  test_barriers();
  test_collectives();
  test_mma();
  test_tf32_and_cp_async();
  test_deadlock_and_limits();
  std::printf("fiber selftest: %d checks, %d failed: %s\n", g_checks, g_failed, g_failed == 0 ? "PASS" : "FAIL");
  return g_failed == 0 ? 0 : 1;
}

// The Hopper GEMM: out = act(beta * out + op(a) · op(b) + bias) for bf16 a and b, f32 output,
// through wgmma.mma_async (sm_90a; this file is compiled for that target alone, see CMakeLists.txt).
//
// A block of two warpgroups computes a 128 x 256 tile; each warpgroup owns 64 rows and issues
// m64n256k16 instructions that read both operands from shared memory through matrix descriptors
// and keep the 64 x 256 f32 accumulators in registers (128 a thread). Tiles of 64 along k travel
// global -> shared by cp.async into the 128-byte swizzled layout the descriptors name, four stages
// deep: while the tensor cores work on tile kt (and may still finish kt - 1), tiles kt + 1 and
// kt + 2 are in flight. Either operand may be K-major (a [m, k], b [n, k]) or MN-major (a [k, m],
// b [k, n]); wgmma's transpose flags cover the MN-major ones. Loads past the matrix edges are zero
// filled and the epilogue (gemm_common.cuh) checks its bounds, so any m, n, k works; the operands
// need 16-byte copies (leading dimensions a multiple of 8, 16-byte aligned).
//
// The layouts follow the PTX ISA's "Shared Memory Matrix Layout" for wgmma with the 128-byte
// swizzle: a K-major operand is rows of 64 k (128 bytes), 8-row groups 1024 bytes apart (the
// descriptor's stride byte offset); an MN-major one is rows of 64 m or n per k, 8-k groups 1024
// bytes apart (stride offset) and 64-wide blocks along m or n 8 KiB apart (leading byte offset).
// The swizzle XORs a 16-byte chunk's index within its 128-byte row (address bits 4-6) with the
// row's index within its 1024-byte group (bits 7-9), so the stages sit on 1024-byte boundaries.
// The CUDA simulator emulates the instruction from the same descriptors (native/sim/warp_matrix.h).
// Before the GEMM first uses the kernel, wgmma_available checks that the sm_90a code loaded and
// that one small ragged product per layout matches a reference kernel (check_results).
#include <cuda_bf16.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "../core/cuda_runtime.h"
#include "gemm_common.cuh"
#include "gemm_wgmma.h"
#include "launch.cuh"

// Whether this compilation emits the wgmma code: the sm_90a device pass, or the simulator.
#if defined(ERA_CUDA_SIM) || (defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL))
#define ERA_WGMMA_CODE 1
#else
#define ERA_WGMMA_CODE 0
#endif

namespace era::cuda {
namespace {

using namespace gemm_detail;
using bf16 = __nv_bfloat16;

constexpr int BM = kWgmmaBm, BN = kWgmmaBn;
constexpr int BK = 64;                    // one 128-byte swizzle row of bf16
constexpr int STAGES = 4;
constexpr int THREADS = 256;              // two warpgroups of 64 x 256
constexpr int ROW_BYTES = 128;
constexpr int GROUP_BYTES = 8 * ROW_BYTES;  // the swizzle's period
[[maybe_unused]] constexpr int BLOCK_BYTES = BK * ROW_BYTES;  // an MN-major block: 64 k rows of 64 m or n
constexpr int A_BYTES = BM * BK * 2, B_BYTES = BN * BK * 2;
constexpr int STAGE_BYTES = A_BYTES + B_BYTES;                 // 48 KiB, a multiple of 1024
constexpr int SMEM_BYTES = STAGES * STAGE_BYTES + GROUP_BYTES;  // + room to align the stages
static_assert(STAGE_BYTES % GROUP_BYTES == 0 && A_BYTES % GROUP_BYTES == 0, "stages on swizzle periods");

// ---------------------------------------------------------------------------------------------
// PTX wrappers.
#if defined(ERA_CUDA_SIM)
__device__ __forceinline__ void wgmma_fence() {}
__device__ __forceinline__ void wgmma_commit() { era_sim::wgmma_commit(); }
template <int N>
__device__ __forceinline__ void wgmma_wait() { era_sim::wgmma_wait(N); }
__device__ __forceinline__ void fence_proxy_async() {}
template <int TRANS_A, int TRANS_B>
__device__ __forceinline__ void wgmma_m64n256k16(float (&d)[128], uint64_t desc_a, uint64_t desc_b) {
  era_sim::wgmma_m64nNk16_bf16<256>(d, desc_a, desc_b, TRANS_A, TRANS_B);
}
#elif ERA_WGMMA_CODE
// Orders this thread's register writes (the zeroed accumulators) before the next wgmma reads them.
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
// Waits until at most N of this warpgroup's committed groups are still running.
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// cp.async writes shared memory through the generic proxy; wgmma reads it through the async proxy.
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

// d += A · B for a 64 x 256 x 16 step; TRANS_A / TRANS_B = 1 for an MN-major operand.
template <int TRANS_A, int TRANS_B>
__device__ __forceinline__ void wgmma_m64n256k16(float (&d)[128], uint64_t desc_a, uint64_t desc_b) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %130, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
      "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
      "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
      "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
      "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
      "}, %128, %129, p, 1, 1, %131, %132;\n"
      "}\n"
      :
        "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
        "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
        "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
        "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
        "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
        "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
        "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
        "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
        "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
      : "l"(desc_a), "l"(desc_b), "r"(1), "n"(TRANS_A), "n"(TRANS_B));
}
#endif

#if ERA_WGMMA_CODE
// A shared-memory matrix descriptor with the 128-byte swizzle: start address, leading and stride
// byte offsets, each in 16-byte units (bits 0-13, 16-29, 32-45), swizzle mode 1 in bits 62-63.
__device__ __forceinline__ uint64_t smem_desc(unsigned addr, unsigned leading, unsigned stride) {
  return static_cast<uint64_t>((addr & 0x3FFFF) >> 4) | (static_cast<uint64_t>(leading >> 4) << 16) |
         (static_cast<uint64_t>(stride >> 4) << 32) | (uint64_t{1} << 62);
}

// Where 16-byte chunk c (0..7) of row r lands in a swizzled region that starts on a 1024-byte boundary.
__device__ __forceinline__ int swizzled(int r, int c) { return r * ROW_BYTES + ((c ^ (r & 7)) << 4); }

// A K-major tile: ROWS rows (m or n) by BK columns (k) at (r0, k0) of a row-major [rows, cols]
// matrix whose columns run along k.
template <int ROWS>
__device__ __forceinline__ void load_k_major(unsigned char* dst, const bf16* src, int rows, int cols, int r0,
                                             int k0) {
  constexpr int CHUNKS = ROWS * (BK / 8);
#pragma unroll
  for (int i = threadIdx.x; i < CHUNKS; i += THREADS) {
    const int r = i / (BK / 8), c = i % (BK / 8);
    const int gr = r0 + r, gc = k0 + c * 8;
    const bool ok = gr < rows && gc < cols;
    cp_async16(dst + swizzled(r, c), ok ? src + static_cast<long long>(gr) * cols + gc : src, ok);
  }
}

// An MN-major tile: BK rows (k) by COLS columns (m or n) at (k0, c0) of a row-major [k_rows, cols]
// matrix; stored as COLS / 64 blocks of [BK][64], BLOCK_BYTES apart.
template <int COLS>
__device__ __forceinline__ void load_mn_major(unsigned char* dst, const bf16* src, int k_rows, int cols, int k0,
                                              int c0) {
  constexpr int PER_ROW = COLS / 8;
  constexpr int CHUNKS = BK * PER_ROW;
#pragma unroll
  for (int i = threadIdx.x; i < CHUNKS; i += THREADS) {
    const int kr = i / PER_ROW, cc = i % PER_ROW;
    const int gk = k0 + kr, gc = c0 + cc * 8;
    const bool ok = gk < k_rows && gc < cols;
    cp_async16(dst + (cc / 8) * BLOCK_BYTES + swizzled(kr, cc % 8),
               ok ? src + static_cast<long long>(gk) * cols + gc : src, ok);
  }
}

// The descriptor of k step s (16 deep) of a tile at shared address `tile`.
template <bool MN_MAJOR>
__device__ __forceinline__ uint64_t step_desc(unsigned tile, int s) {
  // K-major: the step is 32 bytes further along each row (the swizzle is applied to the address).
  // MN-major: 16 k rows further, two 8-row groups.
  return MN_MAJOR ? smem_desc(tile + s * 16 * ROW_BYTES, BLOCK_BYTES, GROUP_BYTES)
                  : smem_desc(tile + s * 32, 16, GROUP_BYTES);
}
#endif  // ERA_WGMMA_CODE

// TA: a is [k, m] (MN-major); TB: b is [n, k] (K-major). Both false is the forward product.
template <bool TA, bool TB>
__global__ void __launch_bounds__(THREADS, 1) wgmma_gemm_kernel(Args args) {
#if ERA_WGMMA_CODE
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const unsigned raw = smem_addr(smem_raw);
  unsigned char* smem = smem_raw + (((raw + GROUP_BYTES - 1) & ~unsigned(GROUP_BYTES - 1)) - raw);
  const unsigned base = smem_addr(smem);

  const BlockTile<bf16> tile = block_tile<bf16, BM, BN>(args);
  const int m0 = tile.m0, n0 = tile.n0;
  const bf16 *A = tile.a, *B = tile.b;

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wg = warp / 4;  // rows 64 wg .. 64 wg + 63 of the tile

  auto load_stage = [&](int s, int kt) {
    unsigned char* a_dst = smem + s * STAGE_BYTES;
    unsigned char* b_dst = a_dst + A_BYTES;
    const int k0 = kt * BK;
    if (TA) load_mn_major<BM>(a_dst, A, args.k, args.m, k0, m0);
    else load_k_major<BM>(a_dst, A, args.m, args.k, m0, k0);
    if (TB) load_k_major<BN>(b_dst, B, args.n, args.k, n0, k0);
    else load_mn_major<BN>(b_dst, B, args.k, args.n, k0, n0);
  };

  float acc[128];
#pragma unroll
  for (int i = 0; i < 128; ++i) acc[i] = 0.f;

  const int KT = (args.k + BK - 1) / BK;
#pragma unroll
  for (int s = 0; s < 2; ++s) {
    if (s < KT) load_stage(s, s);
    cp_async_commit();
  }
  for (int kt = 0; kt < KT; ++kt) {
    cp_async_wait<1>();   // tile kt has landed (this thread's copies)
    fence_proxy_async();  // ... and is visible to the tensor cores
    __syncthreads();      // everyone's; and every warpgroup has finished tile kt - 2
    if (kt + 2 < KT) load_stage((kt + 2) % STAGES, kt + 2);
    cp_async_commit();

    // Both operands' tiles of this stage; A's rows of this warpgroup start 64 rows (8 KiB) in,
    // whether K-major (64 rows of 128 bytes) or MN-major (the second 64-wide block).
    const unsigned a_tile = base + (kt % STAGES) * STAGE_BYTES + wg * BLOCK_BYTES;
    const unsigned b_tile = base + (kt % STAGES) * STAGE_BYTES + A_BYTES;
    wgmma_fence();
#pragma unroll
    for (int s = 0; s < BK / 16; ++s)
      wgmma_m64n256k16<TA ? 1 : 0, TB ? 0 : 1>(acc, step_desc<TA>(a_tile, s), step_desc<!TB>(b_tile, s));
    wgmma_commit();
    wgmma_wait<1>();  // tile kt - 1's group is done; tile kt's may run on
  }
  wgmma_wait<0>();

  // Accumulators 4j .. 4j + 3 are n8 block j: rows g and g + 8 of this warp's 16, columns 2t, 2t + 1.
  const int g = lane / 4, t = lane % 4;
  const int r = m0 + wg * 64 + (warp % 4) * 16 + g;
#pragma unroll
  for (int j = 0; j < BN / 8; ++j) {
    const int c = n0 + j * 8 + 2 * t;
    store_pair(args, tile.bias, tile.out, r, c, acc[4 * j], acc[4 * j + 1]);
    store_pair(args, tile.bias, tile.out, r + 8, c, acc[4 * j + 2], acc[4 * j + 3]);
  }
#endif  // ERA_WGMMA_CODE
}

// Writes 1 when the code that loaded for this device is the sm_90a build with the wgmma kernel.
__global__ void wgmma_probe_kernel(int* out) { *out = ERA_WGMMA_CODE; }

// The probe's reference: out[b][i][j] = sum_p A[b](i, p) B[b](p, j) in f32, one thread an element,
// with a [m, k] or [k, m] (ta) and b [k, n] or [n, k] (tb), packed; out's batch entries are
// stride_out apart.
__global__ void wgmma_reference_kernel(const bf16* a, const bf16* b, float* out, int m, int n, int k, int batch,
                                       int ta, int tb, long long stride_out) {
  const long long total = static_cast<long long>(batch) * m * n;
  for (long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int bi = static_cast<int>(idx / (static_cast<long long>(m) * n));
    const int rem = static_cast<int>(idx - static_cast<long long>(bi) * m * n);
    const int i = rem / n, j = rem % n;
    const bf16* A = a + static_cast<long long>(bi) * m * k;
    const bf16* B = b + static_cast<long long>(bi) * k * n;
    float s = 0.f;
    for (int p = 0; p < k; ++p) {
      const float x = __bfloat162float(ta ? A[static_cast<long long>(p) * m + i] : A[static_cast<long long>(i) * k + p]);
      const float y = __bfloat162float(tb ? B[static_cast<long long>(j) * k + p] : B[static_cast<long long>(p) * n + j]);
      s = fmaf(x, y, s);
    }
    out[static_cast<long long>(bi) * stride_out + static_cast<long long>(i) * n + j] = s;
  }
}

std::atomic<int> g_available{-1};  // -1: not probed yet
std::mutex g_probe_mu;             // one probe at a time; guards g_reason
std::string g_reason = "not probed yet";  // why the kernel is not used (empty when it is)

// Sets the kernel's shared-memory opt-in once (the attribute is per function, for the process).
template <bool TA, bool TB>
cudaError_t configure() {
  static std::atomic<bool> configured{false};
  if (configured.load()) return cudaSuccess;
  const cudaError_t e =
      cudaFuncSetAttribute(wgmma_gemm_kernel<TA, TB>, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM_BYTES);
  if (e == cudaSuccess) configured.store(true);
  return e;
}

template <bool TA, bool TB>
void run(const Args& args, const GemmParams& p, cudaStream_t stream) {
  cuda_rt::check(configure<TA, TB>(), "matmul");
  launch(wgmma_gemm_kernel<TA, TB>, tiles_for(p, BM, BN), THREADS, SMEM_BYTES, args, p, stream);
}

const char* layout_name(bool ta, bool tb) { return ta ? (tb ? "TT" : "TN") : (tb ? "NT" : "NN"); }

std::string describe_error(cudaError_t e) { return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e); }

// One device allocation for the probe, freed on every way out.
struct ProbeMemory {
  void* ptr = nullptr;
  ~ProbeMemory() {
    if (ptr) cudaFree(ptr);
  }
};

// The flag, the operands and eight outputs of check_results, in one allocation.
constexpr size_t kProbeBytes = 3u << 20;

// The result check: one ragged, batched product per layout <TA, TB> through the wgmma kernel,
// against the reference kernel on the same deterministic operands. m, n, k are 8 past the
// 128 x 256 x 64 tile (a partial tile along every edge and a second k stage, in multiples of 8 as
// the kernel's 16-byte copies need), two batch entries with operands of their own, and a gap of
// poisoned floats after each output entry that must stay untouched. The operands are multiples of 1/8 in
// [-1, 1] (exact in bf16): every product is a multiple of 1/64 and every partial sum is exact in
// f32, so a correct kernel matches the reference exactly in any summation order; the tolerance
// (2^-10 relative) only spares the comparison from depending on that, while a misplaced operand
// element or output shifts results by multiples of 1/64. 2.4 MB of device memory, nine small
// launches and one 2.3 MB read-back: a millisecond or two, once a process.
//
// ERA_CUDA_WGMMA_PROBE_CORRUPT (a test hook): "1" overwrites one element of every layout's wgmma
// output after the kernel ran, or a layout's name ("NN", "NT", "TN", "TT": trans_a, trans_b) that
// layout's alone, so the tests see the check refuse the kernel.
//
// Returns an empty string when every layout matched, else why not. Throws (cuda_rt::check) on a
// fault that loses the context, as any op would.
std::string check_results(cudaStream_t st, void* memory) {
  constexpr int M = 136, N = 264, K = 72, BATCH = 2, GAP = 64;
  constexpr long long STRIDE_OUT = static_cast<long long>(M) * N + GAP;
  constexpr long long OUT_FLOATS = BATCH * STRIDE_OUT;
  constexpr size_t A_ELEMS = static_cast<size_t>(BATCH) * M * K, B_ELEMS = static_cast<size_t>(BATCH) * K * N;
  constexpr size_t A_OFF = 256, B_OFF = A_OFF + (A_ELEMS * 2 + 255) / 256 * 256;
  constexpr size_t OUT_OFF = B_OFF + (B_ELEMS * 2 + 255) / 256 * 256;
  constexpr size_t OUT_BYTES = OUT_FLOATS * sizeof(float);
  static_assert(OUT_BYTES % 256 == 0 && OUT_OFF + 8 * OUT_BYTES <= kProbeBytes, "the probe's layout");

  char* base = static_cast<char*>(memory);
  const bf16* a = reinterpret_cast<const bf16*>(base + A_OFF);
  const bf16* b = reinterpret_cast<const bf16*>(base + B_OFF);
  // Outputs: wgmma then reference, per layout (index 2 ta + tb).
  auto out = [&](int layout, int which) {
    return reinterpret_cast<float*>(base + OUT_OFF + (2 * layout + which) * OUT_BYTES);
  };

  // Deterministic operands without structure a layout mix-up could hide behind: hashed indices
  // mapped to {-8, ..., 8} / 8, as bf16 bits (the top half of the f32, exact for these values).
  std::vector<uint16_t> host_a(A_ELEMS), host_b(B_ELEMS);
  auto fill = [](std::vector<uint16_t>& v, uint32_t salt) {
    for (size_t i = 0; i < v.size(); ++i) {
      uint32_t x = static_cast<uint32_t>(i) * 2654435761u + salt;
      x ^= x >> 15;
      x *= 2246822519u;
      x ^= x >> 13;
      const float f = static_cast<float>(static_cast<int>(x % 17) - 8) / 8.f;
      uint32_t bits;
      std::memcpy(&bits, &f, sizeof bits);
      v[i] = static_cast<uint16_t>(bits >> 16);
    }
  };
  fill(host_a, 0x9E3779B9u);
  fill(host_b, 0x85EBCA6Bu);

  const char* corrupt_env = std::getenv("ERA_CUDA_WGMMA_PROBE_CORRUPT");
  const std::string corrupt = corrupt_env && std::strcmp(corrupt_env, "0") != 0 ? corrupt_env : "";

  // Errors here that do not lose the context refuse the kernel; those that do throw.
  auto failed = [&](cudaError_t e, const std::string& what) -> std::string {
    cudaGetLastError();
    if (cuda_rt::loses_context(e)) cuda_rt::check(e, "matmul");
    return what + " (" + describe_error(e) + ")";
  };

  cudaError_t e = cudaSuccess;
  for (int layout = 0; layout < 4 && e == cudaSuccess; ++layout) {
    e = layout == 0 ? configure<false, false>() : layout == 1 ? configure<false, true>()
      : layout == 2 ? configure<true, false>() : configure<true, true>();
  }
  if (e != cudaSuccess) return failed(e, "the kernel's shared-memory opt-in was refused");

  e = cudaMemcpyAsync(const_cast<bf16*>(a), host_a.data(), A_ELEMS * 2, cudaMemcpyHostToDevice, st);
  if (e == cudaSuccess) e = cudaMemcpyAsync(const_cast<bf16*>(b), host_b.data(), B_ELEMS * 2, cudaMemcpyHostToDevice, st);
  if (e == cudaSuccess) e = cudaMemsetAsync(out(0, 0), 0xFF, 8 * OUT_BYTES, st);  // NaN everywhere
  if (e != cudaSuccess) return failed(e, "the probe's inputs could not be set up");

  for (int layout = 0; layout < 4; ++layout) {
    const bool ta = layout >= 2, tb = layout % 2 == 1;
    GemmParams p;
    p.m = M;
    p.n = N;
    p.k = K;
    p.batch = BATCH;
    p.a = a;
    p.stride_a = static_cast<int64_t>(M) * K;
    p.trans_a = ta;
    p.b = b;
    p.stride_b = static_cast<int64_t>(K) * N;
    p.trans_b = tb;
    p.out = out(layout, 0);
    p.stride_out = STRIDE_OUT;
    p.bf16_inputs = true;
    p.precision = 2;
    wgmma_gemm(p, st);
    e = cudaGetLastError();
    if (e != cudaSuccess) return failed(e, std::string("the kernel did not launch for layout ") + layout_name(ta, tb));
    if (corrupt == "1" || corrupt == layout_name(ta, tb)) {
      float* last = out(layout, 0) + (BATCH - 1) * STRIDE_OUT + static_cast<long long>(M) * N - 1;
      e = cudaMemsetAsync(last, 0x7F, sizeof(float), st);  // 3.4e38 in the last tile's corner
      if (e != cudaSuccess) return failed(e, "the test hook's write failed");
    }
    wgmma_reference_kernel<<<grid_for(static_cast<int64_t>(BATCH) * M * N), kBlock, 0, st>>>(
        a, b, out(layout, 1), M, N, K, BATCH, ta ? 1 : 0, tb ? 1 : 0, STRIDE_OUT);
    e = cudaGetLastError();
    if (e != cudaSuccess) return failed(e, "the reference kernel did not launch");
  }
  std::vector<float> host(static_cast<size_t>(8 * OUT_FLOATS));
  e = cudaMemcpyAsync(host.data(), out(0, 0), 8 * OUT_BYTES, cudaMemcpyDeviceToHost, st);
  if (e == cudaSuccess) e = cudaStreamSynchronize(st);
  if (e != cudaSuccess) return failed(e, "the probe's products failed");

  for (int layout = 0; layout < 4; ++layout) {
    const bool ta = layout >= 2, tb = layout % 2 == 1;
    const float* got = host.data() + 2 * layout * OUT_FLOATS;
    const float* want = got + OUT_FLOATS;
    long long wrong = 0, first = -1;
    for (long long bi = 0; bi < BATCH; ++bi) {
      for (long long i = 0; i < STRIDE_OUT; ++i) {
        const long long at = bi * STRIDE_OUT + i;
        bool ok;
        if (i < static_cast<long long>(M) * N) {
          ok = std::fabs(got[at] - want[at]) <= 0x1p-10f * (1.f + std::fabs(want[at]));  // false for NaN
        } else {
          uint32_t bits;
          std::memcpy(&bits, got + at, sizeof bits);
          ok = bits == 0xFFFFFFFFu;  // the gap after the entry: never written
        }
        if (!ok && wrong++ == 0) first = at;
      }
    }
    if (wrong == 0) continue;
    const long long bi = first / STRIDE_OUT, i = first % STRIDE_OUT;
    char where[160];
    if (i < static_cast<long long>(M) * N)
      std::snprintf(where, sizeof where, "out[%lld][%lld][%lld] = %g, expected %g", bi, i / N, i % N,
                    static_cast<double>(got[first]), static_cast<double>(want[first]));
    else
      std::snprintf(where, sizeof where, "the kernel wrote past batch entry %lld's output (%lld floats after it)", bi,
                    i - static_cast<long long>(M) * N);
    return std::string("result check failed for layout ") + layout_name(ta, tb) + " (" + std::to_string(M) + " x " +
           std::to_string(N) + " x " + std::to_string(K) + ", batch " + std::to_string(BATCH) + "): " +
           std::to_string(wrong) + " wrong element(s), first " + where;
  }
  return "";
}

// The probe proper (under g_probe_mu, not while `st` records): 1 or 0, and g_reason.
int probe(cudaStream_t st) {
  ProbeMemory memory;
  if (cudaMalloc(&memory.ptr, kProbeBytes) != cudaSuccess) {  // the device is full: mma.sync now, ask again later
    cudaGetLastError();
    memory.ptr = nullptr;
    g_reason = "not probed yet (the device's memory was full at the last try)";
    return -1;
  }
  int* flag = static_cast<int*>(memory.ptr);
  int host = 0;
  wgmma_probe_kernel<<<1, 1, 0, st>>>(flag);
  cudaError_t status = cudaGetLastError();
  // No image for this device (the file holds sm_90a code only): not an error, just not Hopper.
  const bool no_image = status == cudaErrorNoKernelImageForDevice || status == cudaErrorInvalidDeviceFunction;
  if (status == cudaSuccess) status = cudaMemcpyAsync(&host, flag, sizeof(int), cudaMemcpyDeviceToHost, st);
  if (status == cudaSuccess) status = cudaStreamSynchronize(st);
  if (no_image) {
    cudaGetLastError();
    const int major = current_device_attribute(cudaDevAttrComputeCapabilityMajor, 0);
    const int minor = current_device_attribute(cudaDevAttrComputeCapabilityMinor, 0);
    g_reason = "this device (compute capability " + std::to_string(major) + "." + std::to_string(minor) +
               ") cannot run the sm_90a code (compute capability 9.0 only)";
    return 0;
  }
  cuda_rt::check(status, "matmul");
  if (host != 1) {
    g_reason = "this build has no sm_90a code (its CUDA architectures name no 90)";
    return 0;
  }
  if (smem_optin() < SMEM_BYTES) {
    g_reason = "the device offers " + std::to_string(smem_optin()) + " bytes of shared memory a block, the kernel needs " +
               std::to_string(SMEM_BYTES);
    return 0;
  }
  const std::string mismatch = check_results(st, memory.ptr);
  if (!mismatch.empty()) {
    g_reason = mismatch;
    // Code that loaded and should work failed: a bug or a faulty device. Said once, on stderr.
    std::fprintf(stderr, "era-cuda: wgmma disabled: %s; bf16 matmuls use mma.sync\n", g_reason.c_str());
    return 0;
  }
  g_reason.clear();
  return 1;
}

}  // namespace

bool wgmma_available(void* stream) {
  const int known = g_available.load();
  if (known >= 0) return known == 1;
  cudaStream_t st = as_stream(stream);
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  cuda_rt::check(cudaStreamIsCapturing(st, &capture), "matmul");
  if (capture != cudaStreamCaptureStatusNone) return false;  // probed after the recording
  std::lock_guard<std::mutex> lock(g_probe_mu);
  if (g_available.load() < 0) {
    const int result = probe(st);
    if (result >= 0) g_available.store(result);
  }
  return g_available.load() == 1;
}

std::string wgmma_unavailable_reason() {
  std::lock_guard<std::mutex> lock(g_probe_mu);
  return g_reason;
}

bool wgmma_supports(const GemmParams& p) {
  return p.bf16_inputs && p.precision == 2 && vec_ok(p) && smem_optin() >= SMEM_BYTES;
}

void wgmma_gemm(const GemmParams& p, void* stream) {
  if (p.m <= 0 || p.n <= 0 || p.batch <= 0) return;
  cudaStream_t st = as_stream(stream);
  Args args{p.m, p.n, p.k, p.a, p.stride_a, p.b, p.stride_b, p.bias, p.stride_bias, p.out,
            p.stride_out, p.accumulate ? 1 : 0, static_cast<int>(p.act), 1};
  if (p.trans_a) {
    if (p.trans_b) run<true, true>(args, p, st);
    else run<true, false>(args, p, st);
  } else {
    if (p.trans_b) run<false, true>(args, p, st);
    else run<false, false>(args, p, st);
  }
}

}  // namespace era::cuda

// The CPU GEMM in two parallel phases (per group of batch items when whole items fit):
//   1. pack: B into nr-column panels holding the whole depth k ([panel][p][lane], the ragged one
//      zero-padded), and A into mr-row panels only when it is bf16 or rounded to tf32/bf16: f32 A
//      is read where it lies, the micro-kernel taking its two strides. Packing also transposes,
//      widens bf16 and applies the rounding, so the micro-kernel sees one B layout only (plain f32
//      is packed by the AVX builds in gemm_pack.cc where the CPU has them);
//   2. compute: tiles of MC rows x some columns, each over KC-deep slices, calling the micro-kernel
//      per (column panel, row panel) with the B panel kept in L1 across the row panels.
// Operands too large to pack whole are cut into slabs of rows (A) and columns (B). Products with
// at most 4 rows or columns go to gemm_skinny.cc instead.
#include "gemm.h"

#include <algorithm>
#include <vector>

#include "../core/bf16.h"
#include "gemm_kernels.h"
#include "gemm_pack.h"
#include "gemm_skinny.h"
#include "parallel.h"
#include "vector_math.h"

namespace era::cpu {
namespace {

constexpr int64_t KC = 256;             // depth of one micro-kernel call
constexpr int64_t MC = 96;              // rows per tile (a multiple of every kernel's mr)
constexpr int64_t kSlabFloats = 1 << 22;  // at most 16 MiB per packed operand
constexpr int64_t kTaskMacs = 1 << 17;  // below this much work a task is not worth a thread

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

template <GemmInput I, GemmRound R>
inline float load(const void* data, int64_t idx) {
  float v;
  if constexpr (I == GemmInput::BF16) v = bf16_to_f32(static_cast<const uint16_t*>(data)[idx]);
  else v = static_cast<const float*>(data)[idx];
  if constexpr (R == GemmRound::TF32) return round_tf32(v);
  else if constexpr (R == GemmRound::BF16) return round_bf16(v);
  else return v;
}

// An operand seen as `lines` (rows of A, columns of B) of depth k: element (line, p) is at
// data[line * line_stride + p * depth_stride].
struct Lines {
  const void* data;
  int64_t line_stride, depth_stride;
};

// Packs lines [first, first + count) into panels of w lines: out[panel][p][lane], lanes past
// `count` zero. Reads run along whichever index is contiguous in memory.
template <GemmInput I, GemmRound R>
void pack_panels(const Lines& src, int64_t first, int64_t count, int64_t k, int64_t w, float* out) {
  for (int64_t l0 = 0; l0 < count; l0 += w) {
    const int64_t valid = std::min(w, count - l0);
    float* panel = out + (l0 / w) * k * w;
    if (src.depth_stride == 1) {
      for (int64_t lane = 0; lane < w; ++lane) {
        if (lane < valid) {
          const int64_t base = (first + l0 + lane) * src.line_stride;
          for (int64_t p = 0; p < k; ++p) panel[p * w + lane] = load<I, R>(src.data, base + p);
        } else {
          for (int64_t p = 0; p < k; ++p) panel[p * w + lane] = 0.f;
        }
      }
    } else {
      for (int64_t p = 0; p < k; ++p) {
        const int64_t base = (first + l0) * src.line_stride + p * src.depth_stride;
        float* dst = panel + p * w;
        for (int64_t lane = 0; lane < valid; ++lane) dst[lane] = load<I, R>(src.data, base + lane * src.line_stride);
        for (int64_t lane = valid; lane < w; ++lane) dst[lane] = 0.f;
      }
    }
  }
}

using PackFn = void (*)(const Lines&, int64_t, int64_t, int64_t, int64_t, float*);

// Plain f32: the AVX builds of gemm_pack.cc where the CPU has them (the same bytes), else the loop.
void pack_f32(const Lines& src, int64_t first, int64_t count, int64_t k, int64_t w, float* out) {
  if (!pack_f32_panels_fast(static_cast<const float*>(src.data), src.line_stride, src.depth_stride, first, count, k, w,
                            out))
    pack_panels<GemmInput::F32, GemmRound::None>(src, first, count, k, w, out);
}

PackFn pack_function(GemmInput input, GemmRound round) {
  if (input == GemmInput::BF16) return pack_panels<GemmInput::BF16, GemmRound::None>;  // bf16 is exact
  if (round == GemmRound::TF32) return pack_panels<GemmInput::F32, GemmRound::TF32>;
  if (round == GemmRound::BF16) return pack_panels<GemmInput::F32, GemmRound::BF16>;
  return pack_f32;
}

// Packed-operand buffers, reused across calls by the thread that calls gemm() (workers only read
// them during the call).
std::vector<float>& scratch(int which) {
  thread_local std::vector<float> buffers[2];
  return buffers[which];
}

// One slab of one batch item: rows [i0, i0 + ms) x columns [j0, j0 + ns) of out.
struct Slab {
  int64_t i0, ms, j0, ns;
};

class GemmRun {
 public:
  explicit GemmRun(const GemmArgs& g)
      : g_(g), kern_(active_gemm_kernel()), pack_(pack_function(g.input, g.round)), threads_(num_threads()),
        // f32 A with no rounding is read where it lies (the kernel takes its strides); bf16 or
        // rounded A must be converted, so it is packed.
        direct_a_(g.input == GemmInput::F32 && g.round == GemmRound::None) {}

  void run() {
    const int64_t k = g_.k, mr = kern_.mr, nr = kern_.nr;
    // Slabs bound the packed buffers; with k > 0 each holds at least one tile's rows / one panel.
    const int64_t slab_rows = k > 0 ? std::max(MC, kSlabFloats / k / MC * MC) : g_.m;
    const int64_t slab_cols = k > 0 ? std::max(nr, kSlabFloats / k / nr * nr) : g_.n;
    if (slab_rows >= g_.m && slab_cols >= g_.n) {
      // Whole items fit: pack several batch items in one parallel phase and compute all their
      // tiles in another, so small products still give every thread a share.
      const int64_t item_floats = std::max<int64_t>(1, std::max(round_up(g_.m, mr), round_up(g_.n, nr)) * k);
      const int64_t group = std::max<int64_t>(1, kSlabFloats / item_floats);
      for (int64_t b0 = 0; b0 < g_.batch; b0 += group)
        run_slab(b0, std::min(group, g_.batch - b0), Slab{0, g_.m, 0, g_.n}, true, true);
      return;
    }
    for (int64_t b = 0; b < g_.batch; ++b) {
      for (int64_t i0 = 0; i0 < g_.m; i0 += slab_rows) {
        for (int64_t j0 = 0; j0 < g_.n; j0 += slab_cols) {
          const Slab s{i0, std::min(slab_rows, g_.m - i0), j0, std::min(slab_cols, g_.n - j0)};
          // B's packing does not depend on the row slab: pack it again only when it changes.
          const bool pack_a = j0 == 0;
          const bool pack_b = i0 == 0 || slab_cols < g_.n;
          run_slab(b, 1, s, pack_a, pack_b);
        }
      }
    }
  }

 private:
  // Slab s of batch items [b0, b0 + items). An operand shared by the batch (stride 0) is packed once.
  void run_slab(int64_t b0, int64_t items, const Slab& s, bool pack_a, bool pack_b) {
    const int64_t k = g_.k, mr = kern_.mr, nr = kern_.nr;
    const int64_t a_panels = ceil_div(s.ms, mr), b_panels = ceil_div(s.ns, nr);
    const int64_t a_floats = a_panels * mr * k, b_floats = b_panels * nr * k;  // per packed copy
    const int64_t a_copies = g_.stride_a == 0 ? 1 : items, b_copies = g_.stride_b == 0 ? 1 : items;
    std::vector<float>& ap = scratch(0);
    std::vector<float>& bp = scratch(1);
    const bool parallel = threads_ > 1 && items * s.ms * s.ns * std::max<int64_t>(k, 1) >= 2 * kTaskMacs;

    pack_a = pack_a && !direct_a_;
    if (k > 0 && (pack_a || pack_b)) {
      if (pack_a) ap.resize(std::max<size_t>(ap.size(), static_cast<size_t>(a_copies * a_floats)));
      if (pack_b) bp.resize(std::max<size_t>(bp.size(), static_cast<size_t>(b_copies * b_floats)));
      // Pack tasks of about 16 panels each: A's copies first, then B's.
      constexpr int64_t per = 16;
      const int64_t a_tasks = pack_a ? ceil_div(a_panels, per) : 0;
      const int64_t b_tasks = pack_b ? ceil_div(b_panels, per) : 0;
      auto pack_task = [&](int64_t t) {
        if (t < a_copies * a_tasks) {
          const int64_t item = t / a_tasks, first = (t % a_tasks) * per * mr;
          const Lines lines{static_cast<const char*>(g_.a) + (b0 + item) * g_.stride_a * elem_size(),
                            g_.trans_a ? 1 : k, g_.trans_a ? g_.m : 1};
          pack_(lines, s.i0 + first, std::min(per * mr, s.ms - first), k, mr, ap.data() + item * a_floats + first * k);
        } else {
          t -= a_copies * a_tasks;
          const int64_t item = t / b_tasks, first = (t % b_tasks) * per * nr;
          const Lines lines{static_cast<const char*>(g_.b) + (b0 + item) * g_.stride_b * elem_size(),
                            g_.trans_b ? k : 1, g_.trans_b ? 1 : g_.n};
          pack_(lines, s.j0 + first, std::min(per * nr, s.ns - first), k, nr, bp.data() + item * b_floats + first * k);
        }
      };
      for_tasks(a_copies * a_tasks + b_copies * b_tasks, parallel, pack_task);
    }

    // Tiles: MC rows by a column chunk; chunks narrow until the items have about 4 tasks per
    // thread between them (never below 4 panels, nor below kTaskMacs of work each).
    const int64_t row_tiles = ceil_div(s.ms, MC);
    int64_t col_tiles = 1;
    if (parallel) {
      const int64_t by_work = std::max<int64_t>(1, items * s.ms * s.ns * std::max<int64_t>(k, 1) / kTaskMacs);
      const int64_t per_item = ceil_div(std::min<int64_t>(4 * threads_, by_work), items);
      col_tiles = std::clamp<int64_t>(ceil_div(per_item, row_tiles), 1, std::max<int64_t>(1, b_panels / 4));
    }
    const int64_t tile_cols = round_up(ceil_div(s.ns, col_tiles), nr);
    col_tiles = ceil_div(s.ns, tile_cols);
    const int64_t tiles = row_tiles * col_tiles;
    auto tile_task = [&](int64_t t) {
      const int64_t item = t / tiles, ti = (t % tiles) / col_tiles, tj = t % col_tiles;
      const float* a_pack = direct_a_ ? nullptr : ap.data() + (a_copies > 1 ? item : 0) * a_floats;
      const float* b_pack = bp.data() + (b_copies > 1 ? item : 0) * b_floats;
      compute_tile(b0 + item, s, ti * MC, std::min(MC, s.ms - ti * MC), tj * tile_cols, std::min(tile_cols, s.ns - tj * tile_cols),
                   a_pack, b_pack);
    };
    for_tasks(items * tiles, parallel, tile_task);
  }

  template <typename F>
  void for_tasks(int64_t tasks, bool parallel, const F& fn) {
    if (parallel) {
      parallel_for(tasks, fn);
    } else {
      for (int64_t t = 0; t < tasks; ++t) fn(t);
    }
  }

  // Rows [r0, r0 + rows) and columns [c0, c0 + cols) of the slab (r0 a multiple of MC, c0 of nr).
  // ap is the slab's packed A, or null when A is read in place.
  void compute_tile(int64_t b, const Slab& s, int64_t r0, int64_t rows, int64_t c0, int64_t cols, const float* ap,
                    const float* bp) const {
    const int64_t m = g_.m, n = g_.n, k = g_.k, mr = kern_.mr, nr = kern_.nr;
    float* out = g_.out + b * g_.stride_out + (s.i0 + r0) * n + (s.j0 + c0);
    // A(i, p) of this batch item: packed panels [panel][p][lane], or A itself ([m, k] or [k, m]).
    const float* a_item = ap ? nullptr : static_cast<const float*>(g_.a) + b * g_.stride_a;  // f32 A only
    const int64_t a_row = ap ? 1 : (g_.trans_a ? 1 : k);
    const int64_t a_depth = ap ? mr : (g_.trans_a ? m : 1);
    if (k == 0 && !g_.accumulate)  // no k-block writes C
      for (int64_t i = 0; i < rows; ++i) std::fill(out + i * n, out + i * n + cols, 0.f);
    for (int64_t p0 = 0; p0 < k; p0 += KC) {
      const int64_t kc = std::min(KC, k - p0);
      for (int64_t jp = 0; jp < cols; jp += nr) {
        const float* bpanel = bp + ((c0 + jp) / nr) * nr * k + p0 * nr;
        for (int64_t ip = 0; ip < rows; ip += mr) {
          const float* a = ap ? ap + ((r0 + ip) / mr) * mr * k + p0 * mr
                              : a_item + (s.i0 + r0 + ip) * a_row + p0 * a_depth;
          kern_.run(kc, a, a_row, a_depth, bpanel, out + ip * n + jp, n, std::min(mr, rows - ip), std::min(nr, cols - jp),
                    g_.accumulate || p0 > 0);  // the first k-block writes C: no zeroing pass
        }
      }
    }
    const float* bias = g_.bias ? g_.bias + b * g_.stride_bias + s.j0 + c0 : nullptr;
    bias_activation(out, n, bias, rows, cols, g_.act);
  }

  size_t elem_size() const { return g_.input == GemmInput::BF16 ? 2 : 4; }

  const GemmArgs& g_;
  const GemmMicroKernel& kern_;
  const PackFn pack_;
  const int threads_;
  const bool direct_a_;
};

}  // namespace

void gemm(const GemmArgs& g) {
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  if (gemm_skinny(g)) return;
  GemmRun(g).run();
}

}  // namespace era::cpu

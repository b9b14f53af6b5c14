#include "gemm_skinny.h"

#include <algorithm>
#include <vector>

#include "parallel.h"
#include "vector_math.h"

namespace era::cpu {
namespace {

constexpr int64_t kTaskMacs = 1 << 17;  // below this much work a task is not worth a thread
constexpr int64_t kMaxSpan = 1024;      // longest run of outputs one task accumulates on its stack

// sum a[p] * b[p] over p < k, as 8 interleaved partial sums (independent chains that vectorise;
// a fixed order).
inline float dot(const float* a, const float* b, int64_t k) {
  constexpr int64_t kLanes = 8;
  float part[kLanes] = {};
  int64_t p = 0;
  for (; p + kLanes <= k; p += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) part[l] += a[p + l] * b[p + l];
  float s = 0.f;
  for (int64_t l = 0; l < kLanes; ++l) s += part[l];
  for (; p < k; ++p) s += a[p] * b[p];
  return s;
}

// Copies the lines of a [k, count] row-major matrix into [count, k]: the few lines a skinny
// product reads along its depth, made contiguous.
void transpose_into(std::vector<float>& dst, const float* src, int64_t k, int64_t count) {
  dst.resize(static_cast<size_t>(count * k));
  for (int64_t p = 0; p < k; ++p)
    for (int64_t c = 0; c < count; ++c) dst[c * k + p] = src[p * count + c];
}

class SkinnyRun {
 public:
  explicit SkinnyRun(const GemmArgs& g) : g_(g), few_cols_(g.n <= kSkinnyMax) {
    // Lines are what the tasks split: rows of out when it has few columns, columns otherwise.
    lines_ = few_cols_ ? g.m : g.n;
    const int64_t line_macs = std::max<int64_t>(1, g.k * (few_cols_ ? g.n : g.m));
    span_ = std::clamp<int64_t>(kTaskMacs / line_macs, 16, kMaxSpan);
    chunks_ = (lines_ + span_ - 1) / span_;
  }

  void run() {
    // The few lines read along the depth with a stride are made contiguous once per batch item.
    const bool copy_few = few_cols_ ? (!g_.trans_a && !g_.trans_b) : (g_.trans_a && g_.trans_b);
    if (copy_few) {
      // One copy per batch item, or one in all when the batch shares that operand (stride 0).
      shared_few_ = (few_cols_ ? g_.stride_b : g_.stride_a) == 0;
      const int64_t copies = shared_few_ ? 1 : g_.batch;
      if (static_cast<int64_t>(few_.size()) < copies) few_.resize(static_cast<size_t>(copies));
      for (int64_t b = 0; b < copies; ++b) {
        if (few_cols_) transpose_into(few_[b], b_of(b), g_.k, g_.n);
        else transpose_into(few_[b], a_of(b), g_.k, g_.m);
      }
    }
    const int64_t tasks = g_.batch * chunks_;
    const auto task = [&](int64_t t) { run_chunk(t / chunks_, t % chunks_); };
    const int64_t macs = g_.batch * g_.m * g_.n * std::max<int64_t>(g_.k, 1);
    if (num_threads() > 1 && tasks > 1 && macs >= 2 * kTaskMacs) {
      parallel_for(tasks, task);
    } else {
      for (int64_t t = 0; t < tasks; ++t) task(t);
    }
  }

 private:
  const float* a_of(int64_t b) const { return static_cast<const float*>(g_.a) + b * g_.stride_a; }
  const float* b_of(int64_t b) const { return static_cast<const float*>(g_.b) + b * g_.stride_b; }
  const float* few(int64_t b) const { return few_[shared_few_ ? 0 : b].data(); }

  void run_chunk(int64_t b, int64_t chunk) {
    const int64_t first = chunk * span_, count = std::min(span_, lines_ - first);
    const int64_t m = g_.m, n = g_.n, k = g_.k;
    const float* a = a_of(b);
    const float* bm = b_of(b);
    float* out = g_.out + b * g_.stride_out;
    float acc[kMaxSpan];
    if (few_cols_) {
      // Rows [first, first + count) of out, all n columns.
      for (int64_t j = 0; j < n; ++j) {
        if (!g_.trans_a) {
          // A's rows are contiguous: one dot product per output with B's column j.
          const float* col = g_.trans_b ? bm + j * k : few(b) + j * k;
          for (int64_t r = 0; r < count; ++r) acc[r] = dot(a + (first + r) * k, col, k);
        } else {
          // A is stored [k, m]: sweep its rows, adding each one's slice scaled by B(p, j).
          std::fill(acc, acc + count, 0.f);
          for (int64_t p = 0; p < k; ++p) {
            const float bpj = g_.trans_b ? bm[j * k + p] : bm[p * n + j];
            const float* arow = a + p * m + first;
            for (int64_t r = 0; r < count; ++r) acc[r] += arow[r] * bpj;
          }
        }
        for (int64_t r = 0; r < count; ++r) {
          float& o = out[(first + r) * n + j];
          o = g_.accumulate ? o + acc[r] : acc[r];
        }
      }
      const float* bias = g_.bias ? g_.bias + b * g_.stride_bias : nullptr;
      bias_activation(out + first * n, n, bias, count, n, g_.act);
    } else {
      // Columns [first, first + count) of out, all m rows.
      for (int64_t i = 0; i < m; ++i) {
        if (!g_.trans_b) {
          // B's rows are contiguous: add each one scaled by A(i, p).
          std::fill(acc, acc + count, 0.f);
          for (int64_t p = 0; p < k; ++p) {
            const float aip = g_.trans_a ? a[p * m + i] : a[i * k + p];
            const float* brow = bm + p * n + first;
            for (int64_t c = 0; c < count; ++c) acc[c] += brow[c] * aip;
          }
        } else {
          // B is stored [n, k]: one dot product per output with A's row i.
          const float* row = g_.trans_a ? few(b) + i * k : a + i * k;
          for (int64_t c = 0; c < count; ++c) acc[c] = dot(row, bm + (first + c) * k, k);
        }
        float* orow = out + i * n + first;
        if (g_.accumulate) {
          for (int64_t c = 0; c < count; ++c) orow[c] += acc[c];
        } else {
          std::copy(acc, acc + count, orow);
        }
      }
      const float* bias = g_.bias ? g_.bias + b * g_.stride_bias + first : nullptr;
      bias_activation(out + first, n, bias, m, count, g_.act);
    }
  }

  const GemmArgs& g_;
  const bool few_cols_;
  int64_t lines_ = 0, span_ = 0, chunks_ = 0;
  // The copies, in buffers the calling thread keeps (a training step should not allocate);
  // workers only read them during the call.
  std::vector<std::vector<float>>& few_ = few_buffers();
  bool shared_few_ = false;

  static std::vector<std::vector<float>>& few_buffers() {
    thread_local std::vector<std::vector<float>> buffers;
    return buffers;
  }
};

}  // namespace

bool gemm_skinny(const GemmArgs& g) {
  if (g.input != GemmInput::F32 || g.round != GemmRound::None) return false;
  if (g.m > kSkinnyMax && g.n > kSkinnyMax) return false;
  SkinnyRun(g).run();
  return true;
}

}  // namespace era::cpu

#include "sac_replay.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "../cpu/sac_replay.h"
#include "check.h"
#include "dispatch.h"
#ifdef ERA_WITH_CUDA
#include "../cuda/sac_replay.h"
#endif

namespace era::ops {

namespace {

// A buffer [N, F] or [S, N, F]: returns {S, N, F} (S = 1 for 2-D).
struct Rows3 {
  int64_t s, n, f;
};

Rows3 buffer_dims(const TensorView& t, const char* name) {
  if (t.ndim == 2) return {1, t.shape[0], t.shape[1]};
  if (t.ndim == 3) return {t.shape[0], t.shape[1], t.shape[2]};
  throw_range("a 2-D tensor [N, F] or a 3-D tensor [S, N, F]", name, t.describe());
}

int elem_bytes(const TensorView& t) { return static_cast<int>(dtype_size(t.dtype)); }

// A whole number in [lo, hi] held exactly by a double.
int64_t whole(double v, double lo, double hi, const char* what, const char* name) {
  if (!(v >= lo && v <= hi) || std::floor(v) != v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    throw_range(what, name, buf);
  }
  return static_cast<int64_t>(v);
}

void bad_index(int64_t n, int64_t pos, int32_t value) {
  throw_range("indices in [0, " + std::to_string(n) + ") (the rows of src)", "indices",
              std::to_string(value) + " at position " + std::to_string(pos));
}

}  // namespace

void random_indices(const TensorView& out, double high, uint64_t seed, uint64_t offset) {
  require_dtype(out, {DType::I32}, "options.out");
  if (out.ndim != 1) throw_range("a 1-D tensor [count]", "options.out", out.describe());
  const int64_t h = whole(high, 1, 2147483648.0, "an integer in [1, 2^31]", "high");
  if (offset % 4 != 0) throw_range("a multiple of 4", "offset", std::to_string(offset));
  dispatch(out.device, "randomIndices",
           [&] { cpu::random_indices_i32(out.ptr<int32_t>(), out.numel, h, seed, offset); },
           [&](void* s) {
             ERA_CUDA_ONLY(cuda::random_indices_i32(out.ptr<int32_t>(), out.numel, h, seed, offset,
                                                    s);)
             (void)s;
           });
}

void gather_rows(const TensorView& out, const TensorView& src, const TensorView& indices,
                 bool check) {
  const Rows3 d = buffer_dims(src, "src");
  require_dtype(indices, {DType::I32}, "indices");
  require_same_device(indices, src, "indices", "src");
  if (indices.ndim != 1) throw_range("a 1-D tensor [B]", "indices", indices.describe());
  const int64_t batch = indices.shape[0];
  require_same_dtype(out, src, "options.out", "src");
  require_same_device(out, src, "options.out", "src");
  const bool shape_ok = src.ndim == 2 ? (out.ndim == 2 && out.shape[0] == batch && out.shape[1] == d.f)
                                      : (out.ndim == 3 && out.shape[0] == d.s &&
                                         out.shape[1] == batch && out.shape[2] == d.f);
  if (!shape_ok) {
    const std::string want = src.ndim == 2
        ? "[" + std::to_string(batch) + ", " + std::to_string(d.f) + "]"
        : "[" + std::to_string(d.s) + ", " + std::to_string(batch) + ", " + std::to_string(d.f) + "]";
    throw_range("shape " + want + " (one row of src per index)", "options.out", out.describe());
  }
  // Outputs never alias inputs (lib/rl/ops.ts): rows gathered into src itself would be read after
  // they were overwritten.
  require_no_alias(out, "options.out", {{&src, "src"}, {&indices, "indices"}});
  if (src.device == Device::CPU) {
    const int32_t* idx = indices.ptr<int32_t>();
    for (int64_t i = 0; i < batch; ++i)
      if (idx[i] < 0 || idx[i] >= d.n) bad_index(d.n, i, idx[i]);
    cpu::gather_rows(out.data, src.data, idx, d.s, d.n, batch, d.f, elem_bytes(src));
    return;
  }
  if (check && batch > 0) {
    // The indices live on the device: read them back (this synchronises) and check on the host.
    require_cuda_for(src, "gatherRows");
    std::vector<int32_t> host(static_cast<size_t>(batch));
    cuda_rt::download(host.data(), indices.data, host.size() * sizeof(int32_t), "gatherRows");
    for (int64_t i = 0; i < batch; ++i)
      if (host[i] < 0 || host[i] >= d.n) bad_index(d.n, i, host[i]);
  }
  dispatch(src.device, "gatherRows", [] {},
           [&](void* s) {
             ERA_CUDA_ONLY(cuda::gather_rows(out.data, src.data, indices.ptr<int32_t>(), d.s, d.n,
                                             batch, d.f, elem_bytes(src), s);)
             (void)s;
           });
}

void scatter_rows(const TensorView& dst, const TensorView& rows, double start) {
  const Rows3 d = buffer_dims(dst, "dst");
  if (d.n < 1) throw_range("a buffer of at least one row (N >= 1)", "dst", dst.describe());
  require_same_dtype(rows, dst, "rows", "dst");
  require_same_device(rows, dst, "rows", "dst");
  const bool layout_ok = rows.ndim == dst.ndim && rows.shape[rows.ndim - 1] == d.f &&
                         (dst.ndim == 2 || rows.shape[0] == d.s);
  if (!layout_ok) {
    const std::string want = dst.ndim == 2 ? "[k, " + std::to_string(d.f) + "]"
                                           : "[" + std::to_string(d.s) + ", k, " + std::to_string(d.f) + "]";
    throw_range("a tensor " + want + " (rows laid out like dst)", "rows", rows.describe());
  }
  const int64_t k = rows.shape[rows.ndim - 2];
  // More rows than slots would write a slot twice in one call (order-dependent on the GPU).
  if (k > d.n)
    throw_range("at most " + std::to_string(d.n) + " rows (the capacity N of dst)", "rows",
                rows.describe());
  const int64_t at = whole(start, 0, static_cast<double>(d.n - 1),
                           ("an integer in [0, " + std::to_string(d.n) + ")").c_str(), "start");
  // Rows taken from dst itself would be read after earlier rows overwrote them.
  require_no_alias(rows, "rows", dst, "dst");
  dispatch(dst.device, "scatterRows",
           [&] { cpu::scatter_rows(dst.data, rows.data, d.s, d.n, k, d.f, at, elem_bytes(dst)); },
           [&](void* s) {
             ERA_CUDA_ONLY(cuda::scatter_rows(dst.data, rows.data, d.s, d.n, k, d.f, at,
                                              elem_bytes(dst), s);)
             (void)s;
           });
}

}  // namespace era::ops

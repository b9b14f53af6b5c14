#include "gemm_strided.h"

#include <climits>
#include <string>

#include "../cpu/gemm.h"
#include "check.h"
#include "dispatch.h"
#include "strided_overlap.h"
#ifdef ERA_WITH_CUDA
#include "../cuda/gemm.h"
#endif

namespace era::ops {

namespace {

// Checks that `batch` matrices of `size` elements fit inside s.t; returns where they lie.
Strided checked_matrices(const StridedMatrices& s, int64_t size, int64_t batch, const char* name) {
  if (s.offset < 0 || s.stride < 0)
    throw_range("a non-negative offset and stride", name,
                "offset " + std::to_string(s.offset) + ", stride " + std::to_string(s.stride));
  // (batch - 1) * stride + size <= numel - offset, without overflowing on hostile values.
  const int64_t room = s.t.numel - s.offset;
  const bool fits = size == 0 || (room >= size && (batch == 1 || s.stride == 0 ||
                                                   (batch - 1) <= (room - size) / s.stride));
  if (!fits)
    throw_range(std::to_string(batch) + " matrices of " + std::to_string(size) +
                    " elements at offset " + std::to_string(s.offset) + ", stride " +
                    std::to_string(s.stride),
                name, s.t.describe());
  const int64_t esize = static_cast<int64_t>(dtype_size(s.t.dtype));
  return {static_cast<const char*>(s.t.data) + s.offset * esize, s.t.device, esize, batch, s.stride, size};
}

void require_int(int64_t v, const char* what, const char* name, int64_t limit = kMaxCudaGemmDim,
                 const char* limit_text = kMaxCudaGemmDimText) {
  if (v > limit) throw_range(std::string(what) + " " + limit_text, name, std::to_string(v));
}

}  // namespace

void matmul_strided(const StridedMatrices& out, const StridedMatrices& a, const StridedMatrices& b,
                    const StridedMatrices* bias, const StridedGemm& g, const MatmulOptions& o) {
  require_dtype(a.t, {DType::F32, DType::BF16}, "a");
  require_same_dtype(b.t, a.t, "b", "a");
  require_same_device(b.t, a.t, "b", "a");
  require_dtype(out.t, {DType::F32}, "out");
  require_same_device(out.t, a.t, "out", "a");
  if (g.m < 0 || g.n < 0 || g.k < 0 || g.batch < 0)
    throw_range("non-negative m, n, k and batch", "shape",
                std::to_string(g.m) + ", " + std::to_string(g.n) + ", " + std::to_string(g.k) +
                    ", " + std::to_string(g.batch));
  if (g.batch == 0) return;
  if (a.t.dtype == DType::BF16 && o.precision != Precision::BF16)
    throw_range("'bf16' (the only precision for bf16 inputs)", "options.precision", "another precision");
  if (g.batch > 1 && out.stride < g.m * g.n)
    throw_range("a stride of at least " + std::to_string(g.m * g.n) + " (outputs may not overlap)",
                "out", "stride " + std::to_string(out.stride));
  const Strided so = checked_matrices(out, g.m * g.n, g.batch, "out");
  const Strided sa = checked_matrices(a, g.m * g.k, g.batch, "a");
  const Strided sb = checked_matrices(b, g.k * g.n, g.batch, "b");
  if (strided_overlap(so, sa)) throw_range("memory that does not overlap a", "out", out.t.describe());
  if (strided_overlap(so, sb)) throw_range("memory that does not overlap b", "out", out.t.describe());
  const float* pbias = nullptr;
  if (bias) {
    require_dtype(bias->t, {DType::F32}, "bias");
    require_same_device(bias->t, a.t, "bias", "a");
    const Strided sbias = checked_matrices(*bias, g.n, g.batch, "bias");
    if (strided_overlap(so, sbias)) throw_range("memory that does not overlap bias", "out", out.t.describe());
    pbias = static_cast<const float*>(sbias.data);
  }
  if (g.m == 0 || g.n == 0) return;
  if (a.t.device == Device::CUDA) {
    require_int(g.m, "m", "shape");
    require_int(g.n, "n", "shape");
    require_int(g.k, "k", "shape");
    require_int(g.batch, "batch", "shape", INT_MAX, "below 2^31");
  }
  const char* pa = static_cast<const char*>(sa.data);
  const char* pb = static_cast<const char*>(sb.data);
  float* pout = static_cast<float*>(const_cast<void*>(so.data));
  const int64_t bias_stride = bias ? bias->stride : 0;
  dispatch(
      a.t.device, "matmul",
      [&] {
        cpu::GemmArgs c;
        c.m = g.m;
        c.n = g.n;
        c.k = g.k;
        c.trans_a = o.trans_a;
        c.trans_b = o.trans_b;
        c.input = a.t.dtype == DType::BF16 ? cpu::GemmInput::BF16 : cpu::GemmInput::F32;
        c.round = a.t.dtype == DType::BF16 || o.precision == Precision::F32 ? cpu::GemmRound::None
                  : o.precision == Precision::TF32                          ? cpu::GemmRound::TF32
                                                                            : cpu::GemmRound::BF16;
        c.accumulate = o.accumulate;
        c.act = o.act;
        c.a = pa;
        c.b = pb;
        c.bias = pbias;
        c.out = pout;
        c.batch = g.batch;
        c.stride_a = a.stride;
        c.stride_b = b.stride;
        c.stride_bias = bias_stride;
        c.stride_out = out.stride;
        cpu::gemm(c);
      },
      [&](void* s) {
        ERA_CUDA_ONLY(
            cuda::GemmParams p;
            p.m = static_cast<int>(g.m); p.n = static_cast<int>(g.n); p.k = static_cast<int>(g.k);
            p.batch = static_cast<int>(g.batch);
            p.a = pa; p.stride_a = a.stride; p.trans_a = o.trans_a;
            p.b = pb; p.stride_b = b.stride; p.trans_b = o.trans_b;
            p.bias = pbias; p.stride_bias = bias_stride;
            p.out = pout; p.stride_out = out.stride;
            p.accumulate = o.accumulate; p.act = o.act;
            p.bf16_inputs = a.t.dtype == DType::BF16;
            p.precision = static_cast<int>(o.precision);
            cuda::gemm(p, s);)
        (void)s;
      });
}

}  // namespace era::ops

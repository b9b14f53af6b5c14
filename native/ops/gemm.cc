#include "gemm.h"

#include <climits>
#include <cstdint>
#include <string>

#include "../cpu/gemm.h"
#include "../cpu/gemm_kernels.h"
#include "check.h"
#include "dispatch.h"
#ifdef ERA_WITH_CUDA
#include "../cuda/gemm.h"
#include "../cuda/gemm_wgmma.h"
#endif

namespace era::ops {

namespace {

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::F32: return "'f32'";
    case Precision::TF32: return "'tf32'";
    case Precision::BF16: return "'bf16'";
  }
  return "unknown";
}

void require_operand(const TensorView& t, const char* name, const char* layout) {
  if (t.ndim != 2 && t.ndim != 3)
    throw_range(std::string("a 2-D tensor ") + layout + " or a batched 3-D tensor", name, t.describe());
}

void require_dim_limit(int64_t v, const char* what, const TensorView& t, const char* name,
                       int64_t limit = kMaxCudaGemmDim, const char* limit_text = kMaxCudaGemmDimText) {
  if (v > limit) throw_range(std::string(what) + " " + limit_text, name, t.describe());
}

}  // namespace

void matmul(const TensorView& out, const TensorView& a, const TensorView& b,
            const TensorView* bias, const MatmulOptions& o) {
  require_dtype(a, {DType::F32, DType::BF16}, "a");
  require_same_dtype(b, a, "b", "a");
  require_same_device(b, a, "b", "a");
  require_dtype(out, {DType::F32}, "options.out");
  require_same_device(out, a, "options.out", "a");
  require_operand(a, "a", o.trans_a ? "[k, m] (transA)" : "[m, k]");
  require_operand(b, "b", o.trans_b ? "[n, k] (transB)" : "[k, n]");
  const int64_t m = o.trans_a ? a.dim(-1) : a.dim(-2);
  const int64_t k = o.trans_a ? a.dim(-2) : a.dim(-1);
  const int64_t kb = o.trans_b ? b.dim(-1) : b.dim(-2);
  const int64_t n = o.trans_b ? b.dim(-2) : b.dim(-1);
  if (kb != k)
    throw_range(std::to_string(k) + " rows of op(b) (the inner dimension of op(a), a " +
                    a.shape_string() + (o.trans_a ? " transposed" : "") + ")",
                "b", b.describe() + (o.trans_b ? " (transB)" : ""));
  int64_t batch = 1;
  const bool batched = a.ndim == 3 || b.ndim == 3;
  if (a.ndim == 3) batch = a.shape[0];
  if (b.ndim == 3) {
    if (a.ndim == 3 && b.shape[0] != batch)
      throw_range("a batch of " + std::to_string(batch) + " (the batch of a)", "b", b.describe());
    batch = b.shape[0];
  }
  // out: [m, n], or [batch, m, n] when either operand is batched.
  const bool out_ok = batched ? (out.ndim == 3 && out.shape[0] == batch && out.shape[1] == m &&
                                 out.shape[2] == n)
                              : (out.ndim == 2 && out.shape[0] == m && out.shape[1] == n);
  if (!out_ok)
    throw_range("shape " + std::string(batched ? "[" + std::to_string(batch) + ", " : "[") +
                    std::to_string(m) + ", " + std::to_string(n) + "] (op(a) · op(b))",
                "options.out", out.describe());
  int64_t bias_stride = 0;
  if (bias) {
    require_dtype(*bias, {DType::F32}, "options.bias");
    require_same_device(*bias, a, "options.bias", "a");
    const bool shared = bias->ndim == 1 && bias->shape[0] == n;
    const bool per_batch = batched && bias->ndim == 2 && bias->shape[0] == batch && bias->shape[1] == n;
    if (!shared && !per_batch)
      throw_range("shape [" + std::to_string(n) + "]" +
                      (batched ? " or [" + std::to_string(batch) + ", " + std::to_string(n) + "]" : "") +
                      " (the columns of out)",
                  "options.bias", bias->describe());
    bias_stride = per_batch ? n : 0;
    if (overlaps(out, *bias)) throw_range("a tensor that does not share memory with options.bias", "options.out", out.describe());
  }
  if (a.dtype == DType::BF16 && o.precision != Precision::BF16)
    throw_range("'bf16' (the only precision for bf16 inputs)", "options.precision",
                precision_name(o.precision));
  if (overlaps(out, a)) throw_range("a tensor that does not share memory with a", "options.out", out.describe());
  if (overlaps(out, b)) throw_range("a tensor that does not share memory with b", "options.out", out.describe());

  const int64_t stride_a = a.ndim == 3 ? m * k : 0;
  const int64_t stride_b = b.ndim == 3 ? k * n : 0;
  const int64_t stride_out = m * n;
  if (out.numel == 0) return;

  if (a.device == Device::CUDA) {
    require_dim_limit(m, "m", a, "a");
    require_dim_limit(k, "k", a, "a");
    require_dim_limit(n, "n", b, "b");
    require_dim_limit(batch, "a batch", out, "options.out", INT_MAX, "below 2^31");
  }
  dispatch(
      a.device, "matmul",
      [&] {
        cpu::GemmArgs g;
        g.m = m;
        g.n = n;
        g.k = k;
        g.trans_a = o.trans_a;
        g.trans_b = o.trans_b;
        g.input = a.dtype == DType::BF16 ? cpu::GemmInput::BF16 : cpu::GemmInput::F32;
        g.round = a.dtype == DType::BF16 || o.precision == Precision::F32 ? cpu::GemmRound::None
                  : o.precision == Precision::TF32                        ? cpu::GemmRound::TF32
                                                                          : cpu::GemmRound::BF16;
        g.accumulate = o.accumulate;
        g.act = o.act;
        g.a = a.data;
        g.b = b.data;
        g.bias = bias ? bias->ptr<float>() : nullptr;
        g.out = out.ptr<float>();
        g.batch = batch;
        g.stride_a = stride_a;
        g.stride_b = stride_b;
        g.stride_bias = bias_stride;
        g.stride_out = stride_out;
        cpu::gemm(g);
      },
      [&](void* s) {
        ERA_CUDA_ONLY(
            cuda::GemmParams p;
            p.m = static_cast<int>(m); p.n = static_cast<int>(n); p.k = static_cast<int>(k);
            p.batch = static_cast<int>(batch);
            p.a = a.data; p.stride_a = stride_a; p.trans_a = o.trans_a;
            p.b = b.data; p.stride_b = stride_b; p.trans_b = o.trans_b;
            p.bias = bias ? bias->ptr<float>() : nullptr; p.stride_bias = bias_stride;
            p.out = out.ptr<float>(); p.stride_out = stride_out;
            p.accumulate = o.accumulate; p.act = o.act;
            p.bf16_inputs = a.dtype == DType::BF16;
            p.precision = static_cast<int>(o.precision);
            cuda::gemm(p, s);)
        (void)s;
      });
}

std::string matmul_kernel_name(const GemmShape& s, Device device) {
  if (device == Device::CPU) return std::string("cpu ") + cpu::active_gemm_kernel().name;  // "cpu avx2-fma"
  cuda_rt::require("matmul");
#ifdef ERA_WITH_CUDA
  cuda::GemmParams p;
  p.m = static_cast<int>(s.m);
  p.n = static_cast<int>(s.n);
  p.k = static_cast<int>(s.k);
  p.batch = static_cast<int>(s.batch);
  p.trans_a = s.trans_a;
  p.trans_b = s.trans_b;
  p.bf16_inputs = s.bf16;
  p.precision = static_cast<int>(s.precision);
  // Judged on the shapes only: caching-allocator blocks are 16-byte aligned, so stand in an
  // aligned address (never dereferenced).
  p.a = p.b = reinterpret_cast<const void*>(uintptr_t{256});
  return cuda::gemm_kernel_name(p);
#else
  return "none";
#endif
}

std::vector<std::string> cuda_gemm_kernels() {
  cuda_rt::require("cudaGemmKernels");
#ifdef ERA_WITH_CUDA
  return cuda::gemm_kernel_choices();
#else
  return {};
#endif
}

std::string cuda_gemm_wgmma_unavailable() {
  cuda_rt::require("cudaGemmKernels");
#ifdef ERA_WITH_CUDA
  if (cuda::wgmma_available(cuda_rt::stream())) return "";
  return cuda::wgmma_unavailable_reason();
#else
  return "";
#endif
}

std::string cuda_gemm_kernel() {
  cuda_rt::require("cudaGemmKernels");
#ifdef ERA_WITH_CUDA
  return cuda::gemm_kernel_choice();
#else
  return "";
#endif
}

bool set_cuda_gemm_kernel(const std::string& name) {
  cuda_rt::require("setCudaGemmKernel");
#ifdef ERA_WITH_CUDA
  return cuda::gemm_set_kernel_choice(name);
#else
  (void)name;
  return false;
#endif
}

}  // namespace era::ops

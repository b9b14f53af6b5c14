// N-API wrapper of matmul (native/ops/gemm.h). lib/nn/functional.ts validates first; the op layer
// checks every argument again.
#include <string>

#include "../ops/gemm.h"
#include "args.h"
#include "bindings.h"
#include "dense_args.h"
#include "errors.h"

namespace era::addon {
namespace {

using namespace dense;

// matmul(out, a, b, bias | null, transA, transB, activation, accumulate, precision)
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    TensorView out = tensor_arg(info, 0, "options.out");
    TensorView a = tensor_arg(info, 1, "a");
    TensorView b = tensor_arg(info, 2, "b");
    TensorView bias;
    const bool has_bias = optional_tensor_arg(info, 3, "options.bias", bias);
    ops::MatmulOptions o;
    o.trans_a = bool_arg(info, 4, "options.transA");
    o.trans_b = bool_arg(info, 5, "options.transB");
    o.act = static_cast<Activation>(code_arg(info, 6, "options.activation", 4, "an activation code 0..3"));
    o.accumulate = bool_arg(info, 7, "options.accumulate");
    o.precision = static_cast<ops::Precision>(code_arg(info, 8, "options.precision", 3, "a precision code 0..2"));
    ops::matmul(out, a, b, has_bias ? &bias : nullptr, o);
    return info.Env().Undefined();
  });
}

// matmulKernel(m, n, k, batch, transA, transB, bf16, precision, cuda) -> the kernel matmul would
// run ("cpu avx2-fma" or "cpu portable" for the CPU backend).
Napi::Value MatmulKernel(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    ops::GemmShape s;
    s.m = static_cast<int64_t>(index_arg(info, 0, "m"));
    s.n = static_cast<int64_t>(index_arg(info, 1, "n"));
    s.k = static_cast<int64_t>(index_arg(info, 2, "k"));
    s.batch = static_cast<int64_t>(index_arg(info, 3, "batch"));
    s.trans_a = bool_arg(info, 4, "transA");
    s.trans_b = bool_arg(info, 5, "transB");
    s.bf16 = bool_arg(info, 6, "bf16");
    s.precision = static_cast<ops::Precision>(code_arg(info, 7, "precision", 3, "a precision code 0..2"));
    const bool cuda = bool_arg(info, 8, "cuda");
    return Napi::String::New(info.Env(), ops::matmul_kernel_name(s, cuda ? Device::CUDA : Device::CPU));
  });
}

// cudaGemmKernels() -> { kernel, kernels, wgmmaUnavailable? }: the CUDA GEMM's kernel choice,
// those available, and why 'wgmma' is not among them.
Napi::Value CudaGemmKernels(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("kernel", ops::cuda_gemm_kernel());
    out.Set("kernels", string_array(env, ops::cuda_gemm_kernels()));
    const std::string why = ops::cuda_gemm_wgmma_unavailable();
    if (!why.empty()) out.Set("wgmmaUnavailable", why);
    return out;
  });
}

// setCudaGemmKernel(name)
Napi::Value SetCudaGemmKernel(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    const std::string name = string_arg(info, 0, "name");
    if (!ops::set_cuda_gemm_kernel(name))
      throw_range("one of the GEMM kernels this build and device offer (" + quoted_list(ops::cuda_gemm_kernels()) + ")", "name", "'" + name + "'");
    return info.Env().Undefined();
  });
}

}  // namespace

void register_gemm(Napi::Env env, Napi::Object exports) {
  exports.Set("matmul", Napi::Function::New(env, Matmul, "matmul"));
  exports.Set("matmulKernel", Napi::Function::New(env, MatmulKernel, "matmulKernel"));
  exports.Set("cudaGemmKernels", Napi::Function::New(env, CudaGemmKernels, "cudaGemmKernels"));
  exports.Set("setCudaGemmKernel", Napi::Function::New(env, SetCudaGemmKernel, "setCudaGemmKernel"));
}

}  // namespace era::addon

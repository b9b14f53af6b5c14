// Control of the CPU backend: its worker-thread count (era.setNumThreads) and which GEMM
// micro-kernel it runs (ERA_CPU_GEMM; the tests compare them); which vector build of the
// element-wise math it runs (reported only).
#include <string>

#include "../cpu/gemm_kernels.h"
#include "../cpu/parallel.h"
#include "../cpu/vector_math.h"
#include "args.h"
#include "bindings.h"
#include "errors.h"

namespace era::addon {
namespace {

Napi::Value CpuInfo(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("threads", cpu::num_threads());
    out.Set("gemmKernel", cpu::active_gemm_kernel().name);
    out.Set("gemmKernels", string_array(env, cpu::available_gemm_kernels()));
    static const char* const kVectorBuilds[] = {"baseline", "avx2", "avx512"};
    out.Set("vectorBuild", kVectorBuilds[cpu::vector_math_level()]);
    return out;
  });
}

Napi::Value SetCpuThreads(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    const uint64_t n = index_arg(info, 0, "threads");
    if (n < 1 || n > static_cast<uint64_t>(cpu::kMaxThreads))
      throw_range("an integer from 1 to " + std::to_string(cpu::kMaxThreads), "threads", describe_js(info[0]));
    cpu::set_num_threads(static_cast<int>(n));
    return info.Env().Undefined();
  });
}

Napi::Value SetCpuGemmKernel(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    const std::string name = string_arg(info, 0, "kernel");
    if (!cpu::set_gemm_kernel(name))
      throw_range("one of this CPU's GEMM kernels (" + quoted_list(cpu::available_gemm_kernels()) + ")", "kernel", "'" + name + "'");
    return info.Env().Undefined();
  });
}

}  // namespace

void register_cpu(Napi::Env env, Napi::Object exports) {
  exports.Set("cpuInfo", Napi::Function::New(env, CpuInfo, "cpuInfo"));
  exports.Set("setCpuThreads", Napi::Function::New(env, SetCpuThreads, "setCpuThreads"));
  exports.Set("setCpuGemmKernel", Napi::Function::New(env, SetCpuGemmKernel, "setCpuGemmKernel"));
}

}  // namespace era::addon

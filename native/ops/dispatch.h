// Backend dispatch for ops: CUDA tensors run the CUDA launcher on the library stream (and the
// launch is checked), CPU tensors run the reference kernel. In a CPU-only build the CUDA branch
// compiles away and CUDA tensors cannot exist (allocation reports the missing backend).
#pragma once
#include "../core/cuda_runtime.h"
#include "../core/tensor.h"

#ifdef ERA_WITH_CUDA
#define ERA_CUDA_ONLY(...) __VA_ARGS__
#else
#define ERA_CUDA_ONLY(...)
#endif

namespace era::ops {

template <typename CpuFn, typename CudaFn>
void dispatch(Device device, const char* op, CpuFn cpu_fn, CudaFn cuda_fn) {
  if (device == Device::CUDA) {
    cuda_rt::require(op);
    cuda_fn(cuda_rt::stream());
    cuda_rt::check_launch(op);
  } else {
    cpu_fn();
  }
}

}  // namespace era::ops

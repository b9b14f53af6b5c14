// Activations shared by the GEMM epilogue and the element-wise layers, host and device alike.
// The numeric codes are part of the addon ABI (lib/nn/functional.ts ACTIVATION_CODE).
#pragma once
#include <math.h>

#include "host_device.h"
#if !defined(__CUDA_ARCH__)
#include "expm1.h"
#endif

namespace era {

enum class Activation : int { None = 0, Relu = 1, Elu = 2, Tanh = 3 };

inline const char* activation_name(Activation a) {
  switch (a) {
    case Activation::None: return "none";
    case Activation::Relu: return "relu";
    case Activation::Elu: return "elu";
    case Activation::Tanh: return "tanh";
  }
  return "unknown";
}

// Host loops over activate() with a constant activation vectorise only if the call is inlined,
// which GCC's size heuristic declines now that ELU's expm1 is inline arithmetic.
#if !defined(__CUDACC__) && (defined(__GNUC__) || defined(__clang__))
#define ERA_ACTIVATE_INLINE __attribute__((always_inline))
#else
#define ERA_ACTIVATE_INLINE
#endif

// y = act(x). ELU uses alpha = 1: x > 0 ? x : exp(x) - 1.
ERA_HD ERA_ACTIVATE_INLINE float activate(float x, Activation a) {
  switch (a) {
    case Activation::Relu: return x > 0.f ? x : 0.f;
#if defined(__CUDA_ARCH__)
    case Activation::Elu: return x > 0.f ? x : expm1f(x);
#else
    case Activation::Elu: return elu(x);  // expm1.h: branch-free, so CPU loops vectorise
#endif
    case Activation::Tanh: return tanhf(x);
    default: return x;
  }
}

// dL/dx from dL/dy and the forward output y (not the input): every activation here has a
// derivative that is a function of its output, so backward needs only what forward wrote.
//   relu: y > 0 ? 1 : 0        elu: y > 0 ? 1 : y + 1 (= exp(x))        tanh: 1 - y^2
ERA_HD ERA_ACTIVATE_INLINE float activation_grad(float dy, float y, Activation a) {
  switch (a) {
    case Activation::Relu: return y > 0.f ? dy : 0.f;
#if defined(__CUDA_ARCH__)
    case Activation::Elu: return y > 0.f ? dy : dy * (y + 1.f);
#else
    case Activation::Elu: return elu_grad(dy, y);  // expm1.h: branch-free, so CPU loops vectorise
#endif
    case Activation::Tanh: return dy * (1.f - y * y);
    default: return dy;
  }
}

}  // namespace era

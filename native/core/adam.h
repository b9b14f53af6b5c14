// The Adam / AdamW update of one parameter, shared by the CPU reference and the CUDA kernel so the
// two cannot drift apart (in formula: nvcc fuses multiply-adds here and the host build does not,
// so they agree to about an ulp, not bitwise). Optax semantics: bc1 = 1 - beta1^t, bc2 = 1 - beta2^t, and decoupled
// weight decay p -= lr * (mhat / (sqrt(vhat) + eps) + weight_decay * p).
#pragma once
#include <math.h>

#include "host_device.h"

namespace era {

struct AdamHyper {
  float lr, beta1, beta2, eps, weight_decay, bc1, bc2;
};

// The bias corrections for 1-based step t, in double as the op layer computes them, so the
// device-counted variant (step count read on the GPU, for CUDA graphs) matches the host path.
ERA_HD void adam_bias_corrections(double beta1, double beta2, double t, float& bc1, float& bc2) {
  bc1 = static_cast<float>(1.0 - pow(beta1, t));
  bc2 = static_cast<float>(1.0 - pow(beta2, t));
}

ERA_HD void adam_update(float& p, float g, float& m, float& v, const AdamHyper& h) {
  m = h.beta1 * m + (1.f - h.beta1) * g;
  v = h.beta2 * v + (1.f - h.beta2) * g * g;
  const float mhat = m / h.bc1;
  const float vhat = v / h.bc2;
  p = p - h.lr * (mhat / (sqrtf(vhat) + h.eps) + h.weight_decay * p);
}

}  // namespace era

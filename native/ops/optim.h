// Optimizer ops over flat f32 parameter blocks (any shapes; p, g and the state must have the same
// number of elements): Adam/AdamW, SGD with momentum/Nesterov, clipping by global norm, Polyak
// averaging. One fused kernel per block and step.
#pragma once
#include <cstdint>
#include <vector>

#include "../core/tensor.h"

namespace era::ops {

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0;  // decoupled (AdamW): p -= lr * weight_decay * p
  double step = 1;          // 1-based step count for the bias corrections
  // When set (an i32 tensor of one element on the parameters' device), the step count lives there
  // instead: the op adds 1 to it and uses the new value, all on the device, so the step can be
  // recorded in a CUDA graph and replayed. `step` is then ignored.
  const TensorView* step_counter = nullptr;
};
void adam_step(const TensorView& p, const TensorView& g, const TensorView& m, const TensorView& v,
               const AdamOptions& o);

struct SgdOptions {
  double lr = 1e-2, momentum = 0, weight_decay = 0;
  bool nesterov = false;
};
// buf (the momentum trace) may be null when momentum is 0.
void sgd_step(const TensorView& p, const TensorView& g, const TensorView* buf, const SgdOptions& o);

// Scales every block of grads by (norm < max_norm ? 1 : max_norm / norm), norm the global L2
// norm of all of them, which is written to norm_out (one element).
void clip_grad_norm(const std::vector<TensorView>& grads, double max_norm, const TensorView& norm_out);

// target = (1 - tau) * target + tau * online
void polyak_update(const TensorView& target, const TensorView& online, double tau);

}  // namespace era::ops

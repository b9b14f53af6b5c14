// CPU reference kernels of the optimizers over flat f32 parameter blocks.
#pragma once
#include <cstdint>

namespace era::cpu {

// One Adam / AdamW step (optax semantics). bc1 = 1 - beta1^t, bc2 = 1 - beta2^t;
// weight_decay is decoupled: p -= lr * (mhat / (sqrt(vhat) + eps) + weight_decay * p).
struct AdamHyper {
  float lr, beta1, beta2, eps, weight_decay, bc1, bc2;
};
void adam_step(float* p, const float* g, float* m, float* v, int64_t n, const AdamHyper& h);

// SGD with momentum (optax / PyTorch with dampening 0): g' = g + wd * p; buf = momentum * buf + g';
// update = nesterov ? g' + momentum * buf : buf (buf unused when momentum == 0); p -= lr * update.
void sgd_step(float* p, const float* g, float* buf, int64_t n, float lr, float momentum,
              bool nesterov, float weight_decay);

double sum_squares(const float* x, int64_t n);
void scale_inplace(float* x, int64_t n, float s);

// target = (1 - tau) * target + tau * online
void polyak(float* target, const float* online, int64_t n, float tau);

}  // namespace era::cpu

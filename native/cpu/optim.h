// CPU reference kernels of the optimizers over flat f32 parameter blocks.
#pragma once
#include <cstdint>

#include "../core/adam.h"

namespace era::cpu {

// One Adam / AdamW step over a block (the update itself: core/adam.h).
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

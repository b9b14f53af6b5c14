#include "optim.h"

#include <cmath>

#include "parallel.h"

namespace era::cpu {


void adam_step(float* p, const float* g, float* m, float* v, int64_t n, const AdamHyper& h) {
  parallel_chunks(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) adam_update(p[i], g[i], m[i], v[i], h);
  });
}

void sgd_step(float* p, const float* g, float* buf, int64_t n, float lr, float momentum,
              bool nesterov, float weight_decay) {
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i] + weight_decay * p[i];
    float update = gi;
    if (momentum != 0.f) {
      const float b = momentum * buf[i] + gi;
      buf[i] = b;
      update = nesterov ? gi + momentum * b : b;
    }
    p[i] -= lr * update;
  }
}

double sum_squares(const float* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return s;
}

void scale_inplace(float* x, int64_t n, float s) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

void polyak(float* target, const float* online, int64_t n, float tau) {
  parallel_chunks(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) target[i] = (1.f - tau) * target[i] + tau * online[i];
  });
}

}  // namespace era::cpu

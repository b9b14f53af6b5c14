#include "optim.h"

#include <algorithm>
#include <cmath>
#include <vector>

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
  // Fixed blocks, each summed in 8 interleaved float64 lanes (chains that vectorise), the blocks
  // in parallel and then added in order: the result does not depend on the thread count.
  constexpr int64_t kBlock = 1 << 14, kLanes = 8;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  // The calling thread's buffer, reused (a training step should not allocate). Workers write into
  // it through this reference: naming the thread_local inside the task would be their own copy.
  thread_local std::vector<double> buffer;
  std::vector<double>& partial = buffer;
  partial.resize(static_cast<size_t>(blocks));
  const auto block = [&](int64_t b) {
    const float* v = x + b * kBlock;
    const int64_t len = std::min(kBlock, n - b * kBlock), body = len / kLanes * kLanes;
    double lane[kLanes] = {};
    for (int64_t i = 0; i < body; i += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) lane[l] += static_cast<double>(v[i + l]) * v[i + l];
    double s = 0;
    for (int64_t i = body; i < len; ++i) s += static_cast<double>(v[i]) * v[i];
    for (int64_t l = 0; l < kLanes; ++l) s += lane[l];
    partial[b] = s;
  };
  parallel_for(blocks, block);
  double s = 0;
  for (int64_t b = 0; b < blocks; ++b) s += partial[b];
  return s;
}

void scale_inplace(float* x, int64_t n, float s) {
  parallel_chunks(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) x[i] *= s;
  });
}

void polyak(float* target, const float* online, int64_t n, float tau) {
  parallel_chunks(n, kElementwiseGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) target[i] = (1.f - tau) * target[i] + tau * online[i];
  });
}

}  // namespace era::cpu

#include "sac_policy.h"

#include <algorithm>

#include "../core/philox.h"
#include "../core/sac_math.h"
#include "parallel.h"

namespace era::cpu {
namespace {

// Elements per task. Each element costs several float64 libm calls (erfc, exp, log, tanh: a few
// hundred ns in all), so chunks far shorter than the element-wise grain are worth a thread. Draws
// are keyed by element index (Philox), so results do not depend on the split.
constexpr int64_t kPolicyGrain = 1024;

int64_t row_grain(int64_t d) { return std::max<int64_t>(1, kPolicyGrain / std::max<int64_t>(1, d)); }

}  // namespace

void trunc_normal_sample_f32(float* action, float* noise, const float* mu, const float* log_std,
                             int64_t n, double temperature, uint64_t seed, uint64_t offset,
                             bool given_noise) {
  parallel_chunks(n, kPolicyGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      // The draw is the f32 uniform itself, so the backward (which receives it) recomputes x exactly.
      const float u = given_noise ? noise[i] : philox_uniform(seed, offset, static_cast<uint64_t>(i), 0.f, 1.f);
      const sac::TruncNormal t = sac::trunc_normal(mu[i], log_std[i], temperature);
      action[i] = sac::trunc_action(sac::trunc_draw(t, u));
      if (!given_noise) noise[i] = u;
    }
  });
}

void trunc_normal_backward_f32(float* grad_mu, float* grad_log_std, const float* mu,
                               const float* log_std, const float* noise, const float* grad_action,
                               int64_t n, double temperature) {
  parallel_chunks(n, kPolicyGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const sac::TruncNormal t = sac::trunc_normal(mu[i], log_std[i], temperature);
      double gm, gl;
      sac::trunc_grad(t, noise[i], grad_action[i], gm, gl);
      grad_mu[i] = static_cast<float>(gm);
      grad_log_std[i] = static_cast<float>(gl);
    }
  });
}

void trunc_normal_log_prob_f32(float* out, const float* action, const float* mu,
                               const float* log_std, int64_t rows, int64_t d, double temperature) {
  parallel_chunks(rows, row_grain(d), [&](int64_t r_begin, int64_t r_end) {
    for (int64_t r = r_begin; r < r_end; ++r) {
      double sum = 0;
      for (int64_t j = r * d; j < (r + 1) * d; ++j)
        sum += sac::trunc_log_prob(sac::trunc_normal(mu[j], log_std[j], temperature), action[j]);
      out[r] = static_cast<float>(sum);
    }
  });
}

void tanh_gauss_sample_f32(float* action, float* noise, float* log_prob, const float* mu,
                           const float* log_std, int64_t rows, int64_t d, uint64_t seed,
                           uint64_t offset, bool given_noise) {
  parallel_chunks(rows, row_grain(d), [&](int64_t r_begin, int64_t r_end) {
    for (int64_t r = r_begin; r < r_end; ++r) {
      double sum = 0;
      for (int64_t j = r * d; j < (r + 1) * d; ++j) {
        const float e = given_noise ? noise[j] : philox_normal(seed, offset, static_cast<uint64_t>(j), 0.f, 1.f);
        const double l = log_std[j];
        const double u = static_cast<double>(mu[j]) + exp(l) * e;
        action[j] = static_cast<float>(tanh(u));
        if (!given_noise) noise[j] = e;
        sum += sac::tanh_gauss_log_prob(e, l, u);
      }
      log_prob[r] = static_cast<float>(sum);
    }
  });
}

void tanh_gauss_backward_f32(float* grad_mu, float* grad_log_std, const float* mu,
                             const float* log_std, const float* noise, const float* grad_action,
                             const float* grad_log_prob, int64_t rows, int64_t d) {
  parallel_chunks(rows, row_grain(d), [&](int64_t r_begin, int64_t r_end) {
    for (int64_t r = r_begin; r < r_end; ++r) {
      const double gl = grad_log_prob ? grad_log_prob[r] : 0.0;
      for (int64_t j = r * d; j < (r + 1) * d; ++j) {
        double gm, gs;
        sac::tanh_gauss_grad(mu[j], log_std[j], noise[j], grad_action[j], gl, gm, gs);
        grad_mu[j] = static_cast<float>(gm);
        grad_log_std[j] = static_cast<float>(gs);
      }
    }
  });
}

double normal_icdf(double p) { return sac::normal_icdf(p); }

}  // namespace era::cpu

#include "sac_loss.h"

namespace era::cpu {

namespace {
// min that propagates NaN (std::fmin would drop it), as jnp.minimum does.
double twin_min(double a, double b) { return (a != a || b != b) ? a + b : (a < b ? a : b); }
}  // namespace

void sac_target_f32(float* y, const float* q, SeedRows reward, SeedRows mask, double gamma,
                    SeedRows log_prob, const float* alpha, int64_t seeds, int64_t batch) {
  for (int64_t s = 0; s < seeds; ++s) {
    const float* q1 = q + 2 * s * batch;
    const float* q2 = q1 + batch;
    for (int64_t b = 0; b < batch; ++b) {
      double v = twin_min(q1[b], q2[b]);
      if (log_prob.p) v -= static_cast<double>(alpha[s]) * log_prob.at(s, b);
      y[s * batch + b] =
          static_cast<float>(reward.at(s, b) + gamma * static_cast<double>(mask.at(s, b)) * v);
    }
  }
}

void sac_critic_loss_f32(float* loss, float* grad_q, const float* q, SeedRows y, int64_t seeds,
                         int64_t batch) {
  const double inv_b = 1.0 / static_cast<double>(batch);
  for (int64_t s = 0; s < seeds; ++s) {
    double sum = 0;
    for (int64_t c = 2 * s; c < 2 * s + 2; ++c) {
      for (int64_t b = 0; b < batch; ++b) {
        const double r = static_cast<double>(q[c * batch + b]) - y.at(s, b);
        sum += r * r;
        grad_q[c * batch + b] = static_cast<float>(2.0 * r * inv_b);
      }
    }
    loss[s] = static_cast<float>(sum * inv_b);
  }
}

void sac_actor_loss_f32(float* loss, float* grad_q, const float* q, SeedRows log_prob,
                        const float* alpha, float* grad_log_prob, float* alpha_loss,
                        float* grad_log_alpha, double target_entropy, int64_t seeds,
                        int64_t batch) {
  const double inv_b = 1.0 / static_cast<double>(batch);
  for (int64_t s = 0; s < seeds; ++s) {
    const float* q1 = q + 2 * s * batch;
    const float* q2 = q1 + batch;
    float* g1 = grad_q + 2 * s * batch;
    float* g2 = g1 + batch;
    const double a = log_prob.p ? static_cast<double>(alpha[s]) : 0.0;
    double sum = 0, ent = 0;
    for (int64_t b = 0; b < batch; ++b) {
      // The min's gradient: all to the smaller twin, split evenly on a tie (as JAX's min does).
      const double w1 = q1[b] < q2[b] ? 1.0 : (q1[b] > q2[b] ? 0.0 : 0.5);
      g1[b] = static_cast<float>(-w1 * inv_b);
      g2[b] = static_cast<float>(-(1.0 - w1) * inv_b);
      sum -= twin_min(q1[b], q2[b]);
      if (log_prob.p) {
        const double lp = log_prob.at(s, b);
        sum += a * lp;
        ent += lp + target_entropy;
        if (grad_log_prob) grad_log_prob[s * batch + b] = static_cast<float>(a * inv_b);
      }
    }
    loss[s] = static_cast<float>(sum * inv_b);
    if (alpha_loss) alpha_loss[s] = static_cast<float>(-a * ent * inv_b);
    if (grad_log_alpha) grad_log_alpha[s] = static_cast<float>(-a * ent * inv_b);
  }
}

}  // namespace era::cpu

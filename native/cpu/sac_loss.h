// CPU references of SAC's fused twin-critic math, accumulating in double.
// Layout: critic outputs q [C, B] (C = 2S: members 2s and 2s+1 are seed s's twins). A per-seed
// batch tensor p (reward, mask, log-prob, y) is read as p[s * stride + b]: stride B when it holds
// one row per seed, 0 when one row [B] is shared by every seed.
#pragma once
#include <cstdint>

namespace era::cpu {

struct SeedRows {
  const float* p;
  int64_t stride;  // B (one row per seed) or 0 (shared)
  float at(int64_t s, int64_t b) const { return p[s * stride + b]; }
};

// y[s, b] = r + gamma * mask * (min(q[2s, b], q[2s+1, b]) - alpha[s] * log_prob);
// log_prob.p and alpha may be null (no entropy term).
void sac_target_f32(float* y, const float* q, SeedRows reward, SeedRows mask, double gamma,
                    SeedRows log_prob, const float* alpha, int64_t seeds, int64_t batch);

// loss[s] = mean_b (q[2s,b] - y)^2 + (q[2s+1,b] - y)^2; grad_q = 2 (q - y) / B.
void sac_critic_loss_f32(float* loss, float* grad_q, const float* q, SeedRows y, int64_t seeds,
                         int64_t batch);

// loss[s] = mean_b (alpha[s] log_prob - min(q1, q2)); the -1/B goes to the smaller twin, half to
// each on a tie. With log_prob (needs alpha): grad_log_prob = alpha[s] / B; with alpha_loss also
// set: alpha_loss[s] = grad_log_alpha[s] = -alpha[s] mean_b (log_prob + target_entropy).
// Optional pointers may be null.
void sac_actor_loss_f32(float* loss, float* grad_q, const float* q, SeedRows log_prob,
                        const float* alpha, float* grad_log_prob, float* alpha_loss,
                        float* grad_log_alpha, double target_entropy, int64_t seeds,
                        int64_t batch);

}  // namespace era::cpu

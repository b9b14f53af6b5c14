// Launchers of SAC's fused twin-critic kernels (one launch each, no synchronisation, no workspace).
// Same layout as native/cpu/sac_loss.h: q [C = 2S, B]; a per-seed batch tensor is read as
// p[s * stride + b] with stride B (one row per seed) or 0 (one shared row).
#pragma once
#include <cstdint>

namespace era::cuda {

struct SeedRows {
  const float* p;
  int64_t stride;
};

void sac_target_f32(float* y, const float* q, SeedRows reward, SeedRows mask, double gamma,
                    SeedRows log_prob, const float* alpha, int64_t seeds, int64_t batch,
                    void* stream);

void sac_critic_loss_f32(float* loss, float* grad_q, const float* q, SeedRows y, int64_t seeds,
                         int64_t batch, void* stream);

void sac_actor_loss_f32(float* loss, float* grad_q, const float* q, SeedRows log_prob,
                        const float* alpha, float* grad_log_prob, float* alpha_loss,
                        float* grad_log_alpha, double target_entropy, int64_t seeds,
                        int64_t batch, void* stream);

}  // namespace era::cuda

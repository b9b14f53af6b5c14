// SAC's fused twin-critic ops. Critic outputs q are [C, B, 1] (or [C, B]) with C = 2S: members
// 2s and 2s+1 are seed s's twins (C = 2 is one plain twin critic). A per-seed batch input
// (reward, mask, log-prob, y) is [B] / [B, 1] (shared by every seed) or [S, B] / [S, B, 1].
// Argument names in errors are the TS API's (lib/rl/ops-loss.ts).
#pragma once
#include "../core/tensor.h"

namespace era::ops {

// y [S, B] = reward + gamma * mask * (min(q_2s, q_2s+1) - alpha[s] * log_prob).
// log_prob and alpha are both given (classic SAC) or both null.
void sac_target(const TensorView& y, const TensorView& q, const TensorView& reward,
                const TensorView& mask, double gamma, const TensorView* log_prob,
                const TensorView* alpha);

// loss [S] = mean_b (q_2s - y)^2 + (q_2s+1 - y)^2; grad_q (q's shape) of the sum over seeds.
void sac_critic_loss(const TensorView& loss, const TensorView& grad_q, const TensorView& q,
                     const TensorView& y);

struct ActorLossOutputs {
  const TensorView* grad_log_prob = nullptr;   // needs log_prob
  const TensorView* alpha_loss = nullptr;      // needs log_prob (and target_entropy)
  const TensorView* grad_log_alpha = nullptr;  // with alpha_loss
};

// loss [S] = mean_b (alpha[s] log_prob - min(q1, q2)); grad_q to the smaller twin (half each on
// a tie). log_prob [S, B] and alpha [S] are both given or both null.
void sac_actor_loss(const TensorView& loss, const TensorView& grad_q, const TensorView& q,
                    const TensorView* log_prob, const TensorView* alpha,
                    const ActorLossOutputs& extra, double target_entropy);

}  // namespace era::ops

#include "sac_loss.h"

#include <cmath>
#include <iterator>
#include <string>

#include "../cpu/sac_loss.h"
#include "check.h"
#include "dispatch.h"
#ifdef ERA_WITH_CUDA
#include "../cuda/sac_loss.h"
#endif

namespace era::ops {

namespace {

struct TwinDims {
  int64_t seeds, batch;
};

std::string dims(std::initializer_list<int64_t> d) {
  std::string s = "[";
  bool first = true;
  for (int64_t v : d) s += (first ? "" : ", ") + std::to_string(v), first = false;
  return s + "]";
}

// q: f32 [C, B] or [C, B, 1] with C = 2S >= 2 and B >= 1.
TwinDims check_q(const TensorView& q, const char* name) {
  require_dtype(q, {DType::F32}, name);
  if (!(q.ndim == 2 || (q.ndim == 3 && q.shape[2] == 1)))
    throw_range("a tensor [C, B, 1] or [C, B] of critic outputs", name, q.describe());
  if (q.shape[0] < 2 || q.shape[0] % 2 != 0)
    throw_range("an even number of critics C = 2S >= 2 (twins 2s, 2s+1 per seed)", name,
                q.describe());
  if (q.shape[1] < 1) throw_range("a batch of at least one row (B >= 1)", name, q.describe());
  return {q.shape[0] / 2, q.shape[1]};
}

// A per-seed batch input: [B] or [B, 1] (stride 0: shared) or [S, B] or [S, B, 1] (stride B).
// per_seed: the shared forms are refused unless S = 1.
int64_t seed_rows_stride(const TensorView& t, const TensorView& q, TwinDims d, const char* name,
                         bool per_seed) {
  require_dtype(t, {DType::F32}, name);
  require_same_device(t, q, name, "q");
  const int64_t s = d.seeds, b = d.batch;
  const bool shared = (t.ndim == 1 && t.shape[0] == b) ||
                      (t.ndim == 2 && t.shape[0] == b && t.shape[1] == 1);
  const bool rows = (t.ndim == 2 && t.shape[0] == s && t.shape[1] == b) ||
                    (t.ndim == 3 && t.shape[0] == s && t.shape[1] == b && t.shape[2] == 1);
  if (rows) return b;
  if (shared && (!per_seed || s == 1)) return 0;
  const std::string forms = per_seed && s > 1
      ? "shape " + dims({s, b}) + " or " + dims({s, b, 1})
      : "shape " + dims({b}) + " or " + dims({b, 1}) + " (shared by every seed) or " + dims({s, b}) +
            " or " + dims({s, b, 1});
  throw_range(forms + " (S = C/2 seeds, B from q)", name, t.describe());
}

void check_output(const TensorView& t, const TensorView& q, std::initializer_list<int64_t> shape,
                  const char* name) {
  require_dtype(t, {DType::F32}, name);
  require_same_device(t, q, name, "q");
  bool ok = t.ndim == static_cast<int>(shape.size());
  int i = 0;
  for (int64_t v : shape) ok = ok && t.shape[i++] == v;
  if (!ok) throw_range("shape " + dims(shape), name, t.describe());
}

void check_alpha(const TensorView& alpha, const TensorView& q, TwinDims d) {
  require_dtype(alpha, {DType::F32}, "options.alpha");
  require_same_device(alpha, q, "options.alpha", "q");
  if (alpha.ndim != 1 || alpha.shape[0] != d.seeds)
    throw_range("shape " + dims({d.seeds}) + " (one temperature per seed)", "options.alpha",
                alpha.describe());
}

void check_pair(const TensorView* log_prob, const TensorView* alpha) {
  if (log_prob && !alpha)
    throw_range("a tensor when options.logProb is given", "options.alpha", "undefined");
  if (alpha && !log_prob)
    throw_range("a tensor when options.alpha is given", "options.logProb", "undefined");
}

}  // namespace

void sac_target(const TensorView& y, const TensorView& q, const TensorView& reward,
                const TensorView& mask, double gamma, const TensorView* log_prob,
                const TensorView* alpha) {
  const TwinDims d = check_q(q, "q");
  const int64_t rs = seed_rows_stride(reward, q, d, "reward", false);
  const int64_t ms = seed_rows_stride(mask, q, d, "mask", false);
  if (!(gamma >= 0 && gamma <= 1))
    throw_range("a number in [0, 1]", "gamma", std::to_string(gamma));
  check_pair(log_prob, alpha);
  int64_t ls = 0;
  if (log_prob) {
    ls = seed_rows_stride(*log_prob, q, d, "options.logProb", false);
    check_alpha(*alpha, q, d);
  }
  check_output(y, q, {d.seeds, d.batch}, "options.out");
  // Outputs never alias inputs or each other (lib/rl/ops.ts).
  require_no_alias(y, "options.out", {{&q, "q"}, {&reward, "reward"}, {&mask, "mask"},
                                      {log_prob, "options.logProb"}, {alpha, "options.alpha"}});
  const float* lp = log_prob ? log_prob->ptr<float>() : nullptr;
  const float* al = alpha ? alpha->ptr<float>() : nullptr;
  dispatch(q.device, "sacTarget",
           [&] {
             cpu::sac_target_f32(y.ptr<float>(), q.ptr<float>(), {reward.ptr<float>(), rs},
                                 {mask.ptr<float>(), ms}, gamma, {lp, ls}, al, d.seeds, d.batch);
           },
           [&](void* s) {
             ERA_CUDA_ONLY(cuda::sac_target_f32(y.ptr<float>(), q.ptr<float>(),
                                                {reward.ptr<float>(), rs}, {mask.ptr<float>(), ms},
                                                gamma, {lp, ls}, al, d.seeds, d.batch, s);)
             (void)s;
           });
}

void sac_critic_loss(const TensorView& loss, const TensorView& grad_q, const TensorView& q,
                     const TensorView& y) {
  const TwinDims d = check_q(q, "q");
  const int64_t ys = seed_rows_stride(y, q, d, "y", false);
  check_output(loss, q, {d.seeds}, "options.loss");
  require_dtype(grad_q, {DType::F32}, "options.gradQ");
  require_same_device(grad_q, q, "options.gradQ", "q");
  require_same_shape(grad_q, q, "options.gradQ", "q");
  require_no_alias(loss, "options.loss", {{&q, "q"}, {&y, "y"}});
  require_no_alias(grad_q, "options.gradQ", {{&q, "q"}, {&y, "y"}, {&loss, "options.loss"}});
  dispatch(q.device, "sacCriticLoss",
           [&] {
             cpu::sac_critic_loss_f32(loss.ptr<float>(), grad_q.ptr<float>(), q.ptr<float>(),
                                      {y.ptr<float>(), ys}, d.seeds, d.batch);
           },
           [&](void* s) {
             ERA_CUDA_ONLY(cuda::sac_critic_loss_f32(loss.ptr<float>(), grad_q.ptr<float>(),
                                                     q.ptr<float>(), {y.ptr<float>(), ys}, d.seeds,
                                                     d.batch, s);)
             (void)s;
           });
}

void sac_actor_loss(const TensorView& loss, const TensorView& grad_q, const TensorView& q,
                    const TensorView* log_prob, const TensorView* alpha,
                    const ActorLossOutputs& extra, double target_entropy) {
  const TwinDims d = check_q(q, "q");
  check_pair(log_prob, alpha);
  int64_t ls = 0;
  if (log_prob) {
    ls = seed_rows_stride(*log_prob, q, d, "options.logProb", true);
    check_alpha(*alpha, q, d);
  }
  check_output(loss, q, {d.seeds}, "options.loss");
  require_dtype(grad_q, {DType::F32}, "options.gradQ");
  require_same_device(grad_q, q, "options.gradQ", "q");
  require_same_shape(grad_q, q, "options.gradQ", "q");
  if (!log_prob && (extra.grad_log_prob || extra.alpha_loss || extra.grad_log_alpha))
    throw_range("a tensor when a log-prob gradient or temperature loss is asked for",
                "options.logProb", "undefined");
  if (extra.grad_log_prob) {
    require_dtype(*extra.grad_log_prob, {DType::F32}, "options.gradLogProb");
    require_same_device(*extra.grad_log_prob, q, "options.gradLogProb", "q");
    require_same_shape(*extra.grad_log_prob, *log_prob, "options.gradLogProb", "options.logProb");
  }
  if (extra.alpha_loss) check_output(*extra.alpha_loss, q, {d.seeds}, "options.alphaLoss");
  if (extra.grad_log_alpha) check_output(*extra.grad_log_alpha, q, {d.seeds}, "options.gradLogAlpha");
  if ((extra.alpha_loss || extra.grad_log_alpha) && !std::isfinite(target_entropy))
    throw_range("a finite number", "options.targetEntropy", std::to_string(target_entropy));
  // Every output apart from every input and from the outputs before it.
  const Named outs[] = {{&loss, "options.loss"},
                        {&grad_q, "options.gradQ"},
                        {extra.grad_log_prob, "options.gradLogProb"},
                        {extra.alpha_loss, "options.alphaLoss"},
                        {extra.grad_log_alpha, "options.gradLogAlpha"}};
  for (size_t i = 0; i < std::size(outs); ++i) {
    if (!outs[i].t) continue;
    require_no_alias(*outs[i].t, outs[i].name, {{&q, "q"}, {log_prob, "options.logProb"}, {alpha, "options.alpha"}});
    for (size_t j = 0; j < i; ++j)
      if (outs[j].t) require_no_alias(*outs[i].t, outs[i].name, *outs[j].t, outs[j].name);
  }
  const float* lp = log_prob ? log_prob->ptr<float>() : nullptr;
  const float* al = alpha ? alpha->ptr<float>() : nullptr;
  float* glp = extra.grad_log_prob ? extra.grad_log_prob->ptr<float>() : nullptr;
  float* aloss = extra.alpha_loss ? extra.alpha_loss->ptr<float>() : nullptr;
  float* gla = extra.grad_log_alpha ? extra.grad_log_alpha->ptr<float>() : nullptr;
  dispatch(q.device, "sacActorLoss",
           [&] {
             cpu::sac_actor_loss_f32(loss.ptr<float>(), grad_q.ptr<float>(), q.ptr<float>(),
                                     {lp, ls}, al, glp, aloss, gla, target_entropy, d.seeds,
                                     d.batch);
           },
           [&](void* s) {
             ERA_CUDA_ONLY(cuda::sac_actor_loss_f32(loss.ptr<float>(), grad_q.ptr<float>(),
                                                    q.ptr<float>(), {lp, ls}, al, glp, aloss, gla,
                                                    target_entropy, d.seeds, d.batch, s);)
             (void)s;
           });
}

}  // namespace era::ops

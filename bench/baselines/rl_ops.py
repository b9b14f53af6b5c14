"""PyTorch twin of bench/rl-ops.bench.ts: the SAC ops of lib/rl/ops.ts as a PyTorch user writes them.

Case names equal the node bench's. Sizes as there (era-spec 1.7): S = 5 seeds, B = 256 states,
D = 21 action dims, replay rows of F = 2*67 + 21 + 2 = 157 floats, N = 10^6 rows per seed. f32
throughout (the node ops do their math in double; PyTorch users stay in f32). Inputs as the node
bench draws them: mu ~ U(-2.5, 2.5), log sigma ~ U(-4, 0), upstream gradients ~ U(-1, 1).
- `rl.truncatedNormal sample+bwd+logProb`: SAC-ERA's truncated normal (era-spec 1.4), sampled by
  inverse CDF with torch.special.ndtr / ndtri (sac_update.sample_action, the same clips and
  clamps), T = 1; the reparameterised gradients for mu and log sigma by autograd given dL/daction
  = w (torch.autograd.grad with grad_outputs w: the backward of sum(w * action)); then the per-row
  log-prob, sum over D of clip(-r^2/2 - ln sqrt(2 pi) - ln s - ln delta, -20, 20), no gradient.
- `rl.tanhGaussian sample+bwd`: u = mu + exp(log sigma) * eps, a = tanh u, log pi = sum over D of
  -eps^2/2 - log sigma - ln sqrt(2 pi) - 2(ln 2 - u - softplus(-2u)); autograd gradients for mu and
  log sigma of sum(w * a) + sum(v * log pi) (grad_outputs (w, v)).
- `rl.replay randomIndices+gatherRows`: torch.randint(0, N, (B,)) (int64, PyTorch's index dtype;
  the node op draws int32) shared by the S seeds, then storage.index_select(1, idx) from the
  [S, N, F] buffer (3.1 GB; on the CPU N = 10^5, 314 MB, as the node bench's CPU size).
- `rl.sac target+critic+actor losses`: classic SAC's twin-critic math per seed, q laid out
  [2S, B, 1] as the node ops take it (members 2s, 2s+1 are seed s's twins):
  y = r + gamma * mask * (min(q1t, q2t) - alpha * logpi') (no grad), critic loss
  mean_B((q1 - y)^2 + (q2 - y)^2), actor loss mean_B(alpha.detach() * logpi - min(q1, q2)),
  temperature loss -alpha * mean_B(logpi.detach() + H) with alpha = exp(log_alpha), H = -D; one
  torch.autograd.grad of the sum of the three (their graphs are disjoint) for q, q_pi, logpi (the
  node op writes that gradient too) and log_alpha. The same logpi serves as logpi' (as the node
  bench reuses it).
Eager: the functions below over pre-generated random input sets, rotated to span twice the L2
(at most 64 sets, like the node bench's rotationCount; the replay buffer is one set, fresh indices
each call). Compiled: _common.time_compiled_rotating on the same function and input sets
(torch.autograd.grad inside it graph-breaks: the forward is compiled, autograd runs the backward
AOTAutograd compiled for it).

Run alone: python3 rl_ops.py, or through run_all.py.
"""
import math

import torch
import torch.nn.functional as F

import _common
from _common import rotating as _rotating, rotation as _rotation, time_compiled, time_compiled_rotating, time_ms
from sac_update import EPS, sample_action

DEVICE = _common.DEVICE  # "cuda", or "cpu" under run_all.py --device cpu (set before this import)
S, B, D = 5, 256, 21
OBS = 67
FEAT = 2 * OBS + D + 2  # 157
N_ROWS = 1_000_000 if DEVICE == "cuda" else 100_000  # the node bench's replay sizes (CUDA / CPU)
GAMMA = 0.99
TARGET_ENTROPY = -float(D)
N_ELEMS = S * B * D
SHAPE = f"[{S}, {B}, {D}]"
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
LOG_2 = math.log(2.0)



def _rand(shape, gen, low=-1.0, high=1.0):
    return torch.rand(shape, device=DEVICE, generator=gen) * (high - low) + low



def _policy_sets(seed, count):
    """count sets of (mu, log_std) leaves requiring grad, w = dL/daction [S, B, D], v = dL/dlogpi [S, B]."""
    gen = torch.Generator(device=DEVICE).manual_seed(seed)
    mus = [_rand((S, B, D), gen, -2.5, 2.5).requires_grad_() for _ in range(count)]
    log_stds = [_rand((S, B, D), gen, -4.0, 0.0).requires_grad_() for _ in range(count)]
    ws = [_rand((S, B, D), gen) for _ in range(count)]
    vs = [_rand((S, B), gen) for _ in range(count)]
    return mus, log_stds, ws, vs


# Truncated normal (era-spec 1.4) --------------------------------------------------------------

def trunc_log_prob(x, mu, log_std, temperature=1.0):
    """Per-row log-prob [...] of actions x [..., D] under the truncated normal (era-spec 1.4)."""
    low, high = -1.0 + EPS, 1.0 - EPS
    loc = torch.clamp(torch.tanh(mu), low, high)
    scale = torch.clamp(torch.exp(log_std) * temperature, min=EPS)
    mass = torch.clamp(torch.special.ndtr((high - loc) / scale) - torch.special.ndtr((low - loc) / scale), min=EPS)
    r = (torch.clamp(x, low + EPS, high - EPS) - loc) / scale
    lp = -0.5 * r * r - HALF_LOG_2PI - torch.log(scale) - torch.log(mass)
    return torch.clamp(lp, -20.0, 20.0).sum(-1)


def trunc_step(mu, log_std, w):
    """Sample, reparameterised backward given dL/daction = w, per-row log-prob (no gradient)."""
    x = sample_action(mu, log_std)
    grad_mu, grad_log_std = torch.autograd.grad(x, (mu, log_std), w)
    log_prob = trunc_log_prob(x.detach(), mu.detach(), log_std.detach())
    return x, grad_mu, grad_log_std, log_prob


def _truncated_normal():
    sets = _rotation(7 * N_ELEMS * 4, 64)
    mus, log_stds, ws, _ = _policy_sets(0x51C0, sets)
    eager = time_ms(_rotating(sets, lambda i: trunc_step(mus[i], log_stds[i], ws[i])))
    x, gm, gl, lp = trunc_step(mus[0], log_stds[0], ws[0])
    assert bool(((x > -1) & (x < 1)).all()), "actions outside (-1, 1)"
    assert all(bool(torch.isfinite(t).all()) for t in (gm, gl, lp)), "non-finite gradients or log-prob"
    assert bool((gm != 0).any()) and bool((gl != 0).any()), "all-zero gradients"
    compiled = time_compiled_rotating(trunc_step, list(zip(mus, log_stds, ws)))
    return {"eager_ms": eager, "compile_ms": compiled, "bytes": (4 + 6 + 3) * N_ELEMS * 4 + S * B * 4,
            "note": f"{sets} input set(s) rotated; inverse-CDF sample, autograd.grad, log-prob (f32)"}


# Tanh-squashed Gaussian ------------------------------------------------------------------------

def tanh_step(mu, log_std, w, v):
    """rsample a = tanh(mu + sigma eps) with its log-prob; gradients of sum(w a) + sum(v logpi)."""
    eps = torch.randn_like(mu)
    u = mu + torch.exp(log_std) * eps
    action = torch.tanh(u)
    log_prob = (-0.5 * eps * eps - log_std - HALF_LOG_2PI - 2.0 * (LOG_2 - u - F.softplus(-2.0 * u))).sum(-1)
    grad_mu, grad_log_std = torch.autograd.grad((action, log_prob), (mu, log_std), (w, v))
    return action.detach(), log_prob.detach(), grad_mu, grad_log_std


def _tanh_gaussian():
    sets = _rotation(7 * N_ELEMS * 4, 64)
    mus, log_stds, ws, vs = _policy_sets(0x7A4B, sets)
    eager = time_ms(_rotating(sets, lambda i: tanh_step(mus[i], log_stds[i], ws[i], vs[i])))
    outs = tanh_step(mus[0], log_stds[0], ws[0], vs[0])
    assert all(bool(torch.isfinite(t).all()) for t in outs), "non-finite outputs"
    compiled = time_compiled_rotating(tanh_step, list(zip(mus, log_stds, ws, vs)))
    return {"eager_ms": eager, "compile_ms": compiled, "bytes": (4 + 6) * N_ELEMS * 4 + 2 * S * B * 4,
            "note": f"{sets} input set(s) rotated; rsample + log-prob, autograd.grad (f32)"}


# Replay ----------------------------------------------------------------------------------------

def replay_sample(storage):
    """B random rows (one index set shared by the S seeds) gathered from storage [S, N, F]."""
    idx = torch.randint(0, storage.shape[1], (B,), device=storage.device)
    return storage.index_select(1, idx)


def _replay():
    gen = torch.Generator(device=DEVICE).manual_seed(0x4E91)
    storage = torch.rand((S, N_ROWS, FEAT), device=DEVICE, generator=gen).mul_(2).sub_(1)  # in place: one buffer (3.1 GB on CUDA)
    eager = time_ms(lambda: replay_sample(storage))
    batch = replay_sample(storage)
    assert tuple(batch.shape) == (S, B, FEAT)
    compiled = time_compiled(replay_sample, storage)
    del storage
    return {"eager_ms": eager, "compile_ms": compiled, "bytes": 2 * B * 4 + 2 * S * B * FEAT * 4,
            "note": f"buffer [{S}, {N_ROWS}, {FEAT}] f32; torch.randint (int64) + index_select(1); fresh indices every call"}


# Losses ----------------------------------------------------------------------------------------

def sac_losses(q_next, q, q_pi, reward, mask, log_prob, log_alpha):
    """Target, critic, actor and temperature losses per seed [S], with their autograd gradients."""
    alpha = log_alpha.exp()  # [S]
    with torch.no_grad():
        qt = q_next.view(S, 2, B)
        y = reward + GAMMA * mask * (torch.min(qt[:, 0], qt[:, 1]) - alpha[:, None] * log_prob)
    qc = q.view(S, 2, B)
    critic_loss = ((qc[:, 0] - y) ** 2 + (qc[:, 1] - y) ** 2).mean(-1)
    qa = q_pi.view(S, 2, B)
    actor_loss = (alpha.detach()[:, None] * log_prob - torch.min(qa[:, 0], qa[:, 1])).mean(-1)
    alpha_loss = -alpha * (log_prob.detach() + TARGET_ENTROPY).mean(-1)
    # The three graphs are disjoint: one backward gives each loss's own gradients.
    total = critic_loss.sum() + actor_loss.sum() + alpha_loss.sum()
    grad_q, grad_q_pi, grad_log_prob, grad_log_alpha = torch.autograd.grad(total, (q, q_pi, log_prob, log_alpha))
    return (y, critic_loss.detach(), grad_q, actor_loss.detach(), grad_q_pi, grad_log_prob,
            alpha_loss.detach(), grad_log_alpha)


def _losses():
    sets = _rotation(9 * S * B * 4 + S * 4, 64)
    gen = torch.Generator(device=DEVICE).manual_seed(0x1055)
    inputs = []
    for _ in range(sets):
        q_next = _rand((2 * S, B, 1), gen, -50, 50)
        q = _rand((2 * S, B, 1), gen, -50, 50).requires_grad_()
        q_pi = _rand((2 * S, B, 1), gen, -50, 50).requires_grad_()
        reward = _rand((S, B), gen)
        mask = torch.ones((S, B), device=DEVICE)
        log_prob = _rand((S, B), gen, -30, 5).requires_grad_()
        log_alpha = torch.log(_rand((S,), gen, 0.01, 1.0)).requires_grad_()
        inputs.append((q_next, q, q_pi, reward, mask, log_prob, log_alpha))
    eager = time_ms(_rotating(sets, lambda i: sac_losses(*inputs[i])))
    outs = sac_losses(*inputs[0])
    assert all(bool(torch.isfinite(t).all()) for t in outs), "non-finite outputs"
    compiled = time_compiled_rotating(sac_losses, inputs)
    return {"eager_ms": eager, "compile_ms": compiled, "bytes": (6 + 5 + 6) * S * B * 4,
            "note": f"{sets} input set(s) rotated; classic SAC (alpha = exp(log_alpha)); one autograd.grad"}


def cases():
    """Case name (identical to the node bench case name) -> a function returning its figures."""
    return {
        f"rl.truncatedNormal sample+bwd+logProb {SHAPE}": _truncated_normal,
        f"rl.tanhGaussian sample+bwd {SHAPE}": _tanh_gaussian,
        f"rl.replay randomIndices+gatherRows S={S} B={B} F={FEAT}": _replay,
        f"rl.sac target+critic+actor losses S={S} B={B}": _losses,
    }


if __name__ == "__main__":
    for name, fn in cases().items():
        print(name, fn())

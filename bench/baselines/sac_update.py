"""PyTorch twin of one full SAC-ERA update (era-spec sections 1.2-1.6), written as a PyTorch port of
the released JAX code (sac-era/jaxrl) would write it.

One update, in the order of sac_learner._update:
  1. critic: a' ~ pi(s') from the current actor (no target actor, no grad);
             y = r + gamma * mask * min(Q1t, Q2t)(s', a');
             L_Q = mean((Q1(s, a) - y)^2 + (Q2(s, a) - y)^2); AdamW(3e-4, wd 1e-4) step
  2. target: Polyak, target <- (1 - tau) * target + tau * critic, tau = 0.005 (torch._foreach_lerp_)
  3. actor:  L_pi = -mean(min(Q1, Q2)(s, a ~ pi(s))) through the freshly updated critic (frozen while
             the actor loss is differentiated, as SpinningUp's SAC does); Adam(3e-4) step.
             No alpha and no log-prob term: ERA alone keeps the entropy up.
Networks (era-spec 1.6): twin critics, each concat(obs, act) -> Linear(512) -> LayerNorm -> ELU ->
Linear(512) -> LayerNorm -> ELU -> Linear(1); actor obs -> Linear(512) -> ELU -> Linear(512) -> ELU
-> heads mu [D] and raw log-std [D] -> ERA log-std (era-spec 1.2, entropy_per_dim 0.25, clip [-8, 0];
era_log_std from era_gaussian.py) -> truncated normal on (-1, 1) around tanh(mu), sampled by inverse
CDF with torch.special.ndtr / ndtri (era-spec 1.4), reparameterized. Orthogonal init (gain sqrt 2, the
log-std head 1), zero biases; LayerNorm eps 1e-6 (flax's default). Batch 256, obs 67, act 21 (DMC
humanoid), gamma 0.99, masks all 1 (the reference always bootstraps).

Batches are random tensors made on the GPU beforehand (obs, next_obs, r ~ N(0, 1), a ~ U(-1, 1));
enough of them rotate to span twice the L2, so the batch reads do not come from cache.

Columns:
- eager: plain modules and autograd, fused Adam/AdamW (fused=True);
- compile: torch.compile(dynamic=False) of the two loss functions (forward plus the backward that
  AOTAutograd compiles), of the Polyak update and of the two optimizer steps (foreach
  implementations, as PyTorch's compiled-optimizer recipe does); default mode (no CUDA graphs).
A figure is ms per update (median of repeats, CUDA events, _common.time_ms); updates/s = 1000 / ms.
Two cases: exact f32 matmuls (PyTorch's default, allow_tf32 off) and TF32.
On the CPU (run_all.py --device cpu, or --device cpu here): time.perf_counter, Adam/AdamW's default
implementations, and 'tf32' is f32 math (allow_tf32 is a CUDA switch).

Usage (the flags of run_all.py, plus --check):
  python3 sac_update.py [--out file.json] [--filter substr] [--quick] [--device cuda|cpu]
  python3 sac_update.py --check [--device cuda|cpu] [--updates N] [--no-compile]
or through run_all.py, which calls cases().
"""
import argparse
import copy
import math
import sys

import torch
import torch.nn as nn

import _common
from _common import compile, compile_failed, empty_cache, matmul_tf32, rotation as _rotation, synchronize, time_ms
from era_gaussian import era_log_std

DEVICE = _common.DEVICE  # "cuda", or "cpu" under run_all.py --device cpu (set before this import)
B, OBS, ACT, HIDDEN = 256, 67, 21, 512
GAMMA, TAU = 0.99, 0.005
LR, CRITIC_WEIGHT_DECAY = 3e-4, 1e-4
EPS = 1e-6  # the truncated normal's epsilon (era-spec 1.4)
HALF_LOG_2PI_E = 0.5 * math.log(2 * math.pi * math.e)


# The policy's action distribution -------------------------------------------------------------

def sample_action(mu, log_std, temperature=1.0):
    """a ~ TruncatedNormal(loc=clip(tanh mu), scale=exp(log_std) * T) on (-1, 1) by inverse CDF.

    Reparameterized: gradients reach mu and log_std through loc, scale, Phi(a), Phi(b) and ndtri.
    """
    low, high = -1.0 + EPS, 1.0 - EPS
    loc = torch.clamp(torch.tanh(mu), low, high)
    scale = torch.clamp(torch.exp(log_std) * temperature, min=EPS)
    cdf_low = torch.special.ndtr((low - loc) / scale)
    cdf_high = torch.special.ndtr((high - loc) / scale)
    mass = torch.clamp(cdf_high - cdf_low, min=EPS)
    u = torch.rand_like(loc).clamp(EPS, 1 - EPS)
    z = torch.special.ndtri(torch.clamp(cdf_low + mass * u, EPS, 1 - EPS))
    return torch.clamp(loc + scale * z, low + EPS, high - EPS)


# Networks -------------------------------------------------------------------------------------

def _init(layer, gain):
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class Critic(nn.Module):
    def __init__(self):
        super().__init__()
        g = math.sqrt(2)
        self.net = nn.Sequential(
            _init(nn.Linear(OBS + ACT, HIDDEN), g), nn.LayerNorm(HIDDEN, eps=1e-6), nn.ELU(),
            _init(nn.Linear(HIDDEN, HIDDEN), g), nn.LayerNorm(HIDDEN, eps=1e-6), nn.ELU(),
            _init(nn.Linear(HIDDEN, 1), g),
        )

    def forward(self, obs, act):
        return self.net(torch.cat([obs, act], dim=-1)).squeeze(-1)


class TwinCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.q1 = Critic()
        self.q2 = Critic()

    def forward(self, obs, act):
        return self.q1(obs, act), self.q2(obs, act)


class Actor(nn.Module):
    def __init__(self):
        super().__init__()
        g = math.sqrt(2)
        self.trunk = nn.Sequential(_init(nn.Linear(OBS, HIDDEN), g), nn.ELU(), _init(nn.Linear(HIDDEN, HIDDEN), g), nn.ELU())
        self.mu = _init(nn.Linear(HIDDEN, ACT), g)
        self.log_std = _init(nn.Linear(HIDDEN, ACT), 1.0)

    def distribution(self, obs):
        """(mu, log sigma after ERA)."""
        h = self.trunk(obs)
        return self.mu(h), era_log_std(self.log_std(h))

    def forward(self, obs):
        return sample_action(*self.distribution(obs))


# The agent and one update ---------------------------------------------------------------------

class SacEra:
    def __init__(self, device, compiled):
        self.actor = Actor().to(device)
        self.critic = TwinCritic().to(device)
        self.target = copy.deepcopy(self.critic).requires_grad_(False)  # starts equal to the critic
        # Eager: the fused kernels; compiled: foreach, which torch.compile turns into its own kernels.
        impl = {} if device != "cuda" else {"foreach": True} if compiled else {"fused": True}
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=LR, **impl)
        self.critic_opt = torch.optim.AdamW(self.critic.parameters(), lr=LR, weight_decay=CRITIC_WEIGHT_DECAY, **impl)


def make_update(agent, compiled):
    """update(batch) -> (critic loss, actor loss), both left on the device (no sync)."""
    actor, critic, target = agent.actor, agent.critic, agent.target
    target_params, critic_params = list(target.parameters()), list(critic.parameters())

    def critic_loss(obs, act, rew, next_obs, mask):
        with torch.no_grad():
            next_act = actor(next_obs)
            tq1, tq2 = target(next_obs, next_act)
            y = rew + GAMMA * mask * torch.min(tq1, tq2)
        q1, q2 = critic(obs, act)
        return ((q1 - y) ** 2 + (q2 - y) ** 2).mean()

    def actor_loss(obs):
        q1, q2 = critic(obs, actor(obs))
        return -torch.min(q1, q2).mean()

    if hasattr(torch, "_foreach_lerp_"):
        def polyak():
            with torch.no_grad():
                torch._foreach_lerp_(target_params, critic_params, TAU)
    else:  # torch < 2.0 has no _foreach_lerp_: one lerp_ per tensor, the same math
        def polyak():
            with torch.no_grad():
                for t, c in zip(target_params, critic_params):
                    t.lerp_(c, TAU)

    def critic_step():
        agent.critic_opt.step()

    def actor_step():
        agent.actor_opt.step()

    if compiled:
        critic_loss = compile(critic_loss, dynamic=False)
        actor_loss = compile(actor_loss, dynamic=False)
        polyak = compile(polyak, dynamic=False)
        critic_step = compile(critic_step, dynamic=False)
        actor_step = compile(actor_step, dynamic=False)

    def update(batch):
        obs, act, rew, next_obs, mask = batch
        lc = critic_loss(obs, act, rew, next_obs, mask)
        agent.critic_opt.zero_grad(set_to_none=True)
        lc.backward()
        critic_step()
        polyak()
        critic.requires_grad_(False)  # the actor loss needs no critic weight gradients
        la = actor_loss(obs)
        agent.actor_opt.zero_grad(set_to_none=True)
        la.backward()
        actor_step()
        critic.requires_grad_(True)
        return lc.detach(), la.detach()

    return update


# Data ------------------------------------------------------------------------------------------

BATCH_BYTES = B * (2 * OBS + ACT + 2) * 4


def make_batches(count, device, seed=0x5AC):
    """`count` random batches (obs, act, rew, next_obs, mask) on `device`."""
    g = torch.Generator(device=device).manual_seed(seed)
    out = []
    for _ in range(count):
        obs = torch.randn(B, OBS, device=device, generator=g)
        act = torch.rand(B, ACT, device=device, generator=g) * 2 - 1
        rew = torch.randn(B, device=device, generator=g)
        next_obs = torch.randn(B, OBS, device=device, generator=g)
        mask = torch.ones(B, device=device)
        out.append((obs, act, rew, next_obs, mask))
    return out



def _rotating(batches):
    step = [0]

    def next_batch():
        b = batches[step[0] % len(batches)]
        step[0] += 1
        return b

    return next_batch


def _finite(losses, what):
    for lc, la in losses:
        assert bool(torch.isfinite(lc)) and bool(torch.isfinite(la)), f"{what}: non-finite loss (critic {lc.item()}, actor {la.item()})"


# Timing cases ----------------------------------------------------------------------------------

def _case(tf32):
    def run():
        with matmul_tf32(tf32):
            sets = _rotation(BATCH_BYTES, 1024)
            next_batch = _rotating(make_batches(sets, DEVICE))
            torch.manual_seed(0)

            update = make_update(SacEra(DEVICE, compiled=False), compiled=False)
            _finite([update(next_batch()) for _ in range(3)], "eager")
            eager = time_ms(lambda: update(next_batch()))
            _finite([update(next_batch())], "eager after timing")

            compiled = None
            # All of the compiled path is inside the try: a failure there (a recompile, non-finite
            # compiled losses) costs the compiled figure, not the eager one measured above.
            try:
                c_update = make_update(SacEra(DEVICE, compiled=True), compiled=True)
                first = [c_update(next_batch()) for _ in range(3)]  # compiles every piece
                synchronize()
                _finite(first, "compile")
                compiled = time_ms(lambda: c_update(next_batch()))
                _finite([c_update(next_batch())], "compile after timing")
            except Exception as err:  # noqa: BLE001 - no Triton, say: no figure
                compile_failed(err)
                compiled = None
        return {
            "eager_ms": eager,
            "compile_ms": compiled,
            "updates_per_s_eager": 1000.0 / eager,
            "updates_per_s_compile": None if compiled is None else 1000.0 / compiled,
            "note": f"one SAC-ERA update (critic, Polyak, actor); {sets} batches rotated",
        }

    return run


def cases():
    """Case name (identical to the node bench case name) -> a function returning its figures."""
    return {
        f"sac update B={B} obs={OBS} act={ACT} f32": _case(False),
        f"sac update B={B} obs={OBS} act={ACT} tf32": _case(True),
    }


# --check ---------------------------------------------------------------------------------------

def check(device, updates, compiled):
    """Runs a few updates and asserts what must hold; returns the last losses."""
    updates = max(1, updates)
    torch.manual_seed(0)
    batches = make_batches(4, device)
    agent = SacEra(device, compiled)
    update = make_update(agent, compiled)
    actor_before = [p.detach().clone() for p in agent.actor.parameters()]
    for p, q in zip(agent.target.parameters(), agent.critic.parameters()):
        assert torch.equal(p, q), "the target must start equal to the critic"
    for i in range(updates):
        target_before = [p.detach().clone() for p in agent.target.parameters()]
        lc, la = update(batches[i % len(batches)])
        assert bool(torch.isfinite(lc)) and bool(torch.isfinite(la)), f"update {i}: critic loss {lc.item()}, actor loss {la.item()}"
        # Polyak after the critic step (the actor step leaves the critic alone).
        for t0, t1, c in zip(target_before, agent.target.parameters(), agent.critic.parameters()):
            torch.testing.assert_close(t1, t0 + TAU * (c - t0), rtol=1e-5, atol=1e-6)
        print(f"[sac_update] update {i}: critic loss {lc.item():.5g}, actor loss {la.item():.5g}", file=sys.stderr)
    for p in agent.actor.parameters():
        assert p.grad is not None and bool(torch.isfinite(p.grad).all()), "actor gradient missing or non-finite"
    assert any(not torch.equal(p0, p) for p0, p in zip(actor_before, agent.actor.parameters())), "the actor did not move"
    assert all(bool(torch.isfinite(p).all()) for p in agent.critic.parameters()), "non-finite critic weights"
    with torch.no_grad():
        obs = batches[0][0]
        mu, log_std = agent.actor.distribution(obs)
        a = sample_action(mu, log_std)
        assert bool(((a > -1) & (a < 1)).all()), "actions outside (-1, 1)"
        assert bool(((log_std >= -8) & (log_std <= 0)).all()), "log sigma outside [-8, 0]"
        # Rows without a clipped element have Gaussian entropy exactly D * 0.25 (era-spec 1.2).
        free = (log_std > -8).all(dim=-1)
        entropy = (log_std + HALF_LOG_2PI_E).sum(dim=-1)
        if bool(free.any()):
            torch.testing.assert_close(entropy[free], torch.full_like(entropy[free], ACT * 0.25), rtol=0, atol=1e-4)
    return lc.item(), la.item()


# CLI -------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="write the figures as JSON (run_all.py's format)")
    parser.add_argument("--filter", help="only cases whose name contains this")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke runs)")
    parser.add_argument("--check", action="store_true", help="run a few updates, assert finite losses and the Polyak step; no timing")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="device for --check and the timing")
    parser.add_argument("--updates", type=int, default=5, help="updates per mode for --check")
    parser.add_argument("--no-compile", action="store_true", help="--check skips the torch.compile mode")
    args = parser.parse_args()

    if args.device == "cuda" and not torch.cuda.is_available():
        print("[sac_update] torch sees no CUDA device (use --check --device cpu to check the math)", file=sys.stderr)
        return 1
    if args.check:
        failed = 0
        for compiled in (False,) if args.no_compile else (False, True):
            mode = "compile" if compiled else "eager"
            if compiled and not hasattr(torch, "compile"):
                print(f"[sac_update] check {mode} on {args.device}: skipped (torch {torch.__version__} has no torch.compile)")
                continue
            try:
                lc, la = check(args.device, args.updates, compiled)
                print(f"[sac_update] check {mode} on {args.device}: ok (last critic loss {lc:.5g}, actor loss {la:.5g})")
            except Exception as err:  # noqa: BLE001 - report each mode
                failed += 1
                print(f"[sac_update] check {mode} on {args.device}: FAILED: {type(err).__name__}: {err}")
        return 1 if failed else 0
    global DEVICE
    DEVICE = _common.DEVICE = args.device  # this module runs as __main__: cases() reads DEVICE here
    _common.QUICK = args.quick
    flt = (args.filter or "").lower()
    results, failures = {}, 0
    for name, fn in cases().items():
        if flt and flt not in name.lower():
            continue
        print(f"[sac_update] {name} ...", file=sys.stderr, flush=True)
        try:
            res = fn()
        except _common.Skip as why:
            print(f"{name}: skipped: {why}", flush=True)
            continue
        except Exception as err:  # noqa: BLE001 - record and go on
            failures += 1
            res = {"eager_ms": None, "compile_ms": None, "error": f"{type(err).__name__}: {err}"}
        results[name] = res
        fmt = lambda ms: "n/a" if ms is None else f"{ms:.4g} ms/update ({1000 / ms:.4g} updates/s)"  # noqa: E731
        print(f"{name}: eager {fmt(res['eager_ms'])}, compile {fmt(res['compile_ms'])}", flush=True)
        empty_cache()
    if args.out:
        _common.write_results(args.out, results, args.quick)
        print(f"[sac_update] wrote {args.out}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

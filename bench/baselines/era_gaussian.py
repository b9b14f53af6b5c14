"""PyTorch twin of bench/era-gaussian.bench.ts: the SAC-ERA log-std activation, forward + backward.

The released code (sac-era/jaxrl/networks/policies.py, NormalTanhPolicy, era-spec section 1.2) is
JAX; here are the same three lines in torch ops, as a PyTorch port would write them:

    K        = -D * (log_std_max - entropy_per_dim + ln sqrt(2 pi e))
    log_stds = K * softmax(raw, -1) + log_std_max
    log_stds = clip(log_stds, log_std_min, log_std_max)

The backward is autograd's: log_stds.backward(grad) (the gradient for log sigma flows in from the
actor loss). Inputs: raw ~ U(-6, 6) (some rows clip, as in the era bench), grad ~ U(-1, 1).
One input set (all of it fits in L2 either way: the work is launch-bound).

Run alone: python3 era_gaussian.py, or through run_all.py.
"""
import math

import torch

import _common
from _common import time_ms
from _era_common import time_compiled_step

DEVICE = _common.DEVICE  # "cuda", or "cpu" under run_all.py --device cpu (set before this import)

B, D = 256, 21
ENTROPY_PER_DIM = 0.25
LOG_STD_MIN, LOG_STD_MAX = -8.0, 0.0


def era_log_std(log_stds, entropy_per_dim=ENTROPY_PER_DIM, log_std_min=LOG_STD_MIN, log_std_max=LOG_STD_MAX):
    """log sigma from the raw log-std head (era-spec 1.2): softmax over the action dims, K, clip."""
    action_dim = log_stds.shape[-1]
    k = -action_dim * (log_std_max - entropy_per_dim + math.log(math.sqrt(2 * math.pi * math.e)))
    log_stds = k * torch.softmax(log_stds, dim=-1) + log_std_max
    return torch.clip(log_stds, log_std_min, log_std_max)


def _case():
    gen = torch.Generator(device=DEVICE).manual_seed(0x9A55)
    raw = (torch.rand(B, D, device=DEVICE, generator=gen) * 12 - 6).requires_grad_()
    grad = torch.rand(B, D, device=DEVICE, generator=gen) * 2 - 1

    def step(f):
        raw.grad = None
        f(raw).backward(grad)

    eager = time_ms(lambda: step(era_log_std))
    out = era_log_std(raw)
    assert bool(((out >= LOG_STD_MIN) & (out <= LOG_STD_MAX)).all()), "log sigma outside the clip range"
    assert bool((out == LOG_STD_MIN).any()), "no row clips: the inputs do not exercise the clip"
    step(era_log_std)
    assert raw.grad is not None and bool(torch.isfinite(raw.grad).all()) and bool((raw.grad != 0).any()), "bad gradient"
    compiled, _ = time_compiled_step(era_log_std, step)
    return {
        "eager_ms": eager,
        "compile_ms": compiled,
        "bytes": 5 * B * D * 4,
        "note": "log_stds.backward(grad); one input set",
    }


def cases():
    """Case name (identical to the node bench case name) -> a function returning its figures."""
    return {f"era.gaussian fwd+bwd B={B} D={D}": _case}


if __name__ == "__main__":
    for name, fn in cases().items():
        print(name, fn())

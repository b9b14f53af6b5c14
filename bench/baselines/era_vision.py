"""PyTorch twin of bench/era-vision.bench.ts: the ResNet-ERA activation + cross entropy, fwd + bwd.

Written as the released timm fork runs it (resnet-era/timm/models/resnet.py `class ERA`, applied
to the fc logits in ResNet.forward; era-spec section 3.2), then timm's training loss with no
label smoothing (nn.CrossEntropyLoss, mean over the batch) and loss.backward():

    p  = softmax(x);  h = slope * p + b;  u = -1 - log(h)
    z' = -1 - sqrt(2u) - 0.75u  (cast back to x.dtype)
    x - max(x).detach()          (dead code in the release: computed, never used; kept, as eager runs it)
    out = z' - min(z').detach()

slope and b come from tau = 4, H_min = 0.6 (C = exp(H_min - 1)) and n = num_classes, as the
module's constructor computes them. The loss stays on the device (no .item()).

Run alone: python3 era_vision.py, or through run_all.py.
"""
import math

import torch
import torch.nn.functional as F

import _common
from _common import time_ms
from _era_common import time_compiled_step

DEVICE = _common.DEVICE  # "cuda", or "cpu" under run_all.py --device cpu (set before this import)

TAU = 4.0
H_MIN = 0.6
LOGIT_RANGE = 3.0


def era_params(n, h_min=H_MIN, tau=TAU):
    """(slope, b) of h = slope * p + b, as the reference module's __init__."""
    upper = math.log(tau) / tau
    c = math.exp(h_min - 1)
    assert c >= upper
    slope = (upper - c / n) / (1 - 1 / n)
    return slope, (c - slope) / n


def era_vision(x, slope, b):
    """The reference forward: softmax, h, closed-form W_-1, shift by the detached min."""
    h = slope * x.softmax(dim=-1) + b
    u = -1 - torch.log(h)
    new_logits = (-1 - torch.sqrt(2 * u) - 3 / 4 * u).to(x.dtype)
    max_values = torch.max(x, dim=-1, keepdim=True).values.detach()
    x = x - max_values  # noqa: F841 - dead in the release too
    min_values = torch.min(new_logits, dim=-1, keepdim=True).values.detach()
    return new_logits - min_values


def _case(batch, classes):
    def run():
        gen = torch.Generator(device=DEVICE).manual_seed(0x715)
        x = (torch.rand(batch, classes, device=DEVICE, generator=gen) * (2 * LOGIT_RANGE) - LOGIT_RANGE).requires_grad_()
        y = torch.randint(classes, (batch,), device=DEVICE, generator=gen)
        slope, b = era_params(classes)
        criterion = torch.nn.CrossEntropyLoss()  # timm's train loss without smoothing

        def forward_loss(x, y):
            return criterion(era_vision(x, slope, b), y)

        def step(f):
            x.grad = None
            f(x, y).backward()

        eager = time_ms(lambda: step(forward_loss))
        loss = forward_loss(x, y)
        assert bool(torch.isfinite(loss)), f"loss {loss.item()}"
        step(forward_loss)
        assert bool(torch.isfinite(x.grad).all()) and bool((x.grad != 0).any()), "bad gradient"
        # The entropy floor of softmax(out): at least the one-hot minimum (0.983 for C=10, 1.464 for C=1000).
        with torch.no_grad():
            q = F.softmax(era_vision(x, slope, b), dim=-1)
            h_min = float((-(q * q.log()).sum(-1)).min())
        assert h_min > 0.9, f"entropy floor {h_min}"
        compiled, _ = time_compiled_step(forward_loss, step)
        return {
            "eager_ms": eager,
            "compile_ms": compiled,
            "bytes": 2 * batch * classes * 4 + batch * 4,
            "note": "nn.CrossEntropyLoss()(ERA(x), y).backward(); loss left on the device",
        }

    return run


def cases():
    """Case name (identical to the node bench case name) -> a function returning its figures."""
    return {
        f"era.softmaxCrossEntropy fwd+bwd B={b} C={c}": _case(b, c)
        for b, c in ((65536, 1000), (512, 10))
    }


if __name__ == "__main__":
    for name, fn in cases().items():
        print(name, fn())

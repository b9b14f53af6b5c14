"""PyTorch twin of bench/mlp.bench.ts: the SAC twin critic as a PyTorch user writes it.

Case names equal the node bench's. Two critics (an nn.ModuleList of two Sequentials, each
Linear(88, 512) -> LayerNorm -> ELU -> Linear(512, 512) -> LayerNorm -> ELU -> Linear(512, 1)),
batch 256, the same input fed to both:
- `mlp critic step ... <precision>`: forward, zero_grad, backward of sum(q * dy) (dy given, as the
  node case), one AdamW(fused=True) step over both critics. Precision: f32 (allow_tf32 off), tf32
  (allow_tf32 on), bf16 (autocast to bfloat16, parameters stay f32).
- `mlp critic input grad ...`: forward, then torch.autograd.grad of sum(q * dy) with respect to the
  input only (the actor's loss flowing through the critic to its action).
The compiled column runs the same functions under torch.compile (the optimizer step included for
the training step, as torch.compile(step) does).
On the CPU (run_all.py --device cpu): AdamW's default implementation (no fused CPU AdamW before
torch 2.4), bf16 autocasts on the CPU, and tf32 is f32 math (allow_tf32 is a CUDA switch).

Run alone: python3 mlp.py, or through run_all.py.
"""
import contextlib

import torch
from torch import nn

import _common
from _common import matmul_tf32, optimizer_impl, time_compiled_rotating, time_ms

DEVICE = _common.DEVICE  # "cuda", or "cpu" under run_all.py --device cpu (set before this import)
E, IN, H, B = 2, 88, 512, 256
SETS = 4
SHAPE = f"E{E} {IN}-{H}x2-1 LN elu B{B}"


def _critic():
    return nn.Sequential(
        nn.Linear(IN, H), nn.LayerNorm(H, eps=1e-6), nn.ELU(),
        nn.Linear(H, H), nn.LayerNorm(H, eps=1e-6), nn.ELU(),
        nn.Linear(H, 1),
    )


class Twin(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.ModuleList([_critic() for _ in range(E)])

    def forward(self, x):
        return torch.stack([q(x) for q in self.q])  # [E, B, 1]


@contextlib.contextmanager
def _precision(kind):
    with matmul_tf32(kind == "tf32"):
        if kind == "bf16":
            with torch.autocast(DEVICE, dtype=torch.bfloat16):
                yield
        else:
            yield


def _forward(model, x, kind):
    """model(x), under bf16 autocast for 'bf16'. Traceable (no TF32 switches: the caller sets those
    outside the compiled function, as matmul_tf32's warnings and setters are not traceable)."""
    if kind != "bf16":
        return model(x)
    with torch.autocast(DEVICE, dtype=torch.bfloat16):
        return model(x)


def _check_autocast(kind):
    """Skips the bf16 case where this device's autocast cannot run the critic: torch 1.x's CPU
    autocast leaves layer_norm out of its fp32 list, and its CPU kernel then rejects bf16 inputs
    with the module's f32 weight ("expected scalar type BFloat16 but found Float")."""
    if kind != "bf16" or DEVICE == "cuda":
        return
    ln = nn.LayerNorm(8).to(DEVICE)
    try:
        with _precision(kind):
            ln(nn.Linear(8, 8).to(DEVICE)(torch.ones(2, 8, device=DEVICE)))
    except RuntimeError as err:
        raise _common.Skip(f"torch {torch.__version__} autocast on {DEVICE} cannot run LayerNorm on bf16 activations: {err}") from err


def _inputs(seed):
    gen = torch.Generator(device=DEVICE).manual_seed(seed)
    xs = [torch.rand((B, IN), device=DEVICE, generator=gen) * 2 - 1 for _ in range(SETS)]
    dys = [(torch.rand((E, B, 1), device=DEVICE, generator=gen) * 2 - 1) * 1e-2 for _ in range(SETS)]
    return xs, dys


def _step_case(kind):
    def run():
        _check_autocast(kind)
        torch.manual_seed(1)
        model = Twin().to(DEVICE)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=1e-4, **optimizer_impl())
        xs, dys = _inputs(0x100)

        def step(x, dy):
            q = _forward(model, x, kind)
            opt.zero_grad(set_to_none=True)
            (q.float() * dy).sum().backward()
            opt.step()

        i = [0]

        def eager():
            step(xs[i[0] % SETS], dys[i[0] % SETS])
            i[0] += 1

        flops = 3 * 2 * E * B * (IN * H + H * H + H) - 2 * E * B * IN * H
        with matmul_tf32(kind == "tf32"):  # outside the compiled step, as gemm.py and sac_update.py
            eager_ms = time_ms(eager)
            compile_ms = time_compiled_rotating(step, list(zip(xs, dys)))
        return {"eager_ms": eager_ms, "compile_ms": compile_ms, "flops": flops}

    return run


def _input_grad():
    torch.manual_seed(1)
    model = Twin().to(DEVICE)
    for p in model.parameters():
        p.requires_grad_(False)
    xs, dys = _inputs(0x200)

    def grad(x, dy):
        x = x.detach().requires_grad_(True)
        q = model(x)
        (dx,) = torch.autograd.grad((q * dy).sum(), x)
        return dx

    i = [0]

    def eager():
        grad(xs[i[0] % SETS], dys[i[0] % SETS])
        i[0] += 1

    with _precision("f32"):
        eager_ms = time_ms(eager)
        compile_ms = time_compiled_rotating(grad, list(zip(xs, dys)))
    return {"eager_ms": eager_ms, "compile_ms": compile_ms, "flops": 2 * 2 * E * B * (IN * H + H * H + H)}


def cases():
    """Case name (identical to the node bench case name) -> a function returning its figures."""
    return {
        f"mlp critic step {SHAPE} f32": _step_case("f32"),
        f"mlp critic step {SHAPE} tf32": _step_case("tf32"),
        f"mlp critic step {SHAPE} bf16": _step_case("bf16"),
        f"mlp critic input grad {SHAPE} f32": _input_grad,
    }


if __name__ == "__main__":
    for name, fn in cases().items():
        res = fn()
        print(f"{name}: eager {res['eager_ms']:.4g} ms, compile {res['compile_ms']}")

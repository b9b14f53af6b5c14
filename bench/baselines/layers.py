"""PyTorch twin of bench/layers.bench.ts: SAC-sized dense layers and optimizer steps (f32).

Case names equal the node bench's. Batch 256, hidden 512, allow_tf32 off (exact f32, as the node
cases). What each case runs, as a PyTorch SAC update would:
- `linear 256x512->512 f32 elu`: F.elu(torch.addmm(b, x, W)) (eager: two kernels; compiled: fused);
- `linear backward 256x512->512 f32`: dx = dy @ W.t(), dW = x.t() @ dy, db = dy.sum(0) (what
  autograd runs for addmm);
- `layerNorm 256x512` / `layerNorm backward 256x512`: F.layer_norm forward; its autograd backward
  for (x, weight, bias) given dy;
- `elu backward 256x512`: torch.ops.aten.elu_backward from the output (as autograd does for ELU);
- `adamw 1048576`: torch.optim.AdamW(fused=True) over one flat 2^20 parameter (eager column; the
  compiled column is the foreach implementation under torch.compile);
- `clipGradNorm 1048576`: torch.nn.utils.clip_grad_norm_ with max_norm above the norm;
- `polyak 1048576`: target.lerp_(online, 0.005).
Inputs rotate through enough sets to span twice the L2 where the node bench rotates them (the
compiled column rotates through the same sets).
On the CPU (run_all.py --device cpu) AdamW runs its default implementation (torch < 2.4 has no
fused CPU AdamW) and the rotation spans twice _common.CPU_CACHE_BYTES.

Run alone: python3 layers.py, or through run_all.py.
"""
import torch
import torch.nn.functional as F

import _common
from _common import compile, compile_failed, matmul_tf32, optimizer_impl, rotating as _rotating, rotation as _rotation, synchronize, time_compiled, time_compiled_rotating, time_ms

DEVICE = _common.DEVICE  # "cuda", or "cpu" under run_all.py --device cpu (set before this import)
B, H, P = 256, 512, 1 << 20



def _rand(shape, gen, low=-1.0, high=1.0):
    return torch.rand(shape, device=DEVICE, generator=gen) * (high - low) + low



def _linear():
    with matmul_tf32(False):
        gen = torch.Generator(device=DEVICE).manual_seed(0x100)
        sets = _rotation((B * H + H * H + H) * 4, 16)
        X = [_rand((B, H), gen) for _ in range(sets)]
        W = [_rand((H, H), gen, -0.05, 0.05) for _ in range(sets)]
        Bs = [_rand((H,), gen) for _ in range(sets)]

        def f(x, w, b):
            return F.elu(torch.addmm(b, x, w))

        eager = time_ms(_rotating(sets, lambda i: f(X[i], W[i], Bs[i])))
        compiled = time_compiled_rotating(f, [(X[i], W[i], Bs[i]) for i in range(sets)])
    return {"eager_ms": eager, "compile_ms": compiled, "flops": 2 * B * H * H}


def _linear_backward():
    with matmul_tf32(False):
        gen = torch.Generator(device=DEVICE).manual_seed(0x400)
        sets = _rotation((2 * B * H + H * H) * 4, 16)
        X = [_rand((B, H), gen) for _ in range(sets)]
        DY = [_rand((B, H), gen) for _ in range(sets)]
        W = [_rand((H, H), gen, -0.05, 0.05) for _ in range(sets)]

        def f(dy, x, w):
            return dy @ w.t(), x.t() @ dy, dy.sum(0)

        eager = time_ms(_rotating(sets, lambda i: f(DY[i], X[i], W[i])))
        compiled = time_compiled_rotating(f, [(DY[i], X[i], W[i]) for i in range(sets)])
    return {"eager_ms": eager, "compile_ms": compiled, "flops": 4 * B * H * H + B * H}


def _layer_norm():
    gen = torch.Generator(device=DEVICE).manual_seed(0x700)
    sets = _rotation(B * H * 4, 64)
    X = [_rand((B, H), gen, -3, 3) for _ in range(sets)]
    w = _rand((H,), gen, 0.5, 1.5)
    b = _rand((H,), gen)
    f = lambda x: F.layer_norm(x, (H,), w, b, 1e-5)  # noqa: E731
    eager = time_ms(_rotating(sets, lambda i: f(X[i])))
    compiled = time_compiled_rotating(f, [(x,) for x in X])
    return {"eager_ms": eager, "compile_ms": compiled, "bytes": (2 * B * H + 2 * H + 2 * B) * 4}


def _layer_norm_backward():
    gen = torch.Generator(device=DEVICE).manual_seed(0x800)
    sets = _rotation(2 * B * H * 4, 64)
    X = [_rand((B, H), gen, -3, 3).requires_grad_() for _ in range(sets)]
    DY = [_rand((B, H), gen) for _ in range(sets)]
    w = _rand((H,), gen, 0.5, 1.5).requires_grad_()
    b = _rand((H,), gen).requires_grad_()
    Y = [F.layer_norm(x, (H,), w, b, 1e-5) for x in X]

    def bwd(i):
        torch.autograd.grad(Y[i], (X[i], w, b), DY[i], retain_graph=True)

    eager = time_ms(_rotating(sets, bwd))
    return {"eager_ms": eager, "compile_ms": None, "bytes": (3 * B * H + 3 * H + 2 * B) * 4,
            "note": "autograd backward of F.layer_norm (dx, dweight, dbias)"}


def _elu_backward():
    gen = torch.Generator(device=DEVICE).manual_seed(0xA00)
    sets = _rotation(2 * B * H * 4, 64)
    Y = [_rand((B, H), gen, -0.9, 3) for _ in range(sets)]
    DY = [_rand((B, H), gen) for _ in range(sets)]
    f = lambda dy, y: torch.ops.aten.elu_backward(dy, 1.0, 1, 1, True, y)  # noqa: E731
    eager = time_ms(_rotating(sets, lambda i: f(DY[i], Y[i])))
    compiled = time_compiled_rotating(f, list(zip(DY, Y)))
    return {"eager_ms": eager, "compile_ms": compiled, "bytes": 3 * B * H * 4}


def _adamw():
    gen = torch.Generator(device=DEVICE).manual_seed(0xC00)
    p = torch.nn.Parameter(_rand((P,), gen))
    p.grad = _rand((P,), gen)
    impl = optimizer_impl()
    fused = torch.optim.AdamW([p], lr=1e-4, weight_decay=1e-4, **impl)
    eager = time_ms(fused.step)
    compiled = None
    try:
        q = torch.nn.Parameter(p.detach().clone())
        q.grad = p.grad.clone()
        opt = torch.optim.AdamW([q], lr=1e-4, weight_decay=1e-4, foreach=True)
        step = compile(opt.step)
        step()
        synchronize()
        compiled = time_ms(step)
    except Exception as err:  # noqa: BLE001 - no figure
        compile_failed(err)
        compiled = None
    eager_impl = "AdamW(fused=True)" if impl else "AdamW() (default implementation)"
    return {"eager_ms": eager, "compile_ms": compiled, "bytes": 7 * P * 4,
            "note": f"eager: {eager_impl}; compiled: AdamW(foreach=True).step under torch.compile"}


def _clip():
    gen = torch.Generator(device=DEVICE).manual_seed(0xD00)
    p = torch.nn.Parameter(_rand((P,), gen))
    p.grad = _rand((P,), gen)
    eager = time_ms(lambda: torch.nn.utils.clip_grad_norm_([p], 1e6))
    return {"eager_ms": eager, "compile_ms": None, "bytes": P * 4}


def _polyak():
    gen = torch.Generator(device=DEVICE).manual_seed(0xE00)
    t = _rand((P,), gen)
    o = _rand((P,), gen)
    eager = time_ms(lambda: t.lerp_(o, 0.005))
    compiled = time_compiled(lambda a, b: a.lerp_(b, 0.005), t, o)
    return {"eager_ms": eager, "compile_ms": compiled, "bytes": 3 * P * 4}


def cases():
    """Case name (identical to the node bench case name) -> a function returning its figures."""
    return {
        f"linear {B}x{H}->{H} f32 elu": _linear,
        f"linear backward {B}x{H}->{H} f32": _linear_backward,
        f"layerNorm {B}x{H}": _layer_norm,
        f"layerNorm backward {B}x{H}": _layer_norm_backward,
        f"elu backward {B}x{H}": _elu_backward,
        "adamw 1048576": _adamw,
        "clipGradNorm 1048576": _clip,
        "polyak 1048576": _polyak,
    }


if __name__ == "__main__":
    for name, fn in cases().items():
        print(name, fn())

"""PyTorch twin of bench/gemm.bench.ts: torch.matmul on the same shapes and precisions.

Case names equal the node bench's (`matmul MxKxN <precision>[ layout]`):
- 'f32':  float32 tensors with TF32 off (_common.matmul_tf32(False): exact f32 SGEMM);
- 'tf32': float32 tensors with TF32 on (TF32 tensor cores, f32 accumulation);
- 'bf16': bfloat16 tensors (bf16 tensor cores, f32 accumulation; the result is written as bf16,
  where era-cuda writes f32: a quarter less output traffic for PyTorch at 4096^3, none that
  matters there).
- layout NT multiplies by b.t() of a stored [n, k] tensor, TN by a.t() of a stored [k, m] one:
  transposed views, which cuBLAS reads without a copy (as era-cuda's transA/transB do).

Inputs are uniform in [-1, 1); like the node bench, enough input sets rotate to span twice the
L2, so the small SAC products do not run from cache. The output goes into a preallocated tensor
(out=), as era-cuda's matmul writes into options.out. torch.compile of a bare matmul is timed
too (it lowers to the same cuBLAS call unless autotuning picks a Triton template).

On the CPU (run_all.py --device cpu) the 4096^3 cases shrink to 1024^3, as the node bench's do
(so the names match); allow_tf32 does not touch CPU matmuls, so 'tf32' there is f32 math.

Run alone: python3 gemm.py, or through run_all.py.
"""
import sys

import torch

import _common
from _common import compile, compile_failed, matmul_tf32, rotation as _rotation, synchronize, time_ms

DEVICE = _common.DEVICE  # "cuda", or "cpu" under run_all.py --device cpu (set before this import)



def _case(m, k, n, label, layout):
    def run():
        dtype = torch.bfloat16 if label == "bf16" else torch.float32
        with matmul_tf32(label == "tf32"):
            gen = torch.Generator(device=DEVICE).manual_seed(0x6E0)
            esize = 2 if dtype == torch.bfloat16 else 4
            sets = _rotation((m * k + k * n) * esize, 16)
            a_shape = (k, m) if layout == "TN" else (m, k)
            b_shape = (n, k) if layout == "NT" else (k, n)
            A = [(torch.rand(a_shape, device=DEVICE, generator=gen) * 2 - 1).to(dtype) for _ in range(sets)]
            B = [(torch.rand(b_shape, device=DEVICE, generator=gen) * 2 - 1).to(dtype) for _ in range(sets)]
            view_a = (lambda t: t.t()) if layout == "TN" else (lambda t: t)
            view_b = (lambda t: t.t()) if layout == "NT" else (lambda t: t)
            out = torch.empty((m, n), device=DEVICE, dtype=dtype)
            step = [0]

            def eager_fn():
                i = step[0] % sets
                step[0] += 1
                torch.matmul(view_a(A[i]), view_b(B[i]), out=out)

            eager = time_ms(eager_fn)
            ref = view_a(A[0]).double() @ view_b(B[0]).double()
            torch.matmul(view_a(A[0]), view_b(B[0]), out=out)
            rel = ((out.double() - ref).norm() / ref.norm()).item()
            # TF32 rounds each input to 10 mantissa bits: ~3e-4 whatever K. Exact f32 accumulates
            # rounding as a random walk: ~1e-6 at K=4096. So 1e-4 tells the two apart, and an 'f32'
            # figure measured with TF32 on fails (only this case: run_all records it and goes on).
            assert rel < (2e-2 if label == "bf16" else 1e-4 if label == "f32" else 1e-2), f"relative error {rel}"
            notes = [f"{sets} input sets rotated"] if sets > 1 else []
            if label == "tf32" and DEVICE == "cuda" and rel < 1e-4:
                # Not asserted: allow_tf32 lets cuBLAS use TF32, it may still pick an f32 kernel.
                notes.append(f"relative error {rel:.1e}: exact f32 math, not TF32")
                print(f"[baselines]     {notes[-1]}", file=sys.stderr)

            compiled = None
            try:
                # dynamic=False: run_all.py resets dynamo between cases, each shape compiles static.
                mm = compile(lambda x, y: torch.matmul(x, y), dynamic=False)
                mm(view_a(A[0]), view_b(B[0]))
                synchronize()

                def compiled_fn():
                    i = step[0] % sets
                    step[0] += 1
                    mm(view_a(A[i]), view_b(B[i]))

                compiled = time_ms(compiled_fn)
            except Exception as err:  # noqa: BLE001 - no Triton, say: no figure
                compile_failed(err)
            res = {"eager_ms": eager, "compile_ms": compiled, "flops": 2 * m * n * k}
            if notes:
                res["note"] = "; ".join(notes)
            return res

    return run


def _name(m, k, n, label, layout):
    return f"matmul {m}x{k}x{n} {label}" + ("" if layout == "NN" else f" {layout}")


def cases():
    """Case name (identical to the node bench case name) -> a function returning its figures."""
    out = {}
    big = 4096 if DEVICE == "cuda" else 1024  # as bench/gemm.bench.ts on the CPU backend
    for label in ("bf16", "f32", "tf32"):
        out[_name(big, big, big, label, "NN")] = _case(big, big, big, label, "NN")
    for label in ("f32", "tf32", "bf16"):
        for (m, k, n, layout) in ((256, 512, 512, "NN"), (256, 88, 512, "NN"), (256, 512, 512, "NT"), (512, 256, 512, "TN")):
            out[_name(m, k, n, label, layout)] = _case(m, k, n, label, layout)
    return out


if __name__ == "__main__":
    for name, fn in cases().items():
        _common.reset_compiled()  # as run_all.py does between cases
        print(name, fn())

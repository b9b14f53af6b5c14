"""PyTorch baselines for bench/copy.bench.ts and bench/transfer.bench.ts.

- "copy 1GiB": device-to-device copy of a 1 GiB float32 tensor (dst.copy_(src); eager and compiled).
- "h2d 256MiB" / "d2h 256MiB": from / to pageable host memory, the counterpart of era-cuda's path
  (JS arrays are pageable; era stages them through its own pinned buffers). d2h copies into a
  preallocated host tensor, as the era bench reads with Tensor.toArray(out) into a reused array.
- "... pinned": the same from / to page-locked memory (non_blocking copies): the PCIe ceiling.
- On the CPU (run_all.py --device cpu): "copy 64MiB", the node copy case's CPU size (a memcpy,
  the CPU run's ceiling); the transfers are skipped: there is no device to copy to or from.

Run alone: python3 device_copy.py (prints the figures), or through run_all.py.
"""
import torch

import _common
from _common import random_tensor, synchronize, time_compiled, time_ms

GiB = 1 << 30
MiB = 1 << 20


def _copy(nbytes):
    n = nbytes // 4
    src = random_tensor(n, seed=1)
    dst = torch.empty_like(src)
    eager = time_ms(lambda: dst.copy_(src))
    assert torch.equal(dst, src), "copy: dst differs from src"

    def copy_into(d, s):
        d.copy_(s)

    compiled = time_compiled(copy_into, dst, src)
    del src, dst
    return {"eager_ms": eager, "compile_ms": compiled, "bytes": 2 * nbytes}


def _transfer(direction, pinned):
    if not _common.on_cuda():
        raise _common.Skip("a host<->device transfer; there is no device on the CPU")
    n = 256 * MiB // 4
    host = random_tensor(n, device="cpu", seed=2)
    if pinned:
        host = host.pin_memory()
    dev = torch.empty(n, device="cuda")
    if direction == "h2d":
        ms = time_ms(lambda: dev.copy_(host, non_blocking=pinned))
        synchronize()
        assert torch.equal(dev.cpu(), host), "h2d: device tensor differs from host"
    else:
        dev.copy_(host)
        ms = time_ms(lambda: host.copy_(dev, non_blocking=pinned))
        synchronize()
        assert torch.equal(dev.cpu(), host), "d2h: host copy differs from device"
    note = "pinned host memory" if pinned else "pageable host memory"
    return {"eager_ms": ms, "compile_ms": None, "bytes": 256 * MiB, "note": note}


def cases():
    """Case name (identical to the node bench case name) -> a function returning its figures."""
    # The node copy case shrinks to 64 MiB on the CPU (bench/copy.bench.ts); so does this one.
    copy_bytes = GiB if _common.on_cuda() else 64 * MiB
    return {
        f"copy {copy_bytes // GiB}GiB" if copy_bytes >= GiB else f"copy {copy_bytes // MiB}MiB": lambda: _copy(copy_bytes),
        "h2d 256MiB": lambda: _transfer("h2d", pinned=False),
        "d2h 256MiB": lambda: _transfer("d2h", pinned=False),
        "h2d 256MiB pinned": lambda: _transfer("h2d", pinned=True),
        "d2h 256MiB pinned": lambda: _transfer("d2h", pinned=True),
    }


if __name__ == "__main__":
    for name, fn in cases().items():
        print(name, fn())

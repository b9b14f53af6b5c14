"""Timing helpers shared by the baseline scripts; they mirror bench/harness.ts.

A figure is the median of timed repeats after warm-up. Each repeat is timed with CUDA events on
the current stream and spans `inner` back-to-back calls, `inner` chosen so a sample lasts at least
about 1 ms (as the node harness does), then divided by `inner`.
"""
import datetime
import json
import math
import pathlib
import statistics
import sys

import torch

QUICK = False  # set by run_all.py --quick: fewer warm-ups and repeats


def time_cuda(fn, warmup=3, repeats=25):
    """Median ms of one fn() call, timed with torch.cuda.Event."""
    if QUICK:
        warmup, repeats = 1, 5
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)

    def sample(inner):
        start.record()
        for _ in range(inner):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / inner

    torch.cuda.synchronize()
    warm = [sample(1) for _ in range(max(1, warmup))]
    inner = min(1000, max(1, math.ceil(1.0 / max(1e-6, min(warm)))))  # a sample spans >= ~1 ms
    return statistics.median(sample(inner) for _ in range(repeats))


def time_compiled(fn, *args):
    """Median ms of torch.compile(fn)(*args), or None where compilation fails (no Triton, say).

    The first calls compile; time_cuda's warm-up absorbs them.
    """
    try:
        compiled = torch.compile(fn)
        compiled(*args)
        torch.cuda.synchronize()
    except Exception as err:  # noqa: BLE001 - any compile failure just means "no figure"
        print(f"[baselines] torch.compile failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}", file=sys.stderr)
        return None
    return time_cuda(lambda: compiled(*args))


def random_tensor(n, device="cuda", seed=0):
    """Uniform values in [-1, 1): random, never zeros (like the node benches)."""
    g = torch.Generator(device=device).manual_seed(seed)
    return torch.rand(n, device=device, generator=g) * 2 - 1


def write_results(path, results, quick):
    """Writes the baselines JSON that bench/run.ts --baselines reads (device, versions, cases)."""
    out = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "quick": quick,
        "cases": results,
    }
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(path).write_text(json.dumps(out, indent=2) + "\n")


def rotation(bytes_per_set, cap):
    """How many input sets to rotate through so repeats span twice the L2 (at most cap)."""
    l2 = torch.cuda.get_device_properties(0).L2_cache_size
    return max(1, min(cap, math.ceil(2 * l2 / max(1, bytes_per_set))))


def rotating(sets, fn):
    """A no-argument function calling fn(0), fn(1), ... fn(sets - 1), fn(0), ..."""
    step = [0]

    def run():
        i = step[0] % sets
        step[0] += 1
        fn(i)

    return run

"""Timing helpers shared by the baseline scripts; they mirror bench/harness.ts.

A figure is the median of timed repeats after warm-up. Each repeat spans `inner` back-to-back
calls, `inner` chosen so a sample lasts at least MIN_SAMPLE_MS (5 ms) (as the node harness does), then is
divided by `inner`. On CUDA a repeat is timed with CUDA events on the current stream; on the CPU
(run_all.py --device cpu, for comparing with era-cuda's CPU backend) with time.perf_counter, as
the node harness uses process.hrtime there.

DEVICE is set by run_all.py (--device) before it imports the scripts; each script copies it into
its own DEVICE at import. The helpers below that touch torch.cuda are no-ops (or None) on the CPU.
"""
import contextlib
import datetime
import json
import math
import pathlib
import statistics
import sys
import time
import warnings

import torch

QUICK = False  # set by run_all.py --quick: fewer warm-ups and repeats
DEVICE = "cuda"  # set by run_all.py --device before the scripts are imported
# The node harness bounds CPU last-level caches by 64 MiB (bench/harness.ts createContext); the CPU
# rotation uses the same bound, so both sides rotate through the same number of input sets.
CPU_CACHE_BYTES = 64 << 20
# On the CPU a case whose single call takes longer than this is skipped (2-core hosts, say);
# run_all.py --cpu-call-limit sets it.
CPU_CALL_LIMIT_MS = 5000.0


class Skip(Exception):
    """Raised by a case that cannot run here (on this device); run_all.py reports the reason."""


def on_cuda():
    return DEVICE == "cuda"


def synchronize():
    """torch.cuda.synchronize() on CUDA; nothing to wait for on the CPU."""
    if on_cuda():
        torch.cuda.synchronize()


def empty_cache():
    if on_cuda():
        torch.cuda.empty_cache()


def time_ms(fn, warmup=3, repeats=25):
    """Median ms of one fn() call: CUDA events on CUDA, time.perf_counter on the CPU."""
    if QUICK:
        warmup, repeats = 1, 5
    if on_cuda():
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
    else:
        def sample(inner):
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            return (time.perf_counter() - t0) * 1e3 / inner

    warm = []
    for _ in range(max(1, warmup)):
        warm.append(sample(1))
        if not on_cuda() and warm[0] > CPU_CALL_LIMIT_MS:
            raise Skip(f"its first call took {warm[0] / 1e3:.1f} s on the CPU (limit {CPU_CALL_LIMIT_MS / 1e3:g} s; "
                       "run_all.py --cpu-call-limit raises it)")
    inner = min(1000, max(1, math.ceil(MIN_SAMPLE_MS / max(1e-6, min(warm)))))
    return statistics.median(sample(inner) for _ in range(repeats))


# The shortest sample, in ms, as bench/harness.ts MIN_SAMPLE_MS: a 1 ms case timed one run a
# sample would count the gap between the start event and its first kernel every time.
MIN_SAMPLE_MS = 5.0

_compile_failures = set()

# False while run_all.py runs a case that --eager-only names: compile() then refuses, so the case
# gives its eager figure and no compiled one, without spending a compile on a column no target reads.
COMPILE = True


class NotCompiled(Exception):
    """compile() while COMPILE is off (run_all.py --eager-only)."""


def compile(fn, **options):  # noqa: A001 - the scripts' torch.compile, behind the --eager-only switch
    """torch.compile(fn, **options), or NotCompiled where this case is measured eager only."""
    if not COMPILE:
        raise NotCompiled("run_all.py --eager-only names this case")
    return torch.compile(fn, **options)


def compile_failed(err):
    """Prints one short line for a torch.compile failure (once per distinct message); the figure is None."""
    if isinstance(err, NotCompiled):
        return
    msg = str(err).splitlines()[0] if str(err) else ""
    # Skip: the compiled call passed the CPU call limit (time_ms); the eager figure stands.
    what = "compiled figure skipped" if isinstance(err, Skip) else "torch.compile failed"
    line = f"[baselines] {what}: {type(err).__name__}: {msg}"[:200]
    if line not in _compile_failures:
        _compile_failures.add(line)
        print(line, file=sys.stderr)


def time_compiled(fn, *args):
    """Median ms of torch.compile(fn)(*args), or None where compilation fails (no Triton, say;
    torch < 2.0 has no torch.compile at all).

    The first calls compile; time_ms's warm-up absorbs them.
    """
    return time_compiled_rotating(fn, [args])


def time_compiled_rotating(fn, arg_sets):
    """As time_compiled, the calls rotating through arg_sets (a list of argument tuples, all of one
    shape), as the eager timing rotates its input sets."""
    # The timing is inside the try too: a failure after the first call (a recompile, a CUDA OOM)
    # costs the compiled figure only, never the case's eager one.
    try:
        compiled = compile(fn)
        compiled(*arg_sets[0])
        synchronize()
        return time_ms(rotating(len(arg_sets), lambda i: compiled(*arg_sets[i])))
    except Exception as err:  # noqa: BLE001 - any compile failure just means "no figure"
        compile_failed(err)
        return None


def reset_compiled():
    """torch._dynamo.reset() where there is one: each case compiles afresh (cases share functions,
    and one code object's cache would otherwise fill up to the recompile limit and fall back to eager)."""
    try:
        import torch._dynamo
    except Exception:  # noqa: BLE001 - torch < 2.0 (no torch.compile) or a broken one: nothing to reset
        return
    torch._dynamo.reset()


def random_tensor(n, device=None, seed=0):
    """Uniform values in [-1, 1): random, never zeros (like the node benches). device: DEVICE by default."""
    device = device or DEVICE
    g = torch.Generator(device=device).manual_seed(seed)
    return torch.rand(n, device=device, generator=g) * 2 - 1


def optimizer_impl(compiled=False):
    """Adam/AdamW implementation flags: fused kernels on CUDA (foreach when compiled); on the CPU
    the default (torch < 2.4 has no fused CPU optimizers)."""
    if not on_cuda():
        return {}
    return {"foreach": True} if compiled else {"fused": True}


def device_name():
    if on_cuda():
        return torch.cuda.get_device_name()
    threads = torch.get_num_threads()
    return f"cpu (torch {torch.__version__}, {threads} thread{'' if threads == 1 else 's'})"


def _new_tf32_switch():
    """torch.backends.cuda.matmul.fp32_precision ('tf32' | 'ieee'), or None before torch 2.9."""
    try:
        return torch.backends.cuda.matmul.fp32_precision
    except (AttributeError, AssertionError):  # torch 1.x raises AssertionError for unknown names
        return None


def _set_tf32(enabled):
    # Both APIs, kept in agreement. torch 2.9+ deprecates allow_tf32, but Inductor still reads the
    # legacy setting while lowering matmuls, and aten refuses to read it when it disagrees with the
    # new one (pytorch/pytorch#166387): setting only fp32_precision='tf32' makes every tf32
    # torch.compile fail. The legacy setter writes both where it can; the new one is set to match.
    switches = torch.backends.cuda.matmul
    want = "tf32" if enabled else "ieee"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            switches.allow_tf32 = bool(enabled)
        except (AttributeError, RuntimeError):  # a torch without the legacy switch: the new one alone
            if _new_tf32_switch() is None:
                raise
        current = _new_tf32_switch()
        if current is not None and current != want:
            switches.fp32_precision = want


@contextlib.contextmanager
def matmul_tf32(enabled):
    """float32 matmuls on TF32 tensor cores (True) or in exact IEEE f32 (False) inside the block.

    CUDA switches only: CPU matmuls stay f32 either way. On leaving, TF32 is back on or off as
    before, set explicitly (an inherited 'none' or a 'medium' precision is not restored as such).
    """
    current = _new_tf32_switch()
    if current is not None and current != "none":
        prev = current == "tf32"
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                prev = bool(torch.backends.cuda.matmul.allow_tf32)
            except (AttributeError, RuntimeError):  # no legacy getter, or aten refuses to read it: the default
                prev = False
    _set_tf32(enabled)
    try:
        yield
    finally:
        _set_tf32(prev)


def write_results(path, results, quick, skipped=None, complete=True):
    """Writes the baselines JSON that bench/run.ts --baselines reads (device, versions, cases).

    `skipped` ({case: reason}) lists cases that did not run here; run.ts ignores it. run_all.py
    writes the file after every case with complete=False, so a run cut short keeps its figures.
    The write goes through a temporary file and a rename: a reader never sees half a file.
    """
    out = {
        "device": device_name(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "quick": quick,
        "complete": complete,
        "cases": results,
    }
    if skipped:
        out["skipped"] = skipped
    target = pathlib.Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    # NaN and Infinity are not JSON: JSON.parse in bench/run.ts would refuse the whole file.
    tmp.write_text(json.dumps(_finite_json(out), indent=2) + "\n")
    tmp.replace(target)


def _finite_json(x):
    """x with every non-finite float replaced by None (in dicts, lists and tuples)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite_json(v) for v in x]
    return x


def rotation(bytes_per_set, cap):
    """How many input sets to rotate through so repeats span twice the L2 (at most cap); on the CPU
    twice CPU_CACHE_BYTES."""
    cache = torch.cuda.get_device_properties(0).L2_cache_size if on_cuda() else CPU_CACHE_BYTES
    return max(1, min(cap, math.ceil(2 * cache / max(1, bytes_per_set))))


def rotating(sets, fn):
    """A no-argument function calling fn(0), fn(1), ... fn(sets - 1), fn(0), ..."""
    step = [0]

    def run():
        i = step[0] % sets
        step[0] += 1
        fn(i)

    return run

"""Helpers shared by the ERA baselines (era_gaussian.py, era_vision.py, era_logits.py).

- Xorshift and response_plan mirror bench/era-common.ts draw for draw, so the PyTorch twin of an
  era.logits case cuts its tokens into the same ragged responses with the same advantages.
- time_compiled_step: like _common.time_compiled, for a forward+backward step: the forward (and
  the loss) is compiled, .backward() runs the compiled backward that AOTAutograd produced.
- peak_memory: torch.cuda.max_memory_allocated over one step (None on the CPU: no allocator stats).

Not a baseline script itself (run_all.py skips _*.py).
"""
import gc
import math

M32 = 0xFFFFFFFF

# GRPO advantages with +-1 rewards and 8 samples per prompt: sqrt(7(8-m)/(8m)) for m = 1..7 correct.
GRPO_MAGNITUDES = [math.sqrt(7 * (8 - m) / (8 * m)) for m in range(1, 8)]


class Xorshift:
    """xorshift32 (13, 17, 5), as bench/era-common.ts."""

    def __init__(self, seed):
        self.x = (seed & M32) or 0x9E3779B9

    def next(self):
        x = self.x
        x ^= (x << 13) & M32
        x ^= x >> 17
        x ^= (x << 5) & M32
        self.x = x
        return x


def response_plan(n, seed):
    """N tokens in ragged responses: (offsets [R+1], advantage [R], confident [R]).

    Lengths 64..1024 (N/16..N/4 for N < 4096), the last one takes what is left; each response gets
    a GRPO advantage of random sign and a 'confident' flag (its rows get a spike on the sampled
    token, so its entropy is low). Responses 0 and 1 are forced to (confident, +2.47) and
    (unconfident, +1.62) so both scaling branches occur. Same as responsePlan() in era-common.ts.
    """
    rng = Xorshift(seed)
    max_len = max(1, min(1024, n // 4))
    min_len = max(1, min(64, max_len // 4))
    offsets, advantage, confident = [0], [], []
    total = 0
    while total < n:
        length = min(min_len + rng.next() % (max_len - min_len + 1), n - total)
        sign = 1 if rng.next() % 2 == 0 else -1
        mag = GRPO_MAGNITUDES[rng.next() % 7]
        conf = rng.next() % 3 == 0
        i = len(advantage)
        total += length
        offsets.append(total)
        advantage.append(GRPO_MAGNITUDES[0] if i == 0 else GRPO_MAGNITUDES[1] if i == 1 else sign * mag)
        confident.append(True if i == 0 else False if i == 1 else conf)
    return offsets, advantage, confident


def time_compiled_step(fn, step):
    """(median ms of step(torch.compile(fn)), the compiled fn), or (None, None) where compilation fails.

    `step(f)` runs one unit of work calling f (the function to compile); two untimed calls
    compile the forward and the backward first, then _common.time_ms times it (its warm-up
    included). dynamic=False: each case compiles for its own static shapes (cases share the
    functions, and automatic dynamic shapes would otherwise kick in on the second shape).
    """
    import torch

    from _common import compile, compile_failed, synchronize, time_ms

    # The timing is inside the try too: a later failure costs the compiled figure, not the eager one.
    try:
        compiled = compile(fn, dynamic=False)
        step(compiled)
        step(compiled)
        synchronize()
        return time_ms(lambda: step(compiled)), compiled
    except Exception as err:  # noqa: BLE001 - any compile failure just means "no figure"
        compile_failed(err)
        return None, None


def peak_memory(step):
    """(bytes allocated before, peak bytes allocated during) one call of step(); (None, None) on
    the CPU, where torch keeps no allocator statistics (step() still runs)."""
    import torch

    import _common

    if not _common.on_cuda():
        step()
        return None, None
    gc.collect()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    step()
    torch.cuda.synchronize()
    return before, torch.cuda.max_memory_allocated()


def gib(n):
    return f"{n / 2**30:.2f} GiB"

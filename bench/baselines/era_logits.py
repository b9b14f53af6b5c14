"""PyTorch twin of bench/era-logits.bench.ts: the GRPO-ERA logit activation (era-spec 2.3-2.4).

Written as the released verl fork computes it in DataParallelPPOActor._forward_micro_batch
(use_remove_padding path, ERA-LLM/verl/workers/actor/dp_actor.py), on packed rows [N, V]:

- entropy_from_logits over the full vocabulary (verl.utils.torch_functional:
  logsumexp(z) - sum(softmax(z) * z)), with autograd on, before any scaling;
- H_resp per response: the mean of its top max(1, floor(0.2 L)) token entropies. The release pads
  the entropies to [R, L_max] with -inf and loops over responses calling torch.topk(row, k.item());
  here the same topk runs once on the padded [R, L_max] batch and a mask keeps each response's
  first k (no host synchronisation, and torch.compile can trace it: the faster of the two forms);
- the advantage test of the release: advantages are written into an int64 tensor
  (torch.zeros_like(input_ids)), i.e. truncated toward zero, then tested > 0;
- the scaling as torch.where (z*k where H_resp < 0.45, z/k where H_resp > 3.0; the release
  assigns through boolean masks, logits[cond] = logits[cond] * k, which torch.compile cannot
  trace without dynamic shapes);
- the log-prob of the sampled token by log_softmax + gather (topK 0: the full-vocabulary
  log-softmax; verl's own logprobs_from_logits loops row by row or calls flash-attn's CE);
- all under torch.autocast(bfloat16) as the actor's forward is, so softmax, logsumexp and
  log_softmax of bf16 logits produce fp32 [N, V] tensors, as in the release;
- backward: (logp * g).sum().backward() with g = -A/N (the token-mean policy-gradient loss at
  ratio 1), the gradient landing in logits.grad.

The release divides the logits by the temperature in place first (T = 1: left out) and wraps
entropy_from_logits in torch.compile(dynamic=True) by default ("eager" here is plain eager).
"fwd" runs under torch.no_grad(), as compute_log_prob does for the old log-probs.

Inputs: the same ragged responses as the era bench (_era_common.response_plan), logits ~ U(-1, 1)
with a +18 spike on the sampled token in the 'confident' responses.

Run alone: python3 era_logits.py, or through run_all.py.
"""
import torch
import torch.nn.functional as F

import _common
from _common import compile_failed, time_ms
from _era_common import gib, peak_memory, response_plan, time_compiled_step

DEVICE = _common.DEVICE  # "cuda", or "cpu" under run_all.py --device cpu (set before this import)

N = 8192
# The node bench shrinks N on the CPU backend (cpuTokens in bench/era-logits.bench.ts): a fwd+bwd
# run stays near 1 s there. The CPU twins use the same N, so the names match.
CPU_TOKENS = {32768: 1024, 151936: 256}
SEED = 0xE7A11
SPIKE = 18.0
ERA_LB, ERA_UB, ERA_K = 0.45, 3.0, 2.0
TOP_RATIO = 0.2


def entropy_from_logits(logits):
    """verl.utils.torch_functional.entropy_from_logits."""
    pd = torch.nn.functional.softmax(logits, dim=-1)
    return torch.logsumexp(logits, dim=-1) - torch.sum(pd * logits, dim=-1)


def era_log_probs(logits, tokens, advantages, row, col, k_per, n_resp, max_len, k_max):
    """Per-token log-probs under the ERA-scaled logits (era-spec 2.3-2.4, the release's ops)."""
    with torch.autocast(device_type=DEVICE, dtype=torch.bfloat16):
        entropy = entropy_from_logits(logits)  # [N] fp32, full vocab, before scaling
        # pad_input: entropies into [R, L_max], -inf at the padding
        masked = torch.full((n_resp, max_len), float("-inf"), device=logits.device, dtype=entropy.dtype)
        masked = masked.index_put((row, col), entropy)
        top, _ = torch.topk(masked, k_max, dim=-1)
        keep = torch.arange(k_max, device=logits.device)[None, :] < k_per[:, None]
        mean_top_entropy = torch.where(keep, top, 0.0).sum(dim=-1) / k_per
        mean_top_entropy_rmpad = mean_top_entropy[row]  # back to one value per token
        advantages_int = advantages.to(torch.int64)  # advantages_pad = zeros_like(input_ids): int64
        cond_a = (mean_top_entropy_rmpad < ERA_LB) & (advantages_int > 0)
        cond_b = (mean_top_entropy_rmpad > ERA_UB) & (advantages_int > 0)
        scaled = torch.where(cond_a[:, None], logits * ERA_K, torch.where(cond_b[:, None], logits / ERA_K, logits))
        log_probs = F.log_softmax(scaled, dim=-1).gather(-1, tokens[:, None]).squeeze(-1)
    return log_probs, cond_a, cond_b


def make_inputs(n, v, dtype):
    offsets, advantage, confident = response_plan(n, SEED)
    r = len(advantage)
    lengths = [offsets[i + 1] - offsets[i] for i in range(r)]
    row = torch.repeat_interleave(torch.arange(r), torch.tensor(lengths)).to(DEVICE)
    col = torch.cat([torch.arange(length) for length in lengths]).to(DEVICE)
    k_per = torch.tensor([max(1, int(TOP_RATIO * length)) for length in lengths], device=DEVICE)
    adv = torch.repeat_interleave(torch.tensor(advantage, dtype=torch.float32), torch.tensor(lengths)).to(DEVICE)
    gen = torch.Generator(device=DEVICE).manual_seed(SEED)
    tokens = torch.randint(v, (n,), device=DEVICE, generator=gen)
    logits = torch.rand(n, v, device=DEVICE, generator=gen, dtype=dtype) * 2 - 1
    conf_rows = torch.cat([torch.arange(offsets[i], offsets[i + 1]) for i in range(r) if confident[i]]).to(DEVICE)
    logits[conf_rows, tokens[conf_rows]] = SPIKE
    args = (tokens, adv, row, col, k_per, r, max(lengths), int(k_per.max()))
    return logits, args, adv, r, lengths


def _forward_case(n, v, dtype):
    def run():
        logits, args, _, r, lengths = make_inputs(n, v, dtype)

        def forward(logits, *a):
            return era_log_probs(logits, *a)[0]

        def step(f):
            with torch.no_grad():
                f(logits, *args)

        eager = time_ms(lambda: step(forward))
        with torch.no_grad():
            logp, cond_a, cond_b = era_log_probs(logits, *args)
        assert bool(torch.isfinite(logp).all()) and bool((logp <= 0).all()), "log-probs out of range"
        assert bool(cond_a.any()) and bool(cond_b.any()), "the inputs did not exercise both scaling branches"
        compiled, _ = time_compiled_step(forward, step)
        elt = logits.element_size()
        return {
            "eager_ms": eager,
            "compile_ms": compiled,
            "bytes": n * v * elt + 4 * (2 * n + r + 1) + 4 * (4 * n + r),
            "note": f"under torch.no_grad(); R={r} responses ({min(lengths)}..{max(lengths)} tokens)",
        }

    return run


def _forward_backward_case(n, v, dtype):
    def run():
        logits, args, adv, r, lengths = make_inputs(n, v, dtype)
        logits.requires_grad_()
        g = -adv / n  # d(token-mean PG loss)/d logp at ratio 1

        def forward_loss(logits, *a):
            return (era_log_probs(logits, *a)[0] * g).sum()

        def step(f):
            logits.grad = None
            f(logits, *args).backward()

        eager = time_ms(lambda: step(forward_loss))
        step(forward_loss)
        assert bool(torch.isfinite(logits.grad).all()) and bool((logits.grad != 0).any()), "bad gradient"
        _, cond_a, cond_b = era_log_probs(logits.detach(), *args)
        assert bool(cond_a.any()) and bool(cond_b.any()), "the inputs did not exercise both scaling branches"
        logits.grad = None
        eager_before, eager_peak = peak_memory(lambda: step(forward_loss))
        logits.grad = None
        compiled, compiled_fn = time_compiled_step(forward_loss, step)
        compile_note = ""
        res = {"eager_ms": eager, "compile_ms": compiled}
        if compiled_fn is not None and eager_peak is not None:
            logits.grad = None
            # A failure here costs the compiled peak only (compile_ms was timed to its end already).
            try:
                before, peak = peak_memory(lambda: step(compiled_fn))
                compile_note = f", torch.compile {gib(peak)} ({gib(peak - before)} above the inputs)"
                res["compile_peak_bytes"] = peak
            except Exception as err:  # noqa: BLE001 - no compiled peak
                compile_failed(err)
                compile_note = ", torch.compile peak not measured (it failed)"
        logits.grad = None
        elt = logits.element_size()
        # Peak memory is a CUDA allocator statistic: the CPU run has none (peak_memory gives None).
        memory_note = "" if eager_peak is None else (
            f"peak torch.cuda.max_memory_allocated: eager {gib(eager_peak)} ({gib(eager_peak - eager_before)} above the "
            f"inputs){compile_note}; ")
        res.update({
            "bytes": n * v * elt + 4 * (2 * n + r + 1) + 4 * (4 * n + r) + 2 * n * v * elt + 16 * n,
            "input_bytes": eager_before,
            "eager_peak_bytes": eager_peak,
            "note": f"{memory_note}logits {gib(n * v * elt)}; R={r} responses ({min(lengths)}..{max(lengths)} tokens)",
        })
        return res

    return run


def cases():
    """Case name (identical to the node bench case name) -> a function returning its figures."""
    def tokens(v):
        return N if DEVICE == "cuda" else CPU_TOKENS[v]

    n32, n152 = tokens(32768), tokens(151936)
    return {
        f"era.logits fwd N={n32} V=32768 f32": _forward_case(n32, 32768, torch.float32),
        f"era.logits fwd+bwd N={n32} V=32768 f32": _forward_backward_case(n32, 32768, torch.float32),
        f"era.logits fwd+bwd N={n152} V=151936 bf16": _forward_backward_case(n152, 151936, torch.bfloat16),
    }


if __name__ == "__main__":
    for name, fn in cases().items():
        print(name, fn())

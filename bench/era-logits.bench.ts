/**
 * The LLM ERA activation (era.logits / logitsBackward, era-spec §2.3-2.7) on a packed batch of
 * N = 8192 response tokens: per-token entropy over the full vocabulary, the per-response mean of
 * the top-20% token entropies, the logit scale, the log-prob of the sampled token (full-vocabulary
 * log-softmax, topK 0) and, for fwd+bwd, the logit gradient.
 *
 * Inputs (seeded; bench/baselines/era_logits.py draws the same responses): 8192 tokens cut into
 * responses of 64..1024 tokens, each with a GRPO advantage (±sqrt(7(8−m)/(8m)), m correct of 8)
 * broadcast to its tokens; logits ~ U(−1, 1) (entropy ≈ ln V: the 1/k branch), and in about a
 * third of the responses a spike of +18 on every row's sampled token (entropy ≈ 0.05: the k
 * branch); responses 0 and 1 are forced to one of each with A ≥ 1. advantageTest 'reference' (the
 * released code's int64 truncation: A ≥ 1) and topK 0 (full-vocabulary log-softmax), as the
 * PyTorch twin; gradLogProbs = −A/N (the token-mean policy-gradient loss at ratio 1).
 *
 * Cases:
 * - "fwd": the forward alone (what compute_log_prob does for the old log-probs, under no_grad).
 * - "fwd+bwd": the forward, then era.logitsBackward({ forward }) into a separate gradient tensor (a
 *   fresh [N, V] tensor per run from the caching allocator, as PyTorch writes logits.grad). The
 *   names match the PyTorch twins; bytes are the minimum traffic (read the logits, re-read them,
 *   write the gradient, plus the O(N) vectors).
 * - "fwd+bwd in-place": the same with `inPlace: true` (the gradient overwrites the logits: no
 *   [N, V] allocation). Each run first restores the logits from a pristine copy with era.copy; that
 *   copy is timed too and its read + write are counted in the bytes (nothing is subtracted).
 *
 * On the CPU backend N shrinks (1024 for V = 32768, 256 for V = 151936; see cpuTokens) so that
 * `--quick` stays short; the case names carry the size actually run.
 */
import era, { type LogitsOptions, type LogitsResult, type Tensor } from '../lib/index.js';
import {
  assertClose, bf16ToNumber, humanBytes, maxAbs, measureDeviceMemory, responsePlan, Xorshift,
  type MemoryUse, type ResponsePlan,
} from './era-common.js';
import type { BenchCase, BenchContext, BenchRun } from './harness.js';

type Dtype = 'f32' | 'bf16';

const CUDA_TOKENS = 8192;
/**
 * The CPU kernels take ~20 ns per logit (one core), so N = 8192 would need 6-30 s per run: the
 * CPU sizes keep a fwd+bwd run near 1 s (N·V ≈ 34M f32 / 39M bf16 logits).
 */
const cpuTokens = (v: number): number => (v <= 32768 ? 1024 : 256);
const SPIKE = 18;
const SEED = 0xe7a11;
const OPTIONS: LogitsOptions = { advantageTest: 'reference', topK: 0 };
const K = 2;
const OMEGA_LOW = 0.45;
const OMEGA_HIGH = 3.0;
const TOP_FRACTION = 0.2;

const tokensFor = (device: string, v: number): number => (device === 'cuda' ? CUDA_TOKENS : cpuTokens(v));

interface Inputs {
  n: number;
  v: number;
  dtype: Dtype;
  plan: ResponsePlan;
  /** Host copy of the logits (f32 values or bf16 bits), kept for the float64 check. */
  host: Float32Array | Uint16Array;
  tokensHost: Int32Array;
  advHost: Float32Array;
  gradHost: Float32Array;
  logits: Tensor;
  tokens: Tensor;
  offsets: Tensor;
  advantages: Tensor;
  gradLogProbs: Tensor;
  /** Bytes of the inputs on the device. */
  inputBytes: number;
  dispose(): void;
}

/**
 * n values ~ U(−1, 1) as f32, or as bf16 bits (exponent from the leading zeros of 8 random bits, as
 * a uniform's is geometric, then 7 mantissa bits and a sign). xorshift32 inlined: ~3 ns a value,
 * so the 1.2G bf16 logits of the V = 151936 case take seconds, not a minute.
 */
function randomLogits(n: number, dtype: Dtype, seed: number): Float32Array | Uint16Array {
  let s = seed | 0 || 0x2545f491;
  if (dtype === 'f32') {
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      x[i] = (s >>> 8) / 8388608 - 1; // 24 random bits
    }
    return x;
  }
  const x = new Uint16Array(n);
  const bits = (h: number) => ((h & 0x100) << 7) | ((126 - (Math.clz32((h & 0xff) | 0x100) - 23)) << 7) | (h >>> 9);
  for (let i = 0; i < n; i += 2) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    x[i] = bits(s & 0xffff);
    if (i + 1 < n) x[i + 1] = bits(s >>> 16);
  }
  return x;
}

/** Seeded inputs built on the host (bf16 has no device random fill) and uploaded once. */
function makeInputs(ctx: BenchContext, n: number, v: number, dtype: Dtype): Inputs {
  const plan = responsePlan(n, SEED);
  const rng = new Xorshift(SEED ^ 0x5eed);
  const tokensHost = new Int32Array(n);
  for (let t = 0; t < n; t++) tokensHost[t] = rng.next() % v;
  const advHost = new Float32Array(n);
  const gradHost = new Float32Array(n);
  const r = plan.offsets.length - 1;
  for (let i = 0; i < r; i++) {
    for (let t = plan.offsets[i]; t < plan.offsets[i + 1]; t++) {
      advHost[t] = plan.advantage[i];
      gradHost[t] = -plan.advantage[i] / n;
    }
  }
  const host = randomLogits(n * v, dtype, SEED ^ 0x10c175);
  const spike = dtype === 'f32' ? SPIKE : 0x4190; // 18 in bf16
  for (let i = 0; i < r; i++) {
    if (!plan.confident[i]) continue;
    for (let t = plan.offsets[i]; t < plan.offsets[i + 1]; t++) host[t * v + tokensHost[t]] = spike;
  }
  const device = { device: ctx.device };
  const made: Tensor[] = [];
  try {
    const logits = era.tensor(host, [n, v], { ...device, dtype });
    made.push(logits);
    const tokens = era.tensor(tokensHost, [n], device);
    made.push(tokens);
    const offsets = era.tensor(plan.offsets, [r + 1], device);
    made.push(offsets);
    const advantages = era.tensor(advHost, [n], device);
    made.push(advantages);
    const gradLogProbs = era.tensor(gradHost, [n], device);
    made.push(gradLogProbs);
    return {
      n, v, dtype, plan, host, tokensHost, advHost, gradHost, logits, tokens, offsets, advantages, gradLogProbs,
      inputBytes: n * v * (dtype === 'f32' ? 4 : 2) + 4 * (4 * n + r + 1),
      dispose() {
        for (const t of made) t.dispose();
      },
    };
  } catch (err) {
    for (const t of made) t.dispose();
    throw err;
  }
}

const eltBytes = (dtype: Dtype) => (dtype === 'f32' ? 4 : 2);

/** Forward traffic: the logits once, tokens + advantages + offsets, four outputs of N and H_resp [R]. */
function forwardBytes(n: number, v: number, r: number, dtype: Dtype): number {
  return n * v * eltBytes(dtype) + 4 * (2 * n + r + 1) + 4 * (4 * n + r);
}

/** Backward traffic: the logits again and the gradient once, plus tokens, gradLogProbs, scale, logProbs. */
function backwardBytes(n: number, v: number, dtype: Dtype): number {
  return 2 * n * v * eltBytes(dtype) + 4 * 4 * n;
}

const fmtNV = (n: number, v: number, dtype: Dtype) => `N=${n} V=${v} ${dtype}`;

function responseSummary(plan: ResponsePlan): string {
  const lens = Array.from({ length: plan.offsets.length - 1 }, (_, i) => plan.offsets[i + 1] - plan.offsets[i]);
  const confident = plan.confident.filter(Boolean).length;
  return `R=${lens.length} responses (lengths ${Math.min(...lens)}..${Math.max(...lens)}, ${confident} with spiked rows)`;
}

/** The options and inputs, said once per case. */
function inputsNote(ctx: BenchContext, inp: Inputs): string {
  const size = ctx.device === 'cuda' ? '' : `cpu size (the CUDA case has N=${CUDA_TOKENS}); `;
  const check = ctx.device === 'cuda' ? 'validateIndices on (a check kernel and an 8-byte read-back per forward; a backward given that forward trusts it)' : 'indices checked on the host';
  return `${size}${responseSummary(inp.plan)}; advantageTest 'reference', topK 0, ${check}`;
}

function memoryNote(what: string, use: MemoryUse | undefined, outputs: string): string {
  if (!use) return '';
  return `${what}: peak ${humanBytes(use.peakBytes)} above its inputs = ${humanBytes(use.liveBytes)} ${outputs} + ${humanBytes(use.transientBytes)} workspace`;
}

// ---------------------------------------------------------------------------------------------
// float64 reference of one response (entropies, H_resp, scale, log-probs) and one gradient row.

interface RefResponse {
  rows: [number, number];
  entropy: Float64Array;
  hResp: number;
  scale: number;
  logp: Float64Array;
}

function rowValues(inp: Inputs, t: number): Float64Array {
  const out = new Float64Array(inp.v);
  const base = t * inp.v;
  if (inp.host instanceof Float32Array) for (let j = 0; j < inp.v; j++) out[j] = inp.host[base + j];
  else for (let j = 0; j < inp.v; j++) out[j] = bf16ToNumber(inp.host[base + j]);
  return out;
}

function lse(z: Float64Array, c: number): number {
  let m = -Infinity;
  for (let j = 0; j < z.length; j++) m = Math.max(m, c * z[j]);
  let s = 0;
  for (let j = 0; j < z.length; j++) s += Math.exp(c * z[j] - m);
  return m + Math.log(s);
}

function refResponse(inp: Inputs, i: number): RefResponse {
  const t0 = inp.plan.offsets[i];
  const t1 = inp.plan.offsets[i + 1];
  const entropy = new Float64Array(t1 - t0);
  for (let t = t0; t < t1; t++) {
    const z = rowValues(inp, t);
    const l = lse(z, 1);
    let pz = 0;
    for (let j = 0; j < z.length; j++) pz += Math.exp(z[j] - l) * z[j];
    entropy[t - t0] = l - pz;
  }
  const kTop = Math.max(1, Math.floor(TOP_FRACTION * (t1 - t0)));
  const sorted = Array.from(entropy).sort((a, b) => b - a);
  let hResp = 0;
  for (let j = 0; j < kTop; j++) hResp += sorted[j];
  hResp /= kTop;
  const scale = ruleScale(inp, i, hResp);
  const logp = new Float64Array(t1 - t0);
  for (let t = t0; t < t1; t++) {
    const z = rowValues(inp, t);
    logp[t - t0] = scale * z[inp.tokensHost[t]] - lse(z, scale);
  }
  return { rows: [t0, t1], entropy, hResp, scale, logp };
}

/** ∂L/∂z for row t: c·G·(onehot(y) − softmax(c z)). */
function refGradRow(inp: Inputs, t: number, scale: number): Float64Array {
  const z = rowValues(inp, t);
  const l = lse(z, scale);
  const g = new Float64Array(inp.v);
  const G = inp.gradHost[t];
  for (let j = 0; j < inp.v; j++) g[j] = -scale * G * Math.exp(scale * z[j] - l);
  g[inp.tokensHost[t]] += scale * G;
  return g;
}

/** The responses to check: the shortest with spiked rows and the shortest without (both branches). */
function checkedResponses(plan: ResponsePlan): number[] {
  const pick = (conf: boolean) => {
    let best = -1;
    for (let i = 0; i < plan.confident.length; i++) {
      if (plan.confident[i] !== conf) continue;
      const len = plan.offsets[i + 1] - plan.offsets[i];
      if (best < 0 || len < plan.offsets[best + 1] - plan.offsets[best]) best = i;
    }
    return best;
  };
  return [pick(true), pick(false)].filter((i) => i >= 0);
}

/** The scale the rule gives response i with H_resp = h (advantageTest 'reference': trunc(A) > 0). */
function ruleScale(inp: Inputs, i: number, h: number): number {
  const pass = Math.trunc(inp.plan.advantage[i]) > 0;
  return pass && h < OMEGA_LOW ? K : pass && h > OMEGA_HIGH ? 1 / K : 1;
}

/** The log-prob of row t's token under scale c, float64. */
function refLogp(inp: Inputs, t: number, c: number): number {
  const z = rowValues(inp, t);
  return c * z[inp.tokensHost[t]] - lse(z, c);
}

/**
 * Checks the forward: every response's scale against the rule applied to its reported H_resp and
 * the advantage test, the first row's log-prob of every response in float64, and for two responses
 * (the shortest with spiked rows and the shortest without) every entropy, H_resp and log-prob in
 * float64. Returns the per-response scales for the gradient check.
 */
function checkForward(inp: Inputs, res: LogitsResult): number[] {
  const logp = res.logProbs.toArray() as Float32Array;
  const ent = res.entropy.toArray() as Float32Array;
  const hr = res.responseEntropy.toArray() as Float32Array;
  const sc = res.scale.toArray() as Float32Array;
  const adv = res.advantages.toArray() as Float32Array;
  assertClose(adv, inp.advHost, 'advantages (no rescaling)', 0, 0);
  for (let t = 0; t < inp.n; t++) {
    if (!(logp[t] <= 0) || !(ent[t] >= -1e-4) || !(ent[t] <= Math.log(inp.v) + 1e-3)) {
      throw new Error(`row ${t}: logProb ${logp[t]} / entropy ${ent[t]} out of range`);
    }
  }
  const r = inp.plan.offsets.length - 1;
  const scales: number[] = [];
  for (let i = 0; i < r; i++) {
    const [t0, t1] = [inp.plan.offsets[i], inp.plan.offsets[i + 1]];
    const c = ruleScale(inp, i, hr[i]);
    scales.push(c);
    assertClose(sc.subarray(t0, t1), new Float64Array(t1 - t0).fill(c), `scale of response ${i} (H_resp ${hr[i]}, A ${inp.plan.advantage[i]})`, 0, 1e-7);
    assertClose([logp[t0]], [refLogp(inp, t0, c)], `logProbs[${t0}] (response ${i})`, 2e-4, 1e-4);
  }
  for (const i of checkedResponses(inp.plan)) {
    const ref = refResponse(inp, i);
    const [t0, t1] = ref.rows;
    assertClose(ent.subarray(t0, t1), ref.entropy, `entropy of response ${i}`, 2e-4, 1e-4);
    assertClose([hr[i]], [ref.hResp], `responseEntropy[${i}]`, 2e-4, 1e-4);
    assertClose([scales[i]], [ref.scale], `scale of response ${i} from the float64 H_resp`, 0, 1e-7);
    assertClose(logp.subarray(t0, t1), ref.logp, `logProbs of response ${i}`, 2e-4, 1e-4);
  }
  if (!scales.includes(K) || !scales.includes(1 / K)) {
    throw new Error(`the inputs did not exercise both scaling branches (scales seen: ${[...new Set(scales)].join(', ')})`);
  }
  return scales;
}

/** The first row of every response against c·G·(onehot(y) − softmax(c z)) in float64. */
function checkGradient(inp: Inputs, grad: Tensor, scales: number[]): void {
  const g = grad.toArray();
  const bf16 = inp.dtype === 'bf16';
  for (let i = 0; i < scales.length; i++) {
    const t = inp.plan.offsets[i];
    if (t === inp.plan.offsets[i + 1]) continue;
    const want = refGradRow(inp, t, scales[i]);
    const row = g.subarray(t * inp.v, (t + 1) * inp.v);
    const got = row instanceof Uint16Array ? Float64Array.from(row, bf16ToNumber) : row;
    assertClose(got, want, `gradient row ${t} (response ${i})`, (bf16 ? 1e-3 : 1e-4) * maxAbs(want), bf16 ? 8e-3 : 1e-3);
  }
}

// ---------------------------------------------------------------------------------------------

function disposeResult(res: LogitsResult | undefined): void {
  if (!res) return;
  for (const t of Object.values(res) as Tensor[]) t.dispose();
}

function forwardCase(v: number, dtype: Dtype): BenchCase {
  return {
    get name() {
      return `era.logits fwd ${fmtNV(tokensFor(era.defaultDevice(), v), v, dtype)}`;
    },
    setup(ctx: BenchContext): BenchRun {
      const inp = makeInputs(ctx, tokensFor(ctx.device, v), v, dtype);
      const r = inp.plan.offsets.length - 1;
      let last: LogitsResult | undefined;
      try {
        const fwdMem = measureDeviceMemory(ctx.device, () => era.logits(inp.logits, inp.tokens, inp.offsets, inp.advantages, OPTIONS));
        last = fwdMem.result;
        const note = [
          inputsNote(ctx, inp),
          memoryNote('device memory', fwdMem.use, 'outputs (4 vectors of N, 1 of R)'),
        ].filter(Boolean).join('; ');
        return {
          run() {
            disposeResult(last);
            last = undefined;
            last = era.logits(inp.logits, inp.tokens, inp.offsets, inp.advantages, OPTIONS);
          },
          bytes: forwardBytes(inp.n, v, r, dtype),
          note,
          synchronizes: ctx.device === 'cuda', // the index check's read-back
          check() {
            if (!last) throw new Error('no forward result');
            checkForward(inp, last);
          },
          dispose() {
            disposeResult(last);
            inp.dispose();
          },
        };
      } catch (err) {
        disposeResult(last);
        inp.dispose();
        throw err;
      }
    },
  };
}

function forwardBackwardCase(v: number, dtype: Dtype, inPlace: boolean): BenchCase {
  return {
    get name() {
      return `era.logits fwd+bwd${inPlace ? ' in-place' : ''} ${fmtNV(tokensFor(era.defaultDevice(), v), v, dtype)}`;
    },
    setup(ctx: BenchContext): BenchRun {
      const inp = makeInputs(ctx, tokensFor(ctx.device, v), v, dtype);
      const r = inp.plan.offsets.length - 1;
      let fwd: LogitsResult | undefined;
      let grad: Tensor | undefined; // the separate gradient (not in place)
      let work: Tensor | undefined; // in place: the logits the gradient overwrites
      const logitsFor = () => (inPlace ? work! : inp.logits);
      try {
        if (inPlace) work = inp.logits.clone();
        // One measured pass (it also warms the allocator's cache).
        const fwdMem = measureDeviceMemory(ctx.device, () => era.logits(logitsFor(), inp.tokens, inp.offsets, inp.advantages, OPTIONS));
        fwd = fwdMem.result;
        const bwdMem = measureDeviceMemory(ctx.device, () =>
          era.logitsBackward(logitsFor(), inp.tokens, inp.offsets, inp.advantages, inp.gradLogProbs, { ...OPTIONS, inPlace, forward: fwd }));
        if (!inPlace) grad = bwdMem.result;
        const how = inPlace
          ? 'gradient written over the logits (inPlace: true); each run first restores them with era.copy from a pristine copy, ' +
            'and that copy is timed and counted (2·N·V·elt of the bytes)'
          : 'gradient into a separate [N, V] tensor (inPlace: false; a fresh one per run from the caching allocator)';
        const note = [
          `${how}; backward reuses the forward's scale and logProbs (options.forward)`,
          inputsNote(ctx, inp),
          memoryNote('forward', fwdMem.use, 'outputs'),
          memoryNote('backward', bwdMem.use, inPlace ? 'new tensors (in place)' : 'gradient'),
          fwdMem.use ? `inputs ${humanBytes(inp.inputBytes)}${inPlace ? ' (+ the pristine copy, bench-only)' : ''}` : '',
        ].filter(Boolean).join('; ');
        return {
          run() {
            disposeResult(fwd);
            fwd = undefined;
            grad?.dispose();
            grad = undefined;
            if (inPlace) era.copy(work!, inp.logits);
            fwd = era.logits(logitsFor(), inp.tokens, inp.offsets, inp.advantages, OPTIONS);
            const g = era.logitsBackward(logitsFor(), inp.tokens, inp.offsets, inp.advantages, inp.gradLogProbs, { ...OPTIONS, inPlace, forward: fwd });
            if (!inPlace) grad = g;
          },
          bytes: forwardBytes(inp.n, v, r, dtype) + backwardBytes(inp.n, v, dtype) + (inPlace ? 2 * inp.n * v * eltBytes(dtype) : 0),
          note,
          synchronizes: ctx.device === 'cuda', // the forward's index check reads back
          // Beyond the inputs and the gradient: the forward's outputs and workspace, and whatever the
          // backward allocates besides the gradient (in place: everything it allocates).
          ...(fwdMem.use && bwdMem.use
            ? { extraBytes: fwdMem.use.peakBytes + (inPlace ? bwdMem.use.peakBytes : bwdMem.use.transientBytes), extraBytesOf: inp.n * v * eltBytes(dtype) }
            : {}),
          check() {
            if (!fwd) throw new Error('no forward result');
            const scales = checkForward(inp, fwd);
            checkGradient(inp, inPlace ? work! : grad!, scales);
          },
          dispose() {
            disposeResult(fwd);
            grad?.dispose();
            work?.dispose();
            inp.dispose();
          },
        };
      } catch (err) {
        disposeResult(fwd);
        grad?.dispose();
        work?.dispose();
        inp.dispose();
        throw err;
      }
    },
  };
}

export const benches: BenchCase[] = [
  forwardCase(32768, 'f32'),
  forwardBackwardCase(32768, 'f32', false),
  forwardBackwardCase(151936, 'bf16', false),
  forwardBackwardCase(32768, 'f32', true),
  forwardBackwardCase(151936, 'bf16', true),
];

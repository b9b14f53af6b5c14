/**
 * The LLM ERA activation (GRPO-ERA; era-spec §2.3-§2.7) on a packed batch of response tokens.
 *
 * Inputs: `logits` [N, V] (f32 or bf16) for N response tokens, the sampled `tokens` [N] (i32),
 * `offsets` [R + 1] (i32) that cut the rows into R responses (rows offsets[r] .. offsets[r+1]−1
 * belong to response r; offsets[0] = 0, offsets[R] = N, non-decreasing) and `advantages` [N] (f32).
 * Per token t of response r, with z = logits / temperature:
 * ```
 * H_t      = logsumexp(z_t) − Σ_v softmax(z_t)_v z_t,v       full vocabulary, before any scaling
 * H_resp_r = mean of the K_r largest H_t in r,  K_r = max(1, floor(topFraction · L_r))
 * c_t      = k    if H_resp_r < omegaLow  and test(A_t)
 *            1/k  if H_resp_r > omegaHigh and test(A_t)
 *            1    otherwise                     test: A > 0 ('positive') or trunc(A) > 0 ('reference')
 * logp_t   = c z_y − logsumexp_S(c z)           S = the full row (topK = 0) or the row's top-k set;
 *            −1e4 when topK > 0 and y ∉ S (the reference's sentinel; no gradient)
 * A'_t     = A_t / k (low) or k·A_t (high) when rescaleAdvantages and A_{first token of r} > 0, else A_t
 * ```
 * `logitsBackward(..., { forward: result })` reuses the forward's scale and log-probs (q_v =
 * e^(logp + c (z_v − z_y)); at the token 1 − q_y = −expm1(logp), accurate even when q_y ≈ 1), so
 * the full-vocabulary backward reads the logits once and writes the gradient once.
 *
 * Modes (era-spec §2.8 "README vs code"). The default, 'paper', follows the README: the advantage
 * test is A > 0 and the log-prob is the full-vocabulary log-softmax. 'reference' sets what the
 * released code does: `topK: 20` (renormalised top-20 log-probs with the −1e4 sentinel) and
 * `advantageTest: 'reference'` (the float advantage is truncated to int64 first, so the test is
 * really A ≥ 1: with ±1 rewards and 8 samples the logits are scaled only for correct answers in
 * groups with at most 3 of 8 correct). Both modes share the rest, which the README leaves out and
 * the code does: H_resp is the top-20% token-entropy mean of each response (not the mean entropy),
 * `rescaleAdvantages` is off (the main launch script; `qwen_7b_era_topk_scale.sh` turns it on),
 * and the caller applies ERA to the old log-probs too. Sampling is never touched. Options given
 * explicitly override the mode's values.
 *
 * Choices where the spec is silent:
 * - Top-k ties: the set S is the first k of a stable sort by logit, descending, ties to the lower
 *   vocabulary index (torch.topk leaves ties unspecified). Order is by the raw logit bits (IEEE
 *   total order: −0 < +0). topK ≥ V means the full row.
 * - Empty responses (offsets[r] = offsets[r+1]) are allowed; their responseEntropy is 0.
 * - Token ids and offsets are checked before any kernel runs: on the host for CPU tensors, and on
 *   CUDA by a small kernel and an 8-byte read-back (a stream synchronisation). A bad value throws a
 *   RangeError naming tokens or offsets and leaves every output (and an in-place gradient's logits)
 *   untouched. `validateIndices: false` skips the CUDA check; the kernels still never read out of
 *   bounds, and a bad token gives a NaN log-prob and a NaN gradient row instead. The backward
 *   checks the token ids once more, except where `forward` is the result of a checked forward on
 *   the same tokens tensor and vocabulary size (or it recomputes the forward itself): it trusts that
 *   check, saving a second synchronisation. On CUDA, token ids changed in between then give NaN
 *   rows, as unchecked ones do (CPU tensors are always checked).
 * - A non-finite logit makes its row's entropy NaN (as in the reference, whose Σ p·z is NaN for
 *   −inf logits); NaN or +inf logits make the row's log-prob and gradient NaN too. A sampled token
 *   whose own logit is −inf gets log-prob −inf and the finite gradient e_y − q (q the softmax of
 *   the row's other entries, or of the top-k set when it is inside). NaN advantages
 *   fail both tests (c = 1) and pass through.
 * - Extra device memory: 32 bytes per row of workspace during the forward (O(N)); the backward
 *   with `forward` given needs none.
 * - The backward with `topK > 0` repeats the row's top-k selection (a radix select: 2 more reads
 *   of a bf16 row, 4 of an f32 row, plus one ordered pass) and writes the gradient on that set.
 */
import { native, type NativeTensor } from '../native.js';
import { empty, tensorArg, type Tensor } from '../tensor.js';
import { finiteNumber, oneOf, optionNames, plainObject, rangeError, typeError } from '../validate.js';

export type LogitsMode = 'paper' | 'reference';
export type AdvantageTest = 'positive' | 'reference';

export interface LogitsOptions {
  /** H_resp below this scales the logits by k (default 0.45). */
  omegaLow?: number;
  /** H_resp above this scales the logits by 1/k (default 3.0; must be ≥ omegaLow). */
  omegaHigh?: number;
  /** The scale factor, > 0 (default 2). */
  k?: number;
  /** H_resp is the mean of the top max(1, floor(topFraction · L)) token entropies; in (0, 1] (default 0.2). */
  topFraction?: number;
  /** z = logits / temperature before the entropy and the scaling; > 0 (default 1). */
  temperature?: number;
  /** 0: full-vocabulary log-softmax (default); else the renormalised top-k log-prob (1..1024; 'reference': 20). */
  topK?: number;
  /** 'positive': A > 0 (default); 'reference': trunc(A) > 0, i.e. A ≥ 1, as the released code. */
  advantageTest?: AdvantageTest;
  /** Rescale the advantages per era-spec §2.5 (default false). */
  rescaleAdvantages?: boolean;
  /** 'paper' (default) or 'reference' (topK 20, advantageTest 'reference'). */
  mode?: LogitsMode;
  /** Check token ids and offsets on CUDA before launching (default true; CPU always checks). */
  validateIndices?: boolean;
}

export interface LogitsResult {
  /** [N] f32: log-probability of each sampled token under the scaled logits (−1e4: outside the top-k). */
  logProbs: Tensor;
  /** [N] f32: entropy of softmax(logits / temperature) over the full vocabulary. */
  entropy: Tensor;
  /** [R] f32: H_resp, the mean of each response's top-fraction token entropies (0 when empty). */
  responseEntropy: Tensor;
  /** [N] f32: the logit scale c applied to each token (k, 1/k or 1). */
  scale: Tensor;
  /** [N] f32: the advantages, rescaled when rescaleAdvantages is set (else a copy). */
  advantages: Tensor;
}

export interface LogitsBackwardOptions extends LogitsOptions {
  /** Write the gradient over the logits tensor and return it (default false). */
  inPlace?: boolean;
  /**
   * The forward's result for the same inputs and options: its scale and logProbs are reused, so
   * the backward is one read and one write of the logits (topK > 0 also repeats the row's top-k
   * selection). Without it the forward is recomputed into temporaries first.
   */
  forward?: Pick<LogitsResult, 'scale' | 'logProbs'>;
}

/** What the kernels receive (every field filled in). */
export interface ResolvedLogitsOptions {
  omegaLow: number;
  omegaHigh: number;
  k: number;
  topFraction: number;
  temperature: number;
  topK: number;
  referenceTest: boolean;
  rescaleAdvantages: boolean;
  validateIndices: boolean;
}

interface LogitsNativeApi {
  eraLogitsForward(
    logits: NativeTensor, tokens: NativeTensor, offsets: NativeTensor, advantages: NativeTensor,
    logProbs: NativeTensor, entropy: NativeTensor, responseEntropy: NativeTensor, scale: NativeTensor,
    advantagesOut: NativeTensor, options: ResolvedLogitsOptions,
  ): void;
  eraLogitsBackward(
    logits: NativeTensor, tokens: NativeTensor, gradLogProbs: NativeTensor, scale: NativeTensor,
    logProbs: NativeTensor, grad: NativeTensor, options: ResolvedLogitsOptions,
  ): void;
}

const api = (): LogitsNativeApi => native() as unknown as LogitsNativeApi;

export const LOGITS_DEFAULTS = Object.freeze({
  omegaLow: 0.45,
  omegaHigh: 3.0,
  k: 2,
  topFraction: 0.2,
  temperature: 1,
  topK: 0,
  advantageTest: 'positive' as AdvantageTest,
  rescaleAdvantages: false,
  mode: 'paper' as LogitsMode,
  validateIndices: true,
});

/** What mode 'reference' changes (era-spec §2.4, §2.8). */
export const LOGITS_REFERENCE = Object.freeze({ topK: 20, advantageTest: 'reference' as AdvantageTest });

export const MAX_TOP_K = 1024;

function booleanOpt(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw typeError('a boolean', name, value);
  return value;
}

function numberOpt(value: unknown, name: string, fallback: number): number {
  return value === undefined ? fallback : finiteNumber(value, name);
}

// The option names of logits / resolveLogitsOptions and of logitsBackward (others are a TypeError).
const LOGITS_OPTION_NAMES = ['omegaLow', 'omegaHigh', 'k', 'topFraction', 'temperature', 'topK', 'advantageTest', 'rescaleAdvantages', 'mode', 'validateIndices'];
const LOGITS_OPTIONS = optionNames(...LOGITS_OPTION_NAMES);
const LOGITS_BACKWARD_OPTIONS = optionNames(...LOGITS_OPTION_NAMES, 'inPlace', 'forward');

/** Validates the options and fills in the defaults of the chosen mode. */
export function resolveLogitsOptions(options: unknown): ResolvedLogitsOptions {
  return resolveFrom(plainObject(options, 'options', LOGITS_OPTIONS));
}

function resolveFrom(o: Record<string, unknown>): ResolvedLogitsOptions {
  const mode = o.mode === undefined ? LOGITS_DEFAULTS.mode : oneOf(o.mode, ['paper', 'reference'] as const, 'options.mode');
  const base = mode === 'reference' ? { ...LOGITS_DEFAULTS, ...LOGITS_REFERENCE } : LOGITS_DEFAULTS;
  const omegaLow = numberOpt(o.omegaLow, 'options.omegaLow', base.omegaLow);
  const omegaHigh = numberOpt(o.omegaHigh, 'options.omegaHigh', base.omegaHigh);
  if (omegaHigh < omegaLow) throw rangeError(`a number >= options.omegaLow (${omegaLow})`, 'options.omegaHigh', omegaHigh);
  const k = numberOpt(o.k, 'options.k', base.k);
  if (k <= 0) throw rangeError('a positive number', 'options.k', k);
  const topFraction = numberOpt(o.topFraction, 'options.topFraction', base.topFraction);
  if (!(topFraction > 0 && topFraction <= 1)) throw rangeError('a number in (0, 1]', 'options.topFraction', topFraction);
  const temperature = numberOpt(o.temperature, 'options.temperature', base.temperature);
  if (temperature <= 0) throw rangeError('a positive number', 'options.temperature', temperature);
  let topK: number = base.topK;
  if (o.topK !== undefined) {
    if (typeof o.topK !== 'number') throw typeError(`an integer between 0 and ${MAX_TOP_K}`, 'options.topK', o.topK);
    if (!Number.isInteger(o.topK) || o.topK < 0 || o.topK > MAX_TOP_K) throw rangeError(`an integer between 0 and ${MAX_TOP_K}`, 'options.topK', o.topK);
    topK = o.topK;
  }
  const test = o.advantageTest === undefined ? base.advantageTest : oneOf(o.advantageTest, ['positive', 'reference'] as const, 'options.advantageTest');
  return {
    omegaLow,
    omegaHigh,
    k,
    topFraction,
    temperature,
    topK,
    referenceTest: test === 'reference',
    rescaleAdvantages: booleanOpt(o.rescaleAdvantages, 'options.rescaleAdvantages', base.rescaleAdvantages),
    validateIndices: booleanOpt(o.validateIndices, 'options.validateIndices', base.validateIndices),
  };
}

function sameDevice(t: Tensor, name: string, ref: Tensor): void {
  if (t.device !== ref.device) {
    throw new TypeError(`Expected a ${ref.device} tensor (the device of logits) for ${name} but received a ${t.device} tensor`);
  }
}

function vectorArg(value: unknown, name: string, dtype: 'f32' | 'i32', ref: Tensor, n: number, what: string): Tensor {
  const t = tensorArg(value, name, [dtype]);
  sameDevice(t, name, ref);
  if (t.shape.length !== 1 || t.shape[0] !== n) {
    throw new RangeError(`Expected shape [${n}] (${what}) for ${name} but received shape [${t.shape.join(', ')}]`);
  }
  return t;
}

interface Checked {
  logits: Tensor;
  tokens: Tensor;
  offsets: Tensor;
  advantages: Tensor;
  n: number;
  r: number;
}

function checkInputs(logits: unknown, tokens: unknown, offsets: unknown, advantages: unknown): Checked {
  const z = tensorArg(logits, 'logits', ['f32', 'bf16']);
  if (z.shape.length !== 2 || z.shape[1] < 1) {
    throw new RangeError(`Expected a 2-D tensor [N, V] with V >= 1 for logits but received shape [${z.shape.join(', ')}]`);
  }
  const n = z.shape[0];
  const y = vectorArg(tokens, 'tokens', 'i32', z, n, 'one token per row of logits');
  const off = tensorArg(offsets, 'offsets', ['i32']);
  sameDevice(off, 'offsets', z);
  if (off.shape.length !== 1 || off.shape[0] < 1) {
    throw new RangeError(`Expected a 1-D tensor [R + 1] (R >= 0 responses) for offsets but received shape [${off.shape.join(', ')}]`);
  }
  const a = vectorArg(advantages, 'advantages', 'f32', z, n, 'one per row of logits');
  return { logits: z, tokens: y, offsets: off, advantages: a, n, r: off.shape[0] - 1 };
}

function disposeResult(res: Partial<LogitsResult>): void {
  for (const t of Object.values(res)) t?.dispose();
}

/**
 * A forward result's logProbs → the tokens tensor its forward checked (validateIndices on), and
 * the vocabulary size it checked them against. A backward given that result, for the same tokens
 * tensor and V, skips its own check (see above; CPU tensors are always checked on the host anyway).
 */
const checkedTokens = new WeakMap<Tensor, { tokens: Tensor; v: number }>();

function forwardChecked(c: Checked, opts: ResolvedLogitsOptions): LogitsResult {
  const dev = { device: c.logits.device, dtype: 'f32' as const };
  const res: Partial<LogitsResult> = {};
  try {
    res.logProbs = empty([c.n], dev);
    res.entropy = empty([c.n], dev);
    res.responseEntropy = empty([c.r], dev);
    res.scale = empty([c.n], dev);
    res.advantages = empty([c.n], dev);
    api().eraLogitsForward(
      c.logits.handle, c.tokens.handle, c.offsets.handle, c.advantages.handle,
      res.logProbs.handle, res.entropy.handle, res.responseEntropy.handle, res.scale.handle,
      res.advantages.handle, opts,
    );
    if (opts.validateIndices) checkedTokens.set(res.logProbs, { tokens: c.tokens, v: c.logits.shape[1] });
    return res as LogitsResult;
  } catch (err) {
    disposeResult(res);
    throw err;
  }
}

/**
 * The ERA activation's forward pass: per-token entropy, per-response H_resp, the logit scale, the
 * log-probs of the sampled tokens under the scaled logits and the (rescaled) advantages.
 * Outputs are new f32 tensors on the logits' device.
 */
export function logits(logits: Tensor, tokens: Tensor, offsets: Tensor, advantages: Tensor, options?: LogitsOptions): LogitsResult {
  const c = checkInputs(logits, tokens, offsets, advantages);
  return forwardChecked(c, resolveLogitsOptions(options));
}

/**
 * The gradient of L with respect to the logits [N, V] (in the logits' dtype), given
 * gradLogProbs = ∂L/∂logProbs [N]: c·G/T·(onehot(y) − q) with q = softmax(c·z) over the full row
 * (topK = 0) or over the top-k set (zero elsewhere; a zero row when y is outside the set).
 * H_resp and the scale carry no gradient (era-spec §2.3). `inPlace: true` overwrites the logits.
 */
export function logitsBackward(
  logits: Tensor, tokens: Tensor, offsets: Tensor, advantages: Tensor, gradLogProbs: Tensor,
  options?: LogitsBackwardOptions,
): Tensor {
  const c = checkInputs(logits, tokens, offsets, advantages);
  const g = vectorArg(gradLogProbs, 'gradLogProbs', 'f32', c.logits, c.n, 'one per row of logits');
  const o = plainObject(options, 'options', LOGITS_BACKWARD_OPTIONS);
  const opts = resolveFrom(o);
  const inPlace = booleanOpt(o.inPlace, 'options.inPlace', false);
  let saved: Pick<LogitsResult, 'scale' | 'logProbs'> | undefined;
  if (o.forward !== undefined) {
    const f = plainObject(o.forward, 'options.forward') as Partial<LogitsResult>;
    saved = {
      scale: vectorArg(f.scale, 'options.forward.scale', 'f32', c.logits, c.n, 'one per row of logits'),
      logProbs: vectorArg(f.logProbs, 'options.forward.logProbs', 'f32', c.logits, c.n, 'one per row of logits'),
    };
  }
  let temp: LogitsResult | undefined;
  try {
    if (!saved) saved = temp = forwardChecked(c, opts);
    const grad = inPlace ? c.logits : empty(c.logits.shape, { device: c.logits.device, dtype: c.logits.dtype });
    const checked = checkedTokens.get(saved.logProbs);
    const trusted = checked !== undefined && checked.tokens === c.tokens && checked.v === c.logits.shape[1];
    try {
      api().eraLogitsBackward(c.logits.handle, c.tokens.handle, g.handle, saved.scale.handle, saved.logProbs.handle, grad.handle,
        trusted ? { ...opts, validateIndices: false } : opts);
    } catch (err) {
      if (!inPlace) grad.dispose();
      throw err;
    }
    return grad;
  } finally {
    if (temp) disposeResult(temp);
  }
}

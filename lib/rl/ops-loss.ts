/**
 * SAC's twin-critic math, fused (cpu and cuda; one launch per op on CUDA, deterministic, no
 * synchronisation: losses stay on the device as tensors [S] until read).
 *
 * Layout. Critic outputs q are [C, B, 1] (or [C, B]) as the critic ensemble lays them out:
 * C = 2 for one twin critic, C = 2·S for S seeds, where members 2s and 2s+1 are seed s's twins
 * (an [S, 2, B] tensor reshapes to [2S, B]). A per-seed batch input (reward, mask, log-prob, y)
 * is [S, B] or [S, B, 1], or [B] / [B, 1] shared by every seed (the actor's log-prob excepted:
 * it must be per seed unless S = 1).
 *
 * The ERA variant (era-spec §1.5) uses no α: y = r + γ·mask·min(Q1ᵗ, Q2ᵗ), L_Q = mean((Q1 − y)² +
 * (Q2 − y)²), L_π = −mean(min(Q1, Q2)). Classic SAC passes `logProb` and `alpha` (and, for the
 * temperature loss, `targetEntropy`).
 */
import { tensorArg, type Tensor } from '../tensor.js';
import { finiteNumber, optionNames, plainObject, rangeError } from '../validate.js';
import { guardFresh, outputArg, outputs, rlApi, sameDevice, shapeStr, type Output } from './ops-args.js';

// The option names each op reads (others are a TypeError).
const SAC_TARGET_OPTIONS = optionNames('logProb', 'alpha', 'out');
const SAC_CRITIC_LOSS_OPTIONS = optionNames('loss', 'gradQ');
const SAC_ACTOR_LOSS_OPTIONS = optionNames('logProb', 'alpha', 'targetEntropy', 'loss', 'gradQ', 'gradLogProb', 'alphaLoss', 'gradLogAlpha');

interface TwinDims {
  s: number;
  b: number;
}

/** q: f32 [C, B, 1] or [C, B], C = 2S ≥ 2, B ≥ 1. */
function qArg(value: unknown, name = 'q'): { q: Tensor; d: TwinDims } {
  const q = tensorArg(value, name, ['f32']);
  const sh = q.shape;
  if (!(sh.length === 2 || (sh.length === 3 && sh[2] === 1))) {
    throw new RangeError(`Expected a tensor [C, B, 1] or [C, B] of critic outputs for ${name} but received shape ${shapeStr(sh)}`);
  }
  if (sh[0] < 2 || sh[0] % 2 !== 0) {
    throw new RangeError(`Expected an even number of critics C = 2S >= 2 (twins 2s, 2s+1 per seed) for ${name} but received shape ${shapeStr(sh)}`);
  }
  if (sh[1] < 1) throw new RangeError(`Expected a batch of at least one row (B >= 1) for ${name} but received shape ${shapeStr(sh)}`);
  return { q, d: { s: sh[0] / 2, b: sh[1] } };
}

/** A per-seed batch input on q's device: [S, B] / [S, B, 1], or (unless perSeed and S > 1) [B] / [B, 1]. */
function seedRowsArg(value: unknown, name: string, q: Tensor, d: TwinDims, perSeed: boolean): Tensor {
  const t = tensorArg(value, name, ['f32']);
  sameDevice(t, name, q, 'q');
  const k = t.shape.join();
  const rows = k === `${d.s},${d.b}` || k === `${d.s},${d.b},1`;
  const shared = k === `${d.b}` || k === `${d.b},1`;
  if (rows || (shared && (!perSeed || d.s === 1))) return t;
  const forms = perSeed && d.s > 1
    ? `shape [${d.s}, ${d.b}] or [${d.s}, ${d.b}, 1]`
    : `shape [${d.b}] or [${d.b}, 1] (shared by every seed) or [${d.s}, ${d.b}] or [${d.s}, ${d.b}, 1]`;
  throw new RangeError(`Expected ${forms} (S = C/2 seeds, B from q) for ${name} but received shape ${shapeStr(t.shape)}`);
}

/** alpha: f32 [S] on q's device. */
function alphaArg(value: unknown, q: Tensor, d: TwinDims): Tensor {
  const a = tensorArg(value, 'options.alpha', ['f32']);
  sameDevice(a, 'options.alpha', q, 'q');
  if (a.shape.length !== 1 || a.shape[0] !== d.s) {
    throw new RangeError(`Expected shape [${d.s}] (one temperature per seed) for options.alpha but received shape ${shapeStr(a.shape)}`);
  }
  return a;
}

/** options.logProb and options.alpha come together. */
function entropyTerm(o: Record<string, unknown>, q: Tensor, d: TwinDims, perSeed: boolean): { logProb: Tensor; alpha: Tensor } | null {
  const has = (v: unknown) => v !== undefined && v !== null;
  if (!has(o.logProb) && !has(o.alpha)) return null;
  if (!has(o.alpha)) throw rangeError('a tensor when options.logProb is given', 'options.alpha', o.alpha);
  if (!has(o.logProb)) throw rangeError('a tensor when options.alpha is given', 'options.logProb', o.logProb);
  return { logProb: seedRowsArg(o.logProb, 'options.logProb', q, d, perSeed), alpha: alphaArg(o.alpha, q, d) };
}

export interface SacTargetOptions {
  /** log π(a'|s') of the next actions ([S, B] or shared [B]); needs alpha. Classic SAC only. */
  logProb?: Tensor;
  /** The temperature α per seed, f32 [S]; needs logProb. */
  alpha?: Tensor;
  /** Where to write y (f32 [S, B]). */
  out?: Tensor;
}

/**
 * The TD target y [S, B] = reward + gamma·mask·(min(q[2s], q[2s+1]) − alpha[s]·logProb), from the
 * target critic's outputs at the next state and action. No gradient flows into it. `gamma` is in
 * [0, 1]; mask 0 stops bootstrapping. NaN in either twin propagates (as jnp.minimum does).
 */
export function sacTarget(q: Tensor, reward: Tensor, mask: Tensor, gamma: number, options?: SacTargetOptions): Tensor {
  const { q: qt, d } = qArg(q);
  const r = seedRowsArg(reward, 'reward', qt, d, false);
  const m = seedRowsArg(mask, 'mask', qt, d, false);
  finiteNumber(gamma, 'gamma');
  if (gamma < 0 || gamma > 1) throw rangeError('a number in [0, 1]', 'gamma', gamma);
  const o = plainObject(options, 'options', SAC_TARGET_OPTIONS);
  const ent = entropyTerm(o, qt, d, false);
  const y = outputArg(o.out, 'options.out', [d.s, d.b], qt.device, 'f32', 'one target per seed and batch row');
  return guardFresh([y], () => {
    rlApi().rlSacTarget(y.t.handle, qt.handle, r.handle, m.handle, gamma, ent?.logProb.handle ?? null, ent?.alpha.handle ?? null);
    return y.t;
  });
}

export interface SacLoss {
  /** The loss per seed, f32 [S] (on q's device; reading it synchronises). */
  loss: Tensor;
  /** The gradient of the sum over seeds of the losses for q (q's shape). */
  gradQ: Tensor;
}

/**
 * The twin-critic loss per seed, loss[s] = mean_B((q[2s] − y)² + (q[2s+1] − y)²) (both squared
 * errors, no ½, as era-spec §1.5), with gradQ = 2(q − y)/B: the gradient of Σ_s loss[s], so every
 * seed's critics get their own loss's gradient. y: [S, B] (or shared [B]).
 */
export function sacCriticLoss(q: Tensor, y: Tensor, options?: { loss?: Tensor; gradQ?: Tensor }): SacLoss {
  const { q: qt, d } = qArg(q);
  const yt = seedRowsArg(y, 'y', qt, d, false);
  const o = plainObject(options, 'options', SAC_CRITIC_LOSS_OPTIONS);
  const outs = outputs([
    () => outputArg(o.loss, 'options.loss', [d.s], qt.device, 'f32', 'one loss per seed'),
    () => outputArg(o.gradQ, 'options.gradQ', qt.shape, qt.device, 'f32', 'the shape of q'),
  ]) as Output[];
  const [loss, gradQ] = outs;
  return guardFresh(outs, () => {
    rlApi().rlSacCriticLoss(loss.t.handle, gradQ.t.handle, qt.handle, yt.handle);
    return { loss: loss.t, gradQ: gradQ.t };
  });
}

export interface SacActorLossOptions {
  /** log π(a|s) of the actions q was evaluated at, per seed ([S, B]); needs alpha. Classic SAC. */
  logProb?: Tensor;
  /** The temperature α per seed, f32 [S]; needs logProb. */
  alpha?: Tensor;
  /**
   * The target entropy H̄: with it (and logProb, alpha) the temperature loss and its gradient for
   * log α are returned as well.
   */
  targetEntropy?: number;
  loss?: Tensor;
  gradQ?: Tensor;
  gradLogProb?: Tensor;
  alphaLoss?: Tensor;
  gradLogAlpha?: Tensor;
}

export interface SacActorLoss extends SacLoss {
  /** α[s]/B per element (logProb's shape): present when logProb is given. */
  gradLogProb?: Tensor;
  /** −α[s]·mean_B(logπ + H̄), f32 [S] (log π detached): present when targetEntropy is given. */
  alphaLoss?: Tensor;
  /**
   * The gradient of alphaLoss for log α, f32 [S]: α·∂/∂α = −α[s]·mean_B(logπ + H̄), numerically
   * equal to alphaLoss (feed it to the optimizer of log α).
   */
  gradLogAlpha?: Tensor;
}

/**
 * The actor loss per seed, loss[s] = mean_B(alpha[s]·logProb − min(q[2s], q[2s+1])) (no α term
 * without logProb: the ERA variant), evaluated on the critic's outputs at the policy's actions.
 * gradQ is −1/B on the smaller twin and 0 on the other; on an exact tie each gets −1/(2B) (as JAX
 * splits jnp.minimum's gradient). gradLogProb = alpha[s]/B. With targetEntropy, also the
 * temperature loss −alpha·(logπ + H̄) and its gradient for log α.
 */
export function sacActorLoss(q: Tensor, options?: SacActorLossOptions): SacActorLoss {
  const { q: qt, d } = qArg(q);
  const o = plainObject(options, 'options', SAC_ACTOR_LOSS_OPTIONS);
  const ent = entropyTerm(o, qt, d, true);
  const tuneAlpha = o.targetEntropy !== undefined;
  const targetEntropy = tuneAlpha ? finiteNumber(o.targetEntropy, 'options.targetEntropy') : 0;
  if (tuneAlpha && !ent) throw rangeError('a tensor when options.targetEntropy is given (with options.alpha)', 'options.logProb', o.logProb);
  const seedOut = (v: unknown, name: string) => () => outputArg(v, name, [d.s], qt.device, 'f32', 'one value per seed');
  const outs = outputs([
    seedOut(o.loss, 'options.loss'),
    () => outputArg(o.gradQ, 'options.gradQ', qt.shape, qt.device, 'f32', 'the shape of q'),
    () => (ent ? outputArg(o.gradLogProb, 'options.gradLogProb', ent.logProb.shape, qt.device, 'f32', 'the shape of options.logProb') : null),
    () => (tuneAlpha ? seedOut(o.alphaLoss, 'options.alphaLoss')() : null),
    () => (tuneAlpha ? seedOut(o.gradLogAlpha, 'options.gradLogAlpha')() : null),
  ]);
  const [loss, gradQ, gradLogProb, alphaLoss, gradLogAlpha] = outs;
  return guardFresh(outs, () => {
    rlApi().rlSacActorLoss(
      loss!.t.handle, gradQ!.t.handle, qt.handle, ent?.logProb.handle ?? null, ent?.alpha.handle ?? null,
      gradLogProb?.t.handle ?? null, alphaLoss?.t.handle ?? null, gradLogAlpha?.t.handle ?? null, targetEntropy,
    );
    const result: SacActorLoss = { loss: loss!.t, gradQ: gradQ!.t };
    if (gradLogProb) result.gradLogProb = gradLogProb.t;
    if (alphaLoss) result.alphaLoss = alphaLoss.t;
    if (gradLogAlpha) result.gradLogAlpha = gradLogAlpha.t;
    return result;
  });
}

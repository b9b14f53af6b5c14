/**
 * The SAC policy distributions as fused ops (cpu and cuda; one launch each on CUDA):
 *
 * - **SAC-ERA's truncated normal** (era-spec §1.4): location clip(tanh μ, L, H), scale
 *   max(exp(ℓ)·T, ε), truncated to (L, H), sampled by inverse CDF and differentiated by
 *   reparameterisation. ε = 1e-6, L = −1 + ε, H = 1 − ε.
 * - **Classic SAC's tanh-squashed Gaussian**: action = tanh(μ + σ·ε) with its exact log-prob.
 *
 * μ and log σ are f32 [..., D] (any leading dims, read as rows of D action dims); per-row outputs
 * (log-probs) have the leading dims only. Draws come from Philox (lib/random.ts): pass
 * `generator` (its counter advances, so successive calls draw fresh numbers) or `seed`. The same
 * generator state gives the same draws on the CPU and on CUDA. All math runs in double; inputs
 * and outputs are f32. NaN in μ or log σ propagates to that element's outputs (and its row's
 * log-prob).
 */
import { reserveDraw } from '../random.js';
import { tensorArg, type Tensor } from '../tensor.js';
import { finiteNumber, optionNames, plainObject, rangeError, typeError } from '../validate.js';
import { generatorArg, guardFresh, likeArg, outputArg, outputs, rlApi, sameDevice, shapeStr, type DrawOptions, type Output } from './ops-args.js';

// The option names each op reads (others are a TypeError).
const TN_SAMPLE_OPTIONS = optionNames('temperature', 'generator', 'seed', 'out', 'noise');
const TN_OPTIONS = optionNames('temperature', 'out');
const TN_BACKWARD_OPTIONS = optionNames('temperature', 'gradMu', 'gradLogStd');
const TG_SAMPLE_OPTIONS = optionNames('generator', 'seed', 'out', 'noise', 'logProb');
const TG_TRANSFORM_OPTIONS = optionNames('out', 'logProb');
const TG_BACKWARD_OPTIONS = optionNames('gradMu', 'gradLogStd');

export interface TruncatedNormalOptions {
  /** Sampling temperature T ≥ 0 (default 1): s = max(exp(ℓ)·T, ε). T = 0 (evaluation) gives s = ε. */
  temperature?: number;
}

/** Checks mu [..., D] (D ≥ 1) and logStd like it; returns the row shape (the leading dims). */
function policyArgs(mu: unknown, logStd: unknown): { mu: Tensor; logStd: Tensor; rowShape: number[] } {
  const m = tensorArg(mu, 'mu', ['f32']);
  if (m.shape.length < 1 || m.shape[m.shape.length - 1] < 1) {
    throw new RangeError(`Expected a tensor [..., D] with D >= 1 for mu but received shape ${shapeStr(m.shape)}`);
  }
  const l = likeArg(logStd, 'logStd', m, 'mu');
  return { mu: m, logStd: l, rowShape: m.shape.slice(0, -1) };
}

function temperatureArg(o: Record<string, unknown>): number {
  if (o.temperature === undefined) return 1;
  const t = finiteNumber(o.temperature, 'options.temperature');
  if (t < 0) throw rangeError('a finite number >= 0', 'options.temperature', t);
  return t;
}

const out = (value: unknown, name: string, like: Tensor): (() => Output) => () => outputArg(value, name, like.shape, like.device, 'f32', 'the shape of mu');

export interface TruncatedNormalSampleOptions extends TruncatedNormalOptions, DrawOptions {
  /** Where to write the action (f32, the shape and device of mu). */
  out?: Tensor;
  /** Where to write the noise (f32, the shape and device of mu). */
  noise?: Tensor;
}

export interface TruncatedNormalSample {
  /** x ∈ [−1 + 2e-6, 1 − 2e-6] [..., D] (f32, rounded inwards so the bounds hold in f32). */
  action: Tensor;
  /** The uniform ũ ∈ (0, 1) drawn per element [..., D]: pass it to truncatedNormalBackward. */
  noise: Tensor;
}

/**
 * Draws an action from SAC-ERA's truncated normal (era-spec §1.4), per element:
 * ```
 * m = clip(tanh μ, L, H)          s = max(exp(ℓ)·T, ε)
 * a = (L − m)/s   b = (H − m)/s   α = Φ(a)   δ = max(Φ(b) − Φ(a), ε)
 * ũ ~ U(0, 1)     u' = α + δ·clip(ũ, ε, 1 − ε)
 * z = Φ⁻¹(clip(u', ε, 1 − ε))     x = clip(m + s·z, L + ε, H − ε)
 * ```
 * ũ is the f32 uniform era.uniform would draw from the same generator state (one Philox word
 * per element). Φ⁻¹ is `normalIcdf` (see there for its accuracy), evaluated in double on both
 * backends.
 */
export function truncatedNormalSample(mu: Tensor, logStd: Tensor, options?: TruncatedNormalSampleOptions): TruncatedNormalSample {
  const a = policyArgs(mu, logStd);
  const o = plainObject(options, 'options', TN_SAMPLE_OPTIONS);
  const temperature = temperatureArg(o);
  const g = generatorArg(o);
  const [action, noise] = outputs([out(o.out, 'options.out', a.mu), out(o.noise, 'options.noise', a.mu)]) as Output[];
  return guardFresh([action, noise], () => {
    rlApi().rlTruncatedNormalSample(action.t.handle, noise.t.handle, a.mu.handle, a.logStd.handle, temperature, g.seed, reserveDraw(g, a.mu.size, 1, a.mu.device, 'truncatedNormalSample'));
    return { action: action.t, noise: noise.t };
  });
}

/**
 * The truncated-normal draw from uniforms ũ the caller supplies ([..., D] in (0, 1), e.g. from
 * era.uniform) instead of drawn inside: the same transform as truncatedNormalSample. With the
 * noise refreshed outside, the transform can be recorded in a CUDA graph (era.captureGraph).
 */
export function truncatedNormalTransform(mu: Tensor, logStd: Tensor, noise: Tensor, options?: TruncatedNormalOptions & { out?: Tensor }): Tensor {
  const a = policyArgs(mu, logStd);
  const u = likeArg(noise, 'noise', a.mu, 'mu');
  const o = plainObject(options, 'options', TN_OPTIONS);
  const temperature = temperatureArg(o);
  const [action] = outputs([out(o.out, 'options.out', a.mu)]) as Output[];
  return guardFresh([action], () => {
    rlApi().rlTruncatedNormalSample(action.t.handle, u.handle, a.mu.handle, a.logStd.handle, temperature, 0, 0, true);
    return action.t;
  });
}

export interface TruncatedNormalBackwardOptions extends TruncatedNormalOptions {
  /** Where to write the gradient for mu. */
  gradMu?: Tensor;
  /** Where to write the gradient for logStd. */
  gradLogStd?: Tensor;
}

export interface PolicyGradients {
  gradMu: Tensor;
  gradLogStd: Tensor;
}

/**
 * The reparameterised gradient of truncatedNormalSample's action (era-spec §1.4) for μ and log σ,
 * given dL/dx and the noise the sample drew (same temperature as the sample). Per element:
 * ```
 * ρa = exp((z − a)(z + a)/2) = φ(a)/φ(z)        ρb = exp((z − b)(z + b)/2)
 * ∂x/∂m = 1 − [(1 − ũ)ρa + ũ·ρb]               ∂x/∂s = z − [(1 − ũ)·a·ρa + ũ·b·ρb]
 * ∂m/∂μ = 1 − tanh²μ (0 where the clip of tanh μ is active)
 * ∂s/∂ℓ = s (0 where exp(ℓ)·T ≤ ε: the max passes no gradient)
 * ```
 * with ũ clipped to [ε, 1 − ε]. When δ is clamped at ε only the α terms remain, with weight 1
 * (∂x/∂m = 1 − ρa, ∂x/∂s = z − a·ρa); when the clip of u' is active z is constant (∂x/∂m = 1,
 * ∂x/∂s = z); when the clip of x is active the gradient is 0. This is the exact derivative of the
 * forward as written (the released code's autodiff), checked against finite differences.
 */
export function truncatedNormalBackward(mu: Tensor, logStd: Tensor, noise: Tensor, gradAction: Tensor, options?: TruncatedNormalBackwardOptions): PolicyGradients {
  const a = policyArgs(mu, logStd);
  const n = likeArg(noise, 'noise', a.mu, 'mu');
  const g = likeArg(gradAction, 'gradAction', a.mu, 'mu');
  const o = plainObject(options, 'options', TN_BACKWARD_OPTIONS);
  const temperature = temperatureArg(o);
  const [gm, gl] = outputs([out(o.gradMu, 'options.gradMu', a.mu), out(o.gradLogStd, 'options.gradLogStd', a.mu)]) as Output[];
  return guardFresh([gm, gl], () => {
    rlApi().rlTruncatedNormalBackward(gm.t.handle, gl.t.handle, a.mu.handle, a.logStd.handle, n.handle, g.handle, temperature);
    return { gradMu: gm.t, gradLogStd: gl.t };
  });
}

/**
 * Per-row log-prob [...] of actions [..., D] under the truncated normal (era-spec §1.4), for the
 * logged entropy metric (no gradient): the sum over D of
 * clip(−½((x̂ − m)/s)² − ½ ln 2π − ln s − ln δ, −20, 20) with x̂ = clip(x, L + ε, H − ε).
 */
export function truncatedNormalLogProb(action: Tensor, mu: Tensor, logStd: Tensor, options?: TruncatedNormalOptions & { out?: Tensor }): Tensor {
  const a = policyArgs(mu, logStd);
  const x = likeArg(action, 'action', a.mu, 'mu');
  const o = plainObject(options, 'options', TN_OPTIONS);
  const temperature = temperatureArg(o);
  const lp = outputArg(o.out, 'options.out', a.rowShape, a.mu.device, 'f32', 'the leading dims of mu, one value per row');
  return guardFresh([lp], () => {
    rlApi().rlTruncatedNormalLogProb(lp.t.handle, x.handle, a.mu.handle, a.logStd.handle, temperature);
    return lp.t;
  });
}

export interface TanhGaussianSampleOptions extends DrawOptions {
  /** Where to write the action (f32, the shape and device of mu). */
  out?: Tensor;
  /** Where to write the noise ε (f32, the shape and device of mu). */
  noise?: Tensor;
  /** Where to write the per-row log-prob (f32, the leading dims of mu). */
  logProb?: Tensor;
}

export interface TanhGaussianSample {
  /** tanh(μ + σ·ε) [..., D]. */
  action: Tensor;
  /** The standard normal ε drawn per element [..., D] (era.normal's numbers for the same state). */
  noise: Tensor;
  /** log π(action) summed over D [...]. */
  logProb: Tensor;
}

/**
 * Draws from classic SAC's tanh-squashed Gaussian: u = μ + exp(ℓ)·ε, action = tanh u, and
 * log π = Σ_D [−½ε² − ℓ − ½ ln 2π − 2(ln 2 − u − softplus(−2u))], the last term being
 * log(1 − tanh²u) in a form that stays finite for any u. log σ is used as given: clamp it first.
 * One launch on CUDA (a warp per row).
 */
export function tanhGaussianSample(mu: Tensor, logStd: Tensor, options?: TanhGaussianSampleOptions): TanhGaussianSample {
  const a = policyArgs(mu, logStd);
  const o = plainObject(options, 'options', TG_SAMPLE_OPTIONS);
  const g = generatorArg(o);
  const outs = outputs([
    out(o.out, 'options.out', a.mu),
    out(o.noise, 'options.noise', a.mu),
    () => outputArg(o.logProb, 'options.logProb', a.rowShape, a.mu.device, 'f32', 'the leading dims of mu, one value per row'),
  ]) as Output[];
  const [action, noise, logProb] = outs;
  return guardFresh(outs, () => {
    rlApi().rlTanhGaussianSample(action.t.handle, noise.t.handle, logProb.t.handle, a.mu.handle, a.logStd.handle, g.seed, reserveDraw(g, a.mu.size, 2, a.mu.device, 'tanhGaussianSample'));
    return { action: action.t, noise: noise.t, logProb: logProb.t };
  });
}

/**
 * The tanh-Gaussian draw from standard normals ε the caller supplies ([..., D], e.g. from
 * era.normal): action = tanh(μ + σε) and its log-prob, as tanhGaussianSample computes them. For
 * recording in a CUDA graph with the noise refreshed outside it.
 */
export function tanhGaussianTransform(mu: Tensor, logStd: Tensor, noise: Tensor, options?: { out?: Tensor; logProb?: Tensor }): { action: Tensor; logProb: Tensor } {
  const a = policyArgs(mu, logStd);
  const e = likeArg(noise, 'noise', a.mu, 'mu');
  const o = plainObject(options, 'options', TG_TRANSFORM_OPTIONS);
  const outs = outputs([
    out(o.out, 'options.out', a.mu),
    () => outputArg(o.logProb, 'options.logProb', a.rowShape, a.mu.device, 'f32', 'the leading dims of mu, one value per row'),
  ]) as Output[];
  const [action, logProb] = outs;
  return guardFresh(outs, () => {
    rlApi().rlTanhGaussianSample(action.t.handle, e.handle, logProb.t.handle, a.mu.handle, a.logStd.handle, 0, 0, true);
    return { action: action.t, logProb: logProb.t };
  });
}

/**
 * Gradients for μ and log σ of the tanh-Gaussian's action and log-prob paths, given dL/daction
 * [..., D], the noise the sample drew, and dL/dlogπ [...] (null or omitted: 0). With u = μ + σε:
 * ```
 * g_u = gradAction·(1 − tanh²u) + gradLogProb·2·tanh u
 * gradMu = g_u        gradLogStd = g_u·σ·ε − gradLogProb
 * ```
 */
export function tanhGaussianBackward(
  mu: Tensor, logStd: Tensor, noise: Tensor, gradAction: Tensor, gradLogProb?: Tensor | null,
  options?: { gradMu?: Tensor; gradLogStd?: Tensor },
): PolicyGradients {
  const a = policyArgs(mu, logStd);
  const n = likeArg(noise, 'noise', a.mu, 'mu');
  const g = likeArg(gradAction, 'gradAction', a.mu, 'mu');
  let glp: Tensor | null = null;
  if (gradLogProb !== undefined && gradLogProb !== null) {
    glp = tensorArg(gradLogProb, 'gradLogProb', ['f32']);
    sameDevice(glp, 'gradLogProb', a.mu, 'mu');
    if (glp.shape.join() !== a.rowShape.join()) {
      throw new RangeError(`Expected shape ${shapeStr(a.rowShape)} (the leading dims of mu, one value per row) for gradLogProb but received shape ${shapeStr(glp.shape)}`);
    }
  }
  const o = plainObject(options, 'options', TG_BACKWARD_OPTIONS);
  const [gm, gl] = outputs([out(o.gradMu, 'options.gradMu', a.mu), out(o.gradLogStd, 'options.gradLogStd', a.mu)]) as Output[];
  return guardFresh([gm, gl], () => {
    rlApi().rlTanhGaussianBackward(gm.t.handle, gl.t.handle, a.mu.handle, a.logStd.handle, n.handle, g.handle, glp?.handle ?? null);
    return { gradMu: gm.t, gradLogStd: gl.t };
  });
}

/**
 * Φ⁻¹(p), the standard normal quantile, in double: the function the truncated normal uses on
 * both backends. Acklam's rational approximation (relative error < 1.2e-9) refined by one Halley
 * step with erfc; measured against mpmath, |error| ≤ 2e-15·|x| + 1e-16 for p ∈ [1e-300, 1), the
 * conditioning of Φ⁻¹ in double. Φ⁻¹(0) = −∞, Φ⁻¹(1) = ∞, NaN outside [0, 1].
 */
export function normalIcdf(p: number): number {
  if (typeof p !== 'number') throw typeError('a number', 'p', p);
  return rlApi().rlNormalIcdf(p);
}

/**
 * The continuous-control ERA (SAC-ERA; era-spec §1.2-1.3): the raw log-std head r [B, D] of a
 * diagonal Gaussian policy becomes log σ [B, D] whose Gaussian entropy meets a target.
 *
 * Per row, with w = softmax(r) over the D action dims, ℓmax = `logStdMax`, ℓmin = `logStdMin`:
 * ```
 * H0' = targetEntropy + delta            (targetEntropy = D · entropyPerDim unless given)
 * K   = H0' − D · (ℓmax + ½ ln 2πe)
 * ℓpre = K · w + ℓmax                    Σ_i (ℓpre_i + ½ ln 2πe) = H0' exactly
 * ℓ   = max(ℓpre, ℓmin)                  mode 'paper' (the README form)
 * ℓ   = clip(ℓpre, ℓmin, ℓmax)           mode 'reference' (jnp.clip in the released code)
 * ```
 * `delta` is the README's compensation δ: it is added to the total target, so the activation aims
 * at H0 + δ. The SAC trainer tunes it to make up for the truncation of the executed policy
 * (era-spec §1.2 item 3); the released code has no δ.
 *
 * Where the modes differ (era-spec §1.2 "README vs code"):
 * - 'reference' clips at ℓmax too. This is inert whenever K < 0 (H0'/D < ℓmax + 1.4189; the
 *   defaults give K = −1.1689·D), so the two modes agree there. With K > 0 every ℓpre ≥ ℓmax, so
 *   'reference' returns ℓmax everywhere (zero gradient, entropy below the target) while 'paper'
 *   returns ℓpre unclipped above (entropy = target).
 * - 'reference' has no compensation: a non-zero `delta` is rejected.
 * - 'reference' reproduces `log_std_min or LOG_STD_MIN`: a `logStdMin` or `logStdMax` of 0 falls
 *   back to the default (−8 / 0), as Python's `or` does with 0.0.
 *
 * The clip passes the gradient only strictly inside its bounds (JAX gives ½ at an exact tie, a
 * set of measure zero). Clipping can only raise the entropy (in 'paper' mode, or whenever K < 0).
 *
 * Edge case D = 1: w = 1, so log σ = H0' − ½ ln 2πe (clipped) for every input and the gradient is
 * exactly 0. D = 0 is rejected (RangeError naming raw); B = 0 gives an empty output.
 * NaN in a row propagates to that row's outputs.
 */
import { native, type NativeTensor } from '../native.js';
import { tensorArg, type Tensor } from '../tensor.js';
import { finiteNumber, oneOf, optionNames, plainObject, rangeError } from '../validate.js';
import { checkLike, matrixCols, withOut } from './util.js';

export type EraMode = 'paper' | 'reference';

export interface GaussianOptions {
  /** Target entropy per action dimension H_d (default 0.25); the total target is D · H_d. */
  entropyPerDim?: number;
  /** Total target entropy H0 of the diagonal Gaussian (instead of entropyPerDim). */
  targetEntropy?: number;
  /** Lower clip of log σ (default −8). */
  logStdMin?: number;
  /** Offset of ℓpre and, in 'reference' mode, the upper clip (default 0). */
  logStdMax?: number;
  /** Compensation δ added to the total target (default 0; must be 0 in 'reference' mode). */
  delta?: number;
  /** 'paper' (default): the README form; 'reference': what the released code does. */
  mode?: EraMode;
  /** Where to write the result (f32, the shape and device of the input). */
  out?: Tensor;
}

interface GaussianNativeApi {
  eraGaussianForward(out: NativeTensor, raw: NativeTensor, targetEntropy: number, logStdMin: number, logStdMax: number, clipUpper: boolean): void;
  eraGaussianBackward(
    gradRaw: NativeTensor, raw: NativeTensor, gradLogStd: NativeTensor,
    targetEntropy: number, logStdMin: number, logStdMax: number, clipUpper: boolean,
  ): void;
}

const api = (): GaussianNativeApi => native() as unknown as GaussianNativeApi;

export const GAUSSIAN_DEFAULTS = Object.freeze({ entropyPerDim: 0.25, logStdMin: -8, logStdMax: 0, delta: 0, mode: 'paper' as EraMode });

/** The resolved parameters the kernels use. */
export interface GaussianParams {
  /** H0' = target + delta, the total entropy aimed at. */
  targetEntropy: number;
  logStdMin: number;
  logStdMax: number;
  clipUpper: boolean;
  /** K = H0' − D (ℓmax + ½ ln 2πe). */
  k: number;
}

export const HALF_LOG_2PI_E = 0.5 * Math.log(2 * Math.PI * Math.E);

/** The option names of gaussian, gaussianBackward and gaussianParams (others are a TypeError). */
const GAUSSIAN_OPTIONS = optionNames('entropyPerDim', 'targetEntropy', 'logStdMin', 'logStdMax', 'delta', 'mode', 'out');

/** Resolves and validates the options for D action dims (exported for tests and trainers). */
export function gaussianParams(d: number, options?: GaussianOptions): GaussianParams {
  const o = plainObject(options, 'options', GAUSSIAN_OPTIONS);
  const mode = o.mode === undefined ? GAUSSIAN_DEFAULTS.mode : oneOf(o.mode, ['paper', 'reference'] as const, 'options.mode');
  if (o.entropyPerDim !== undefined && o.targetEntropy !== undefined) {
    throw rangeError('either entropyPerDim or targetEntropy, not both', 'options', o);
  }
  const target = o.targetEntropy !== undefined
    ? finiteNumber(o.targetEntropy, 'options.targetEntropy')
    : d * (o.entropyPerDim === undefined ? GAUSSIAN_DEFAULTS.entropyPerDim : finiteNumber(o.entropyPerDim, 'options.entropyPerDim'));
  const delta = o.delta === undefined ? 0 : finiteNumber(o.delta, 'options.delta');
  let lo = o.logStdMin === undefined ? GAUSSIAN_DEFAULTS.logStdMin : finiteNumber(o.logStdMin, 'options.logStdMin');
  let hi = o.logStdMax === undefined ? GAUSSIAN_DEFAULTS.logStdMax : finiteNumber(o.logStdMax, 'options.logStdMax');
  if (mode === 'reference') {
    if (delta !== 0) throw rangeError("0 (mode 'reference' has no compensation term)", 'options.delta', delta);
    // `log_std_min or LOG_STD_MIN`: 0.0 is falsy in Python.
    if (lo === 0) lo = GAUSSIAN_DEFAULTS.logStdMin;
    if (hi === 0) hi = GAUSSIAN_DEFAULTS.logStdMax;
  }
  if (!(lo < hi)) throw rangeError(`a number less than options.logStdMax (${hi})`, 'options.logStdMin', lo);
  const targetEntropy = target + delta;
  if (!Number.isFinite(targetEntropy)) throw rangeError('a finite total target entropy', 'options.targetEntropy', targetEntropy);
  return { targetEntropy, logStdMin: lo, logStdMax: hi, clipUpper: mode === 'reference', k: targetEntropy - d * (hi + HALF_LOG_2PI_E) };
}

/**
 * log σ [B, D] from the raw log-std head [B, D] (f32, cpu or cuda; the output is on the same
 * device). One fused kernel launch on CUDA.
 */
export function gaussian(raw: Tensor, options?: GaussianOptions): Tensor {
  tensorArg(raw, 'raw', ['f32']);
  const d = matrixCols(raw, 'raw', '[B, D]', 1, 'at least one action dimension (D >= 1)');
  const p = gaussianParams(d, options);
  return withOut((options as GaussianOptions | undefined)?.out, raw, 'raw', (out) => {
    api().eraGaussianForward(out.handle, raw.handle, p.targetEntropy, p.logStdMin, p.logStdMax, p.clipUpper);
  }).out;
}

/**
 * The gradient for raw [B, D] given the gradient for log σ (era-spec §1.3):
 * ∂L/∂r_j = K w_j (gp_j − Σ_i w_i gp_i), gp_i = gradLogStd_i where the clip is inactive, else 0.
 * Takes the same options as gaussian() (out: where to write the gradient). One launch on CUDA.
 */
export function gaussianBackward(raw: Tensor, gradLogStd: Tensor, options?: GaussianOptions): Tensor {
  tensorArg(raw, 'raw', ['f32']);
  tensorArg(gradLogStd, 'gradLogStd', ['f32']);
  const d = matrixCols(raw, 'raw', '[B, D]', 1, 'at least one action dimension (D >= 1)');
  checkLike(gradLogStd, 'gradLogStd', raw, 'raw');
  const p = gaussianParams(d, options);
  return withOut((options as GaussianOptions | undefined)?.out, raw, 'raw', (out) => {
    api().eraGaussianBackward(out.handle, raw.handle, gradLogStd.handle, p.targetEntropy, p.logStdMin, p.logStdMax, p.clipUpper);
  }).out;
}

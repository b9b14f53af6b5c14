/**
 * The classification ERA (ResNet-ERA; era-spec §3.2-3.3): logits x [B, C] become z' [B, C] whose
 * softmax keeps its entropy above a floor. Per row, with n = C, u_b = ln τ / τ and
 * C_H = exp(minEntropy − 1):
 * ```
 * s = (n·u_b − C_H) / (n − 1),  b = (C_H − u_b) / (n − 1)
 * p = softmax(x),  h = s·p + b ∈ [b, u_b]
 * u = −1 − ln h,   z' = −1 − √(2u) − ¾u           (closed-form approximation of W₋₁(−h))
 * out = z' − min_j z'_j                           (the min is detached)
 * ```
 * The shift does not change softmax(out); its gradient passes through unchanged.
 *
 * The entropy floor: H(softmax(out)) ≥ minEntropy only approximately (the W₋₁ form is approximate)
 * but in practice far above it; the lowest value, reached at a one-hot input, is 0.983 for C = 10
 * and 1.464 for C = 1000 with the defaults (era-spec §3.2 table). `entropyFloor()` computes it.
 *
 * Options are checked as the reference's assert does (minEntropy ≥ 1 + ln(ln τ/τ) ≈ −0.0597 for
 * τ = 4, i.e. b ≥ 0) plus an upper bound the reference does not check: minEntropy <
 * 1 + ln(C·ln τ/τ) (≈ ln C − 0.0597), where the slope s reaches 0. Above it the activation would
 * reverse the class order, or for small C leave the W₋₁ branch (NaN). Both bounds are open: b and
 * s must be normal f32 numbers (≥ 2^−126), since b = 0 would send h to 0 (ln 0) when a probability
 * underflows. τ must be in (1, 1e30] (u_b > 0, and not too small for f32); at τ = e a one-hot row
 * reaches u = 0, where the gradient is infinite.
 *
 * `mode`: 'paper' and 'reference' compute the same thing here. The README form's max(·, 0) is
 * inert because the assert guarantees b ≥ 0, and the dead `x − max(x)` line changes nothing; the
 * only difference is that the released code fixes τ = 4, so 'reference' rejects any other τ.
 *
 * Edge cases: C = 1 is rejected (RangeError naming logits: s is undefined); B = 0 gives an empty
 * output (softmaxCrossEntropy rejects it: the mean of nothing is undefined). NaN in a row
 * propagates to that row's outputs.
 */
import { native, type NativeTensor } from '../native.js';
import { tensorArg, type Tensor } from '../tensor.js';
import { finiteNumber, integer, oneOf, optionNames, plainObject, rangeError } from '../validate.js';
import type { EraMode } from './gaussian.js';
import { checkLike, matrixCols, withOut } from './util.js';

export interface VisionOptions {
  /** H_min (default 0.6): C_H = exp(H_min − 1). */
  minEntropy?: number;
  /**
   * τ (default 4): caps the largest unnormalised probability at 1/τ (for τ ≥ e; a τ in (1, e)
   * gives the same activation as the τ' > e with the same ln τ/τ, e.g. τ = 2 as τ = 4).
   */
  tau?: number;
  /** 'paper' (default) or 'reference' (identical results; 'reference' requires τ = 4). */
  mode?: EraMode;
  /** Where to write the result (f32, the shape and device of logits). */
  out?: Tensor;
}

export interface CrossEntropyOptions extends VisionOptions {
  /** ε in [0, 1) (default 0): the target is (1 − ε)·onehot(y) + ε/C, as timm's label smoothing. */
  labelSmoothing?: number;
  /**
   * An f32 tensor of one element on the logits' device: the mean loss is written there and
   * returned as `loss` (a tensor) instead of a number, so a CUDA step does not wait for the GPU
   * (a bad label then gives a NaN loss instead of an error).
   */
  lossOut?: Tensor;
}

interface VisionNativeApi {
  eraSoftmaxForward(out: NativeTensor, logits: NativeTensor, minEntropy: number, tau: number): void;
  eraSoftmaxBackward(gradLogits: NativeTensor, logits: NativeTensor, gradOut: NativeTensor, minEntropy: number, tau: number): void;
  eraSoftmaxCrossEntropy(
    gradLogits: NativeTensor, logits: NativeTensor, labels: NativeTensor,
    minEntropy: number, tau: number, labelSmoothing: number, lossOut?: NativeTensor | null,
  ): number;
}

const api = (): VisionNativeApi => native() as unknown as VisionNativeApi;

export const VISION_DEFAULTS = Object.freeze({ minEntropy: 0.6, tau: 4, labelSmoothing: 0, mode: 'paper' as EraMode });
/** The largest τ taken: ln τ/τ (≈ 7e−29 there) stays far inside f32's normal range. */
const TAU_MAX = 1e30;
/** 2^−126, the smallest normal f32. */
const F32_NORMAL_MIN = 2 ** -126;

export interface VisionParams {
  minEntropy: number;
  tau: number;
  /** Slope and intercept of h = s·p + b. */
  s: number;
  b: number;
}

// The option names each function reads (others are a TypeError).
const SOFTMAX_OPTIONS = optionNames('minEntropy', 'tau', 'mode', 'out');
const CROSS_ENTROPY_OPTIONS = optionNames('minEntropy', 'tau', 'mode', 'out', 'labelSmoothing', 'lossOut');
const FLOOR_OPTIONS = optionNames('minEntropy', 'tau', 'mode');

/** Resolves and validates the options for C classes (exported for tests and trainers). */
export function visionParams(classes: number, options?: VisionOptions): VisionParams {
  return resolveVision(classes, plainObject(options, 'options', SOFTMAX_OPTIONS));
}

function resolveVision(classes: number, o: Record<string, unknown>): VisionParams {
  const mode = o.mode === undefined ? VISION_DEFAULTS.mode : oneOf(o.mode, ['paper', 'reference'] as const, 'options.mode');
  const tau = o.tau === undefined ? VISION_DEFAULTS.tau : finiteNumber(o.tau, 'options.tau');
  if (!(tau > 1 && tau <= TAU_MAX)) throw rangeError(`a number in (1, ${TAU_MAX}] (beyond it ln tau / tau is too small for f32 kernels)`, 'options.tau', tau);
  if (mode === 'reference' && tau !== 4) throw rangeError("4 (mode 'reference' fixes tau = 4, as the released code does)", 'options.tau', tau);
  const minEntropy = o.minEntropy === undefined ? VISION_DEFAULTS.minEntropy : finiteNumber(o.minEntropy, 'options.minEntropy');
  const ub = Math.log(tau) / tau;
  const ch = Math.exp(minEntropy - 1);
  // b = (C_H − u_b)/(C − 1) and s = (C u_b − C_H)/(C − 1) must be normal f32 numbers (the CUDA
  // kernels compute in f32): a b of 0 (the reference's bound itself) lets h = s·p + b reach 0, so
  // ln 0, when a probability underflows; an s of 0 flattens the activation.
  const sCoef = (classes * ub - ch) / (classes - 1);
  const bCoef = (ch - ub) / (classes - 1);
  if (!(bCoef >= F32_NORMAL_MIN) || !(sCoef >= F32_NORMAL_MIN)) {
    const lo = 1 + Math.log(ub);
    const hi = 1 + Math.log(classes * ub);
    throw rangeError(
      `a number in (${lo.toPrecision(9)}, ${hi.toPrecision(9)}) (1 + ln(ln tau / tau) < minEntropy < 1 + ln(C ln tau / tau), C = ${classes}, tau = ${tau}, ` +
      'with slope and intercept at least 2^-126)',
      'options.minEntropy', minEntropy,
    );
  }
  return { minEntropy, tau, s: sCoef, b: bCoef };
}

const cols = (logits: Tensor): number => matrixCols(logits, 'logits', '[B, C]', 2, 'at least 2 classes (C >= 2)');

/** z' [B, C] from logits [B, C] (f32, cpu or cuda; output on the same device). One launch on CUDA. */
export function softmax(logits: Tensor, options?: VisionOptions): Tensor {
  tensorArg(logits, 'logits', ['f32']);
  const p = visionParams(cols(logits), options);
  return withOut((options as VisionOptions | undefined)?.out, logits, 'logits', (out) => {
    api().eraSoftmaxForward(out.handle, logits.handle, p.minEntropy, p.tau);
  }).out;
}

/**
 * The gradient for logits [B, C] given the gradient for softmax()'s output (era-spec §3.3):
 * ∂L/∂x_j = g_j c_j ρ_j − p_j Σ_i g_i c_i ρ_i, c = 1/√(2u) + ¾, ρ = s·p/h. One launch on CUDA.
 */
export function softmaxBackward(logits: Tensor, gradOut: Tensor, options?: VisionOptions): Tensor {
  tensorArg(logits, 'logits', ['f32']);
  tensorArg(gradOut, 'gradOut', ['f32']);
  const c = cols(logits);
  checkLike(gradOut, 'gradOut', logits, 'logits');
  const p = visionParams(c, options);
  return withOut((options as VisionOptions | undefined)?.out, logits, 'logits', (out) => {
    api().eraSoftmaxBackward(out.handle, logits.handle, gradOut.handle, p.minEntropy, p.tau);
  }).out;
}

export interface CrossEntropyResult {
  /** Mean cross entropy over the batch (of softmax(z') against the smoothed target). */
  loss: number;
  /** The gradient of the mean loss for logits [B, C] (through the activation). */
  gradLogits: Tensor;
}

/** softmaxCrossEntropy's result with options.lossOut: the loss stays on the device. */
export interface DeviceLossResult {
  /** options.lossOut, holding the mean loss (NaN where a label was bad on CUDA). */
  loss: Tensor;
  gradLogits: Tensor;
}

/**
 * Cross entropy on the ERA output, forward and backward fused: { loss (mean over B), gradLogits }.
 * labels: i32 [B] on the device of logits, each in [0, C) (else RangeError naming labels).
 * On CUDA this is one fused launch plus a one-block deterministic reduction of the row losses (no
 * float atomics: the same inputs give the same loss bits), which also finds bad labels; reading
 * the loss back synchronises, unless options.lossOut keeps it on the device (like PyTorch's loss
 * tensor: read it when needed, e.g. every 100 steps). When a label is bad on CUDA, the contents of
 * options.out are unspecified (on the CPU nothing is written).
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor, options: CrossEntropyOptions & { lossOut: Tensor }): DeviceLossResult;
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor, options?: CrossEntropyOptions): CrossEntropyResult;
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor, options?: CrossEntropyOptions): CrossEntropyResult | DeviceLossResult {
  tensorArg(logits, 'logits', ['f32']);
  tensorArg(labels, 'labels', ['i32']);
  const c = cols(logits);
  const b = logits.shape[0];
  if (b < 1) throw new RangeError(`Expected at least one row (B >= 1) for logits but received shape [${logits.shape.join(', ')}]`);
  if (labels.device !== logits.device) {
    throw new TypeError(`Expected a ${logits.device} tensor (the device of logits) for labels but received a ${labels.device} tensor`);
  }
  if (labels.shape.length !== 1 || labels.shape[0] !== b) {
    throw new RangeError(`Expected shape [${b}] (one label per row of logits) for labels but received shape [${labels.shape.join(', ')}]`);
  }
  const o = plainObject(options, 'options', CROSS_ENTROPY_OPTIONS) as CrossEntropyOptions;
  const p = resolveVision(c, o as Record<string, unknown>);
  const eps = o.labelSmoothing === undefined ? VISION_DEFAULTS.labelSmoothing : finiteNumber(o.labelSmoothing, 'options.labelSmoothing');
  if (!(eps >= 0 && eps < 1)) throw rangeError('a number in [0, 1)', 'options.labelSmoothing', eps);
  const lossOut = o.lossOut === undefined ? undefined : tensorArg(o.lossOut, 'options.lossOut', ['f32']);
  if (lossOut && lossOut.device !== logits.device) {
    throw new TypeError(`Expected a ${logits.device} tensor (the device of logits) for options.lossOut but received a ${lossOut.device} tensor`);
  }
  if (lossOut && lossOut.size !== 1) throw new RangeError(`Expected one element (the loss) for options.lossOut but received shape [${lossOut.shape.join(', ')}]`);
  if (labels.device === 'cpu') {
    // Checked here too so the message can show the value (the op checks again).
    const y = labels.data as Int32Array;
    for (let i = 0; i < y.length; i++) {
      if (y[i] < 0 || y[i] >= c) throw new RangeError(`Expected class indices in [0, ${c}) for labels but received ${y[i]} at row ${i}`);
    }
  }
  const { out, result } = withOut(o.out, logits, 'logits', (g) =>
    api().eraSoftmaxCrossEntropy(g.handle, logits.handle, labels.handle, p.minEntropy, p.tau, eps, lossOut?.handle ?? null));
  return lossOut ? { loss: lossOut, gradLogits: out } : { loss: result, gradLogits: out };
}

/**
 * The entropy of softmax(out) at a one-hot input (p = e_0): the lowest the activation reaches
 * (era-spec §3.2: 0.983 for C = 10, 1.464 for C = 1000 with the defaults). Computed in float64.
 */
export function entropyFloor(classes: number, options?: Omit<VisionOptions, 'out'>): number {
  integer(classes, 'classes', 2);
  const { s, b } = resolveVision(classes, plainObject(options, 'options', FLOOR_OPTIONS));
  const z = (h: number): number => {
    const u = Math.max(0, -1 - Math.log(h)); // as the kernels: at τ = e, s + b may round past 1/e
    return -1 - Math.sqrt(2 * u) - 0.75 * u;
  };
  // out_0 = z(s + b) - z(b) for the hot class, 0 for the others.
  const hot = z(s + b) - z(b);
  const m = Math.max(hot, 0);
  const zsum = Math.exp(hot - m) + (classes - 1) * Math.exp(-m);
  const lse = Math.log(zsum) + m;
  return lse - (Math.exp(hot - lse) * hot);
}

/**
 * Tolerance-shaped rewards as the DeepMind Control Suite defines them (Tassa et al. 2018, §"Reward"
 * and dm_control/utils/rewards.py): `tolerance(x, bounds, margin, sigmoid, valueAtMargin)` is 1
 * inside [lower, upper] and falls off with the distance d to the nearest bound, measured in units
 * of `margin`, through a sigmoid s with s(0) = 1 and s(1) = valueAtMargin:
 *
 * | sigmoid        | s(d), v = valueAtMargin                                        |
 * |----------------|----------------------------------------------------------------|
 * | gaussian       | exp(-½ (d·√(−2 ln v))²)                                        |
 * | hyperbolic     | 1 / cosh(d · acosh(1/v))                                       |
 * | long_tail      | 1 / ((d·√(1/v − 1))² + 1)                                      |
 * | reciprocal     | 1 / (|d|·(1/v − 1) + 1)                                        |
 * | cosine         | (1 + cos(π·d·c)) / 2 while |d·c| < 1, else 0; c = acos(2v−1)/π |
 * | linear         | 1 − d·(1−v) while |d·(1−v)| < 1, else 0                        |
 * | quadratic      | 1 − (d·√(1−v))² while |d·√(1−v)| < 1, else 0                   |
 * | tanh_squared   | 1 − tanh(d · atanh(√(1−v)))²                                   |
 *
 * With margin 0 the result is the indicator of the bounds. cosine, linear and quadratic accept
 * v = 0 (they reach 0 at d = 1); the others need 0 < v < 1. Bounds may be infinite.
 */
import { finiteNumber, oneOf, rangeError } from '../../validate.js';

export type Sigmoid = 'gaussian' | 'hyperbolic' | 'long_tail' | 'reciprocal' | 'cosine' | 'linear' | 'quadratic' | 'tanh_squared';

export const SIGMOIDS: readonly Sigmoid[] = ['gaussian', 'hyperbolic', 'long_tail', 'reciprocal', 'cosine', 'linear', 'quadratic', 'tanh_squared'];

/** The value tolerance() takes at `margin` from the bounds unless told otherwise (as in DMC). */
export const DEFAULT_VALUE_AT_MARGIN = 0.1;

/** Bounds [0, 0]: "x should be 0" (shared, so reward code allocates no array per call). */
export const ZERO: readonly [number, number] = [0, 0];

/** The sigmoid s(d) for d ≥ 0 with s(0) = 1 and s(1) = valueAt1 (arguments already checked). */
function sigmoidValue(d: number, valueAt1: number, sigmoid: Sigmoid): number {
  switch (sigmoid) {
    case 'gaussian': {
      const s = d * Math.sqrt(-2 * Math.log(valueAt1));
      return Math.exp(-0.5 * s * s);
    }
    case 'hyperbolic':
      return 1 / Math.cosh(d * Math.acosh(1 / valueAt1));
    case 'long_tail': {
      const s = d * Math.sqrt(1 / valueAt1 - 1);
      return 1 / (s * s + 1);
    }
    case 'reciprocal':
      return 1 / (Math.abs(d) * (1 / valueAt1 - 1) + 1);
    case 'cosine': {
      const s = d * (Math.acos(2 * valueAt1 - 1) / Math.PI);
      return Math.abs(s) < 1 ? (1 + Math.cos(Math.PI * s)) / 2 : 0;
    }
    case 'linear': {
      const s = d * (1 - valueAt1);
      return Math.abs(s) < 1 ? 1 - s : 0;
    }
    case 'quadratic': {
      const s = d * Math.sqrt(1 - valueAt1);
      return Math.abs(s) < 1 ? 1 - s * s : 0;
    }
    case 'tanh_squared': {
      const t = Math.tanh(d * Math.atanh(Math.sqrt(1 - valueAt1)));
      return 1 - t * t;
    }
  }
}

function checkValueAtMargin(v: number, sigmoid: Sigmoid): void {
  // The three compact sigmoids may reach exactly 0 at the margin; the others only approach 0.
  const allowsZero = sigmoid === 'cosine' || sigmoid === 'linear' || sigmoid === 'quadratic';
  if (allowsZero ? !(v >= 0 && v < 1) : !(v > 0 && v < 1)) {
    throw rangeError(allowsZero ? 'a number in [0, 1)' : 'a number in (0, 1)', 'valueAtMargin', v);
  }
}

/**
 * 1 when lower ≤ x ≤ upper, else sigmoid(distance / margin) with value `valueAtMargin` at one
 * margin's distance (0 outside the bounds when margin is 0). NaN x gives NaN.
 */
export function tolerance(
  x: number,
  bounds: readonly [number, number] = [0, 0],
  margin = 0,
  sigmoid: Sigmoid = 'gaussian',
  valueAtMargin = DEFAULT_VALUE_AT_MARGIN,
): number {
  const lower = bounds[0];
  const upper = bounds[1];
  if (!(lower <= upper)) throw rangeError('bounds with lower <= upper', 'bounds', [lower, upper]);
  if (!(margin >= 0) || margin === Infinity) throw rangeError('a finite non-negative number', 'margin', margin);
  oneOf(sigmoid, SIGMOIDS, 'sigmoid');
  finiteNumber(valueAtMargin, 'valueAtMargin');
  if (margin > 0) checkValueAtMargin(valueAtMargin, sigmoid);
  if (lower <= x && x <= upper) return 1;
  if (Number.isNaN(x)) return NaN;
  if (margin === 0) return 0;
  const d = (x < lower ? lower - x : x - upper) / margin;
  return sigmoidValue(d, valueAtMargin, sigmoid);
}

/**
 * DMC's "small control" term: the mean over actuators of tolerance(u_i, margin 1, quadratic,
 * value 0) = mean(1 − u_i²) for normalised controls u in [−1, 1].
 */
export function smallControl(ctrl: ArrayLike<number>): number {
  if (ctrl.length === 0) return 1;
  let s = 0;
  // The closed form of that tolerance, without the per-call argument checks (hot path).
  for (let i = 0; i < ctrl.length; i++) {
    const u = ctrl[i];
    s += Math.abs(u) < 1 ? 1 - u * u : 0;
  }
  return s / ctrl.length;
}

/** Argument helpers shared by the ERA activations (lib/era/*.ts). */
import { empty, tensorArg, type Tensor } from '../tensor.js';

/** A [B, X] tensor: returns X after checking the rank and that X >= min. */
export function matrixCols(t: Tensor, name: string, layout: string, min: number, minWhat: string): number {
  if (t.shape.length !== 2) throw new RangeError(`Expected a 2-D tensor ${layout} for ${name} but received shape [${t.shape.join(', ')}]`);
  if (t.shape[1] < min) throw new RangeError(`Expected ${minWhat} for ${name} but received shape [${t.shape.join(', ')}]`);
  return t.shape[1];
}

/** Same device and shape as `ref`, or TypeError / RangeError naming `name`. */
export function checkLike(t: Tensor, name: string, ref: Tensor, refName: string): void {
  if (t.device !== ref.device) {
    throw new TypeError(`Expected a ${ref.device} tensor (the device of ${refName}) for ${name} but received a ${t.device} tensor`);
  }
  if (t.shape.join() !== ref.shape.join()) {
    throw new RangeError(`Expected shape [${ref.shape.join(', ')}] (the shape of ${refName}) for ${name} but received shape [${t.shape.join(', ')}]`);
  }
}

/**
 * Runs `fill` on the caller's `options.out` (checked against `like`) or on a fresh f32 tensor
 * shaped like `like` on its device; a fresh tensor is disposed when `fill` throws.
 */
export function withOut<R>(outOpt: unknown, like: Tensor, likeName: string, fill: (out: Tensor) => R): { out: Tensor; result: R } {
  if (outOpt !== undefined) {
    const out = tensorArg(outOpt, 'options.out', ['f32']);
    checkLike(out, 'options.out', like, likeName);
    return { out, result: fill(out) };
  }
  const out = empty(like.shape, { device: like.device, dtype: 'f32' });
  try {
    return { out, result: fill(out) };
  } catch (err) {
    out.dispose();
    throw err;
  }
}

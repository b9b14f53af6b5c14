/**
 * The basic tensor ops: copy, add, scale, exp. Each takes an optional `out` tensor to write into
 * (no allocation); without it a new tensor is returned on the inputs' device.
 */
import { native } from './native.js';
import { empty, tensorArg, type Tensor } from './tensor.js';
import { finiteNumber, optionNames, plainObject, typeError } from './validate.js';

// options.out of an element-wise op: a tensor like the input (dtype, device, shape), or a new one.
/** Runs the native op; a tensor outArg made for it is disposed if the op throws. */
function into(out: Tensor, fresh: boolean, op: () => void): Tensor {
  try {
    op();
  } catch (err) {
    if (fresh) out.dispose();
    throw err;
  }
  return out;
}

function outArg(value: unknown, like: Tensor, likeName: string): Tensor {
  if (value === undefined) return empty(like.shape, { dtype: like.dtype, device: like.device });
  const out = tensorArg(value, 'options.out');
  if (out.dtype !== like.dtype) {
    throw new TypeError(`Expected a ${like.dtype} tensor (the dtype of ${likeName}) for options.out but received a ${out.dtype} tensor`);
  }
  sameDevice(out, 'options.out', like, likeName);
  if (out.shape.join() !== like.shape.join()) {
    throw new RangeError(`Expected shape [${like.shape.join(', ')}] (the shape of ${likeName}) for options.out but received shape [${out.shape.join(', ')}]`);
  }
  return out;
}

function sameDevice(t: Tensor, name: string, ref: Tensor, refName: string): void {
  if (t.device !== ref.device) {
    throw new TypeError(`Expected a ${ref.device} tensor (the device of ${refName}) for ${name} but received a ${t.device} tensor`);
  }
}

/** Copies src into dst (same dtype and size; any pair of devices). Returns dst. */
export function copy(dst: Tensor, src: Tensor): Tensor {
  tensorArg(dst, 'dst');
  tensorArg(src, 'src');
  if (src.dtype !== dst.dtype) throw new TypeError(`Expected a ${dst.dtype} tensor (the dtype of dst) for src but received a ${src.dtype} tensor`);
  if (src.size !== dst.size) throw new RangeError(`Expected ${dst.size} elements (the size of dst) for src but received ${src.size} elements`);
  native().copy(dst.handle, src.handle);
  return dst;
}

const ADD_OPTIONS = optionNames('alpha', 'out');
const OUT_OPTIONS = optionNames('out');

/** a + alpha * b, element-wise (same shape, dtype and device). */
export function add(a: Tensor, b: Tensor, options?: { alpha?: number; out?: Tensor }): Tensor {
  tensorArg(a, 'a', ['f32', 'i32']);
  tensorArg(b, 'b', [a.dtype]);
  sameDevice(b, 'b', a, 'a');
  if (b.shape.join() !== a.shape.join()) {
    throw new RangeError(`Expected shape [${a.shape.join(', ')}] (the shape of a) for b but received shape [${b.shape.join(', ')}]`);
  }
  const o = plainObject(options, 'options', ADD_OPTIONS);
  const alpha = o.alpha === undefined ? 1 : finiteNumber(o.alpha, 'options.alpha');
  const out = outArg(o.out, a, 'a');
  return into(out, o.out === undefined, () => native().add(out.handle, a.handle, b.handle, alpha));
}

/** alpha * x, element-wise (f32). */
export function scale(x: Tensor, alpha: number, options?: { out?: Tensor }): Tensor {
  tensorArg(x, 'x', ['f32']);
  if (typeof alpha !== 'number') throw typeError('a finite number', 'alpha', alpha);
  finiteNumber(alpha, 'alpha');
  const o = plainObject(options, 'options', OUT_OPTIONS);
  const out = outArg(o.out, x, 'x');
  return into(out, o.out === undefined, () => native().scale(out.handle, x.handle, alpha));
}

/** exp(x), element-wise (f32; out may be x): within 2 ulp of the exact value on CPU and CUDA. */
export function exp(x: Tensor, options?: { out?: Tensor }): Tensor {
  tensorArg(x, 'x', ['f32']);
  const o = plainObject(options, 'options', OUT_OPTIONS);
  const out = outArg(o.out, x, 'x');
  return into(out, o.out === undefined, () => native().exp(out.handle, x.handle));
}

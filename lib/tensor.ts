/**
 * Tensors: a dtype, a shape and memory on one device. CPU tensors wrap the caller's TypedArray
 * without copying; CUDA tensors own device memory from the caching allocator. GPU memory is
 * invisible to the garbage collector, so dispose() tensors (or use `using`, or era.scope).
 *
 * Views (`reshape`, `view`, `slice`) share their parent's memory without copying. A view keeps
 * the memory alive (the parent's object cannot be garbage-collected under it), but disposing the
 * parent frees the memory at once: every view of it then throws the disposed error. Disposing a
 * view frees nothing. Views add no tensors and no bytes to era.memory().
 */
import { resolveDevice, type Device } from './device.js';
import { EraError } from './errors.js';
import { DEVICE_CODE, DTYPE_CODE, native, type HostArray, type NativeTensor } from './native.js';
import { toBf16Bits } from './nn/bf16.js';
import { adopt, release, viewDisposed } from './scope.js';
import { describe, integer, numel, oneOf, optionNames, plainObject, rangeError, shape as checkShape, typeError } from './validate.js';

export type DType = 'f32' | 'i32' | 'bf16';
export const DTYPES: readonly DType[] = ['f32', 'i32', 'bf16'];
export type TensorData = Float32Array | Int32Array | Uint16Array | readonly number[];

export interface TensorOptions {
  /** 'cpu' or 'cuda'; default: ERA_DEVICE, else cuda when usable, else cpu. */
  device?: Device;
  /** 'f32' (default for number[] and Float32Array), 'i32' (Int32Array) or 'bf16' (raw bits in a Uint16Array). */
  dtype?: DType;
}

/** The native constructor's view form: a tensor over `parent`'s elements from `offset` on. */
type ViewConstructor = new (dtype: number, device: number, shape: number[], data: null, parent: NativeTensor, offset: number) => NativeTensor;

/** Views lent out by their creator (a model's output): dispose() on them does nothing. */
const lent = new WeakSet<Tensor>();

function dtypeOfArray(data: unknown): DType | undefined {
  if (data instanceof Float32Array) return 'f32';
  if (data instanceof Int32Array) return 'i32';
  if (data instanceof Uint16Array) return 'bf16';
  return undefined;
}

export class Tensor implements Disposable {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: Device;
  /** Number of elements. */
  readonly size: number;
  /** Marks tensors for scope() without an import cycle. */
  readonly isEraTensor = true;
  /** @internal The native handle; pass tensors, not handles, to the public API. */
  readonly handle: NativeTensor;
  /** @internal For a view: the tensor that owns its memory (era.scope keeps it for a returned view). */
  readonly base?: Tensor;

  /** @internal Use era.tensor(), era.empty() and friends. */
  constructor(handle: NativeTensor, shape: readonly number[], dtype: DType, device: Device, base?: Tensor) {
    this.handle = handle;
    this.shape = Object.freeze(shape.slice());
    this.dtype = dtype;
    this.device = device;
    this.size = numel(shape);
    if (base) this.base = base;
    adopt(this);
  }

  get disposed(): boolean {
    return this.handle.isDisposed();
  }

  /**
   * Frees the tensor's memory now (a view: drops the view, never the parent's memory).
   * Disposing twice is harmless; tensors lent out by a model (its outputs) ignore it.
   */
  dispose(): void {
    if (lent.has(this) || this.handle.isDisposed()) return;
    this.handle.dispose();
    release(this);
    if (this.base) viewDisposed(this);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * The contents as a host array (synchronises with the GPU): a fresh copy, or written into `out`
   * (same dtype and size) to avoid allocating on every read.
   */
  toArray(out?: HostArray): HostArray {
    assertLive(this, 'tensor');
    return this.handle.readSync(out);
  }

  /** A fresh host copy, without blocking the event loop while the GPU finishes. */
  read(): Promise<HostArray> {
    try {
      assertLive(this, 'tensor');
      return this.handle.readAsync();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The TypedArray behind a CPU tensor (no copy: writes to it change the tensor). */
  get data(): HostArray {
    assertLive(this, 'tensor');
    if (this.device !== 'cpu') throw typeError('a cpu tensor (use toArray() or read() for cuda tensors)', 'tensor', this);
    return this.handle.hostArray();
  }

  /** Overwrites the contents from a host array of the same dtype and size. */
  write(data: HostArray | readonly number[]): this {
    assertLive(this, 'tensor');
    this.handle.write(Array.isArray(data) ? hostArrayFrom(data as readonly number[], this.dtype, 'data') : (data as HostArray));
    return this;
  }

  fill(value: number): this {
    assertLive(this, 'tensor');
    if (typeof value !== 'number') throw typeError('a number', 'value', value);
    // The fill kernels write 32-bit elements: a bf16 tensor gets its bits (rounded to nearest
    // even) written from the host instead.
    if (this.dtype === 'bf16') this.handle.write(new Uint16Array(this.size).fill(toBf16Bits(value)));
    else native().fill(this.handle, value);
    return this;
  }

  /** A new tensor with the same contents on `device` (default: this tensor's device). */
  to(device?: Device): Tensor {
    assertLive(this, 'tensor');
    const out = empty(this.shape, { dtype: this.dtype, device: device ?? this.device });
    try {
      native().copy(out.handle, this.handle);
    } catch (err) {
      out.dispose(); // a refused copy (inside a graph capture, a detached buffer) leaves nothing behind
      throw err;
    }
    return out;
  }

  clone(): Tensor {
    return this.to(this.device);
  }

  /**
   * The same memory under another shape with the same number of elements (no copy). One
   * dimension may be -1: it is inferred from the others.
   */
  reshape(shape: readonly number[]): Tensor {
    assertLive(this, 'tensor');
    return this.view(0, inferShape(shape, this.size, 'shape'));
  }

  /**
   * A tensor over elements [offset, offset + numel(shape)) of this one's memory, in row-major
   * order (no copy; writes through either are seen by both).
   */
  view(offset: number, shape: readonly number[]): Tensor {
    assertLive(this, 'tensor');
    integer(offset, 'offset', 0);
    const dims = checkShape(shape, 'shape');
    const n = numel(dims);
    if (offset + n > this.size) {
      throw rangeError(`an offset of at most ${Math.max(0, this.size - n)} (the tensor has ${this.size} elements, the view ${n})`, 'offset', offset);
    }
    const Ctor = native().NativeTensor as unknown as ViewConstructor;
    const handle = new Ctor(DTYPE_CODE[this.dtype], DEVICE_CODE[this.device], dims, null, this.handle, offset);
    return new Tensor(handle, dims, this.dtype, this.device, this.base ?? this);
  }

  /** Rows [start, end) along the first dimension (end defaults to all of them): a view. */
  slice(start: number, end?: number): Tensor {
    assertLive(this, 'tensor');
    if (this.shape.length === 0) throw rangeError('a tensor with at least one dimension', 'tensor', this);
    const rows = this.shape[0];
    integer(start, 'start', 0, rows);
    const stop = end === undefined ? rows : integer(end, 'end', start, rows);
    const inner = rows === 0 ? 0 : this.size / rows;
    return this.view(start * inner, [stop - start, ...this.shape.slice(1)]);
  }

  toString(): string {
    return `Tensor(${this.device}, ${this.dtype}, [${this.shape.join(', ')}]${this.disposed ? ', disposed' : ''})`;
  }
}

/**
 * @internal A view that its creator keeps owning (a model's output, valid until its next call):
 * no scope adopts it and dispose() on it does nothing.
 */
export function lendView(parent: Tensor, offset: number, shape: readonly number[]): Tensor {
  const t = parent.view(offset, shape);
  lent.add(t);
  release(t);
  return t;
}

/** A shape with at most one -1, resolved against `size` elements. */
function inferShape(value: unknown, size: number, name: string): number[] {
  if (!Array.isArray(value)) throw typeError('an array of non-negative integers (one may be -1)', name, value);
  let unknownAt = -1;
  let known = 1;
  value.forEach((d, i) => {
    if (d === -1 && unknownAt < 0) unknownAt = i;
    else if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw (typeof d === 'number' ? rangeError : typeError)('an array of non-negative integers (one may be -1)', name, value);
    } else known *= d;
  });
  const dims = value.slice() as number[];
  if (unknownAt >= 0) {
    if (known === 0 || size % known !== 0) throw rangeError(`a shape whose -1 can be inferred for ${size} elements`, name, value);
    dims[unknownAt] = size / known;
  }
  checkShape(dims, name);
  if (numel(dims) !== size) throw rangeError(`a shape with ${size} elements (the tensor's size)`, name, value);
  return dims;
}

/** Throws EraError(ERA_DISPOSED) naming `name` when `t` was disposed. */
export function assertLive(t: Tensor, name: string): void {
  if (t.handle.isDisposed()) {
    throw new EraError(`Expected a live tensor for ${name} but received a disposed tensor (${t.device}, shape [${t.shape.join(', ')}])`, 'ERA_DISPOSED');
  }
}

/** Validates a tensor argument: a live Tensor, optionally of given dtypes. */
export function tensorArg(value: unknown, name: string, dtypes?: readonly DType[]): Tensor {
  if (!(value instanceof Tensor)) throw typeError('a Tensor', name, value);
  assertLive(value, name);
  if (dtypes && !dtypes.includes(value.dtype)) {
    throw new TypeError(`Expected a ${dtypes.join(' or ')} tensor for ${name} but received a ${value.dtype} tensor`);
  }
  return value;
}

function hostArrayFrom(data: readonly number[], dtype: DType, name: string): HostArray {
  const out = dtype === 'i32' ? new Int32Array(data.length) : dtype === 'bf16' ? new Uint16Array(data.length) : new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v !== 'number') throw typeError(`an array of numbers (element ${i} is not)`, name, v);
    if (dtype !== 'f32' && (!Number.isInteger(v) || v < (dtype === 'i32' ? -2147483648 : 0) || v > (dtype === 'i32' ? 2147483647 : 65535))) {
      throw rangeError(`${dtype === 'i32' ? '32-bit integers' : '16-bit bf16 bit patterns'} (element ${i} is not)`, name, v);
    }
    out[i] = v;
  }
  return out;
}

const TENSOR_OPTIONS = optionNames('device', 'dtype');

function parseOptions(opts: unknown): { device: Device; dtype?: DType } {
  const o = plainObject(opts, 'options', TENSOR_OPTIONS);
  const dtype = o.dtype === undefined ? undefined : oneOf(o.dtype, DTYPES, 'options.dtype');
  return { device: resolveDevice(o.device, 'options.device'), dtype };
}

/**
 * era.tensor(data, shape?, { device, dtype }): a tensor from a Float32Array, Int32Array,
 * Uint16Array (bf16 bits) or number[]. On the CPU a TypedArray is wrapped without copying.
 */
export function tensor(data: TensorData, shape?: readonly number[], options?: TensorOptions): Tensor {
  const typed = dtypeOfArray(data);
  if (!typed && !Array.isArray(data)) throw typeError('a Float32Array, Int32Array, Uint16Array or array of numbers', 'data', data);
  const dims = shape === undefined ? [data.length] : checkShape(shape, 'shape');
  const { device, dtype: requested } = parseOptions(options);
  const dtype = requested ?? typed ?? 'f32';
  if (typed && requested && typed !== requested) {
    throw new TypeError(`Expected a ${requested === 'f32' ? 'Float32Array' : requested === 'i32' ? 'Int32Array' : 'Uint16Array'} for data (options.dtype is '${requested}') but received ${describe(data)}`);
  }
  if (numel(dims) !== data.length) {
    throw new RangeError(`Expected ${numel(dims)} elements (shape [${dims.join(', ')}]) for data but received ${describe(data)}`);
  }
  const host = typed ? (data as HostArray) : hostArrayFrom(data as readonly number[], dtype, 'data');
  const handle = new (native().NativeTensor)(DTYPE_CODE[dtype], DEVICE_CODE[device], dims, host);
  return new Tensor(handle, dims, dtype, device);
}

/** An uninitialised tensor (CPU tensors start at zero; CUDA memory is not cleared). */
export function empty(shape: readonly number[], options?: TensorOptions): Tensor {
  const dims = checkShape(shape, 'shape');
  const { device, dtype = 'f32' } = parseOptions(options);
  const handle = new (native().NativeTensor)(DTYPE_CODE[dtype], DEVICE_CODE[device], dims, null);
  return new Tensor(handle, dims, dtype, device);
}

export function full(shape: readonly number[], value: number, options?: TensorOptions): Tensor {
  if (typeof value !== 'number') throw typeError('a number', 'value', value);
  const t = empty(shape, options);
  try {
    return t.fill(value);
  } catch (err) {
    t.dispose();
    throw err;
  }
}

export function zeros(shape: readonly number[], options?: TensorOptions): Tensor {
  return full(shape, 0, options);
}

export function ones(shape: readonly number[], options?: TensorOptions): Tensor {
  return full(shape, 1, options);
}

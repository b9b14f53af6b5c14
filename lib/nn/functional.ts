/**
 * Dense-network building blocks as functions over tensors, forward and backward, on either
 * backend: `matmul` (the one GEMM every layer uses), `linear`, the activations (ReLU, ELU with
 * α = 1, tanh), `layerNorm`, `concat`/`split` along the last dim, `mseLoss`, and `sum`/`mean`.
 *
 * Conventions (llm.c style, so a model can preallocate everything):
 * - Every output can be passed in as `options.out` (or the named output options); without it a
 *   fresh f32 tensor is allocated on the inputs' device. Outputs never alias inputs unless a
 *   function says so.
 * - A linear layer's weight is `[in, out]` (y = x · W + b), so its backward is
 *   dx = dy · Wᵀ, dW = xᵀ · dy, db = Σ_rows dy, all through `matmul`'s transposed forms.
 * - Activation backwards take the forward *output* y (every activation here has a derivative that
 *   is a function of its output), so the pre-activation never needs to be kept.
 * - `accumulate: true` adds into the output instead of overwriting it (gradient accumulation).
 *
 * Arguments are validated here and again in the native op layer; errors are TypeError/RangeError
 * naming the argument (`Expected <what> for <name> but received <value>`).
 */
import { native, type NativeTensor } from '../native.js';
import { empty, tensorArg, type Tensor } from '../tensor.js';
import { finiteNumber, knownOptions, oneOf, optionNames, plainObject, rangeError, typeError } from '../validate.js';

export type Activation = 'none' | 'relu' | 'elu' | 'tanh';
export type Precision = 'f32' | 'tf32' | 'bf16';

export const ACTIVATIONS: readonly Activation[] = ['none', 'relu', 'elu', 'tanh'];
export const PRECISIONS: readonly Precision[] = ['f32', 'tf32', 'bf16'];
/** Codes shared with native/core/activation.h and native/ops/gemm.h. */
export const ACTIVATION_CODE: Record<Activation, number> = { none: 0, relu: 1, elu: 2, tanh: 3 };
export const PRECISION_CODE: Record<Precision, number> = { f32: 0, tf32: 1, bf16: 2 };
const DIM_CODE = { all: 0, last: 1, first: 2 } as const;

// The option names each function reads (unknown keys are a TypeError: validate.knownOptions).
const MATMUL_OPTIONS = optionNames('transA', 'transB', 'bias', 'activation', 'out', 'accumulate', 'precision');
const MATMUL_KERNEL_OPTIONS = optionNames('transA', 'transB', 'dtype', 'precision', 'device');
const LINEAR_OPTIONS = optionNames('activation', 'out', 'precision');
const LINEAR_BACKWARD_OPTIONS = optionNames('dx', 'dWeight', 'dBias', 'inputGrad', 'biasGrad', 'accumulate', 'precision');
const OUT_OPTIONS = optionNames('out');
const LAYER_NORM_OPTIONS = optionNames('eps', 'out', 'mean', 'rstd');
const LAYER_NORM_BACKWARD_OPTIONS = optionNames('dx', 'dWeight', 'dBias', 'inputGrad', 'accumulate');
const MSE_BACKWARD_OPTIONS = optionNames('scale', 'out');
const REDUCE_OPTIONS = optionNames('dim', 'out', 'accumulate');

interface DenseNativeApi {
  matmul(out: NativeTensor, a: NativeTensor, b: NativeTensor, bias: NativeTensor | null, transA: boolean, transB: boolean,
    activation: number, accumulate: boolean, precision: number): void;
  matmulKernel(m: number, n: number, k: number, batch: number, transA: boolean, transB: boolean, bf16: boolean, precision: number, cuda: boolean): string;
  activation(out: NativeTensor, x: NativeTensor, activation: number): void;
  activationBackward(dx: NativeTensor, dy: NativeTensor, y: NativeTensor, activation: number): void;
  layerNorm(y: NativeTensor, mean: NativeTensor, rstd: NativeTensor, x: NativeTensor, weight: NativeTensor, bias: NativeTensor, eps: number): void;
  layerNormBackward(dx: NativeTensor | null, dWeight: NativeTensor | null, dBias: NativeTensor | null, dy: NativeTensor, x: NativeTensor,
    weight: NativeTensor, mean: NativeTensor, rstd: NativeTensor, accumulate: boolean): void;
  concat(out: NativeTensor, inputs: NativeTensor[]): void;
  split(outs: NativeTensor[], x: NativeTensor): void;
  mseLoss(out: NativeTensor, pred: NativeTensor, target: NativeTensor): void;
  mseLossBackward(grad: NativeTensor, pred: NativeTensor, target: NativeTensor, scale: number): void;
  reduceSum(out: NativeTensor, x: NativeTensor, dim: number, mean: boolean, accumulate: boolean): void;
  reduceSumBackward(dx: NativeTensor, dy: NativeTensor, dim: number, mean: boolean, accumulate: boolean): void;
}

/** @internal The dense-network part of the addon. */
export const denseApi = (): DenseNativeApi => native() as unknown as DenseNativeApi;

// ---------------------------------------------------------------------------------------------
// Argument helpers.

const shapeStr = (s: readonly number[]) => `[${s.join(', ')}]`;

function sameDevice(t: Tensor, name: string, ref: Tensor, refName: string): void {
  if (t.device !== ref.device) {
    throw new TypeError(`Expected a ${ref.device} tensor (the device of ${refName}) for ${name} but received a ${t.device} tensor`);
  }
}

function sameShape(t: Tensor, name: string, ref: Tensor, refName: string): void {
  if (t.shape.join() !== ref.shape.join()) {
    throw new RangeError(`Expected shape ${shapeStr(ref.shape)} (the shape of ${refName}) for ${name} but received shape ${shapeStr(t.shape)}`);
  }
}

function boolOpt(value: unknown, name: string, dflt: boolean): boolean {
  if (value === undefined) return dflt;
  if (typeof value !== 'boolean') throw typeError('a boolean', name, value);
  return value;
}

/** An f32 output on `device`: the caller's (checked against `shape`) or a fresh one. */
function outputArg(value: unknown, name: string, shape: readonly number[], device: Tensor['device'], what?: string): { t: Tensor; fresh: boolean } {
  if (value === undefined || value === null) return { t: empty(shape, { device, dtype: 'f32' }), fresh: true };
  const t = tensorArg(value, name, ['f32']);
  if (t.device !== device) throw new TypeError(`Expected a ${device} tensor (the device of the inputs) for ${name} but received a ${t.device} tensor`);
  if (t.shape.join() !== shape.join()) {
    throw new RangeError(`Expected shape ${shapeStr(shape)}${what ? ` (${what})` : ''} for ${name} but received shape ${shapeStr(t.shape)}`);
  }
  return { t, fresh: false };
}

/** Runs `fn`; on failure disposes the freshly allocated outputs and rethrows. */
function guardFresh<R>(outs: { t: Tensor; fresh: boolean }[], fn: () => R): R {
  try {
    return fn();
  } catch (err) {
    for (const o of outs) if (o.fresh) o.t.dispose();
    throw err;
  }
}

function rankAtLeast(t: Tensor, name: string, n: number, layout: string): void {
  if (t.shape.length < n) throw new RangeError(`Expected a tensor ${layout} for ${name} but received shape ${shapeStr(t.shape)}`);
}

// ---------------------------------------------------------------------------------------------
// matmul

export interface MatmulOptions {
  /** a is stored [k, m]; the product uses aᵀ. */
  transA?: boolean;
  /** b is stored [n, k]; the product uses bᵀ. */
  transB?: boolean;
  /** f32 [n] (or [batch, n] for a batched product), added to every row. */
  bias?: Tensor;
  /** Applied last: out = act(op(a) · op(b) + bias). Default 'none'. */
  activation?: Activation;
  /** Where to write (f32 [m, n], or [batch, m, n]). */
  out?: Tensor;
  /** Add into options.out: out = act(out + op(a) · op(b) + bias). Needs options.out. */
  accumulate?: boolean;
  /**
   * f32 inputs: 'f32' (default; exact f32 FMAs), 'tf32' or 'bf16' (tensor cores on CUDA; the
   * operands are rounded to that precision, with f32 accumulation). bf16 inputs: 'bf16' only.
   * The CPU backend rounds its operands the same way, so results differ from CUDA's only by
   * summation order.
   */
  precision?: Precision;
}

interface GemmGeometry {
  m: number;
  n: number;
  k: number;
  batch: number;
  batched: boolean;
}

function gemmGeometry(a: Tensor, b: Tensor, transA: boolean, transB: boolean): GemmGeometry {
  for (const [t, name, layout] of [[a, 'a', transA ? '[k, m]' : '[m, k]'], [b, 'b', transB ? '[n, k]' : '[k, n]']] as const) {
    if (t.shape.length !== 2 && t.shape.length !== 3) {
      throw new RangeError(`Expected a 2-D tensor ${layout} or a batched 3-D tensor for ${name} but received shape ${shapeStr(t.shape)}`);
    }
  }
  const r = (t: Tensor, i: number) => t.shape[t.shape.length + i];
  const m = transA ? r(a, -1) : r(a, -2);
  const k = transA ? r(a, -2) : r(a, -1);
  const kb = transB ? r(b, -1) : r(b, -2);
  const n = transB ? r(b, -2) : r(b, -1);
  if (kb !== k) {
    throw new RangeError(`Expected ${k} rows of op(b) (the inner dimension of op(a)) for b but received shape ${shapeStr(b.shape)}${transB ? ' (transB)' : ''}`);
  }
  const batched = a.shape.length === 3 || b.shape.length === 3;
  let batch = 1;
  if (a.shape.length === 3) batch = a.shape[0];
  if (b.shape.length === 3) {
    if (a.shape.length === 3 && b.shape[0] !== batch) {
      throw new RangeError(`Expected a batch of ${batch} (the batch of a) for b but received shape ${shapeStr(b.shape)}`);
    }
    batch = b.shape[0];
  }
  return { m, n, k, batch, batched };
}

/**
 * out = act(op(a) · op(b) + bias) with f32 output and accumulation. a and b are f32 or bf16
 * (same dtype), 2-D, or 3-D with a leading batch dim (a 2-D operand is shared by every batch
 * entry). Any m, n, k, including ragged sizes and k = 0 (out = act(bias)).
 */
export function matmul(a: Tensor, b: Tensor, options?: MatmulOptions): Tensor {
  tensorArg(a, 'a', ['f32', 'bf16']);
  tensorArg(b, 'b', [a.dtype]);
  sameDevice(b, 'b', a, 'a');
  const o = plainObject(options, 'options', MATMUL_OPTIONS);
  const transA = boolOpt(o.transA, 'options.transA', false);
  const transB = boolOpt(o.transB, 'options.transB', false);
  const accumulate = boolOpt(o.accumulate, 'options.accumulate', false);
  const activation = o.activation === undefined ? 'none' : oneOf(o.activation, ACTIVATIONS, 'options.activation');
  const precision = o.precision === undefined ? (a.dtype === 'bf16' ? 'bf16' : 'f32') : oneOf(o.precision, PRECISIONS, 'options.precision');
  if (a.dtype === 'bf16' && precision !== 'bf16') throw rangeError("'bf16' (the only precision for bf16 inputs)", 'options.precision', precision);
  const g = gemmGeometry(a, b, transA, transB);
  let bias: Tensor | null = null;
  if (o.bias !== undefined && o.bias !== null) {
    bias = tensorArg(o.bias, 'options.bias', ['f32']);
    sameDevice(bias, 'options.bias', a, 'a');
    const ok = (bias.shape.length === 1 && bias.shape[0] === g.n) || (g.batched && bias.shape.length === 2 && bias.shape[0] === g.batch && bias.shape[1] === g.n);
    if (!ok) {
      throw new RangeError(`Expected shape [${g.n}]${g.batched ? ` or [${g.batch}, ${g.n}]` : ''} (the columns of out) for options.bias but received shape ${shapeStr(bias.shape)}`);
    }
  }
  if (accumulate && (o.out === undefined || o.out === null)) throw rangeError('false when options.out is not given (there is nothing to add to)', 'options.accumulate', accumulate);
  const outShape = g.batched ? [g.batch, g.m, g.n] : [g.m, g.n];
  const out = outputArg(o.out, 'options.out', outShape, a.device, 'op(a) · op(b)');
  return guardFresh([out], () => {
    denseApi().matmul(out.t.handle, a.handle, b.handle, bias?.handle ?? null, transA, transB, ACTIVATION_CODE[activation], accumulate, PRECISION_CODE[precision]);
    return out.t;
  });
}

/** The kernel matmul would run for a problem (e.g. "tc-bf16 128x256 NN vec"), for benches and tests. */
export function matmulKernel(shape: { m: number; n: number; k: number; batch?: number }, options?: { transA?: boolean; transB?: boolean; dtype?: 'f32' | 'bf16'; precision?: Precision; device?: 'cpu' | 'cuda' }): string {
  const o = options ?? {};
  knownOptions(o, MATMUL_KERNEL_OPTIONS);
  const bf16 = o.dtype === 'bf16';
  const precision = o.precision ?? (bf16 ? 'bf16' : 'f32');
  return denseApi().matmulKernel(shape.m, shape.n, shape.k, shape.batch ?? 1, o.transA ?? false, o.transB ?? false, bf16, PRECISION_CODE[precision], o.device === 'cuda');
}

/** The CUDA GEMM kernels for bf16 products. */
export type CudaGemmKernel = 'auto' | 'mma' | 'wgmma';
const CUDA_GEMM_KERNELS: readonly CudaGemmKernel[] = ['auto', 'mma', 'wgmma'];

/**
 * Which CUDA kernel bf16 matmuls take, and the choices this build and GPU offer: 'auto' (the
 * default: the Hopper wgmma kernel for products large enough to fill the GPU with its 128×256
 * tiles, where it runs, mma.sync otherwise), 'mma' (always mma.sync) and, on a compute capability
 * 9.0 GPU (H100, H200) with the sm_90a build, 'wgmma' (wherever it applies: bf16 operands whose
 * leading dimensions are multiples of 8). f32 and tf32 products are not affected. Needs CUDA.
 * `ERA_CUDA_GEMM=mma` (or another choice) sets it for a whole process. `wgmmaUnavailable` says why
 * 'wgmma' is not offered (another GPU, no sm_90a code, or its first-use result check failed).
 */
export function cudaGemmKernels(): { kernel: CudaGemmKernel; kernels: CudaGemmKernel[]; wgmmaUnavailable?: string } {
  const r = native().cudaGemmKernels();
  return {
    kernel: r.kernel as CudaGemmKernel, kernels: r.kernels as CudaGemmKernel[],
    ...(r.wgmmaUnavailable === undefined ? {} : { wgmmaUnavailable: r.wgmmaUnavailable }),
  };
}

/** Selects the CUDA kernel of bf16 matmuls for the process (one of cudaGemmKernels().kernels); for tests and benches that compare them. */
export function setCudaGemmKernel(name: CudaGemmKernel): void {
  // The native call refuses a kernel this device does not offer, naming `name` too.
  native().setCudaGemmKernel(oneOf(name, CUDA_GEMM_KERNELS, 'name'));
}

// ---------------------------------------------------------------------------------------------
// linear

export interface LinearOptions {
  activation?: Activation;
  out?: Tensor;
  precision?: Precision;
}

/** y = act(x · W + b): x [rows, in] (or [batch, rows, in]), weight [in, out], bias [out] or null. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, options?: LinearOptions): Tensor {
  const o = plainObject(options, 'options', LINEAR_OPTIONS);
  tensorArg(x, 'x', ['f32', 'bf16']);
  tensorArg(weight, 'weight', [x.dtype]);
  return matmul(x, weight, { bias: bias ?? undefined, activation: o.activation as Activation | undefined, out: o.out as Tensor | undefined, precision: o.precision as Precision | undefined });
}

export interface LinearBackwardOptions {
  /** Where to write dx [rows, in]. */
  dx?: Tensor;
  /** Where to write dW [in, out]. */
  dWeight?: Tensor;
  /** Where to write db [out]. */
  dBias?: Tensor;
  /** Compute dx (default true; false for a first layer). */
  inputGrad?: boolean;
  /** Compute db (default true). */
  biasGrad?: boolean;
  /** Add dW and db into options.dWeight / options.dBias (gradient accumulation); dx is always written. */
  accumulate?: boolean;
  precision?: Precision;
}

export interface LinearGrads {
  dx: Tensor | null;
  dWeight: Tensor;
  dBias: Tensor | null;
}

/**
 * The backward of `linear` (without its activation: pass dy through the activation's backward
 * first). dy [rows, out], x [rows, in], weight [in, out] (f32, 2-D):
 * dx = dy · Wᵀ, dW = xᵀ · dy, db = Σ_rows dy.
 */
export function linearBackward(dy: Tensor, x: Tensor, weight: Tensor, options?: LinearBackwardOptions): LinearGrads {
  tensorArg(dy, 'dy', ['f32']);
  tensorArg(x, 'x', ['f32']);
  tensorArg(weight, 'weight', ['f32']);
  sameDevice(x, 'x', dy, 'dy');
  sameDevice(weight, 'weight', dy, 'dy');
  for (const [t, name, layout] of [[dy, 'dy', '[rows, out]'], [x, 'x', '[rows, in]'], [weight, 'weight', '[in, out]']] as const) {
    if (t.shape.length !== 2) throw new RangeError(`Expected a 2-D tensor ${layout} for ${name} but received shape ${shapeStr(t.shape)}`);
  }
  const [rows, nOut] = dy.shape;
  const nIn = weight.shape[0];
  if (weight.shape[1] !== nOut) throw new RangeError(`Expected shape [${nIn}, ${nOut}] (out = the last dim of dy) for weight but received shape ${shapeStr(weight.shape)}`);
  if (x.shape[0] !== rows || x.shape[1] !== nIn) throw new RangeError(`Expected shape [${rows}, ${nIn}] (rows of dy, in of weight) for x but received shape ${shapeStr(x.shape)}`);
  const o = plainObject(options, 'options', LINEAR_BACKWARD_OPTIONS);
  const inputGrad = boolOpt(o.inputGrad, 'options.inputGrad', true);
  const biasGrad = boolOpt(o.biasGrad, 'options.biasGrad', true);
  const accumulate = boolOpt(o.accumulate, 'options.accumulate', false);
  const precision = o.precision === undefined ? 'f32' : oneOf(o.precision, PRECISIONS, 'options.precision');
  if (accumulate && (o.dWeight === undefined || (biasGrad && o.dBias === undefined))) {
    throw rangeError('false unless options.dWeight (and options.dBias) are given', 'options.accumulate', accumulate);
  }
  const dW = outputArg(o.dWeight, 'options.dWeight', [nIn, nOut], dy.device, 'the shape of weight');
  const outs = [dW];
  const dxo = inputGrad ? outputArg(o.dx, 'options.dx', [rows, nIn], dy.device, 'the shape of x') : null;
  if (dxo) outs.push(dxo);
  const dbo = biasGrad ? outputArg(o.dBias, 'options.dBias', [nOut], dy.device, 'the bias shape [out]') : null;
  if (dbo) outs.push(dbo);
  return guardFresh(outs, () => {
    const api = denseApi();
    const p = PRECISION_CODE[precision];
    api.matmul(dW.t.handle, x.handle, dy.handle, null, true, false, 0, accumulate, p);
    if (dxo) api.matmul(dxo.t.handle, dy.handle, weight.handle, null, false, true, 0, false, p);
    if (dbo) api.reduceSum(dbo.t.handle, dy.handle, DIM_CODE.first, false, accumulate);
    return { dx: dxo?.t ?? null, dWeight: dW.t, dBias: dbo?.t ?? null };
  });
}

// ---------------------------------------------------------------------------------------------
// Activations

/** y = act(x), element-wise (f32). options.out may be x itself (in place). */
export function activation(x: Tensor, kind: Activation, options?: { out?: Tensor }): Tensor {
  tensorArg(x, 'x', ['f32']);
  const act = oneOf(kind, ACTIVATIONS, 'activation');
  const o = plainObject(options, 'options', OUT_OPTIONS);
  const out = outputArg(o.out, 'options.out', x.shape, x.device, 'the shape of x');
  return guardFresh([out], () => {
    denseApi().activation(out.t.handle, x.handle, ACTIVATION_CODE[act]);
    return out.t;
  });
}

/** dx from dy and the forward output y (f32, same shape). options.out may be dy itself. */
export function activationBackward(dy: Tensor, y: Tensor, kind: Activation, options?: { out?: Tensor }): Tensor {
  tensorArg(dy, 'dy', ['f32']);
  tensorArg(y, 'y', ['f32']);
  sameDevice(y, 'y', dy, 'dy');
  sameShape(y, 'y', dy, 'dy');
  const act = oneOf(kind, ACTIVATIONS, 'activation');
  const o = plainObject(options, 'options', OUT_OPTIONS);
  const out = outputArg(o.out, 'options.out', dy.shape, dy.device, 'the shape of dy');
  return guardFresh([out], () => {
    denseApi().activationBackward(out.t.handle, dy.handle, y.handle, ACTIVATION_CODE[act]);
    return out.t;
  });
}

export const relu = (x: Tensor, options?: { out?: Tensor }): Tensor => activation(x, 'relu', options);
export const elu = (x: Tensor, options?: { out?: Tensor }): Tensor => activation(x, 'elu', options);
export const tanh = (x: Tensor, options?: { out?: Tensor }): Tensor => activation(x, 'tanh', options);
/** dx = dy · [y > 0]. */
export const reluBackward = (dy: Tensor, y: Tensor, options?: { out?: Tensor }): Tensor => activationBackward(dy, y, 'relu', options);
/** dx = dy · (y > 0 ? 1 : y + 1). */
export const eluBackward = (dy: Tensor, y: Tensor, options?: { out?: Tensor }): Tensor => activationBackward(dy, y, 'elu', options);
/** dx = dy · (1 − y²). */
export const tanhBackward = (dy: Tensor, y: Tensor, options?: { out?: Tensor }): Tensor => activationBackward(dy, y, 'tanh', options);

// ---------------------------------------------------------------------------------------------
// LayerNorm

export interface LayerNormOptions {
  /** Default 1e-5. */
  eps?: number;
  out?: Tensor;
  /** Where to write the per-row mean (x.shape without its last dim). */
  mean?: Tensor;
  /** Where to write the per-row 1 / sqrt(var + eps). */
  rstd?: Tensor;
}

export interface LayerNormResult {
  y: Tensor;
  mean: Tensor;
  rstd: Tensor;
}

/** weight/bias of a LayerNorm over x [..., d]: [d], or [E, d] per member when x is [E, ..., d]. */
function normParamShape(t: Tensor, name: string, x: Tensor, d: number): number[] {
  const shared = t.shape.length === 1 && t.shape[0] === d;
  const perMember = t.shape.length === 2 && x.shape.length >= 2 && t.shape[0] === x.shape[0] && t.shape[1] === d;
  if (!shared && !perMember) {
    const forms = x.shape.length >= 2 ? `[${d}] or [${x.shape[0]}, ${d}] (one row per member of x's first dim)` : `[${d}]`;
    throw new RangeError(`Expected shape ${forms} for ${name} but received shape ${shapeStr(t.shape)}`);
  }
  return t.shape.slice();
}

/**
 * y = (x − mean) · rstd · weight + bias over the last dim of x [..., d] (biased variance,
 * rstd = 1 / sqrt(var + eps)). Returns y and the per-row mean and rstd the backward needs.
 * weight and bias are [d], or [E, d] for an ensemble x [E, ..., d] (member e uses row e).
 */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, options?: LayerNormOptions): LayerNormResult {
  tensorArg(x, 'x', ['f32']);
  rankAtLeast(x, 'x', 1, '[..., d]');
  const d = x.shape[x.shape.length - 1];
  if (d < 1) throw rangeError('a last dimension of at least 1', 'x', x.shape.slice());
  for (const [t, name] of [[weight, 'weight'], [bias, 'bias']] as const) {
    tensorArg(t, name, ['f32']);
    sameDevice(t, name, x, 'x');
    normParamShape(t, name, x, d);
  }
  if (weight.shape.join() !== bias.shape.join()) throw new RangeError(`Expected the shape of weight ${shapeStr(weight.shape)} for bias but received shape ${shapeStr(bias.shape)}`);
  const o = plainObject(options, 'options', LAYER_NORM_OPTIONS);
  const eps = o.eps === undefined ? 1e-5 : finiteNumber(o.eps, 'options.eps');
  if (!(eps > 0)) throw rangeError('a positive number', 'options.eps', eps);
  const rowShape = x.shape.slice(0, -1);
  const y = outputArg(o.out, 'options.out', x.shape, x.device, 'the shape of x');
  const mean = outputArg(o.mean, 'options.mean', rowShape, x.device, 'one per row of x');
  const rstd = outputArg(o.rstd, 'options.rstd', rowShape, x.device, 'one per row of x');
  return guardFresh([y, mean, rstd], () => {
    denseApi().layerNorm(y.t.handle, mean.t.handle, rstd.t.handle, x.handle, weight.handle, bias.handle, eps);
    return { y: y.t, mean: mean.t, rstd: rstd.t };
  });
}

export interface LayerNormBackwardOptions {
  dx?: Tensor;
  dWeight?: Tensor;
  dBias?: Tensor;
  /** Compute dx (default true). */
  inputGrad?: boolean;
  /** Add into options.dWeight / options.dBias. */
  accumulate?: boolean;
}

export interface LayerNormGrads {
  dx: Tensor | null;
  dWeight: Tensor;
  dBias: Tensor;
}

/** The backward of layerNorm from dy, x, weight and the forward's mean and rstd. */
export function layerNormBackward(dy: Tensor, x: Tensor, weight: Tensor, mean: Tensor, rstd: Tensor, options?: LayerNormBackwardOptions): LayerNormGrads {
  tensorArg(x, 'x', ['f32']);
  rankAtLeast(x, 'x', 1, '[..., d]');
  const d = x.shape[x.shape.length - 1];
  tensorArg(dy, 'dy', ['f32']);
  sameDevice(dy, 'dy', x, 'x');
  sameShape(dy, 'dy', x, 'x');
  tensorArg(weight, 'weight', ['f32']);
  sameDevice(weight, 'weight', x, 'x');
  const paramShape = normParamShape(weight, 'weight', x, d);
  const rows = d ? x.size / d : 0;
  for (const [t, name] of [[mean, 'mean'], [rstd, 'rstd']] as const) {
    tensorArg(t, name, ['f32']);
    sameDevice(t, name, x, 'x');
    if (t.size !== rows) throw new RangeError(`Expected ${rows} elements (one per row of x) for ${name} but received shape ${shapeStr(t.shape)}`);
  }
  const o = plainObject(options, 'options', LAYER_NORM_BACKWARD_OPTIONS);
  const inputGrad = boolOpt(o.inputGrad, 'options.inputGrad', true);
  const accumulate = boolOpt(o.accumulate, 'options.accumulate', false);
  if (accumulate && (o.dWeight === undefined || o.dBias === undefined)) {
    throw rangeError('false unless options.dWeight and options.dBias are given', 'options.accumulate', accumulate);
  }
  const dW = outputArg(o.dWeight, 'options.dWeight', paramShape, x.device, 'the shape of weight');
  const dB = outputArg(o.dBias, 'options.dBias', paramShape, x.device, 'the shape of weight');
  const dX = inputGrad ? outputArg(o.dx, 'options.dx', x.shape, x.device, 'the shape of x') : null;
  const outs = dX ? [dW, dB, dX] : [dW, dB];
  return guardFresh(outs, () => {
    denseApi().layerNormBackward(dX?.t.handle ?? null, dW.t.handle, dB.t.handle, dy.handle, x.handle, weight.handle, mean.handle, rstd.handle, accumulate);
    return { dx: dX?.t ?? null, dWeight: dW.t, dBias: dB.t };
  });
}

// ---------------------------------------------------------------------------------------------
// concat / split

function partsArg(value: unknown, name: string): Tensor[] {
  if (!Array.isArray(value)) throw typeError('an array of Tensors', name, value);
  if (value.length === 0) throw rangeError('at least one tensor', name, value);
  return value.map((t, i) => tensorArg(t, `${name}[${i}]`, ['f32']));
}

/** Concatenates f32 tensors [..., d_i] with the same leading dims along the last dim. */
export function concat(inputs: readonly Tensor[], options?: { out?: Tensor }): Tensor {
  const parts = partsArg(inputs, 'inputs');
  const first = parts[0];
  rankAtLeast(first, 'inputs[0]', 1, '[..., d]');
  const lead = first.shape.slice(0, -1);
  let total = 0;
  parts.forEach((p, i) => {
    sameDevice(p, `inputs[${i}]`, first, 'inputs[0]');
    if (p.shape.length !== first.shape.length || p.shape.slice(0, -1).join() !== lead.join()) {
      throw new RangeError(`Expected a tensor with the leading dims ${shapeStr(lead)} of inputs[0] for inputs[${i}] but received shape ${shapeStr(p.shape)}`);
    }
    total += p.shape[p.shape.length - 1];
  });
  const o = plainObject(options, 'options', OUT_OPTIONS);
  const out = outputArg(o.out, 'options.out', [...lead, total], first.device, 'the concatenated shape');
  return guardFresh([out], () => {
    denseApi().concat(out.t.handle, parts.map((p) => p.handle));
    return out.t;
  });
}

/** Splits x [..., d] along the last dim into parts of the given sizes (the backward of concat). */
export function split(x: Tensor, sizes: readonly number[], options?: { out?: readonly Tensor[] }): Tensor[] {
  tensorArg(x, 'x', ['f32']);
  rankAtLeast(x, 'x', 1, '[..., d]');
  if (!Array.isArray(sizes) || sizes.length === 0) throw typeError('a non-empty array of non-negative integers', 'sizes', sizes);
  for (const s of sizes) {
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 0) throw rangeError('a non-empty array of non-negative integers', 'sizes', sizes);
  }
  const d = x.shape[x.shape.length - 1];
  const sum = sizes.reduce((a, b) => a + b, 0);
  if (sum !== d) throw rangeError(`sizes that add up to ${d} (the last dim of x)`, 'sizes', sizes);
  const lead = x.shape.slice(0, -1);
  const o = plainObject(options, 'options', OUT_OPTIONS);
  let given: unknown[] | undefined;
  if (o.out !== undefined) {
    if (!Array.isArray(o.out) || o.out.length !== sizes.length) throw typeError(`an array of ${sizes.length} Tensors`, 'options.out', o.out);
    given = o.out;
  }
  const outs: { t: Tensor; fresh: boolean }[] = [];
  return guardFresh(outs, () => {
    sizes.forEach((s, i) => outs.push(outputArg(given?.[i], `options.out[${i}]`, [...lead, s], x.device, `part ${i}`)));
    denseApi().split(outs.map((p) => p.t.handle), x.handle);
    return outs.map((p) => p.t);
  });
}

// ---------------------------------------------------------------------------------------------
// MSE loss

/** mean((pred − target)²) as a 0-d f32 tensor (shape []) on the inputs' device. */
export function mseLoss(pred: Tensor, target: Tensor, options?: { out?: Tensor }): Tensor {
  tensorArg(pred, 'pred', ['f32']);
  tensorArg(target, 'target', ['f32']);
  sameDevice(target, 'target', pred, 'pred');
  sameShape(target, 'target', pred, 'pred');
  if (pred.size === 0) throw rangeError('a non-empty tensor', 'pred', pred);
  const o = plainObject(options, 'options', OUT_OPTIONS);
  let out: { t: Tensor; fresh: boolean };
  if (o.out === undefined) out = { t: empty([], { device: pred.device }), fresh: true };
  else {
    const t = tensorArg(o.out, 'options.out', ['f32']);
    sameDevice(t, 'options.out', pred, 'pred');
    if (t.size !== 1) throw new RangeError(`Expected one element (a scalar) for options.out but received shape ${shapeStr(t.shape)}`);
    out = { t, fresh: false };
  }
  return guardFresh([out], () => {
    denseApi().mseLoss(out.t.handle, pred.handle, target.handle);
    return out.t;
  });
}

/** dL/dpred = scale · 2 (pred − target) / n, where scale is dL/dloss (default 1). */
export function mseLossBackward(pred: Tensor, target: Tensor, options?: { scale?: number; out?: Tensor }): Tensor {
  tensorArg(pred, 'pred', ['f32']);
  tensorArg(target, 'target', ['f32']);
  sameDevice(target, 'target', pred, 'pred');
  sameShape(target, 'target', pred, 'pred');
  if (pred.size === 0) throw rangeError('a non-empty tensor', 'pred', pred);
  const o = plainObject(options, 'options', MSE_BACKWARD_OPTIONS);
  const scale = o.scale === undefined ? 1 : finiteNumber(o.scale, 'options.scale');
  const out = outputArg(o.out, 'options.out', pred.shape, pred.device, 'the shape of pred');
  return guardFresh([out], () => {
    denseApi().mseLossBackward(out.t.handle, pred.handle, target.handle, scale);
    return out.t;
  });
}

// ---------------------------------------------------------------------------------------------
// sum / mean

export interface ReduceOptions {
  /** undefined: all elements (a 0-d result); -1 or ndim − 1: the last dim; 0: the first dim. */
  dim?: number;
  out?: Tensor;
  /** Add into options.out. */
  accumulate?: boolean;
}

function reduceDim(x: { shape: readonly number[] }, dimOpt: unknown, name: string): 'all' | 'last' | 'first' {
  if (dimOpt === undefined || dimOpt === null) return 'all';
  const nd = x.shape.length;
  if (typeof dimOpt !== 'number' || !Number.isInteger(dimOpt)) throw typeError('an integer dim (0, -1 or ndim - 1)', name, dimOpt);
  if (nd === 0) throw rangeError('no dim for a 0-d tensor', name, dimOpt);
  if (dimOpt === -1 || dimOpt === nd - 1) return 'last';
  if (dimOpt === 0) return 'first';
  throw rangeError(`0, -1 or ${nd - 1} (the first or last dim)`, name, dimOpt);
}

function reducedShape(shape: readonly number[], dim: 'all' | 'last' | 'first'): number[] {
  return dim === 'all' ? [] : dim === 'last' ? shape.slice(0, -1) : shape.slice(1);
}

function reduce(x: Tensor, options: ReduceOptions | undefined, mean: boolean): Tensor {
  tensorArg(x, 'x', ['f32']);
  const o = plainObject(options, 'options', REDUCE_OPTIONS);
  const dim = reduceDim(x, o.dim, 'options.dim');
  const accumulate = boolOpt(o.accumulate, 'options.accumulate', false);
  if (accumulate && o.out === undefined) throw rangeError('false when options.out is not given', 'options.accumulate', accumulate);
  const shape = reducedShape(x.shape, dim);
  if (mean) {
    const count = dim === 'all' ? x.size : dim === 'last' ? x.shape[x.shape.length - 1] : x.shape[0];
    if (count === 0) throw rangeError(`a non-empty ${dim === 'all' ? 'tensor' : `${dim} dim`} to average over`, 'x', x);
  }
  const out = outputArg(o.out, 'options.out', shape, x.device, 'the reduced shape');
  return guardFresh([out], () => {
    denseApi().reduceSum(out.t.handle, x.handle, DIM_CODE[dim], mean, accumulate);
    return out.t;
  });
}

/** Sum over all elements (0-d result), the last dim, or the first dim (the bias gradient). */
export function sum(x: Tensor, options?: ReduceOptions): Tensor {
  return reduce(x, options, false);
}

/** Mean over all elements, the last dim, or the first dim. */
export function mean(x: Tensor, options?: ReduceOptions): Tensor {
  return reduce(x, options, true);
}

function reduceBackward(dy: Tensor, inputShape: readonly number[], options: ReduceOptions | undefined, mean: boolean): Tensor {
  tensorArg(dy, 'dy', ['f32']);
  if (!Array.isArray(inputShape) || inputShape.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)) {
    throw typeError('an array of non-negative integers (the shape of the reduced input)', 'inputShape', inputShape);
  }
  const o = plainObject(options, 'options', REDUCE_OPTIONS);
  const dim = reduceDim({ shape: inputShape }, o.dim, 'options.dim');
  const accumulate = boolOpt(o.accumulate, 'options.accumulate', false);
  if (accumulate && o.out === undefined) throw rangeError('false when options.out is not given', 'options.accumulate', accumulate);
  const want = reducedShape(inputShape, dim);
  if (dim === 'all' ? dy.size !== 1 : dy.shape.join() !== want.join()) {
    throw new RangeError(`Expected shape ${shapeStr(want)} (the reduced shape of ${shapeStr(inputShape)}) for dy but received shape ${shapeStr(dy.shape)}`);
  }
  const out = outputArg(o.out, 'options.out', inputShape, dy.device, 'inputShape');
  return guardFresh([out], () => {
    denseApi().reduceSumBackward(out.t.handle, dy.handle, DIM_CODE[dim], mean, accumulate);
    return out.t;
  });
}

/** The backward of sum: dy broadcast back to inputShape. */
export function sumBackward(dy: Tensor, inputShape: readonly number[], options?: ReduceOptions): Tensor {
  return reduceBackward(dy, inputShape, options, false);
}

/** The backward of mean: dy / count broadcast back to inputShape. */
export function meanBackward(dy: Tensor, inputShape: readonly number[], options?: ReduceOptions): Tensor {
  return reduceBackward(dy, inputShape, options, true);
}

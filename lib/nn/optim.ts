/**
 * Optimizers as fused kernels over flat f32 parameter blocks (llm.c style: a model keeps its
 * parameters in one block, its gradients in another of the same size; any shapes, equal sizes).
 *
 * - `Adam` / `AdamW` (optax semantics): m = β1 m + (1 − β1) g; v = β2 v + (1 − β2) g²;
 *   p −= lr · (m̂ / (sqrt(v̂) + eps) + weightDecay · p) with m̂ = m / (1 − β1^t),
 *   v̂ = v / (1 − β2^t). Weight decay is decoupled (`p −= lr · wd · p`, not an L2 term added to
 *   g as torch.optim.Adam's is): AdamW defaults it to 1e-4 (optax), Adam to 0.
 * - `SGD` with momentum and Nesterov (optax / PyTorch with dampening 0): g' = g + wd · p;
 *   buf = μ buf + g'; p −= lr · (nesterov ? g' + μ buf : buf).
 * - `clipGradNorm`: scales every block by (norm < maxNorm ? 1 : maxNorm / norm), the norm being
 *   the global L2 norm over all blocks (optax clip_by_global_norm); on CUDA it stays on the
 *   device (no synchronisation) and the reduction is deterministic.
 * - `polyakUpdate`: target = (1 − τ) target + τ online (target networks).
 *
 * One kernel launch per block per step. The step count t lives on the host, or with
 * `capturable: true` in a one-element i32 tensor on the parameters' device that the step itself
 * advances (one more tiny launch), so a step recorded in a CUDA graph (era.captureGraph) uses the
 * right bias corrections on every replay.
 */
import { isCapturing } from '../graph.js';
import { native, type NativeTensor } from '../native.js';
import { empty, tensorArg, zeros, type Tensor } from '../tensor.js';
import { finiteNumber, integer, optionNames, plainObject, rangeError, typeError } from '../validate.js';

interface OptimNativeApi {
  adamStep(p: NativeTensor, g: NativeTensor, m: NativeTensor, v: NativeTensor, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number, stepCounter?: NativeTensor | null): void;
  sgdStep(p: NativeTensor, g: NativeTensor, buf: NativeTensor | null, lr: number, momentum: number, nesterov: boolean, weightDecay: number): void;
  clipGradNorm(grads: NativeTensor[], maxNorm: number, normOut: NativeTensor): void;
  polyakUpdate(target: NativeTensor, online: NativeTensor, tau: number): void;
}

const api = (): OptimNativeApi => native() as unknown as OptimNativeApi;

function blocks(value: unknown, name: string): Tensor[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw rangeError('a Tensor or a non-empty array of Tensors', name, value);
  return list.map((t, i) => tensorArg(t, Array.isArray(value) ? `${name}[${i}]` : name, ['f32']));
}

function matchBlocks(given: Tensor[], name: string, ref: Tensor[], refName: string): void {
  if (given.length !== ref.length) throw rangeError(`${ref.length} tensor(s) (one per block of ${refName})`, name, given);
  given.forEach((t, i) => {
    const r = ref[i];
    const n = ref.length > 1 ? `${name}[${i}]` : name;
    if (t.device !== r.device) throw new TypeError(`Expected a ${r.device} tensor (the device of ${refName}) for ${n} but received a ${t.device} tensor`);
    if (t.size !== r.size) throw new RangeError(`Expected ${r.size} elements (the size of ${refName}) for ${n} but received ${t.size} elements`);
  });
}

/**
 * Every gradient block must share no memory with any block a step writes (`written`: the
 * parameters and the optimizer's state). The native layer checks each block as it steps it, which
 * would leave the blocks before a bad one stepped and the step count behind; this checks them all
 * first.
 */
interface WrittenBlocks {
  name: string;
  blocks: readonly Tensor[];
}

function requireUnaliased(grads: readonly Tensor[], written: readonly WrittenBlocks[]): void {
  for (let i = 0; i < grads.length; i++) {
    for (const w of written) {
      for (let j = 0; j < w.blocks.length; j++) {
        if (!native().sharesMemory(grads[i].handle, w.blocks[j].handle)) continue;
        const gn = grads.length > 1 ? `grads[${i}]` : 'grads';
        const tn = w.blocks.length > 1 ? `${w.name}[${j}]` : w.name;
        throw rangeError(`a tensor that does not share memory with ${tn}`, gn, grads[i]);
      }
    }
  }
}

/** Parameter blocks must not overlap each other: a shared element would be stepped twice. */
function requireDisjointBlocks(params: readonly Tensor[]): void {
  for (let i = 0; i < params.length; i++) {
    for (let j = 0; j < i; j++) {
      if (native().sharesMemory(params[i].handle, params[j].handle)) throw rangeError(`a tensor that does not share memory with params[${j}]`, `params[${i}]`, params[i]);
    }
  }
}

function unitInterval(value: unknown, name: string, dflt: number, open: boolean): number {
  if (value === undefined) return dflt;
  const v = finiteNumber(value, name);
  if (v < 0 || (open ? v >= 1 : v > 1)) throw rangeError(`a number in [0, 1${open ? ')' : ']'}`, name, v);
  return v;
}

function nonNegative(value: unknown, name: string, dflt: number): number {
  if (value === undefined) return dflt;
  const v = finiteNumber(value, name);
  if (v < 0) throw rangeError('a non-negative number', name, v);
  return v;
}

// ---------------------------------------------------------------------------------------------

export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Added to sqrt(v̂) (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay (Adam: default 0; AdamW: default 1e-4, optax's default). */
  weightDecay?: number;
  /** Keep the step count on the device so steps can be recorded in a CUDA graph (default false). */
  capturable?: boolean;
}

interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

const ADAM_OPTIONS = optionNames('lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'capturable');
const ADAM_STEP_OPTIONS = optionNames('lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'step');

function adamHyper(options: unknown, defaultWd: number, allowed: ReadonlySet<string>): AdamHyper {
  const o = plainObject(options, 'options', allowed);
  return {
    lr: nonNegative(o.lr, 'options.lr', 1e-3),
    beta1: unitInterval(o.beta1, 'options.beta1', 0.9, true),
    beta2: unitInterval(o.beta2, 'options.beta2', 0.999, true),
    eps: nonNegative(o.eps, 'options.eps', 1e-8),
    weightDecay: nonNegative(o.weightDecay, 'options.weightDecay', defaultWd),
  };
}

/**
 * One Adam/AdamW step on one block with explicit state (the functional form; `step` is the
 * 1-based count used in the bias corrections).
 */
export function adamStep(params: Tensor, grads: Tensor, m: Tensor, v: Tensor, options: Omit<AdamOptions, 'capturable'> & { step: number }): void {
  const [p] = blocks(params, 'params');
  matchBlocks(blocks(grads, 'grads'), 'grads', [p], 'params');
  matchBlocks(blocks(m, 'm'), 'm', [p], 'params');
  matchBlocks(blocks(v, 'v'), 'v', [p], 'params');
  const h = adamHyper(options, 0, ADAM_STEP_OPTIONS);
  const step = integer((options as { step?: unknown } | undefined)?.step, 'options.step', 1);
  api().adamStep(p.handle, grads.handle, m.handle, v.handle, h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, step);
}

/** Adam over one or more flat f32 parameter blocks; owns its moment buffers. */
export class Adam implements Disposable {
  readonly params: readonly Tensor[];
  readonly m: readonly Tensor[];
  readonly v: readonly Tensor[];
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** The device step counter (capturable optimizers only). */
  readonly stepCounter: Tensor | null;
  #step = 0;
  #disposed = false;
  /** What a step writes, for requireUnaliased (made once: a step allocates nothing for it). */
  readonly #written: readonly WrittenBlocks[];

  constructor(params: Tensor | readonly Tensor[], options?: AdamOptions) {
    this.params = Object.freeze(blocks(params, 'params'));
    requireDisjointBlocks(this.params);
    const h = adamHyper(options, this.defaultWeightDecay(), ADAM_OPTIONS);
    const capturable = (options as { capturable?: unknown } | undefined)?.capturable ?? false;
    if (typeof capturable !== 'boolean') throw typeError('a boolean', 'options.capturable', capturable);
    // The counter advances once per adamStep call, so it can serve one block only.
    if (capturable && this.params.length > 1) throw rangeError('a single parameter block (capturable: true)', 'params', this.params);
    this.stepCounter = capturable ? zeros([1], { dtype: 'i32', device: this.params[0].device }) : null;
    this.lr = h.lr;
    this.beta1 = h.beta1;
    this.beta2 = h.beta2;
    this.eps = h.eps;
    this.weightDecay = h.weightDecay;
    const m: Tensor[] = [];
    const v: Tensor[] = [];
    try {
      for (const p of this.params) {
        m.push(zeros(p.shape, { device: p.device }));
        v.push(zeros(p.shape, { device: p.device }));
      }
    } catch (err) {
      for (const t of [...m, ...v]) t.dispose();
      throw err;
    }
    this.m = Object.freeze(m);
    this.v = Object.freeze(v);
    this.#written = [{ name: 'params', blocks: this.params }, { name: 'm', blocks: this.m }, { name: 'v', blocks: this.v }];
  }

  protected defaultWeightDecay(): number {
    return 0;
  }

  /** Steps taken so far (a capturable optimizer reads its device counter: a synchronising read). */
  get stepCount(): number {
    return this.stepCounter ? this.stepCounter.toArray()[0] : this.#step;
  }

  /** One step with gradients shaped like the parameter blocks. */
  step(grads: Tensor | readonly Tensor[]): void {
    if (this.#disposed) throw typeError('a live optimizer', 'this', 'a disposed optimizer');
    const g = blocks(grads, 'grads');
    matchBlocks(g, 'grads', this.params as Tensor[], 'params');
    requireUnaliased(g, this.#written);
    const lr = nonNegative(this.lr, 'lr', 0);
    const t = this.#step + 1;
    const counter = this.stepCounter?.handle ?? null;
    // A host step count would be baked into the recording: every replay would repeat step t's
    // bias correction.
    if (!counter && isCapturing()) {
      throw typeError('a capturable optimizer (options.capturable: true) while a CUDA graph is recorded', 'this', 'one that counts its steps on the host');
    }
    this.params.forEach((p, i) => {
      api().adamStep(p.handle, g[i].handle, this.m[i].handle, this.v[i].handle, lr, this.beta1, this.beta2, this.eps, this.weightDecay, t, counter);
    });
    this.#step = t;
  }

  /** Zeroes the moments and the step count. */
  reset(): void {
    for (const t of [...this.m, ...this.v]) t.fill(0);
    this.#step = 0;
    this.stepCounter?.fill(0);
  }

  /**
   * Sets the step count (for resuming from a checkpoint; write the saved moments into `m` and `v`
   * as well, or the bias corrections will not match the moments).
   */
  restoreStepCount(step: number): void {
    const n = integer(step, 'step', 0, 2 ** 31 - 1); // the device counter is an i32
    this.stepCounter?.fill(n);
    this.#step = n;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const t of [...this.m, ...this.v]) t.dispose();
    this.stepCounter?.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Adam with decoupled weight decay (default 1e-4, as optax.adamw). */
export class AdamW extends Adam {
  protected override defaultWeightDecay(): number {
    return 1e-4;
  }
}

// ---------------------------------------------------------------------------------------------

export interface SgdOptions {
  /** Default 1e-2. */
  lr?: number;
  /** Default 0 (plain SGD). */
  momentum?: number;
  /** Nesterov momentum (needs momentum > 0). */
  nesterov?: boolean;
  /** Coupled L2 weight decay added to the gradient (default 0). */
  weightDecay?: number;
}

const SGD_OPTIONS = optionNames('lr', 'momentum', 'nesterov', 'weightDecay');
const OUT_OPTIONS = optionNames('out');

function sgdHyper(options: unknown): { lr: number; momentum: number; nesterov: boolean; weightDecay: number } {
  const o = plainObject(options, 'options', SGD_OPTIONS);
  const momentum = nonNegative(o.momentum, 'options.momentum', 0);
  if (o.nesterov !== undefined && typeof o.nesterov !== 'boolean') throw typeError('a boolean', 'options.nesterov', o.nesterov);
  const nesterov = o.nesterov === true;
  if (nesterov && momentum === 0) throw rangeError('a positive momentum (Nesterov needs one)', 'options.momentum', momentum);
  return { lr: nonNegative(o.lr, 'options.lr', 1e-2), momentum, nesterov, weightDecay: nonNegative(o.weightDecay, 'options.weightDecay', 0) };
}

/** One SGD step on one block with an explicit momentum buffer (null when momentum is 0). */
export function sgdStep(params: Tensor, grads: Tensor, buf: Tensor | null, options?: SgdOptions): void {
  const [p] = blocks(params, 'params');
  matchBlocks(blocks(grads, 'grads'), 'grads', [p], 'params');
  const h = sgdHyper(options);
  if (h.momentum > 0) {
    if (buf === null || buf === undefined) throw typeError('a Tensor (the momentum buffer)', 'buf', buf);
    matchBlocks(blocks(buf, 'buf'), 'buf', [p], 'params');
  }
  api().sgdStep(p.handle, grads.handle, h.momentum > 0 ? buf!.handle : null, h.lr, h.momentum, h.nesterov, h.weightDecay);
}

/** SGD (with optional momentum / Nesterov) over one or more flat f32 parameter blocks. */
export class SGD implements Disposable {
  readonly params: readonly Tensor[];
  readonly buffers: readonly Tensor[];
  lr: number;
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  #disposed = false;
  readonly #written: readonly WrittenBlocks[];

  constructor(params: Tensor | readonly Tensor[], options?: SgdOptions) {
    this.params = Object.freeze(blocks(params, 'params'));
    requireDisjointBlocks(this.params);
    const h = sgdHyper(options);
    this.lr = h.lr;
    this.momentum = h.momentum;
    this.nesterov = h.nesterov;
    this.weightDecay = h.weightDecay;
    const bufs: Tensor[] = [];
    try {
      if (h.momentum > 0) for (const p of this.params) bufs.push(zeros(p.shape, { device: p.device }));
    } catch (err) {
      for (const t of bufs) t.dispose();
      throw err;
    }
    this.buffers = Object.freeze(bufs);
    this.#written = [{ name: 'params', blocks: this.params }, { name: 'buffers', blocks: this.buffers }];
  }

  step(grads: Tensor | readonly Tensor[]): void {
    if (this.#disposed) throw typeError('a live optimizer', 'this', 'a disposed optimizer');
    const g = blocks(grads, 'grads');
    matchBlocks(g, 'grads', this.params as Tensor[], 'params');
    requireUnaliased(g, this.#written);
    const lr = nonNegative(this.lr, 'lr', 0);
    this.params.forEach((p, i) => {
      api().sgdStep(p.handle, g[i].handle, this.momentum > 0 ? this.buffers[i].handle : null, lr, this.momentum, this.nesterov, this.weightDecay);
    });
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const t of this.buffers) t.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Clips gradients in place by their global L2 norm; returns the norm (before clipping) as a 0-d
 * f32 tensor on the gradients' device (or writes it into options.out).
 */
export function clipGradNorm(grads: Tensor | readonly Tensor[], maxNorm: number, options?: { out?: Tensor }): Tensor {
  const g = blocks(grads, 'grads');
  g.forEach((t, i) => {
    if (t.device !== g[0].device) throw new TypeError(`Expected a ${g[0].device} tensor (the device of grads[0]) for grads[${i}] but received a ${t.device} tensor`);
  });
  if (typeof maxNorm !== 'number') throw typeError('a positive number', 'maxNorm', maxNorm);
  finiteNumber(maxNorm, 'maxNorm');
  if (!(maxNorm > 0)) throw rangeError('a positive number', 'maxNorm', maxNorm);
  const o = plainObject(options, 'options', OUT_OPTIONS);
  let out: Tensor;
  let fresh = false;
  if (o.out === undefined) {
    out = empty([], { device: g[0].device });
    fresh = true;
  } else {
    out = tensorArg(o.out, 'options.out', ['f32']);
    if (out.device !== g[0].device) throw new TypeError(`Expected a ${g[0].device} tensor (the device of grads) for options.out but received a ${out.device} tensor`);
    if (out.size !== 1) throw new RangeError(`Expected one element (the norm) for options.out but received shape [${out.shape.join(', ')}]`);
  }
  try {
    api().clipGradNorm(g.map((t) => t.handle), maxNorm, out.handle);
  } catch (err) {
    if (fresh) out.dispose();
    throw err;
  }
  return out;
}

/** target = (1 − τ) · target + τ · online, block by block (target networks). */
export function polyakUpdate(target: Tensor | readonly Tensor[], online: Tensor | readonly Tensor[], tau: number): void {
  const t = blocks(target, 'target');
  const o = blocks(online, 'online');
  matchBlocks(o, 'online', t, 'target');
  if (typeof tau !== 'number') throw typeError('a number in [0, 1]', 'tau', tau);
  const tv = unitInterval(tau, 'tau', 0, false);
  t.forEach((x, i) => api().polyakUpdate(x.handle, o[i].handle, tv));
}

/**
 * `nn.MLP`: a multi-layer perceptron, or an ensemble of E independent same-shaped ones, as one
 * native model object (native/models/mlp.h) over three flat f32 blocks (llm.c style):
 *
 * - `params` [E · numParameters]: member e's parameters at e · numParameters, each tensor listed
 *   by `parameters()` (offsets within a member). Linear weights are stored [in, out] (y = x·W + b,
 *   as `nn.functional.linear`), then the bias [out], then for LayerNorm layers the norm's weight
 *   and bias [out]. Every tensor starts on a 4-element (16-byte) boundary; the few padding floats
 *   between them stay zero (zero gradient, untouched by Adam/AdamW), which is why numParameters
 *   (the per-member block length) can exceed parameterCount (the trainable values).
 * - `grads`, same layout: backward() adds into it (call zeroGrad() between steps, or pass
 *   accumulate: false to write it instead).
 * - one workspace block for the activations, sized for the largest batch seen so far: it grows
 *   only when a larger batch arrives, so a training step at a fixed batch allocates nothing.
 *
 * A hidden layer is Linear → (LayerNorm, eps 1e-6 as flax's default and the SAC-ERA reference) →
 * activation; the output layer is Linear → outputActivation. forward() and backward() are one
 * N-API call each; the members' GEMMs run batched (one launch per layer for all members).
 *
 * Outputs are views into the workspace, lent by the model: forward()'s output is valid until the
 * next forward(), backward()'s input gradient until the next forward() or backward(). Do not
 * dispose them (dispose() on them does nothing; no era.scope takes them); clone() what must
 * outlive that. After the workspace grows or the model is disposed they throw the disposed error.
 *
 * Initialisation is computed on the host from `seed` (same bits on every device): 'default' is
 * PyTorch nn.Linear's (W and b ~ U(±1/sqrt(fan_in))); 'orthogonal' is flax's orthogonal(gain)
 * for every weight with zero biases, the output layer using `gain` too unless `heads` splits it
 * into column groups with their own gains. LayerNorm starts at weight 1, bias 0.
 *
 * Checkpoints are safetensors files: one tensor per parameter ([E, ...shape] for ensembles, the
 * bare shape when E = 1) and the architecture in the metadata, written atomically.
 */
import { randomInt } from 'node:crypto';

import { resolveDevice, type Device } from '../device.js';
import { EraError } from '../errors.js';
import { isCapturing } from '../graph.js';
import { native, type NativeTensor } from '../native.js';
import { copy } from '../ops.js';
import { keep } from '../scope.js';
import { empty, lendView, tensorArg, zeros, type Tensor } from '../tensor.js';
import { finiteNumber, integer, knownOptions, oneOf, optionNames, plainObject, rangeError, typeError } from '../validate.js';
import { ACTIVATION_CODE, PRECISION_CODE, PRECISIONS, type Activation, type Precision } from './functional.js';
import { InitRandom, orthogonal, uniformFill } from './init.js';
import { readSafetensors, writeSafetensors, type SafetensorsFile } from './safetensors.js';

export type HiddenActivation = 'relu' | 'elu' | 'tanh';

export interface MLPHead {
  /** Columns of the output layer in this head. */
  size: number;
  /** Orthogonal gain of this head's columns. */
  gain: number;
}

export interface MLPOptions {
  inputSize: number;
  hiddenSizes: readonly number[];
  outputSize: number;
  /** Hidden activation (default 'relu'). */
  activation?: HiddenActivation;
  /** LayerNorm (eps 1e-6) after each hidden Linear, before the activation (default false). */
  layerNorm?: boolean;
  /** Default 'none'. */
  outputActivation?: Activation;
  /** E independent same-shaped members (default 1). */
  ensemble?: number;
  /** 'default' (PyTorch nn.Linear, the default) or 'orthogonal' (flax, zero biases). */
  init?: 'orthogonal' | 'default';
  /** Orthogonal gain of the hidden layers, and of the output layer without heads (default √2). */
  gain?: number;
  /** The output layer as column groups with their own orthogonal gains; sizes sum to outputSize. */
  heads?: readonly MLPHead[];
  /** GEMM precision (parameters stay f32; default 'f32'). */
  precision?: Precision;
  /** Default: the default device. */
  device?: Device;
  /** Initialisation seed (default: a random one, recorded in `options.seed`). */
  seed?: number;
}

/** The options with every default filled in (pass them to `new MLP()` for a twin). */
export interface ResolvedMLPOptions {
  readonly inputSize: number;
  readonly hiddenSizes: readonly number[];
  readonly outputSize: number;
  readonly activation: HiddenActivation;
  readonly layerNorm: boolean;
  readonly outputActivation: Activation;
  readonly ensemble: number;
  readonly init: 'orthogonal' | 'default';
  readonly gain: number;
  readonly heads?: readonly MLPHead[];
  readonly precision: Precision;
  readonly device: Device;
  readonly seed: number;
}

export interface MLPParameter {
  /** 'layers.<l>.weight' [in, out], 'layers.<l>.bias' [out], 'norms.<l>.weight' / '.bias' [out]. */
  name: string;
  /** Per member. */
  shape: number[];
  /** Element offset within a member's block. */
  offset: number;
}

export interface BackwardOptions {
  /** Return dL/dx (default false). */
  inputGrad?: boolean;
  /** Add dL/dparams into `grads` (default true). */
  paramGrads?: boolean;
  /**
   * With paramGrads: add into `grads` (true, the default, as PyTorch does) or overwrite them
   * (false: the same as zeroGrad() then backward(), one kernel per model fewer).
   */
  accumulate?: boolean;
}

/** LayerNorm epsilon: flax's default, which the SAC-ERA reference uses. */
export const LAYER_NORM_EPS = 1e-6;
/** The checkpoint format tag in the safetensors metadata. */
export const MLP_FORMAT = 'era-cuda.mlp/1';

interface NativeMlp {
  info(): { numParameters: number; parameterCount: number; parameters: MLPParameter[] };
  workspaceLayout(capacity: number): { size: number; x: number; y: number; dx: number };
  setBlocks(params: NativeTensor, grads: NativeTensor): void;
  setWorkspace(workspace: NativeTensor, capacity: number): void;
  forward(x: NativeTensor): number;
  backward(dy: NativeTensor, inputGrad: boolean, paramGrads: boolean, accumulate?: boolean): void;
  dispose(): void;
}

const nativeMlp = (): new (config: object) => NativeMlp => (native() as unknown as { NativeMlp: new (config: object) => NativeMlp }).NativeMlp;

const OPTION_KEYS = optionNames('inputSize', 'hiddenSizes', 'outputSize', 'activation', 'layerNorm', 'outputActivation', 'ensemble', 'init', 'gain', 'heads', 'precision', 'device', 'seed');
const HEAD_KEYS = optionNames('size', 'gain');
const BACKWARD_KEYS = optionNames('inputGrad', 'paramGrads', 'accumulate');
const LOAD_KEYS = optionNames('device');
const HIDDEN_ACTIVATIONS: readonly HiddenActivation[] = ['relu', 'elu', 'tanh'];
const OUTPUT_ACTIVATIONS: readonly Activation[] = ['none', 'relu', 'elu', 'tanh'];
/** The options that fix the parameter layout (checkpoints must match on these). */
const ARCHITECTURE_KEYS = ['inputSize', 'hiddenSizes', 'outputSize', 'layerNorm', 'ensemble'] as const;

function resolveOptions(options: unknown): ResolvedMLPOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw typeError('an options object', 'options', options);
  const o = options as Record<string, unknown>;
  knownOptions(o, OPTION_KEYS, 'options');
  const inputSize = integer(o.inputSize, 'options.inputSize', 1, 1 << 24);
  const outputSize = integer(o.outputSize, 'options.outputSize', 1, 1 << 24);
  if (!Array.isArray(o.hiddenSizes)) throw typeError('an array of positive integers', 'options.hiddenSizes', o.hiddenSizes);
  if (o.hiddenSizes.length > 64) throw rangeError('at most 64 hidden layers', 'options.hiddenSizes', o.hiddenSizes);
  const hiddenSizes = Object.freeze((o.hiddenSizes as unknown[]).map((h, i) => integer(h, `options.hiddenSizes[${i}]`, 1, 1 << 24)));
  const activation = o.activation === undefined ? 'relu' : oneOf(o.activation, HIDDEN_ACTIVATIONS, 'options.activation');
  if (o.layerNorm !== undefined && typeof o.layerNorm !== 'boolean') throw typeError('a boolean', 'options.layerNorm', o.layerNorm);
  const outputActivation = o.outputActivation === undefined ? 'none' : oneOf(o.outputActivation, OUTPUT_ACTIVATIONS, 'options.outputActivation');
  const ensemble = o.ensemble === undefined ? 1 : integer(o.ensemble, 'options.ensemble', 1, 65535);
  const init = o.init === undefined ? 'default' : oneOf(o.init, ['orthogonal', 'default'] as const, 'options.init');
  const gain = o.gain === undefined ? Math.SQRT2 : finiteNumber(o.gain, 'options.gain');
  if (!(gain > 0)) throw rangeError('a positive number', 'options.gain', gain);
  let heads: readonly MLPHead[] | undefined;
  if (o.heads !== undefined) {
    if (init !== 'orthogonal') throw rangeError("no heads unless options.init is 'orthogonal' (heads set orthogonal gains)", 'options.heads', o.heads);
    if (!Array.isArray(o.heads) || o.heads.length === 0) throw typeError('a non-empty array of { size, gain }', 'options.heads', o.heads);
    heads = Object.freeze((o.heads as unknown[]).map((h, i) => {
      const ho = plainObject(h, `options.heads[${i}]`, HEAD_KEYS);
      const size = integer(ho.size, `options.heads[${i}].size`, 1);
      const g = finiteNumber(ho.gain, `options.heads[${i}].gain`);
      if (!(g > 0)) throw rangeError('a positive number', `options.heads[${i}].gain`, g);
      return Object.freeze({ size, gain: g });
    }));
    const total = heads.reduce((a, h) => a + h.size, 0);
    if (total !== outputSize) throw rangeError(`head sizes that add up to ${outputSize} (options.outputSize)`, 'options.heads', heads.map((h) => h.size));
  }
  const precision = o.precision === undefined ? 'f32' : oneOf(o.precision, PRECISIONS, 'options.precision');
  const device = resolveDevice(o.device, 'options.device');
  const seed = o.seed === undefined ? randomInt(0, 2 ** 47) : integer(o.seed, 'options.seed', 0);
  return Object.freeze({
    inputSize, hiddenSizes, outputSize, activation, layerNorm: o.layerNorm === true, outputActivation, ensemble, init, gain,
    ...(heads ? { heads } : {}), precision, device, seed,
  });
}

function disposedError(name: string, what: string): EraError {
  return new EraError(`Expected a live ${what} for ${name} but received a disposed ${what}`, 'ERA_DISPOSED');
}

/** While set, the constructor leaves the parameters for the caller to fill (checkpoint loads). */
let skipInit = false;

export class MLP implements Disposable {
  readonly options: ResolvedMLPOptions;
  readonly ensemble: number;
  /** Per-member block length in `params` (parameters plus alignment padding). */
  readonly numParameters: number;
  /** Trainable values per member. */
  readonly parameterCount: number;
  /** Flat [E · numParameters]; member e at e · numParameters. */
  readonly params: Tensor;
  /** Same layout as params. */
  readonly grads: Tensor;
  readonly #parameters: readonly MLPParameter[];
  #native: NativeMlp | null;
  #workspace: Tensor | null = null;
  /** Whether a CUDA graph recorded a forward or backward on the current workspace. */
  #workspaceRecorded = false;
  /** Workspaces replaced after a graph recorded them: its replays still write them (freed on dispose). */
  #retired: Tensor[] = [];
  #layout: { size: number; x: number; y: number; dx: number } | null = null;
  #capacity = 0;
  /** Lent views of the workspace, by kind and shape; dropped with the workspace. */
  #views = new Map<string, Tensor>();
  /** The last forward's input and output shapes. */
  #last: { x: readonly number[]; y: readonly number[] } | null = null;

  constructor(options: MLPOptions) {
    const o = resolveOptions(options);
    this.options = o;
    this.ensemble = o.ensemble;
    const model = new (nativeMlp())({
      inputSize: o.inputSize, hiddenSizes: o.hiddenSizes.slice(), outputSize: o.outputSize,
      activation: ACTIVATION_CODE[o.activation], outputActivation: ACTIVATION_CODE[o.outputActivation],
      layerNorm: o.layerNorm, eps: LAYER_NORM_EPS, ensemble: o.ensemble, precision: PRECISION_CODE[o.precision],
    });
    const info = model.info();
    this.numParameters = info.numParameters;
    this.parameterCount = info.parameterCount;
    this.#parameters = Object.freeze(info.parameters.map((p) => Object.freeze({ ...p, shape: p.shape.slice() })));
    const total = o.ensemble * info.numParameters;
    // keep(): a model outlives any era.scope it is created in.
    const params = keep(zeros([total], { device: o.device }));
    let grads: Tensor | undefined;
    try {
      grads = keep(zeros([total], { device: o.device }));
      if (!skipInit) params.write(this.#initialValues());
      model.setBlocks(params.handle, grads.handle);
    } catch (err) {
      params.dispose();
      grads?.dispose();
      model.dispose();
      throw err;
    }
    this.params = params;
    this.grads = grads;
    this.#native = model;
  }

  /** The parameter tensors of one member: name, shape and offset within the member's block. */
  parameters(): MLPParameter[] {
    return this.#parameters.map((p) => ({ name: p.name, shape: p.shape.slice(), offset: p.offset }));
  }

  get disposed(): boolean {
    return this.#native === null;
  }

  #live(): NativeMlp {
    if (!this.#native) throw disposedError('this', 'MLP');
    return this.#native;
  }

  /** Host values of every member's parameters, from the seed. */
  #initialValues(): Float32Array {
    const o = this.options;
    const out = new Float32Array(o.ensemble * this.numParameters);
    const rng = new InitRandom(o.seed);
    const layers = o.hiddenSizes.length + 1;
    for (let e = 0; e < o.ensemble; e++) {
      const base = e * this.numParameters;
      for (const p of this.#parameters) {
        const n = p.shape.reduce((a, b) => a * b, 1);
        const dst = out.subarray(base + p.offset, base + p.offset + n);
        const [kind, index, part] = p.name.split('.');
        const fanIn = kind === 'layers' ? this.#parameters.find((q) => q.name === `layers.${index}.weight`)!.shape[0] : 0;
        if (kind === 'norms') dst.fill(part === 'weight' ? 1 : 0);
        else if (o.init === 'default') uniformFill(dst, 1 / Math.sqrt(fanIn), rng);
        else if (part === 'bias') dst.fill(0);
        else this.#orthogonalInto(dst, p.shape[0], p.shape[1], Number(index) === layers - 1 ? o.heads : undefined, rng);
      }
    }
    return out;
  }

  /** An orthogonal [rows, cols] weight, or one block of columns per head with its own gain. */
  #orthogonalInto(dst: Float32Array, rows: number, cols: number, heads: readonly MLPHead[] | undefined, rng: InitRandom): void {
    const groups = heads ?? [{ size: cols, gain: this.options.gain }];
    let col0 = 0;
    for (const h of groups) {
      const w = orthogonal(rows, h.size, h.gain, rng);
      for (let i = 0; i < rows; i++) for (let j = 0; j < h.size; j++) dst[i * cols + col0 + j] = w[i * h.size + j];
      col0 += h.size;
    }
  }

  /** A lent view of the workspace (cached per kind and shape; the caller must not dispose it). */
  #view(kind: string, offset: number, shape: readonly number[]): Tensor {
    const key = `${kind}:${shape.join(',')}`;
    let v = this.#views.get(key);
    if (!v) {
      // Bounded: a caller cycling through many batch sizes gets fresh views past this many.
      if (this.#views.size >= 32) this.#views.clear();
      v = lendView(this.#workspace!, offset, shape);
      this.#views.set(key, v);
    }
    return v;
  }

  /** Replaces the workspace with one for batches of up to `capacity` rows. */
  #grow(model: NativeMlp, capacity: number): void {
    const layout = model.workspaceLayout(capacity);
    const ws = keep(empty([layout.size], { device: this.options.device }));
    try {
      model.setWorkspace(ws.handle, capacity);
    } catch (err) {
      ws.dispose();
      throw err;
    }
    // The old block's views now throw the disposed error if anyone still holds them. A block a
    // graph recorded stays allocated instead (its replays would write into whatever got it).
    if (this.#workspace && this.#workspaceRecorded) this.#retired.push(this.#workspace);
    else this.#workspace?.dispose();
    this.#workspaceRecorded = false;
    this.#views.clear();
    this.#workspace = ws;
    this.#layout = layout;
    this.#capacity = capacity;
    this.#last = null;
  }

  /**
   * y = net(x). x: [B, in] (every member reads it), [E, B, in] (one input per member) or
   * [G, B, in] with E % G == 0 (members g·E/G .. (g+1)·E/G − 1 read group g). Returns [E, B, out]
   * ([B, out] when E = 1 and x is 2-D): a view into the workspace, valid until the next forward().
   * x is copied into the workspace, so the caller may dispose or overwrite it before backward().
   */
  forward(x: Tensor): Tensor {
    const model = this.#live();
    const o = this.options;
    tensorArg(x, 'x', ['f32']);
    if (x.device !== o.device) throw new TypeError(`Expected a ${o.device} tensor (the model's device) for x but received a ${x.device} tensor`);
    const s = x.shape;
    const groups = s.length === 2 ? 1 : s.length === 3 ? s[0] : 0;
    if ((s.length !== 2 && s.length !== 3) || s[s.length - 1] !== o.inputSize || groups < 1 || o.ensemble % groups !== 0 || s[s.length - 2] < 1) {
      throw new RangeError(`Expected shape [B, ${o.inputSize}] or [G, B, ${o.inputSize}] with G dividing the ensemble of ${o.ensemble} and B >= 1 for x but received shape [${s.join(', ')}]`);
    }
    const batch = s[s.length - 2];
    if (batch > this.#capacity) {
      // A workspace made while a graph records would be initialised only by the first replay.
      if (isCapturing()) {
        throw new RangeError(`Expected at most ${this.#capacity} rows (the workspace's capacity when the CUDA graph recording began: ` +
          `run the work once before recording it, as captureGraph's default warmup does) for x but received shape [${s.join(', ')}]`);
      }
      this.#grow(model, batch);
    }
    if (isCapturing()) this.#workspaceRecorded = true;
    this.#last = null;
    model.forward(x.handle);
    const y = s.length === 2 && o.ensemble === 1 ? [batch, o.outputSize] : [o.ensemble, batch, o.outputSize];
    this.#last = { x: s.slice(), y };
    return this.#view('y', this.#layout!.y, y);
  }

  /**
   * Backpropagates dy (shaped like the last forward's output): adds dL/dparams into `grads`
   * (paramGrads, default true; accumulate: false writes them instead) and returns dL/dx shaped
   * like the last forward's x, summed over the members that share an input (inputGrad, default
   * false; else null). The returned tensor is a view into the workspace, valid until the next
   * forward() or backward().
   */
  backward(dy: Tensor, options?: BackwardOptions): Tensor | null {
    const model = this.#live();
    tensorArg(dy, 'dy', ['f32']);
    if (dy.device !== this.options.device) throw new TypeError(`Expected a ${this.options.device} tensor (the model's device) for dy but received a ${dy.device} tensor`);
    const o = plainObject(options, 'options', BACKWARD_KEYS);
    if (o.inputGrad !== undefined && typeof o.inputGrad !== 'boolean') throw typeError('a boolean', 'options.inputGrad', o.inputGrad);
    if (o.paramGrads !== undefined && typeof o.paramGrads !== 'boolean') throw typeError('a boolean', 'options.paramGrads', o.paramGrads);
    if (o.accumulate !== undefined && typeof o.accumulate !== 'boolean') throw typeError('a boolean', 'options.accumulate', o.accumulate);
    const last = this.#last;
    if (!last) throw rangeError('the gradient of a forward() output (call forward() first)', 'dy', dy);
    if (dy.shape.join() !== last.y.join()) {
      throw new RangeError(`Expected shape [${last.y.join(', ')}] (the last forward's output) for dy but received shape [${dy.shape.join(', ')}]`);
    }
    const inputGrad = o.inputGrad === true;
    if (isCapturing()) this.#workspaceRecorded = true;
    model.backward(dy.handle, inputGrad, o.paramGrads !== false, o.accumulate !== false);
    return inputGrad ? this.#view('dx', this.#layout!.dx, last.x) : null;
  }

  /** grads = 0. */
  zeroGrad(): void {
    this.#live();
    this.grads.fill(0);
  }

  /** Copies another same-architecture model's parameters into this one (target networks). */
  copyFrom(other: MLP): void {
    this.#live();
    if (!(other instanceof MLP)) throw typeError('an MLP', 'other', other);
    if (other.disposed) throw disposedError('other', 'MLP');
    this.#requireSameLayout(other.options as unknown as Record<string, unknown>, 'other', '');
    copy(this.params, other.params);
  }

  #requireSameLayout(o: Record<string, unknown>, name: string, where: string): void {
    for (const k of ARCHITECTURE_KEYS) {
      const a = JSON.stringify(this.options[k]);
      const b = JSON.stringify(o[k]);
      if (a !== b) throw new RangeError(`Expected a model with ${k} ${a} (this model's) for ${name} but received ${k} ${b}${where}`);
    }
  }

  /**
   * Saves the parameters and the architecture as a safetensors file, atomically. `metadata`
   * adds string entries (keys starting with 'era.' are reserved).
   */
  async save(path: string, metadata?: Record<string, string>): Promise<void> {
    this.#live();
    if (typeof path !== 'string' || path.length === 0) throw typeError('a file path', 'path', path);
    const meta = plainObject(metadata, 'metadata');
    for (const [k, v] of Object.entries(meta)) {
      if (k.startsWith('era.')) throw rangeError("a key that does not start with 'era.' (reserved)", 'metadata', k);
      if (typeof v !== 'string') throw typeError('a string', `metadata['${k}']`, v);
    }
    const flat = (await this.params.read()) as Float32Array;
    const { device: _device, ...arch } = this.options;
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    const e = this.ensemble;
    for (const p of this.#parameters) {
      const n = p.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(e * n);
      for (let m = 0; m < e; m++) data.set(flat.subarray(m * this.numParameters + p.offset, m * this.numParameters + p.offset + n), m * n);
      tensors.set(p.name, { shape: e === 1 ? p.shape.slice() : [e, ...p.shape], data });
    }
    await writeSafetensors(path, tensors, { ...(meta as Record<string, string>), 'era.format': MLP_FORMAT, 'era.mlp': JSON.stringify(arch) });
  }

  /** A model with the architecture and parameters of a file written by save(). */
  static async load(path: string, options?: { device?: Device }): Promise<MLP> {
    if (typeof path !== 'string' || path.length === 0) throw typeError('a file path', 'path', path);
    const o = plainObject(options, 'options', LOAD_KEYS);
    const device = resolveDevice(o.device, 'options.device');
    const file = await readSafetensors(path);
    const arch = architectureOf(file, path);
    skipInit = true;
    let model: MLP;
    try {
      model = new MLP({ ...arch, device } as MLPOptions);
    } finally {
      skipInit = false;
    }
    try {
      model.#fill(file, path);
    } catch (err) {
      model.dispose();
      throw err;
    }
    return model;
  }

  /** Loads parameters saved by a same-architecture model into this one. */
  async loadState(path: string): Promise<void> {
    this.#live();
    if (typeof path !== 'string' || path.length === 0) throw typeError('a file path', 'path', path);
    const file = await readSafetensors(path);
    const arch = architectureOf(file, path);
    this.#live();
    this.#requireSameLayout(arch, 'path', ` in '${path}'`);
    this.#fill(file, path);
  }

  /** Scatters a checkpoint's tensors into params (all checked before anything is written). */
  #fill(file: SafetensorsFile, path: string): void {
    const e = this.ensemble;
    const expected = new Set(this.#parameters.map((p) => p.name));
    const extra = [...file.tensors.keys()].filter((name) => !expected.has(name));
    if (extra.length > 0) {
      throw new RangeError(`Expected only this model's tensors (${[...expected].join(', ')}) in the file for path but received also ${extra.map((x) => `'${x}'`).join(', ')} in '${path}'`);
    }
    const flat = new Float32Array(e * this.numParameters);
    for (const p of this.#parameters) {
      const t = file.tensors.get(p.name);
      const want = e === 1 ? p.shape : [e, ...p.shape];
      if (!t || t.dtype !== 'F32' || t.shape.join() !== want.join()) {
        const got = t ? `${t.dtype} [${t.shape.join(', ')}]` : 'nothing';
        throw new RangeError(`Expected an F32 tensor '${p.name}' of shape [${want.join(', ')}] in the file for path but received ${got} in '${path}'`);
      }
      const n = t.data.length / e;
      for (let m = 0; m < e; m++) flat.set((t.data as Float32Array).subarray(m * n, (m + 1) * n), m * this.numParameters + p.offset);
    }
    this.params.write(flat);
  }

  /** Frees the parameters, gradients and workspace; outputs handed out become unusable. */
  dispose(): void {
    if (!this.#native) return;
    this.#native.dispose();
    this.#native = null;
    this.#views.clear();
    this.#workspace?.dispose();
    this.#workspace = null;
    for (const ws of this.#retired) ws.dispose();
    this.#retired = [];
    this.params.dispose();
    this.grads.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** The architecture stored by save(), checked. */
function architectureOf(file: SafetensorsFile, path: string): Record<string, unknown> {
  const bad = (what: string) => new RangeError(`Expected an era-cuda MLP checkpoint for path but received '${path}' (${what})`);
  if (file.metadata['era.format'] !== MLP_FORMAT) throw bad(`metadata era.format is ${JSON.stringify(file.metadata['era.format'])}, not '${MLP_FORMAT}'`);
  let arch: unknown;
  try {
    arch = JSON.parse(file.metadata['era.mlp'] ?? '');
  } catch {
    throw bad('metadata era.mlp is not JSON');
  }
  if (arch === null || typeof arch !== 'object' || Array.isArray(arch)) throw bad('metadata era.mlp is not an object');
  const a = arch as Record<string, unknown>;
  delete a.device;
  return a;
}

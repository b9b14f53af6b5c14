/**
 * CUDA graphs: record a fixed-shape piece of work (a whole training update) once and replay it
 * with a single launch, which removes the per-kernel launch and N-API overhead that dominates
 * small-batch training.
 *
 * ```ts
 * const graph = era.captureGraph(() => agent.updateOnFixedBatch());  // runs once, then records
 * for (...) { fillInputs(); graph.replay(); }
 * graph.dispose();
 * ```
 *
 * What a graph can hold: kernels on the library stream. Recording bakes in every address and every
 * scalar argument, so
 * - the inputs must be written into the same tensors before each replay (outside the graph), and
 *   every tensor the function touches must outlive the graph;
 * - numbers that change between steps must live on the device (e.g. `new nn.Adam(p, { capturable:
 *   true })` keeps its step count there, and a step of one that does not is refused while
 *   recording; random draws must come from tensors filled before the replay, and a CUDA draw
 *   (era.uniform, era.normal, rl.randomIndices, rl.*Sample) is refused while recording); host numbers such
 *   as an optimizer's `lr` replay with the value they had when recorded;
 * - host transfers (`toArray`, `write`, `tensor(...)` of host data on CUDA) and `synchronize()` are
 *   refused while recording, with an error naming the op; so is CUDA work from other threads
 *   (workers), which the recording would otherwise take in.
 * Memory the function allocates while recording stays reserved for the graph until it is disposed,
 * whether it is freed during the recording (temporaries) or later (a tensor the function kept), so
 * replays never write into memory that was handed out again; a block several graphs recorded
 * waits for the last of them. An `nn.MLP` whose workspace a recording used keeps it when a
 * larger batch makes it allocate a new one.
 *
 * `captureGraph` runs `fn` eagerly `warmup` times first (default 1; lazily allocated buffers and
 * one-off work happen there, and its effects are real), then records one more call, which does not
 * execute. On the CPU nothing is recorded: `replay()` calls `fn` again, so code written for graphs
 * runs unchanged on both backends.
 */
import { defaultDevice, type Device } from './device.js';
import { native } from './native.js';
import { synchronize } from './runtime.js';
import { integer, oneOf, optionNames, plainObject, typeError } from './validate.js';

interface GraphNativeApi {
  graphBegin(): void;
  graphEnd(): object;
  graphAbort(): void;
  graphCapturing(): boolean;
  graphLaunch(graph: object): void;
  graphNodes(graph: object): number;
  graphDispose(graph: object): void;
}

const api = (): GraphNativeApi => native() as unknown as GraphNativeApi;

export interface CaptureGraphOptions {
  /** Where the work runs (default: the default device). */
  device?: Device;
  /** Eager calls before recording (default 1). */
  warmup?: number;
}

const CAPTURE_OPTIONS = optionNames('device', 'warmup');

export class CudaGraph implements Disposable {
  readonly device: Device;
  /** Nodes recorded (0 on the CPU, where nothing is recorded). */
  readonly nodes: number;
  readonly #fn: () => void;
  #handle: object | null;
  #disposed = false;

  /** @internal Use era.captureGraph(). */
  constructor(device: Device, fn: () => void, handle: object | null) {
    this.device = device;
    this.#fn = fn;
    this.#handle = handle;
    this.nodes = handle ? api().graphNodes(handle) : 0;
  }

  /** True where the work was recorded into a CUDA graph (false on the CPU). */
  get captured(): boolean {
    return this.#handle !== null;
  }

  /** Queues one run of the recorded work (on the CPU: runs the function). */
  replay(): void {
    if (this.#disposed) throw typeError('a live graph', 'this', 'a disposed graph');
    if (this.#handle) api().graphLaunch(this.#handle);
    else this.#fn();
  }

  /** Frees the graph and the memory it reserved. Twice is harmless. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#handle) api().graphDispose(this.#handle);
    this.#handle = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** True while a CUDA graph is being recorded. */
export function isCapturing(): boolean {
  return api().graphCapturing();
}

/** Runs `fn` `warmup` times, then records it into a CUDA graph (see the module comment). */
export function captureGraph(fn: () => void, options?: CaptureGraphOptions): CudaGraph {
  if (typeof fn !== 'function') throw typeError('a function', 'fn', fn);
  const o = plainObject(options, 'options', CAPTURE_OPTIONS);
  const device = o.device === undefined ? defaultDevice() : oneOf(o.device, ['cpu', 'cuda'] as const, 'options.device');
  const warmup = integer(o.warmup ?? 1, 'options.warmup', 0);
  const call = (): void => {
    const r: unknown = fn();
    if (r && typeof (r as { then?: unknown }).then === 'function') {
      (r as Promise<unknown>).then(undefined, () => {}); // its later rejection must not go unhandled
      throw typeError('a synchronous function (work queued by a Promise cannot be recorded)', 'fn', 'an async function');
    }
  };
  for (let i = 0; i < warmup; i++) call();
  if (device === 'cpu') return new CudaGraph(device, call, null);
  synchronize(); // the warm-up's work is done before recording starts
  api().graphBegin();
  try {
    call();
  } catch (err) {
    api().graphAbort();
    throw err;
  }
  return new CudaGraph(device, call, api().graphEnd());
}

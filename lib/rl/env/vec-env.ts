/**
 * VecEnv: n environments of one task stepped together, writing into flat, reused arrays
 * (observations [n·obsDim], rewards [n], terminated/truncated [n] as 0/1) so a trainer can hand
 * them to pinned buffers: after construction, reset() and step() allocate nothing.
 *
 * Seeds: environment i starts from seed + i (options.seed, or one from the OS); reset(seeds)
 * reseeds all of them (a number s gives s + i, an array gives one seed each).
 *
 * Auto-reset (options.autoReset, default true): when environment i's episode ends, step() copies
 * its last observation to finalObservations row i and writes the first observation of its next
 * episode to observations row i; truncated[i] = 1 tells the caller the row was replaced. Without
 * auto-reset an ended environment must be reset (reset() resets all) before it is stepped again.
 */
import { describe, integer, optionNames, plainObject, rangeError, typeError } from '../../validate.js';
import type { MujocoEnv } from './env.js';
import { ENV_OPTION_NAMES, makeEnv, resolveOptions, taskSpec } from './registry.js';
import type { EnvOptions, Space } from './types.js';

export interface VecEnvOptions extends EnvOptions {
  autoReset?: boolean;
}

const VEC_ENV_OPTIONS = optionNames(...ENV_OPTION_NAMES, 'autoReset');
const VEC_BUFFERS = optionNames('observations', 'rewards', 'terminated', 'truncated');

export interface VecStepResult {
  observations: Float32Array;
  rewards: Float32Array;
  terminated: Uint8Array;
  truncated: Uint8Array;
}

/** Caller-provided arrays step()/reset() write into instead of the VecEnv's own. */
export interface VecBuffers {
  observations?: Float32Array;
  rewards?: Float32Array;
  terminated?: Uint8Array;
  truncated?: Uint8Array;
}

function checkArray<T extends Float32Array | Uint8Array>(a: T | undefined, ctor: { name: string }, n: number, name: string): void {
  if (a === undefined) return;
  if (!(a instanceof (ctor as unknown as new () => T))) throw typeError(`a ${ctor.name} of length ${n}`, name, a);
  if (a.length !== n) throw rangeError(`a ${ctor.name} of length ${n}`, name, a);
}

export class VecEnv implements Disposable {
  readonly name: string;
  readonly numEnvs: number;
  readonly observationSpec: Space;
  readonly actionSpec: Space;
  readonly maxEpisodeSteps: number;
  readonly autoReset: boolean;
  readonly envs: readonly MujocoEnv[];
  /** The arrays step() and reset() fill by default (reused across calls). */
  readonly observations: Float32Array;
  readonly rewards: Float32Array;
  readonly terminated: Uint8Array;
  readonly truncated: Uint8Array;
  /** Row i: the last observation of environment i's episode that ended at the latest step. */
  readonly finalObservations: Float32Array;
  private readonly obsDim: number;
  private readonly actDim: number;
  private readonly result: VecStepResult;
  private disposedFlag = false;

  /** Builds n environments of `task` (see makeEnv for the options). */
  static async create(task: string, n: number, options?: VecEnvOptions): Promise<VecEnv> {
    integer(n, 'n', 1);
    const o = { ...plainObject(options, 'options', VEC_ENV_OPTIONS) } as VecEnvOptions;
    const autoReset = o.autoReset ?? true;
    if (typeof autoReset !== 'boolean') throw typeError('a boolean', 'autoReset', autoReset);
    delete o.autoReset;
    const base = resolveOptions(taskSpec(task), o);
    const envs: MujocoEnv[] = [];
    try {
      for (let i = 0; i < n; i++) envs.push(await makeEnv(task, { ...o, seed: base.seed + i }));
    } catch (err) {
      for (const e of envs) e.dispose();
      throw err;
    }
    return new VecEnv(envs, autoReset);
  }

  constructor(envs: readonly MujocoEnv[], autoReset = true) {
    if (envs.length === 0) throw rangeError('at least one environment', 'envs', envs);
    const first = envs[0];
    for (const e of envs) {
      if (e.name !== first.name || e.observationSize !== first.observationSize || e.actionSize !== first.actionSize) {
        throw rangeError(`environments of one task (${first.name})`, 'envs', e.name);
      }
    }
    this.envs = envs;
    this.name = first.name;
    this.numEnvs = envs.length;
    this.autoReset = autoReset;
    this.obsDim = first.observationSize;
    this.actDim = first.actionSize;
    this.observationSpec = first.observationSpec;
    this.actionSpec = first.actionSpec;
    this.maxEpisodeSteps = first.maxEpisodeSteps;
    const n = this.numEnvs;
    this.observations = new Float32Array(n * this.obsDim);
    this.finalObservations = new Float32Array(n * this.obsDim);
    this.rewards = new Float32Array(n);
    this.terminated = new Uint8Array(n);
    this.truncated = new Uint8Array(n);
    this.result = { observations: this.observations, rewards: this.rewards, terminated: this.terminated, truncated: this.truncated };
  }

  /**
   * Resets every environment; returns the observations array written (out, or the VecEnv's own).
   */
  reset(seeds?: number | ArrayLike<number>, out?: Float32Array): Float32Array {
    this.checkLive();
    const n = this.numEnvs;
    checkArray(out, Float32Array, n * this.obsDim, 'out');
    if (seeds !== undefined && typeof seeds !== 'number') {
      if (typeof (seeds as ArrayLike<number>).length !== 'number') throw typeError(`a seed or ${n} seeds`, 'seeds', seeds);
      if (seeds.length !== n) throw rangeError(`a seed or ${n} seeds`, 'seeds', seeds);
    }
    // Every seed is checked before any environment resets, so a bad one leaves all as they were.
    const each = Array.from({ length: n }, (_, i) => (seeds === undefined ? undefined
      : integer(typeof seeds === 'number' ? seeds + i : seeds[i], typeof seeds === 'number' ? 'seeds' : `seeds[${i}]`, 0)));
    const obs = out ?? this.observations;
    for (let i = 0; i < n; i++) this.envs[i].resetInto(obs, i * this.obsDim, each[i]);
    return obs;
  }

  /**
   * Steps every environment with its row of `actions` [n·actDim] (clipped to [-1, 1]; wrong
   * length or non-finite values: an error naming `actions`). Writes into `out`'s arrays where
   * given, else into the VecEnv's own; the returned object is reused across calls.
   */
  step(actions: Float32Array | ArrayLike<number>, out?: VecBuffers): VecStepResult {
    this.checkLive();
    const n = this.numEnvs;
    const { obsDim, actDim } = this;
    if (actions === null || typeof actions !== 'object' || typeof (actions as { length?: unknown }).length !== 'number') {
      throw typeError(`an array of ${n * actDim} numbers`, 'actions', actions);
    }
    if (actions.length !== n * actDim) throw rangeError(`an array of ${n * actDim} numbers (${n} × ${actDim})`, 'actions', actions);
    // Check every row first so a bad value leaves no environment half-stepped.
    for (let j = 0; j < actions.length; j++) {
      const v = actions[j];
      if (typeof v !== 'number') throw typeError(`an array of ${n * actDim} numbers`, 'actions', actions);
      if (!Number.isFinite(v)) throw new RangeError(`Expected finite numbers for actions but received ${describe(v)} at element ${j}`);
    }
    const r = this.result;
    r.observations = this.observations;
    r.rewards = this.rewards;
    r.terminated = this.terminated;
    r.truncated = this.truncated;
    if (out !== undefined) {
      plainObject(out, 'out', VEC_BUFFERS);
      checkArray(out.observations, Float32Array, n * obsDim, 'observations');
      checkArray(out.rewards, Float32Array, n, 'rewards');
      checkArray(out.terminated, Uint8Array, n, 'terminated');
      checkArray(out.truncated, Uint8Array, n, 'truncated');
      if (out.observations) r.observations = out.observations;
      if (out.rewards) r.rewards = out.rewards;
      if (out.terminated) r.terminated = out.terminated;
      if (out.truncated) r.truncated = out.truncated;
    }
    for (let i = 0; i < n; i++) {
      const env = this.envs[i];
      const row = i * obsDim;
      r.rewards[i] = env.stepInto(actions, i * actDim, r.observations, row, 'actions');
      r.terminated[i] = 0;
      const ended = env.truncated;
      r.truncated[i] = ended ? 1 : 0;
      if (ended && this.autoReset) {
        for (let k = row; k < row + obsDim; k++) this.finalObservations[k] = r.observations[k];
        env.resetInto(r.observations, row);
      }
    }
    return r;
  }

  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    for (const e of this.envs) e.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  private checkLive(): void {
    if (this.disposedFlag) throw new Error(`The vector environment '${this.name}' has been disposed`);
  }
}

/** VecEnv.create as a function. */
export function makeVecEnv(task: string, n: number, options?: VecEnvOptions): Promise<VecEnv> {
  return VecEnv.create(task, n, options);
}

/**
 * MujocoEnv: a Gymnasium-like environment over one MuJoCo simulation and one task.
 *
 * - Actions: exactly nu finite numbers (else a TypeError/RangeError naming `action`), clipped to
 *   [-1, 1], then mapped linearly to each actuator's ctrlrange (an actuator without a ctrlrange
 *   gets the clipped value itself).
 * - One agent step = `actionRepeat` control steps; one control step = round(controlTimestep /
 *   timestep) physics steps, after which the task's reward is taken (as dm_control does). The
 *   rewards of the repeats are summed.
 * - Episodes last `maxEpisodeSteps` agent steps: that step returns truncated = true; terminated is
 *   always false. Stepping before reset() or after the episode ended throws.
 * - reset(seed) restarts the environment's own PRNG (rng.ts) before drawing the initial state, so
 *   a seed and an action sequence fix the trajectory bit for bit; reset() continues the stream.
 * - Allocation: step() allocates only the returned observation and result object; stepInto() and
 *   resetInto() write into the caller's array and allocate nothing (the VecEnv path).
 */
import { finiteNumber, integer, rangeError, typeError, describe } from '../../validate.js';
import type { Physics } from './physics.js';
import { Rng } from './rng.js';
import type { Env, Space, StepResult, Task, TaskSpec } from './types.js';

export interface MujocoEnvConfig {
  actionRepeat: number;
  maxEpisodeSteps: number;
  seed: number;
}

function box(n: number, low: number, high: number): Space {
  return { shape: [n], low: new Float32Array(n).fill(low), high: new Float32Array(n).fill(high) };
}

export class MujocoEnv implements Env {
  readonly name: string;
  readonly observationSpec: Space;
  readonly actionSpec: Space;
  readonly maxEpisodeSteps: number;
  readonly actionRepeat: number;
  /** Physics steps per control step. */
  readonly physicsStepsPerControl: number;
  readonly observationSize: number;
  readonly actionSize: number;
  private readonly sim: Physics;
  private readonly task: Task;
  private readonly rng: Rng;
  /** The clipped, normalised action of the current step (what the reward sees). */
  private readonly action: Float64Array;
  private stepCount = 0;
  private running = false;
  private lastTruncated = false;

  constructor(spec: TaskSpec, physics: Physics, config: MujocoEnvConfig) {
    this.name = spec.name;
    this.sim = physics;
    this.task = spec.create(physics);
    this.actionRepeat = config.actionRepeat;
    this.maxEpisodeSteps = config.maxEpisodeSteps;
    this.rng = new Rng(config.seed);
    this.physicsStepsPerControl = Math.max(1, Math.round(spec.controlTimestep / physics.timestep));
    this.observationSize = this.task.observationSize;
    this.actionSize = physics.nu;
    this.observationSpec = box(this.observationSize, -Infinity, Infinity);
    this.actionSpec = box(this.actionSize, -1, 1);
    this.action = new Float64Array(this.actionSize);
  }

  /** The simulation, for inspection and tests (its arrays are live views). */
  get physics(): Physics {
    this.checkLive();
    return this.sim;
  }

  /** Agent steps taken in the current episode. */
  get episodeStep(): number {
    return this.stepCount;
  }

  /** Whether the last step ended the episode by the time limit. */
  get truncated(): boolean {
    return this.lastTruncated;
  }

  get disposed(): boolean {
    return this.sim.disposed;
  }

  reset(seed?: number): Float32Array {
    const obs = new Float32Array(this.observationSize);
    this.resetInto(obs, 0, seed);
    return obs;
  }

  /** reset() writing the first observation to out[offset, offset + observationSize). */
  resetInto(out: Float32Array, offset: number, seed?: number): void {
    this.checkLive();
    this.checkOut(out, offset);
    if (seed !== undefined) {
      integer(seed, 'seed', 0);
      this.rng.seed(seed);
    }
    const sim = this.sim;
    sim.resetData();
    this.task.initializeEpisode(sim, this.rng);
    sim.data.time = 0;
    sim.ctrl.fill(0);
    sim.forward();
    this.stepCount = 0;
    this.running = true;
    this.lastTruncated = false;
    this.task.observe(sim, out, offset);
  }

  step(action: ArrayLike<number>): StepResult {
    const observation = new Float32Array(this.observationSize);
    const reward = this.advance(action, 0, observation, 0, 'action', true);
    return { observation, reward, terminated: false, truncated: this.lastTruncated };
  }

  /**
   * step() reading the action from action[actionOffset, actionOffset + nu) and writing the
   * observation to out[offset, ...); returns the reward (truncation: the `truncated` getter).
   */
  stepInto(action: ArrayLike<number>, actionOffset: number, out: Float32Array, offset: number, name = 'action'): number {
    this.checkOut(out, offset);
    return this.advance(action, actionOffset, out, offset, name, false);
  }

  private advance(action: ArrayLike<number>, actionOffset: number, out: Float32Array, offset: number, name: string, exact: boolean): number {
    this.checkLive();
    if (!this.running) {
      throw new Error(`${this.name}: call reset() before step()${this.stepCount > 0 ? ' (the episode has ended)' : ''}`);
    }
    this.setAction(action, actionOffset, name, exact);
    const sim = this.sim;
    let reward = 0;
    for (let r = 0; r < this.actionRepeat; r++) {
      sim.step(this.physicsStepsPerControl);
      reward += this.task.reward(sim, this.action);
    }
    this.stepCount++;
    this.lastTruncated = this.stepCount >= this.maxEpisodeSteps;
    if (this.lastTruncated) this.running = false;
    this.task.observe(sim, out, offset);
    return reward;
  }

  /**
   * Puts the simulation in the given state (qpos of length nq, qvel of length nv), recomputes it
   * and returns its observation; the episode's step count is unchanged. For tests and demos.
   */
  setState(qpos: ArrayLike<number>, qvel: ArrayLike<number>): Float32Array {
    this.checkLive();
    const sim = this.sim;
    this.copyChecked(qpos, sim.qpos, 'qpos');
    this.copyChecked(qvel, sim.qvel, 'qvel');
    sim.forward();
    const obs = new Float32Array(this.observationSize);
    this.task.observe(sim, obs, 0);
    return obs;
  }

  dispose(): void {
    this.running = false;
    this.sim.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  private setAction(action: ArrayLike<number>, offset: number, name: string, exact: boolean): void {
    const n = this.actionSize;
    if (action === null || typeof action !== 'object' || typeof (action as { length?: unknown }).length !== 'number') {
      throw typeError(`an array of ${n} numbers`, name, action);
    }
    // step() takes exactly nu numbers; stepInto() one row of a longer array (the VecEnv's).
    if (exact ? action.length !== n : !(offset >= 0 && offset + n <= action.length)) {
      throw rangeError(exact ? `an array of ${n} numbers` : `an array with ${n} numbers from element ${offset}`, name, action);
    }
    // Check everything before writing anything, so a rejected action leaves ctrl untouched.
    for (let i = 0; i < n; i++) {
      const v = action[offset + i];
      if (typeof v !== 'number') throw typeError(`an array of ${n} numbers`, name, action);
      if (!Number.isFinite(v)) {
        throw new RangeError(`Expected finite numbers for ${name} but received ${describe(v)} at element ${offset + i}`);
      }
    }
    const ctrl = this.sim.ctrl;
    // Read each step, so edits of the model's ctrlrange take effect.
    const range = this.sim.modelArray('actuator_ctrlrange');
    for (let i = 0; i < n; i++) {
      const v = action[offset + i];
      const u = v < -1 ? -1 : v > 1 ? 1 : v;
      this.action[i] = u;
      const lo = range[2 * i];
      const hi = range[2 * i + 1];
      // The bindings cannot read actuator_ctrllimited; a non-empty range is what "limited" means.
      // Centre + half-width form: a symmetric range [-c, c] gives exactly c·u.
      ctrl[i] = lo < hi ? 0.5 * (lo + hi) + 0.5 * (hi - lo) * u : u;
    }
  }

  private copyChecked(src: ArrayLike<number>, dst: Float64Array, name: string): void {
    if (src === null || typeof src !== 'object' || typeof (src as { length?: unknown }).length !== 'number') {
      throw typeError(`an array of ${dst.length} numbers`, name, src);
    }
    if (src.length !== dst.length) throw rangeError(`an array of ${dst.length} numbers`, name, src);
    for (let i = 0; i < dst.length; i++) finiteNumber(src[i], name);
    for (let i = 0; i < dst.length; i++) dst[i] = src[i];
  }

  private checkOut(out: Float32Array, offset: number): void {
    if (!(out instanceof Float32Array)) throw typeError('a Float32Array', 'out', out);
    if (!(Number.isInteger(offset) && offset >= 0 && offset + this.observationSize <= out.length)) {
      throw rangeError(`a Float32Array with room for ${this.observationSize} values from element ${offset}`, 'out', out);
    }
  }

  private checkLive(): void {
    if (this.sim.disposed) throw new Error(`The environment '${this.name}' has been disposed`);
  }
}

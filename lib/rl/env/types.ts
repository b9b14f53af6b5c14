/**
 * The Gymnasium-like environment contract the SAC trainer programs against, and the contract
 * between the generic MuJoCo environment (env.ts) and a task (tasks/*.ts).
 */
import type { Physics } from './physics.js';
import type { Rng } from './rng.js';

/** A box: `shape`, with element-wise bounds `low`/`high` (±Infinity where unbounded). */
export interface Space {
  shape: number[];
  low: Float32Array;
  high: Float32Array;
}

export interface StepResult {
  observation: Float32Array;
  /** Sum of the per-physics-control-step rewards over the action repeat (each in [0, 1]). */
  reward: number;
  /** Always false: the DMC tasks have no terminal states. */
  terminated: boolean;
  /** True on the step that reaches maxEpisodeSteps. */
  truncated: boolean;
}

export interface Env extends Disposable {
  /** The task name, e.g. 'cheetah-run'. */
  readonly name: string;
  readonly observationSpec: Space;
  /** Always [-1, 1] per actuator; actions are clipped to it and scaled to each ctrlrange. */
  readonly actionSpec: Space;
  readonly maxEpisodeSteps: number;
  /** Starts an episode; with a seed, restarts the environment's random stream first. */
  reset(seed?: number): Float32Array;
  step(action: ArrayLike<number>): StepResult;
  /** Frees the simulation; twice is harmless; a disposed environment throws when used. */
  dispose(): void;
}

export interface EnvOptions {
  /**
   * Each action is applied for this many control steps and the rewards are summed
   * (HumanoidBench's ActionRepeat; default 1). The episode keeps its length in simulated time.
   */
  actionRepeat?: number;
  /** Agent steps per episode before truncation (default ceil(1000 / actionRepeat), DMC's limit). */
  maxEpisodeSteps?: number;
  /** Where the humanoid tasks read humanoid.xml (default: Debian libmujoco-samples' copy). */
  modelPath?: string;
  /** Seed of the environment's random stream until reset(seed) (default: from the OS). */
  seed?: number;
}

/** One episode's task logic over a compiled model. */
export interface Task {
  /** Length of the observation vector. */
  readonly observationSize: number;
  /**
   * Sets the initial state; the physics has just been reset to the model's reference
   * configuration. It may step the physics (the cheetah settles) and need not call forward().
   */
  initializeEpisode(physics: Physics, rng: Rng): void;
  /** Writes the observation of the current state to out[offset, offset + observationSize). */
  observe(physics: Physics, out: Float32Array, offset: number): void;
  /** The reward in [0, 1] of the current state, given the normalised action u ∈ [-1, 1]^nu. */
  reward(physics: Physics, action: Float64Array): number;
}

export interface TaskSpec {
  /** '<domain>-<task>', e.g. 'walker-walk'. */
  readonly name: string;
  /** Seconds of simulated time per control step (DMC's control_timestep). */
  readonly controlTimestep: number;
  /** Control steps per episode (1000 for every DMC task). */
  readonly timeLimit: number;
  /** The MJCF text of the domain's model; may throw (a missing model file). */
  loadXml(options: { modelPath?: string }): string;
  /** Binds the task to a compiled model (name lookups happen here, once). */
  create(physics: Physics): Task;
}

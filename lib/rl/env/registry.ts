/**
 * The task registry: makeEnv(name, options) builds a MujocoEnv for a task, listTasks() names them.
 */
import { integer, optionNames, plainObject, rangeError, typeError } from '../../validate.js';
import { MujocoEnv } from './env.js';
import { loadMujoco } from './mujoco.js';
import { Physics } from './physics.js';
import { entropySeed } from './rng.js';
import { cartpoleBalance, cartpoleSwingup } from './tasks/cartpole.js';
import { cheetahRun } from './tasks/cheetah.js';
import { hopperStand } from './tasks/hopper.js';
import { humanoidRun, humanoidStand, humanoidWalk } from './tasks/humanoid.js';
import { pendulumSwingup } from './tasks/pendulum.js';
import { reacherEasy } from './tasks/reacher.js';
import { walkerWalk } from './tasks/walker.js';
import type { EnvOptions, TaskSpec } from './types.js';

const TASKS: readonly TaskSpec[] = [
  pendulumSwingup, cartpoleSwingup, cartpoleBalance, reacherEasy, cheetahRun, walkerWalk, hopperStand, humanoidStand, humanoidWalk, humanoidRun,
];

/** makeEnv's option names (others are a TypeError). */
export const ENV_OPTION_NAMES: readonly string[] = ['actionRepeat', 'maxEpisodeSteps', 'modelPath', 'seed'];
const ENV_OPTIONS = optionNames(...ENV_OPTION_NAMES);

/** The task names makeEnv accepts, e.g. 'cheetah-run'. */
export function listTasks(): string[] {
  return TASKS.map((t) => t.name);
}

/** The spec of a task; a RangeError listing the known tasks for an unknown name. */
export function taskSpec(task: unknown): TaskSpec {
  if (typeof task !== 'string') throw typeError(`a task name (one of ${listTasks().join(', ')})`, 'task', task);
  const spec = TASKS.find((t) => t.name === task);
  if (!spec) throw rangeError(`a known task (one of ${listTasks().join(', ')})`, 'task', task);
  return spec;
}

/** Options checked and completed with their defaults. */
export function resolveOptions(spec: TaskSpec, options: unknown): Required<Omit<EnvOptions, 'modelPath'>> & { modelPath?: string } {
  const o = plainObject(options, 'options', ENV_OPTIONS);
  const actionRepeat = o.actionRepeat === undefined ? 1 : integer(o.actionRepeat, 'actionRepeat', 1);
  const maxEpisodeSteps = o.maxEpisodeSteps === undefined
    ? Math.ceil(spec.timeLimit / actionRepeat)
    : integer(o.maxEpisodeSteps, 'maxEpisodeSteps', 1);
  if (o.modelPath !== undefined && typeof o.modelPath !== 'string') throw typeError('a file path', 'modelPath', o.modelPath);
  const seed = o.seed === undefined ? entropySeed() : integer(o.seed, 'seed', 0);
  return { actionRepeat, maxEpisodeSteps, seed, modelPath: o.modelPath as string | undefined };
}

/**
 * Builds the environment of a task (see listTasks()). Loads the MuJoCo wasm module on first use.
 * Throws a RangeError naming `task` for an unknown task, and an Error naming libmujoco-samples and
 * the modelPath option when a humanoid task cannot find its model file.
 */
export async function makeEnv(task: string, options?: EnvOptions): Promise<MujocoEnv> {
  const spec = taskSpec(task);
  const resolved = resolveOptions(spec, options);
  const xml = spec.loadXml({ modelPath: resolved.modelPath });
  const mj = await loadMujoco();
  const physics = Physics.fromXml(mj, xml, task);
  try {
    return new MujocoEnv(spec, physics, resolved);
  } catch (err) {
    physics.dispose();
    throw err;
  }
}

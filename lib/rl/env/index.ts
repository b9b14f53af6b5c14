/**
 * MuJoCo environments for the SAC trainer: DeepMind-Control-style tasks on @mujoco/mujoco (wasm).
 */
export { MujocoEnv } from './env.js';
export { loadMujoco, type MujocoModule } from './mujoco.js';
export { Physics } from './physics.js';
export { listTasks, makeEnv } from './registry.js';
export { DEFAULT_VALUE_AT_MARGIN, SIGMOIDS, smallControl, tolerance, type Sigmoid } from './rewards.js';
export { Rng } from './rng.js';
export { DEFAULT_HUMANOID_PATH, HUMANOID_PATH_ENV, humanoidModelPath } from './tasks/humanoid.js';
export { VecEnv, makeVecEnv, type VecBuffers, type VecEnvOptions, type VecStepResult } from './vec-env.js';
export type { Env, EnvOptions, Space, StepResult, Task, TaskSpec } from './types.js';

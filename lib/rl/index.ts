/**
 * era.rl: continuous-control reinforcement learning with ERA. MuJoCo environments, the SAC ops
 * (policy distributions, replay sampling, twin-critic losses), a device replay buffer, the SAC agent
 * and its trainer.
 */
export * from './env/index.js';
export * from './ops.js';
export { ReplayBuffer } from './replay.js';
export type { ReplayBatch, ReplayBufferOptions } from './replay.js';
export { SacAgent } from './sac/agent.js';
export type { SacAgentOptions, SacUpdateMetrics } from './sac/agent.js';
export { SAC_DEFAULTS, resolveSacConfig } from './sac/config.js';
export type { SacConfig, SacVariant } from './sac/config.js';
export { loadSacCheckpoint, saveSacCheckpoint } from './sac/checkpoint.js';
export { evaluate, trainSac, writeCurves } from './sac/trainer.js';
export type { Evaluation, TrainSacOptions, TrainSacResult } from './sac/trainer.js';

/**
 * era.nn: dense-network building blocks. `functional` holds matmul and the layers (forward and
 * backward); the optimizers and the bf16 host conversions are exported directly.
 */
export * as functional from './functional.js';
export type { Activation, LayerNormGrads, LayerNormResult, LinearGrads, MatmulOptions, Precision, ReduceOptions } from './functional.js';
export { matmul } from './functional.js';
export { Adam, AdamW, SGD, adamStep, clipGradNorm, polyakUpdate, sgdStep } from './optim.js';
export type { AdamOptions, SgdOptions } from './optim.js';
export { bf16ToF32, f32ToBf16, fromBf16Bits, toBf16Bits } from './bf16.js';

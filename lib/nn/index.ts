/**
 * era.nn: dense-network building blocks. `functional` holds matmul and the layers (forward and
 * backward); the optimizers, the bf16 host conversions, the `MLP` model object and the
 * safetensors reader/writer are exported directly.
 */
export * as functional from './functional.js';
export type { Activation, CudaGemmKernel, LayerNormGrads, LayerNormResult, LinearGrads, MatmulOptions, Precision, ReduceOptions } from './functional.js';
export { cudaGemmKernels, matmul, setCudaGemmKernel } from './functional.js';
export { Adam, AdamW, SGD, adamStep, clipGradNorm, polyakUpdate, sgdStep } from './optim.js';
export type { AdamOptions, SgdOptions } from './optim.js';
export { bf16ToF32, f32ToBf16, fromBf16Bits, toBf16Bits } from './bf16.js';
export { LAYER_NORM_EPS, MLP, MLP_FORMAT } from './mlp.js';
export type { BackwardOptions, HiddenActivation, MLPHead, MLPOptions, MLPParameter, ResolvedMLPOptions } from './mlp.js';
export { decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors } from './safetensors.js';
export type { SafetensorsData, SafetensorsDType, SafetensorsFile, SafetensorsTensor } from './safetensors.js';

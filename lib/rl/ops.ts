/**
 * The SAC-specific fused ops, on CPU tensors (float64 references) and CUDA tensors (one launch
 * per op, asynchronous):
 *
 * - policy distributions (ops-policy.ts): SAC-ERA's truncated normal (era-spec §1.4) and classic
 *   SAC's tanh-squashed Gaussian: sample, reparameterised backward, log-prob; Φ⁻¹;
 * - replay sampling (ops-replay.ts): Philox row indices, row gathers, ring-buffer row writes, for
 *   single buffers [N, F] and per-seed stacks [S, N, F] sharing the indices (era-spec §1.7);
 * - twin-critic math (ops-loss.ts): the TD target, the critic and actor losses with their
 *   gradients, and classic SAC's entropy terms and temperature loss.
 *
 * Ops that draw random numbers take `{ generator }` (an era.Generator, whose counter advances)
 * or `{ seed }`; the same generator state draws the same numbers on both backends. Every output
 * can be passed in (named output options) so a training step allocates nothing; outputs never
 * alias inputs. Bad arguments throw TypeError / RangeError naming the argument.
 */
export {
  normalIcdf, tanhGaussianBackward, tanhGaussianSample, tanhGaussianTransform, truncatedNormalBackward, truncatedNormalLogProb, truncatedNormalSample,
  truncatedNormalTransform,
} from './ops-policy.js';
export type {
  PolicyGradients, TanhGaussianSample, TanhGaussianSampleOptions, TruncatedNormalBackwardOptions, TruncatedNormalOptions,
  TruncatedNormalSample, TruncatedNormalSampleOptions,
} from './ops-policy.js';
export { gatherRows, randomIndices, scatterRows } from './ops-replay.js';
export type { GatherRowsOptions, RandomIndicesOptions } from './ops-replay.js';
export { sacActorLoss, sacCriticLoss, sacTarget } from './ops-loss.js';
export type { SacActorLoss, SacActorLossOptions, SacLoss, SacTargetOptions } from './ops-loss.js';
export type { DrawOptions } from './ops-args.js';

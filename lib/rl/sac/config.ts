/**
 * SAC hyper-parameters. The defaults are the released SAC-ERA code's (era-spec §1.5-1.7): batch 256,
 * 2 updates per environment step, 5000 uniform warm-up steps, γ 0.99, τ 0.005, lr 3e-4, hidden 512,
 * AdamW critic (wd 1e-4) and Adam actor, ERA entropy 0.25 per action dimension.
 */
import type { Device } from '../../device.js';
import { GAUSSIAN_DEFAULTS, HALF_LOG_2PI_E } from '../../era/gaussian.js';
import type { Precision } from '../../nn/functional.js';
import { finiteNumber, integer, oneOf, optionNames, plainObject, rangeError, typeError } from '../../validate.js';

/** 'era': SAC-ERA (truncated normal, ERA std, no α); 'sac': classic SAC (tanh Gaussian, learned α). */
export type SacVariant = 'era' | 'sac';
export const SAC_VARIANTS: readonly SacVariant[] = ['era', 'sac'];

export interface SacConfig {
  variant: SacVariant;
  /** Seeds trained side by side as one ensemble. */
  seeds: number;
  hidden: number;
  batchSize: number;
  updatesPerStep: number;
  warmupSteps: number;
  gamma: number;
  tau: number;
  actorLr: number;
  criticLr: number;
  criticWeightDecay: number;
  /** ERA target entropy per action dimension H_d. */
  entropyPerDim: number;
  /**
   * ERA: tune the README's compensation δ so the executed policy's entropy meets the target.
   * δ is kept in [0, δmax]: ≥ 0 because it compensates the truncation to [−1, 1], which only lowers
   * entropy; δmax = D(ℓmax − H_d + ½ln 2πe), where the activation's scale K reaches 0 (SacAgent.deltaMax).
   */
  autoDelta: boolean;
  /** Step size of the δ tuning (δ ← clip(δ − lr · (H[π] − H0), 0, δmax) each update). */
  deltaLr: number;
  /**
   * Classic SAC: initial temperature α and its learning rate; target entropy −D (the SAC-v2
   * paper's heuristic; jaxrl's SACLearner defaults to −D/2). Its critics are the ERA variant's
   * (twin LayerNorm, AdamW) so that the comparison changes only the policy.
   */
  initAlpha: number;
  alphaLr: number;
  /** Classic SAC's log σ range: tanh-rescaled into [min, max] as pytorch_sac and CleanRL do (jaxrl clips to [−10, 2]). */
  logStdMin: number;
  logStdMax: number;
  replayCapacity: number;
  precision: Precision;
  /**
   * Record each update into a CUDA graph and replay it (CUDA only; either variant, without
   * autoDelta). Removes the per-launch overhead of the ~70-80 kernels of an update.
   */
  graph: boolean;
  device?: Device;
}

export const SAC_DEFAULTS: Readonly<Omit<SacConfig, 'device'>> = Object.freeze({
  variant: 'era' as SacVariant,
  seeds: 1,
  hidden: 512,
  batchSize: 256,
  updatesPerStep: 2,
  warmupSteps: 5000,
  gamma: 0.99,
  tau: 0.005,
  actorLr: 3e-4,
  criticLr: 3e-4,
  criticWeightDecay: 1e-4,
  entropyPerDim: 0.25,
  autoDelta: false,
  deltaLr: 1e-3,
  initAlpha: 1,
  alphaLr: 3e-4,
  logStdMin: -5,
  logStdMax: 2,
  replayCapacity: 1_000_000,
  precision: 'f32' as Precision,
  graph: false,
});

/** The fields of a SacConfig: resolveSacConfig's option names (others are a TypeError). */
export const SAC_CONFIG_KEYS: readonly (keyof SacConfig)[] = Object.freeze([...Object.keys(SAC_DEFAULTS) as (keyof SacConfig)[], 'device']);
const SAC_CONFIG_OPTIONS = optionNames(...SAC_CONFIG_KEYS);

function booleanArg(v: unknown, name: string): boolean {
  if (typeof v !== 'boolean') throw typeError('a boolean', name, v);
  return v;
}

/**
 * The per-dimension entropies ERA can target: a Gaussian dimension with log σ = ℓ has entropy
 * ℓ + ½ln 2πe, and ERA keeps ℓ in [ℓmin, ℓmax] = [−8, 0] (era-spec §1), so H_d must lie strictly
 * between −8 + ½ln 2πe ≈ −6.581 and ½ln 2πe ≈ 1.419 (at the ends every ℓ is pinned to a bound).
 */
export const ENTROPY_PER_DIM_RANGE: readonly [number, number] = Object.freeze([
  GAUSSIAN_DEFAULTS.logStdMin + HALF_LOG_2PI_E, GAUSSIAN_DEFAULTS.logStdMax + HALF_LOG_2PI_E,
]) as readonly [number, number];

/** Fills in the defaults and validates every field (errors name `config.<field>`). */
export function resolveSacConfig(options?: Partial<SacConfig>): SacConfig {
  const o = plainObject(options, 'config', SAC_CONFIG_OPTIONS);
  const d = SAC_DEFAULTS;
  const num = (k: keyof typeof d): number => finiteNumber(o[k] ?? d[k], `config.${k}`);
  const int = (k: keyof typeof d, min: number): number => integer(o[k] ?? d[k], `config.${k}`, min);
  const positive = (k: keyof typeof d): number => {
    const v = num(k);
    if (!(v > 0)) throw rangeError('a positive number', `config.${k}`, v);
    return v;
  };
  const unit = (k: keyof typeof d): number => {
    const v = num(k);
    if (!(v >= 0 && v <= 1)) throw rangeError('a number in [0, 1]', `config.${k}`, v);
    return v;
  };
  const cfg: SacConfig = {
    variant: oneOf(o.variant ?? d.variant, SAC_VARIANTS, 'config.variant'),
    seeds: int('seeds', 1),
    hidden: int('hidden', 1),
    batchSize: int('batchSize', 1),
    updatesPerStep: int('updatesPerStep', 0),
    warmupSteps: int('warmupSteps', 0),
    gamma: unit('gamma'),
    tau: unit('tau'),
    actorLr: positive('actorLr'),
    criticLr: positive('criticLr'),
    criticWeightDecay: num('criticWeightDecay'),
    entropyPerDim: num('entropyPerDim'),
    autoDelta: booleanArg(o.autoDelta ?? d.autoDelta, 'config.autoDelta'),
    deltaLr: positive('deltaLr'),
    initAlpha: positive('initAlpha'),
    alphaLr: positive('alphaLr'),
    logStdMin: num('logStdMin'),
    logStdMax: num('logStdMax'),
    replayCapacity: int('replayCapacity', 1),
    precision: oneOf(o.precision ?? d.precision, ['f32', 'tf32', 'bf16'] as const, 'config.precision'),
    graph: booleanArg(o.graph ?? d.graph, 'config.graph'),
    device: o.device as Device | undefined,
  };
  if (cfg.criticWeightDecay < 0) throw rangeError('a non-negative number', 'config.criticWeightDecay', cfg.criticWeightDecay);
  if (!(cfg.logStdMin < cfg.logStdMax)) throw rangeError('a number below config.logStdMax', 'config.logStdMin', cfg.logStdMin);
  const [hLo, hHi] = ENTROPY_PER_DIM_RANGE;
  if (cfg.variant === 'era' && !(cfg.entropyPerDim > hLo && cfg.entropyPerDim < hHi)) {
    throw rangeError(`a number between ${hLo.toFixed(3)} and ${hHi.toFixed(3)} (log σ in [−8, 0] plus ½ln 2πe)`, 'config.entropyPerDim', cfg.entropyPerDim);
  }
  // The executed policy lives on [−1, 1]^D, whose entropy is at most ln 2 per dimension: the δ tuning
  // could never meet a target at or above that.
  if (cfg.variant === 'era' && cfg.autoDelta && !(cfg.entropyPerDim < Math.LN2)) {
    throw rangeError('a number below ln 2 ≈ 0.693 (the most entropy per dimension on [−1, 1]) with config.autoDelta', 'config.entropyPerDim', cfg.entropyPerDim);
  }
  return cfg;
}

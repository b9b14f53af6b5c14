/**
 * The SAC agent: networks, optimizers and the update, for S seeds trained side by side.
 *
 * Networks (era-spec §1.6), as ensembles so every layer of every seed runs in one batched launch:
 * - actor: S members, obs → 512 → ELU → 512 → ELU → [μ | r] (orthogonal √2; the r head gain 1);
 * - critic: 2S members (seed s owns members 2s and 2s+1, fed the same input), concat(obs, act) →
 *   512 → LayerNorm → ELU → 512 → LayerNorm → ELU → 1; the target critic starts as a copy.
 *
 * One update (era-spec §1.5), per seed, on a batch drawn with the same indices for every seed:
 * 1. a' ~ π(s'); y = r + γ·mask·min(Q1ᵗ, Q2ᵗ)(s', a')   (classic SAC: − α log π(a'|s'))
 * 2. L_Q = mean((Q1 − y)² + (Q2 − y)²); AdamW step; Polyak τ on the target critic
 * 3. a ~ π(s) reparameterised; L_π = −mean(min(Q1, Q2)(s, a))   (classic SAC: + α log π(a|s));
 *    the gradient flows through the fresh critic to a, then through the sampler to μ and log σ,
 *    then through ERA (or the tanh rescaling) to the actor's heads; Adam step.
 *    Classic SAC then steps log α on −α·(log π + H̄), H̄ = −D.
 *
 * The policy: 'era' draws from a truncated normal on tanh(μ) with log σ = ERA(r) (era-spec §1.4);
 * 'sac' draws tanh(μ + σε) with log σ = ℓmin + ½(ℓmax − ℓmin)(1 + tanh r).
 */
import { defaultDevice, type Device } from '../../device.js';
import { GAUSSIAN_DEFAULTS, HALF_LOG_2PI_E, gaussian, gaussianBackward } from '../../era/gaussian.js';
import { activation, activationBackward, concat, split } from '../../nn/functional.js';
import { MLP } from '../../nn/mlp.js';
import { Adam, AdamW, polyakUpdate } from '../../nn/optim.js';
import { add, copy, exp, scale } from '../../ops.js';
import { CudaGraph, captureGraph } from '../../graph.js';
import { Generator, normal, uniform } from '../../random.js';
import { scope } from '../../scope.js';
import { empty, full, tensor, zeros, type Tensor } from '../../tensor.js';
import { integer, knownOptions, optionNames, plainObject, rangeError } from '../../validate.js';
import {
  sacActorLoss, sacCriticLoss, sacTarget, tanhGaussianBackward, tanhGaussianTransform,
  truncatedNormalBackward, truncatedNormalLogProb, truncatedNormalTransform,
} from '../ops.js';
import type { ReplayBatch } from '../replay.js';
import { SAC_CONFIG_KEYS, resolveSacConfig, type SacConfig } from './config.js';

export interface SacAgentOptions extends Partial<SacConfig> {
  observationSize: number;
  actionSize: number;
  /** Seed of the parameter initialisation and of the agent's own random stream. */
  seed?: number;
}

/** SacAgent's option names: the config fields plus the shape and seed (others are a TypeError). */
const SAC_AGENT_OPTIONS = optionNames(...SAC_CONFIG_KEYS, 'observationSize', 'actionSize', 'seed');
const ACT_OPTIONS = optionNames('deterministic', 'out');

/** Per-seed figures of the latest update (read from the device only when asked for). */
export interface SacUpdateMetrics {
  criticLoss: number[];
  actorLoss: number[];
  /** −mean log π of the actions drawn for the actor update (nats). */
  entropy: number[];
  /** ERA's δ (autoDelta) or classic SAC's α, per seed. */
  delta?: number[];
  alpha?: number[];
}

interface PolicyDraw {
  action: Tensor; // [S, B, A]
  noise: Tensor;
  mu: Tensor;
  raw: Tensor;
  logStd: Tensor; // [S, B, A]
  /** tanh(r) for the classic policy (its rescaling's backward needs it). */
  tanhRaw: Tensor | null;
  logProb: Tensor | null; // [S, B] (classic only: the sampler returns it)
}

export class SacAgent implements Disposable {
  readonly config: SacConfig;
  readonly observationSize: number;
  readonly actionSize: number;
  readonly device: Device;
  readonly actor: MLP;
  readonly critic: MLP;
  readonly targetCritic: MLP;
  readonly actorOptimizer: Adam;
  readonly criticOptimizer: AdamW;
  readonly generator: Generator;
  /** ERA's compensation δ per seed (0 unless autoDelta). */
  readonly delta: Float64Array;
  /** Classic SAC: log α per seed, on the device, with its own Adam, and α = exp(log α). */
  readonly logAlpha: Tensor | null;
  readonly alphaOptimizer: Adam | null;
  readonly #alpha: Tensor | null;
  updates = 0;

  /** The latest update's figures, written in place by every update (and every graph replay). */
  #last: { criticLoss: Tensor; actorLoss: Tensor; logProb: Tensor } | null = null;
  /** The policy noise of one update (next-state draw, then current-state draw), refreshed per update. */
  #noise: { next: Tensor; current: Tensor } | null = null;
  /** The recorded update (config.graph) and the batch tensors it reads. */
  #graph: { graph: CudaGraph; batch: ReplayBatch } | null = null;
  #disposed = false;

  constructor(options: SacAgentOptions) {
    knownOptions(options, SAC_AGENT_OPTIONS, 'options');
    const cfg = resolveSacConfig(stripShape(options));
    if (cfg.graph && cfg.autoDelta) {
      throw rangeError('no autoDelta (its δ is tuned on the host after every update)', 'config.graph', 'graph with autoDelta');
    }
    this.config = cfg;
    this.observationSize = integer(options.observationSize, 'options.observationSize', 1);
    this.actionSize = integer(options.actionSize, 'options.actionSize', 1);
    this.device = cfg.device ?? defaultDevice();
    const seed = integer(options.seed ?? 0, 'options.seed', 0);
    const s = cfg.seeds;
    const a = this.actionSize;
    const common = { activation: 'elu' as const, init: 'orthogonal' as const, gain: Math.SQRT2, precision: cfg.precision, device: this.device };
    this.actor = new MLP({
      ...common, inputSize: this.observationSize, hiddenSizes: [cfg.hidden, cfg.hidden], outputSize: 2 * a,
      ensemble: s, heads: [{ size: a, gain: Math.SQRT2 }, { size: a, gain: 1 }], seed: seed * 2 + 1,
    });
    this.critic = new MLP({
      ...common, inputSize: this.observationSize + a, hiddenSizes: [cfg.hidden, cfg.hidden], outputSize: 1,
      layerNorm: true, ensemble: 2 * s, seed: seed * 2 + 2,
    });
    this.targetCritic = new MLP({ ...this.critic.options });
    this.targetCritic.copyFrom(this.critic);
    // Graph-recorded optimizer steps need their step counts on the device.
    this.actorOptimizer = new Adam(this.actor.params, { lr: cfg.actorLr, capturable: cfg.graph });
    this.criticOptimizer = new AdamW(this.critic.params, { lr: cfg.criticLr, weightDecay: cfg.criticWeightDecay, capturable: cfg.graph });
    this.generator = new Generator(seed * 7919 + 17);
    this.delta = new Float64Array(s);
    if (cfg.variant === 'sac') {
      this.logAlpha = full([s], Math.log(cfg.initAlpha), { device: this.device });
      this.alphaOptimizer = new Adam(this.logAlpha, { lr: cfg.alphaLr, capturable: cfg.graph });
      this.#alpha = full([s], cfg.initAlpha, { device: this.device });
    } else {
      this.logAlpha = null;
      this.alphaOptimizer = null;
      this.#alpha = null;
    }
  }

  /** Target entropy of the policy in nats: D·H_d (ERA, before truncation) or −D (classic SAC). */
  get targetEntropy(): number {
    return this.config.variant === 'era' ? this.actionSize * this.config.entropyPerDim : -this.actionSize;
  }

  /**
   * Runs the policy on observations [S, B, obs]: log σ from the raw head, then a draw at the
   * given temperature (1 for data collection, 0 for evaluation: the deterministic action).
   */
  #draw(observations: Tensor, temperature: number, noise: Tensor): PolicyDraw {
    const a = this.actionSize;
    const out = this.actor.forward(observations); // [S, B, 2A]
    const [mu, raw] = split(out, [a, a]);
    const [s, b] = [raw.shape[0], raw.shape[1]];
    if (this.config.variant === 'era') {
      const logStd = this.#eraLogStd(raw, s, b);
      const action = truncatedNormalTransform(mu, logStd, noise, { temperature });
      return { action, noise, mu, raw, logStd, tanhRaw: null, logProb: null };
    }
    const { logStdMin: lo, logStdMax: hi } = this.config;
    const tanhRaw = activation(raw, 'tanh');
    // ℓ = lo + ½(hi − lo)(1 + tanh r) = (lo + ½(hi − lo)) + ½(hi − lo)·tanh r
    const logStd = scale(tanhRaw, 0.5 * (hi - lo));
    add(logStd, full(logStd.shape, lo + 0.5 * (hi - lo), { device: this.device }), { out: logStd });
    if (temperature === 0) {
      const action = activation(mu, 'tanh');
      return { action, noise: action, mu, raw, logStd, tanhRaw, logProb: null };
    }
    const { action, logProb } = tanhGaussianTransform(mu, logStd, noise);
    return { action, noise, mu, raw, logStd, tanhRaw, logProb };
  }

  /** ERA log σ for raw [S, B, A]; with autoDelta each seed gets its own δ. */
  #eraLogStd(raw: Tensor, s: number, b: number): Tensor {
    const a = this.actionSize;
    const opts = { entropyPerDim: this.config.entropyPerDim };
    if (!this.config.autoDelta) return gaussian(raw.reshape([s * b, a]), opts).reshape([s, b, a]);
    const logStd = empty([s, b, a], { device: this.device });
    for (let i = 0; i < s; i++) {
      gaussian(raw.view(i * b * a, [b, a]), { ...opts, delta: this.delta[i], out: logStd.view(i * b * a, [b, a]) });
    }
    return logStd;
  }

  /** The gradient for the actor's raw head from the gradient for log σ. */
  #logStdBackward(draw: PolicyDraw, gradLogStd: Tensor): Tensor {
    const a = this.actionSize;
    const [s, b] = [draw.raw.shape[0], draw.raw.shape[1]];
    if (this.config.variant === 'sac') {
      const { logStdMin: lo, logStdMax: hi } = this.config;
      return activationBackward(scale(gradLogStd, 0.5 * (hi - lo)), draw.tanhRaw!, 'tanh');
    }
    const opts = { entropyPerDim: this.config.entropyPerDim };
    if (!this.config.autoDelta) {
      return gaussianBackward(draw.raw.reshape([s * b, a]), gradLogStd.reshape([s * b, a]), opts).reshape([s, b, a]);
    }
    const grad = empty([s, b, a], { device: this.device });
    for (let i = 0; i < s; i++) {
      const at = i * b * a;
      gaussianBackward(draw.raw.view(at, [b, a]), gradLogStd.view(at, [b, a]), { ...opts, delta: this.delta[i], out: grad.view(at, [b, a]) });
    }
    return grad;
  }

  /**
   * One update on a batch (all tensors [S, B, ·]). With `config.graph` the first update on a batch
   * records the whole update into a CUDA graph and later updates on the same batch tensors (the
   * replay buffer reuses them) replay it: two launches for the policy noise plus one graph launch.
   */
  update(batch: ReplayBatch): void {
    this.#live();
    const noise = this.#policyNoise(batch.observations.shape[0], batch.observations.shape[1]);
    const last = this.#metricTensors(batch.observations.shape[0], batch.observations.shape[1]);
    // Fresh noise for this update's two policy draws, drawn outside any graph.
    const draw = (t: Tensor) => (this.config.variant === 'era' ? uniform(t.shape, { generator: this.generator, out: t }) : normal(t.shape, { generator: this.generator, out: t }));
    if (this.config.graph && this.device === 'cuda') {
      if (this.#graph && this.#graph.batch !== batch) {
        this.#graph.graph.dispose();
        this.#graph = null;
      }
      draw(noise.next);
      draw(noise.current);
      if (this.#graph) this.#graph.graph.replay();
      else this.#graph = { graph: captureGraph(() => this.#updateBody(batch, noise, last), { device: this.device }), batch };
    } else {
      draw(noise.next);
      draw(noise.current);
      this.#updateBody(batch, noise, last);
    }
    this.updates++;
  }

  #policyNoise(s: number, b: number): { next: Tensor; current: Tensor } {
    const shape = [s, b, this.actionSize];
    if (this.#noise && this.#noise.next.shape.join() === shape.join()) return this.#noise;
    if (this.#noise) for (const t of Object.values(this.#noise)) t.dispose();
    this.#noise = { next: empty(shape, { device: this.device }), current: empty(shape, { device: this.device }) };
    return this.#noise;
  }

  /** The tensors the figures of an update land in, allocated outside any graph recording. */
  #metricTensors(s: number, b: number): { criticLoss: Tensor; actorLoss: Tensor; logProb: Tensor } {
    if (this.#last && this.#last.logProb.shape.join() === `${s},${b}`) return this.#last;
    if (this.#last) for (const t of Object.values(this.#last)) t.dispose();
    const dev = { device: this.device };
    this.#last = { criticLoss: zeros([s], dev), actorLoss: zeros([s], dev), logProb: zeros([s, b], dev) };
    return this.#last;
  }

  /** α = exp(log α) from the device's log α (after loading a checkpoint). Classic SAC only. */
  refreshAlpha(): void {
    if (this.logAlpha && this.#alpha) exp(this.logAlpha, { out: this.#alpha });
  }

  #updateBody(batch: ReplayBatch, noise: { next: Tensor; current: Tensor }, last: { criticLoss: Tensor; actorLoss: Tensor; logProb: Tensor }): void {
    const cfg = this.config;
    const classic = cfg.variant === 'sac';
    scope(() => {
      const { observations: obs, actions: act, rewards, nextObservations: nextObs, masks } = batch;
      const s = obs.shape[0];
      const b = obs.shape[1];
      const alpha = this.#alpha;

      // 1-2. Critic.
      const next = this.#draw(nextObs, 1, noise.next);
      const qNext = this.targetCritic.forward(concat([nextObs, next.action])); // [2S, B, 1]
      const y = sacTarget(qNext, rewards.reshape([s, b]), masks.reshape([s, b]), cfg.gamma,
        classic ? { logProb: next.logProb!, alpha: alpha! } : undefined);
      const q = this.critic.forward(concat([obs, act]));
      const critic = sacCriticLoss(q, y, { loss: last.criticLoss });
      this.critic.backward(critic.gradQ, { accumulate: false }); // (writes the grads: no zeroGrad)
      this.criticOptimizer.step(this.critic.grads);
      polyakUpdate(this.targetCritic.params, this.critic.params, cfg.tau);

      // 3. Actor, through the freshly updated critic.
      const draw = this.#draw(obs, 1, noise.current);
      const qPi = this.critic.forward(concat([obs, draw.action]));
      const actor = sacActorLoss(qPi, classic ? { logProb: draw.logProb!, alpha: alpha!, targetEntropy: this.targetEntropy, loss: last.actorLoss } : { loss: last.actorLoss });
      const gradIn = this.critic.backward(actor.gradQ, { inputGrad: true, paramGrads: false })!;
      const [, gradAction] = split(gradIn, [this.observationSize, this.actionSize]);
      const grads = classic
        ? tanhGaussianBackward(draw.mu, draw.logStd, draw.noise, gradAction, actor.gradLogProb!)
        : truncatedNormalBackward(draw.mu, draw.logStd, draw.noise, gradAction, { temperature: 1 });
      const gradRaw = this.#logStdBackward(draw, grads.gradLogStd);
      this.actor.backward(concat([grads.gradMu, gradRaw]), { accumulate: false });
      this.actorOptimizer.step(this.actor.grads);

      if (classic) copy(last.logProb, draw.logProb!);
      else truncatedNormalLogProb(draw.action, draw.mu, draw.logStd, { temperature: 1, out: last.logProb });
      if (classic) {
        this.alphaOptimizer!.step(actor.gradLogAlpha!);
        // α = exp(log α) for the next update, on the device (no host round trip, so a graph can
        // record it).
        exp(this.logAlpha!, { out: this.#alpha! });
      }
      if (cfg.autoDelta && !classic) this.#tuneDelta(last.logProb);
    });
  }

  /**
   * The largest δ the tuning may reach: where K = δ − D(ℓmax − H_d + ½ln 2πe) reaches 0 (era-spec
   * §1.2). Beyond it K > 0, log σ rises above ℓmax in 'paper' mode and the activation's gradient
   * changes sign, so an unreachable target would otherwise push δ up without end.
   */
  get deltaMax(): number {
    return Math.max(0, this.actionSize * (GAUSSIAN_DEFAULTS.logStdMax - this.config.entropyPerDim + HALF_LOG_2PI_E));
  }

  /**
   * δ ← clip(δ − lr·(H[π] − H0), 0, deltaMax) per seed: raises δ while the truncated policy's
   * entropy is below target. δ stays ≥ 0: it compensates the truncation, which only lowers entropy.
   */
  #tuneDelta(logProb: Tensor): void {
    const lp = logProb.toArray() as Float32Array; // [S, B] (a small read; autoDelta costs one sync per update)
    const s = this.config.seeds;
    const b = lp.length / s;
    for (let i = 0; i < s; i++) {
      let sum = 0;
      for (let j = 0; j < b; j++) sum += lp[i * b + j];
      const entropy = -sum / b;
      this.delta[i] = Math.min(this.deltaMax, Math.max(0, this.delta[i] - this.config.deltaLr * (entropy - this.targetEntropy)));
    }
  }

  /** Figures of the latest update (synchronises with the device). */
  metrics(): SacUpdateMetrics | null {
    if (!this.#last) return null;
    const s = this.config.seeds;
    const lp = this.#last.logProb.toArray() as Float32Array;
    const b = lp.length / s;
    const entropy: number[] = [];
    for (let i = 0; i < s; i++) {
      let sum = 0;
      for (let j = 0; j < b; j++) sum += lp[i * b + j];
      entropy.push(-sum / b);
    }
    const m: SacUpdateMetrics = {
      criticLoss: Array.from(this.#last.criticLoss.toArray()),
      actorLoss: Array.from(this.#last.actorLoss.toArray()),
      entropy,
    };
    if (this.config.variant === 'era') m.delta = Array.from(this.delta);
    else m.alpha = Array.from(this.logAlpha!.toArray(), (v) => Math.exp(v));
    return m;
  }

  /**
   * Actions for one observation per seed (obs: [S·obs] on the host) → [S·act] on the host.
   * `deterministic` evaluates the policy at temperature 0 (clip(tanh μ) for ERA, tanh μ for SAC).
   */
  act(observations: Float32Array, options: { deterministic?: boolean; out?: Float32Array } = {}): Float32Array {
    this.#live();
    plainObject(options, 'options', ACT_OPTIONS);
    const s = this.config.seeds;
    if (observations.length !== s * this.observationSize) {
      throw rangeError(`a Float32Array of ${s * this.observationSize} numbers (seeds × observation size)`, 'observations', observations);
    }
    return scope(() => {
      const obs = tensor(observations, [s, 1, this.observationSize], { device: this.device });
      const shape = [s, 1, this.actionSize];
      // Deterministic actions use no randomness (ũ = ½ puts the truncated normal's draw at its
      // location), so evaluations do not shift the training stream.
      const noise = options.deterministic
        ? full(shape, 0.5, { device: this.device })
        : this.config.variant === 'era' ? uniform(shape, { generator: this.generator, device: this.device }) : normal(shape, { generator: this.generator, device: this.device });
      const draw = this.#draw(obs, options.deterministic ? 0 : 1, noise);
      return draw.action.toArray(options.out) as Float32Array;
    });
  }

  #live(): void {
    if (this.#disposed) throw new TypeError('Expected a live SacAgent for this but received a disposed agent');
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#last) for (const t of Object.values(this.#last)) t.dispose();
    if (this.#noise) for (const t of Object.values(this.#noise)) t.dispose();
    this.#graph?.graph.dispose();
    for (const d of [this.actor, this.critic, this.targetCritic, this.actorOptimizer, this.criticOptimizer, this.alphaOptimizer, this.logAlpha, this.#alpha]) d?.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function stripShape(o: SacAgentOptions): Partial<SacConfig> {
  const { observationSize: _o, actionSize: _a, seed: _s, ...rest } = o ?? ({} as SacAgentOptions);
  return rest;
}

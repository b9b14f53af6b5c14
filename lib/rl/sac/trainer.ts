/**
 * trainSac: the SAC training loop on a MuJoCo task, for S seeds at once (era-spec §1.7).
 *
 * Per environment step: one action per seed (uniform in [−1, 1] during the warm-up, then drawn
 * from the policy at temperature 1), one step of each seed's environment, the transition into the
 * device replay buffer, then `updatesPerStep` updates on batches of `batchSize`. Masks are always 1
 * (DMC tasks never terminate; truncation bootstraps, as the reference does). Every `evalEvery`
 * steps, `evalEpisodes` episodes per seed with the deterministic policy (temperature 0).
 *
 * Writes to `outDir`: metrics.jsonl (train/eval/run events), curve.{svg,png,csv} (evaluation
 * return per seed with its mean and band) and checkpoint.safetensors (written atomically every
 * `checkpointEvery` steps, at the end, and when `signal` stops the run; `resume: true` continues
 * from it). A resume restores the networks, optimizers, δ or α, the replay buffer and the agent's
 * random stream; the environments are not saved, so every seed starts a fresh episode there
 * (harmless: masks are 1, and the warm-up stream is reseeded from the step), and a resumed run is
 * not bit-identical to an unbroken one. A resume is refused, before anything is created or
 * written, when there is no checkpoint, when it is of another task, when it is already at `steps`,
 * and (unless `force`) when it was trained with other settings (runSettings).
 *
 * A stop by `signal` takes effect at the next step boundary: with a signal the loop lets the event
 * loop turn at least every YIELD_MS (and every YIELD_EVERY steps in any case), also between the
 * steps of an evaluation, which a stop abandons (it is not recorded; a resume redoes it first),
 * except the final one at `steps`. A fresh run stopped before its first step saves nothing.
 */
import { mkdir } from 'node:fs/promises';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { defaultDevice } from '../../device.js';
import { MetricsWriter, ProgressBar, writeLearningCurve, type ProgressStream, type WrittenCurve } from '../../report/index.js';
import { integer, optionNames, plainObject, typeError } from '../../validate.js';
import { yieldToEventLoop } from '../../util/event-loop.js';
import { makeVecEnv, type VecEnv } from '../env/index.js';
import { taskSpec } from '../env/registry.js';
import { Rng } from '../env/rng.js';
import { ReplayBuffer } from '../replay.js';
import { SacAgent } from './agent.js';
import {
  loadSacCheckpoint, readSacCheckpointHeader, saveSacCheckpoint, settingsDifferences, type RunSettings, type SacCheckpointInfo,
} from './checkpoint.js';
import { SAC_CONFIG_KEYS, resolveSacConfig, type SacConfig } from './config.js';

export interface TrainSacOptions extends Partial<SacConfig> {
  task: string;
  /** Environment steps per seed. */
  steps: number;
  /** Base seed: seed i of the run uses seed + i for its environment (default 0). */
  seed?: number;
  evalEvery?: number;
  evalEpisodes?: number;
  /** Where metrics, curves and checkpoints go (default runs/<task>-<variant>-seed<seed>). */
  outDir?: string;
  checkpointEvery?: number;
  /** Continue from outDir/checkpoint.safetensors (an error when there is none). */
  resume?: boolean;
  /** With resume: continue even where the checkpoint was trained with other settings (see runSettings). */
  force?: boolean;
  /**
   * Stops the run at the next step boundary once `aborted` is true (an AbortSignal, say): a
   * checkpoint is saved at that step (none when no step was taken), the metrics and curve are
   * written, and the result has `interrupted: true`. Checked every step and between the steps of
   * an evaluation (an evaluation stopped so is dropped, and redone first on resume; the final one
   * is finished). It can only change when the event loop turns, which the loop lets it do every
   * YIELD_EVERY steps and, with a signal, at least every YIELD_MS.
   */
  signal?: { readonly aborted: boolean };
  /** Where the log lines (start, evaluations, a stop) go when there is no progress bar (default: nowhere). */
  log?: (line: string) => void;
  /** Save the replay buffer in checkpoints (needed for a faithful resume; default true). */
  saveReplay?: boolean;
  /** Steps between 'train' metric lines (default 1000). */
  logEvery?: number;
  /** Humanoid model path and environment options. */
  modelPath?: string;
  actionRepeat?: number;
  maxEpisodeSteps?: number;
  /** Progress output: true (stderr, default), false, or a stream. */
  progress?: boolean | ProgressStream;
  /** Name of this run in the curve's legend (default 'SAC+ERA' or 'SAC'). */
  label?: string;
  /** Write the learning curve at the end (default true; not for a run stopped before its first evaluation). */
  curve?: boolean;
}

/** trainSac's option names: its own and the SacConfig fields (others are a TypeError). */
const TRAIN_SAC_OPTIONS = optionNames(
  ...SAC_CONFIG_KEYS, 'task', 'steps', 'seed', 'evalEvery', 'evalEpisodes', 'outDir', 'checkpointEvery', 'resume', 'force', 'signal', 'log',
  'saveReplay', 'logEvery', 'modelPath', 'actionRepeat', 'maxEpisodeSteps', 'progress', 'label', 'curve',
);

export interface Evaluation {
  step: number;
  /** Mean evaluation return per seed. */
  returns: number[];
}

export interface TrainSacResult {
  outDir: string;
  label: string;
  config: SacConfig;
  evaluations: Evaluation[];
  metricsPath: string;
  checkpointPath: string;
  curve: WrittenCurve | null;
  /** Environment steps per second (per seed) and update calls per second, over the whole run. */
  stepsPerSecond: number;
  updatesPerSecond: number;
  /** Seconds spent. */
  seconds: number;
  /** The step reached: `steps`, or less when `signal` stopped the run. */
  step: number;
  interrupted: boolean;
}

/** Steps between turns of the event loop in trainSac (see yieldToEventLoop). */
export const YIELD_EVERY = 100;

/**
 * With a `signal`, trainSac also lets the event loop turn once this many ms have passed since the
 * last turn (a step or evaluation step boundary), so a stop is seen promptly however slow a step
 * is. A turn costs microseconds and changes no result.
 */
export const YIELD_MS = 250;

export const VARIANT_LABEL = { era: 'SAC+ERA', sac: 'SAC' } as const;

/** Trains and evaluates; resolves when done, or stopped by `signal` (then with `interrupted: true`). */
export async function trainSac(options: TrainSacOptions): Promise<TrainSacResult> {
  const o = plainObject(options, 'options', TRAIN_SAC_OPTIONS) as unknown as TrainSacOptions;
  if (typeof o.task !== 'string') throw typeError('a task name (see era.rl.listTasks())', 'options.task', o.task);
  // Checked here, not by the environment: nothing is created for a run that cannot start.
  taskSpec(o.task);
  if (o.signal !== undefined && (o.signal === null || typeof o.signal !== 'object')) throw typeError('an AbortSignal', 'options.signal', o.signal);
  if (o.log !== undefined && typeof o.log !== 'function') throw typeError('a function', 'options.log', o.log);
  const steps = integer(o.steps, 'options.steps', 1);
  const baseSeed = integer(o.seed ?? 0, 'options.seed', 0);
  const evalEvery = integer(o.evalEvery ?? 10_000, 'options.evalEvery', 1);
  const evalEpisodes = integer(o.evalEpisodes ?? 10, 'options.evalEpisodes', 1);
  const logEvery = integer(o.logEvery ?? 1000, 'options.logEvery', 1);
  const checkpointEvery = integer(o.checkpointEvery ?? 50_000, 'options.checkpointEvery', 1);
  if (o.actionRepeat !== undefined) integer(o.actionRepeat, 'options.actionRepeat', 1);
  if (o.maxEpisodeSteps !== undefined) integer(o.maxEpisodeSteps, 'options.maxEpisodeSteps', 1);
  const config = resolveSacConfig(pickConfig(o));
  const label = o.label ?? VARIANT_LABEL[config.variant];
  const outDir = path.resolve(o.outDir ?? path.join('runs', `${o.task}-${config.variant}-seed${baseSeed}`));
  const metricsPath = path.join(outDir, 'metrics.jsonl');
  const checkpointPath = path.join(outDir, 'checkpoint.safetensors');
  const settings = runSettings(o, config);
  const saved = o.resume === true ? await checkResume({ outDir, task: o.task, steps, settings, force: o.force }) : null;
  await mkdir(outDir, { recursive: true });
  const S = config.seeds;
  const envOptions = { modelPath: o.modelPath, actionRepeat: o.actionRepeat, maxEpisodeSteps: o.maxEpisodeSteps };

  // Everything that holds native memory or a simulation, disposed in reverse on the way out.
  const owned: Disposable[] = [];
  const own = <T extends Disposable>(d: T): T => (owned.push(d), d);
  const disposeAll = (): void => {
    for (const d of owned.reverse()) d[Symbol.dispose]();
    owned.length = 0;
  };
  try {
    return await trainLoop();
  } finally {
    disposeAll();
  }

  async function trainLoop(): Promise<TrainSacResult> {
    const envs = own(await makeVecEnv(o.task, S, { ...envOptions, seed: baseSeed, autoReset: true }));
    const evalEnvs = own(await makeVecEnv(o.task, S, { ...envOptions, seed: baseSeed + 1_000_003, autoReset: false }));
    const obsSize = envs.observationSpec.shape[0];
    const actSize = envs.actionSpec.shape[0];
    const device = config.device ?? defaultDevice();
    const agent = own(new SacAgent({ ...config, device, observationSize: obsSize, actionSize: actSize, seed: baseSeed }));
    const buffer = own(new ReplayBuffer({
      seeds: S, capacity: Math.min(config.replayCapacity, steps), observationSize: obsSize, actionSize: actSize, device,
    }));
    const rng = new Rng(baseSeed * 31 + 7);
    const evaluations: Evaluation[] = [];
    let startStep = 0;
    const resumed = saved !== null;
    if (resumed) {
      const state = await loadSacCheckpoint(checkpointPath, agent, buffer);
      startStep = state.step;
      evaluations.push(...state.evaluations);
      rng.seed(baseSeed * 31 + 7 + startStep);
      dropMetricsAfter(metricsPath, startStep);
    }
    const metrics = new MetricsWriter(metricsPath, { append: resumed });
    const stream = o.progress === false ? null : o.progress === true || o.progress === undefined ? process.stderr : o.progress;
    const bar = stream ? new ProgressBar({ total: steps, unit: 'steps', start: startStep, stream }) : null;
    const log = (msg: string): void => (bar ? bar.log(msg) : o.log?.(msg));
    metrics.write('run', startStep, {
      task: o.task, variant: config.variant, label, seeds: S, steps, device, resumed,
      hidden: config.hidden, batchSize: config.batchSize, updatesPerStep: config.updatesPerStep, entropyPerDim: config.entropyPerDim,
      warmupSteps: config.warmupSteps, logEvery, graph: config.graph && device === 'cuda', // graphs are CUDA's alone
      actionRepeat: settings.actionRepeat, // effective (1 unless set); issue 5's targets need 1: an agent step is then one environment step
    });
    log(`${label} on ${o.task}: ${S} seed(s), ${steps.toLocaleString()} steps, ${device}${resumed ? `, resumed at step ${startStep}` : ''}; writing to ${outDir}`);

    const obs = new Float32Array(envs.reset(baseSeed));
    const nextObs = new Float32Array(obs.length);
    const actions = new Float32Array(S * actSize);
    // Bootstrap masks: every task here is DeepMind-Control style, ending only at its time limit,
    // which bootstraps (era-spec §1.7), so every mask is 1. A task that can terminate would need
    // mask = 1 − terminated here, and VecEnv to reset on termination as well.
    const masks = new Float32Array(S).fill(1);
    const episodeReturn = new Float64Array(S);
    let lastEpisodeReturn = NaN;
    let lastEval = evaluations.length ? mean(evaluations[evaluations.length - 1].returns) : NaN;
    let updateCalls = 0;
    const t0 = performance.now();
    let windowT = t0;
    let windowSteps = 0;
    let windowUpdates = 0;
    // The bar's upd/s over about a second (as its steps/s), not since the start.
    let rateT = t0;
    let rateUpdates = 0;
    let updateRate: number | null = null;
    let done = startStep;
    let checkpointed = resumed ? startStep : -1;
    let interrupted = false;
    let lastYield = t0;
    // Let signals, timers and pending reads have a turn (and, on a runtime that queues Node-API
    // finalizers for the event loop, free the released tensor wrappers: see yieldToEventLoop).
    const yieldNow = async (): Promise<number> => {
      await yieldToEventLoop();
      return (lastYield = performance.now());
    };
    const checkpoint = async (step: number): Promise<void> => {
      await saveSacCheckpoint(checkpointPath, agent, o.saveReplay === false ? null : buffer, { step, evaluations, task: o.task, label, settings });
      checkpointed = step;
      // Everything up to the checkpoint on disk: a crash or a hard exit leaves no gap before it.
      metrics.flush();
    };
    /** Evaluates at step `at` and records it; false when `signal` stopped it (then nothing is recorded). */
    const evaluateAt = async (at: number): Promise<boolean> => {
      // The final evaluation is the run's result: finished even when a stop is asked for.
      const signal = at < steps ? o.signal : undefined;
      let returns: number[] | null = null;
      if (!signal) {
        returns = evaluate(agent, evalEnvs, evalEpisodes, at);
      } else {
        const episodeSteps = evaluationSteps(agent, evalEnvs, evalEpisodes, at);
        while (!signal.aborted) {
          const r = episodeSteps.next();
          if (r.done) {
            returns = r.value;
            break;
          }
          if (performance.now() - lastYield >= YIELD_MS) await yieldNow();
        }
      }
      if (!returns) {
        log(`step ${at}: evaluation stopped before its end; not recorded (a resume redoes it)`);
        return false;
      }
      evaluations.push({ step: at, returns });
      lastEval = mean(returns);
      metrics.write('eval', at, { return: lastEval, ...Object.fromEntries(returns.map((v, i) => [`return${i}`, v])) });
      log(`step ${at}: evaluation return ${lastEval.toFixed(1)} (seeds: ${returns.map((v) => v.toFixed(1)).join(', ')})`);
      return true;
    };

    try {
      // A checkpoint saved while its step's evaluation was stopped: that evaluation first.
      if (resumed && startStep > 0 && startStep % evalEvery === 0 && evaluations[evaluations.length - 1]?.step !== startStep) {
        if (!(await evaluateAt(startStep))) interrupted = true;
      }
      for (let step = interrupted ? steps : startStep; step < steps; step++) {
        if (o.signal?.aborted) {
          interrupted = true;
          break;
        }
        if (step < config.warmupSteps) {
          for (let i = 0; i < actions.length; i++) actions[i] = rng.uniform(-1, 1);
        } else {
          agent.act(obs, { out: actions });
          if (!allFinite(actions)) throw diverged(step, "the policy's actions");
        }
        const r = envs.step(actions);
        // The transition's next observation is the real one, also where the episode was cut off.
        nextObs.set(r.observations);
        for (let i = 0; i < S; i++) {
          episodeReturn[i] += r.rewards[i];
          if (r.truncated[i]) nextObs.set(envs.finalObservations.subarray(i * obsSize, (i + 1) * obsSize), i * obsSize);
        }
        buffer.add(obs, actions, r.rewards, nextObs, masks);
        obs.set(r.observations);
        if (r.truncated[0]) {
          lastEpisodeReturn = mean(Array.from(episodeReturn));
          episodeReturn.fill(0);
        } else {
          for (let i = 1; i < S; i++) if (r.truncated[i]) episodeReturn[i] = 0;
        }

        // (After a resume without the saved buffer, updates wait until it holds a batch.)
        if (step + 1 >= config.warmupSteps && buffer.size >= Math.min(config.batchSize, config.warmupSteps, buffer.capacity)) {
          for (let u = 0; u < config.updatesPerStep; u++) {
            agent.update(buffer.sample(config.batchSize, agent.generator));
            updateCalls++;
            windowUpdates++;
            rateUpdates++;
          }
        }
        windowSteps++;
        done = step + 1;

        if (done % logEvery === 0 || done === steps) {
          const now = performance.now();
          const dt = (now - windowT) / 1000;
          const m = agent.metrics();
          if (m && !(allFinite(m.criticLoss) && allFinite(m.actorLoss))) throw diverged(done, 'the losses');
          metrics.write('train', done, {
            episodeReturn: lastEpisodeReturn,
            stepsPerSecond: windowSteps / dt,
            updatesPerSecond: windowUpdates / dt,
            criticLoss: m ? mean(m.criticLoss) : null,
            actorLoss: m ? mean(m.actorLoss) : null,
            entropy: m ? mean(m.entropy) : null,
            ...(m?.delta ? { delta: mean(m.delta) } : {}),
            ...(m?.alpha ? { alpha: mean(m.alpha) } : {}),
            bufferSize: buffer.size,
          });
          windowT = now;
          windowSteps = 0;
          windowUpdates = 0;
        }
        if ((done % evalEvery === 0 || done === steps) && !(await evaluateAt(done))) {
          interrupted = true;
          break;
        }
        if (done % checkpointEvery === 0 || done === steps) await checkpoint(done);
        let now = performance.now();
        if (done % YIELD_EVERY === 0 || (o.signal && now - lastYield >= YIELD_MS)) now = await yieldNow();
        if (now - rateT >= 1000) {
          updateRate = (rateUpdates * 1000) / (now - rateT);
          rateT = now;
          rateUpdates = 0;
        }
        bar?.update(done, {
          'upd/s': updateRate ?? (updateCalls > 0 ? (updateCalls * 1000) / (now - t0) : null),
          eval: Number.isFinite(lastEval) ? lastEval : null,
        });
      }
      if (interrupted) {
        if (checkpointed === done) {
          log(`stopped at step ${done}: its checkpoint is in ${checkpointPath}`);
        } else if (done === startStep) {
          log('stopped before the first step: nothing to save'); // (a fresh run: a resumed one has its checkpoint)
        } else {
          log(`stopped at step ${done}: saving a checkpoint to ${checkpointPath}`);
          await checkpoint(done);
        }
      }
    } finally {
      // The final line shows the averages over the whole run.
      const elapsed = (performance.now() - t0) / 1000;
      bar?.done({ 'upd/s': updateCalls > 0 ? updateCalls / elapsed : null });
      metrics.close();
    }
    // A fresh run stopped before its first step leaves no run behind (its folder can be used as new).
    if (interrupted && done === startStep && !resumed) rmSync(metricsPath, { force: true });
    const seconds = (performance.now() - t0) / 1000;
    const result: TrainSacResult = {
      outDir, label, config, evaluations, metricsPath, checkpointPath, curve: null,
      stepsPerSecond: (done - startStep) / seconds,
      updatesPerSecond: updateCalls / seconds,
      seconds,
      step: done,
      interrupted,
    };
    disposeAll();
    // A run stopped before its first evaluation has no curve to draw.
    if (o.curve !== false && evaluations.length > 0) result.curve = await writeCurves([result], path.join(outDir, 'curve'), `${label} on ${o.task}`);
    return result;
  }
}

/**
 * What a resume must match (the configuration that shapes training, the action repeat and episode
 * length); the device, precision and CUDA graphs may change between sessions.
 */
export function runSettings(o: TrainSacOptions, config: SacConfig = resolveSacConfig(pickConfig(o))): RunSettings {
  const { device: _d, precision: _p, graph: _g, ...trained } = config;
  return { ...trained, actionRepeat: o.actionRepeat ?? 1, maxEpisodeSteps: o.maxEpisodeSteps ?? null };
}

/**
 * The checks of a resume, made before anything is created: a checkpoint of this task below `steps`
 * trained with these settings (unless `force`). `name` says what errors call an option (the CLI
 * passes its flags). Resolves to the checkpoint's bookkeeping.
 */
export async function checkResume(
  run: { outDir: string; task: string; steps: number; settings: RunSettings; force?: boolean },
  name: (option: string) => string = (option) => `options.${option}`,
): Promise<SacCheckpointInfo> {
  const file = path.join(run.outDir, 'checkpoint.safetensors');
  if (!existsSync(file)) throw new RangeError(`${name('resume')}: no checkpoint.safetensors in ${run.outDir}`);
  const saved = await readSacCheckpointHeader(file);
  if (saved.task !== run.task) throw new RangeError(`${name('resume')}: the checkpoint in ${run.outDir} is of task '${saved.task}', not '${run.task}'`);
  if (saved.step >= run.steps) {
    throw new RangeError(`${name('resume')}: the checkpoint in ${run.outDir} is already at step ${saved.step}; raise ${name('steps')} above ${saved.step}`);
  }
  checkSettings(run, saved, name);
  return saved;
}

/**
 * Throws (unless `force`) when the checkpoint `saved` of the run in `outDir` was trained with
 * settings other than `settings`, naming each (as checkResume; also for a run already finished).
 */
export function checkSettings(
  run: { outDir: string; settings: RunSettings; force?: boolean },
  saved: Pick<SacCheckpointInfo, 'settings'>,
  name: (option: string) => string = (option) => `options.${option}`,
): void {
  const changed = settingsDifferences(saved.settings, run.settings);
  if (changed.length > 0 && run.force !== true) {
    // One entry per name (the CLI's --lr sets both learning rates).
    const lines = [...new Set(changed.map(([k, was, now]) => `${name(k)} ${String(was)} (now ${String(now)})`))];
    throw new RangeError(`${name('resume')}: the checkpoint in ${run.outDir} was trained with other settings: ${lines.join(', ')}; `
      + `resume with the same settings, or add ${name('force')} to continue with the new ones`);
  }
}

function allFinite(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

/** A run whose numbers left the finite range: said so, with the usual cure, instead of an environment's argument error. */
function diverged(step: number, what: string): Error {
  return new Error(`training diverged at step ${step}: ${what} are not finite numbers (try a lower --lr)`);
}

/** On resume: drops the metric lines written after the checkpoint's step (they will be redone). */
function dropMetricsAfter(file: string, step: number): void {
  if (!existsSync(file)) return;
  const kept = readFileSync(file, 'utf8').split('\n').filter((line) => {
    if (!line.trim()) return false;
    try {
      return (JSON.parse(line) as { step?: number }).step! <= step;
    } catch {
      return false; // a line cut short by a crash
    }
  });
  writeFileSync(file, kept.map((l) => `${l}\n`).join(''));
}

/**
 * Mean return of `episodes` deterministic episodes per seed (one evaluation environment per seed).
 * `step`, the training step, is named in the error when the policy's actions are not finite.
 */
export function evaluate(agent: SacAgent, envs: VecEnv, episodes: number, step?: number): number[] {
  const steps = evaluationSteps(agent, envs, episodes, step);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** evaluate, one environment step per next() (so a caller can pause or stop between them); returns the returns. */
function* evaluationSteps(agent: SacAgent, envs: VecEnv, episodes: number, step?: number): Generator<void, number[], void> {
  const S = envs.numEnvs;
  const total = new Float64Array(S);
  const actions = new Float32Array(S * envs.actionSpec.shape[0]);
  for (let ep = 0; ep < episodes; ep++) {
    let obs = envs.reset();
    for (let t = 0; t < envs.maxEpisodeSteps; t++) {
      agent.act(obs, { deterministic: true, out: actions });
      if (step !== undefined && !allFinite(actions)) throw diverged(step, "the policy's actions");
      const r = envs.step(actions);
      for (let i = 0; i < S; i++) total[i] += r.rewards[i];
      obs = r.observations;
      if (r.truncated[0]) break;
      yield;
    }
  }
  return Array.from(total, (v) => v / episodes);
}

/** One curve with a line (mean) and band (min–max over seeds) per run. */
export function writeCurves(results: readonly Pick<TrainSacResult, 'label' | 'evaluations'>[], outPathWithoutExt: string, title: string): Promise<WrittenCurve> {
  return writeLearningCurve({
    title,
    series: results.map((r) => {
      const seeds = r.evaluations[0]?.returns.length ?? 0;
      return {
        name: r.label,
        runs: Array.from({ length: seeds }, (_, i) => ({ x: r.evaluations.map((e) => e.step), y: r.evaluations.map((e) => e.returns[i]) })),
      };
    }),
  }, outPathWithoutExt);
}

function mean(a: readonly number[]): number {
  return a.length ? a.reduce((s, v) => s + v, 0) / a.length : NaN;
}

function pickConfig(o: TrainSacOptions): Partial<SacConfig> {
  const out: Partial<SacConfig> = {};
  for (const k of SAC_CONFIG_KEYS) if (o[k] !== undefined) (out as Record<string, unknown>)[k] = o[k];
  return out;
}

/**
 * `era train sac`'s flags turned into trainSac options, every value and combination checked here
 * so that errors name the flag (the trainer's own checks name options.* and config.*) and a bad
 * command fails before any folder is created. Harmless leftovers (a flag the chosen variant or
 * device ignores) are warnings.
 */
import { listTasks } from '../rl/env/index.js';
import { ENTROPY_PER_DIM_RANGE } from '../rl/sac/config.js';
import type { TrainSacOptions } from '../rl/sac/trainer.js';
import { choice, deviceFlag, int, num, positive } from './flags.js';

export interface SacFlags {
  task: string;
  threads?: string;
  steps: string;
  seeds: string;
  seed: string;
  baseline?: boolean;
  baselineOnly?: boolean;
  out?: string;
  resume?: boolean;
  overwrite?: boolean;
  force?: boolean;
  hidden?: string;
  batchSize?: string;
  warmup?: string;
  updatesPerStep?: string;
  evalEvery: string;
  evalEpisodes: string;
  entropyPerDim?: string;
  lr?: string;
  autoDelta?: boolean;
  device?: string;
  precision?: string;
  modelPath?: string;
  actionRepeat?: string;
  checkpointEvery?: string;
  logEvery?: string;
  progress: boolean;
  saveReplay: boolean;
  graph?: boolean;
}

/** The flag that sets each option, for the trainer's resume checks (checkResume's `name`). */
const FLAGS: Record<string, string> = {
  task: '--task', steps: '--steps', seeds: '--seeds', seed: '--seed', resume: '--resume', force: '--force',
  hidden: '--hidden', batchSize: '--batch-size', warmupSteps: '--warmup', updatesPerStep: '--updates-per-step',
  evalEvery: '--eval-every', evalEpisodes: '--eval-episodes', entropyPerDim: '--entropy-per-dim', actorLr: '--lr', criticLr: '--lr',
  autoDelta: '--auto-delta', variant: '--baseline-only', actionRepeat: '--action-repeat', checkpointEvery: '--checkpoint-every',
  logEvery: '--log-every', modelPath: '--model-path', device: '--device', precision: '--precision', graph: '--graph',
};

/** A trainer option's flag (the option's own name where no flag sets it, e.g. gamma). */
export const flagOf = (option: string): string => FLAGS[option] ?? option;

export type SacRunOptions = Omit<TrainSacOptions, 'variant' | 'outDir' | 'label'>;

/**
 * The trainer's options from the flags, with the variants to train and the warnings to print.
 * `device` is where the run will train (the --device flag, else the default device).
 */
export function sacOptionsFromFlags(f: SacFlags, defaultDevice: () => 'cpu' | 'cuda'): {
  options: SacRunOptions; variants: ('era' | 'sac')[]; warnings: string[];
} {
  const tasks = listTasks();
  if (!tasks.includes(f.task)) throw new RangeError(`Expected one of ${tasks.join(', ')} for --task but received '${f.task}'`);
  if (f.baseline && f.baselineOnly) throw new RangeError('--baseline trains both variants and --baseline-only classic SAC alone: give one of them');
  if (f.resume && f.overwrite) throw new RangeError('--resume continues the run in the output folder and --overwrite starts it over: give one of them');
  const variants: ('era' | 'sac')[] = f.baselineOnly ? ['sac'] : f.baseline ? ['era', 'sac'] : ['era'];
  const warnings: string[] = [];
  const device = deviceFlag(f.device);
  const lr = num(f.lr, '--lr', positive);
  const [lo, hi] = ENTROPY_PER_DIM_RANGE;
  let entropyPerDim = num(f.entropyPerDim, '--entropy-per-dim',
    [`a number between ${lo.toFixed(3)} and ${hi.toFixed(3)} (ERA's log σ in [−8, 0] plus ½ln 2πe)`, (x) => x > lo && x < hi]);
  let autoDelta = f.autoDelta;
  if (autoDelta && f.graph) throw new RangeError('--graph cannot record --auto-delta updates (δ is tuned on the host after every update): give one of them');
  // The executed policy lives on [−1, 1]^D: at most ln 2 entropy per dimension for δ to reach.
  if (autoDelta && !f.baselineOnly && entropyPerDim !== undefined && !(entropyPerDim < Math.LN2)) {
    throw new RangeError(`Expected a number below ln 2 ≈ 0.693 with --auto-delta for --entropy-per-dim but received ${entropyPerDim}`);
  }
  if (f.baselineOnly && (autoDelta || entropyPerDim !== undefined)) {
    warnings.push(`${autoDelta ? '--auto-delta' : '--entropy-per-dim'} sets SAC+ERA's entropy: ignored with --baseline-only (classic SAC learns α)`);
    autoDelta = undefined;
    entropyPerDim = undefined;
  }
  let graph = f.graph;
  if (graph && (device ?? defaultDevice()) === 'cpu') {
    warnings.push('--graph records CUDA graphs: ignored on the CPU');
    graph = undefined;
  }
  let modelPath = f.modelPath;
  if (modelPath !== undefined && !f.task.startsWith('humanoid-')) {
    warnings.push(`--model-path is the humanoid tasks' model: ignored for ${f.task}`);
    modelPath = undefined;
  }
  if (f.force && !f.resume) warnings.push('--force allows a --resume with changed settings: ignored without --resume');
  return {
    variants,
    warnings,
    options: {
      task: f.task,
      steps: int(f.steps, '--steps', 1)!,
      seeds: int(f.seeds, '--seeds', 1),
      seed: int(f.seed, '--seed', 0),
      resume: f.resume,
      force: f.force,
      hidden: int(f.hidden, '--hidden', 1),
      batchSize: int(f.batchSize, '--batch-size', 1),
      warmupSteps: int(f.warmup, '--warmup', 0),
      updatesPerStep: int(f.updatesPerStep, '--updates-per-step', 0),
      evalEvery: int(f.evalEvery, '--eval-every', 1),
      evalEpisodes: int(f.evalEpisodes, '--eval-episodes', 1),
      entropyPerDim,
      actorLr: lr,
      criticLr: lr,
      autoDelta,
      device,
      precision: choice(f.precision, ['f32', 'tf32', 'bf16'] as const, '--precision'),
      modelPath,
      actionRepeat: int(f.actionRepeat, '--action-repeat', 1),
      checkpointEvery: int(f.checkpointEvery, '--checkpoint-every', 1),
      logEvery: int(f.logEvery, '--log-every', 1),
      progress: f.progress,
      saveReplay: f.saveReplay,
      graph,
    },
  };
}

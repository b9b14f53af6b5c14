/**
 * `era train sac`: SAC+ERA (and, with --baseline, classic SAC with the same seeds) on a MuJoCo task,
 * with a progress line, JSONL metrics, checkpoints and a learning curve per run plus a combined
 * curve and a summary table when both variants ran.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { Command } from 'commander';

import { MAX_THREADS, setNumThreads } from '../cpu.js';
import { listTasks } from '../rl/env/index.js';
import { readRunSummary } from '../rl/sac/run-report.js';
import { trainSac, writeCurves, type TrainSacOptions, type TrainSacResult } from '../rl/sac/trainer.js';
import { integer } from '../validate.js';

interface SacFlags {
  task: string;
  threads?: string;
  steps: string;
  seeds: string;
  seed: string;
  baseline?: boolean;
  baselineOnly?: boolean;
  out?: string;
  resume?: boolean;
  hidden?: string;
  batchSize?: string;
  warmup?: string;
  updatesPerStep?: string;
  evalEvery: string;
  evalEpisodes: string;
  entropyPerDim?: string;
  lr?: string;
  autoDelta?: boolean;
  device?: 'cpu' | 'cuda';
  precision?: 'f32' | 'tf32' | 'bf16';
  modelPath?: string;
  actionRepeat?: string;
  checkpointEvery?: string;
  logEvery?: string;
  progress: boolean;
  saveReplay: boolean;
  graph?: boolean;
}

/** An integer flag; accepts 200_000 and 200k. */
export function int(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value.replace(/_/g, '').replace(/k$/i, '000'));
  if (!Number.isInteger(n)) throw new RangeError(`Expected an integer for ${flag} but received '${value}'`);
  return n;
}

function num(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new RangeError(`Expected a number for ${flag} but received '${value}'`);
  return n;
}

export function sacOptionsFromFlags(f: SacFlags): Omit<TrainSacOptions, 'variant' | 'outDir' | 'label'> {
  return {
    task: f.task,
    steps: int(f.steps, '--steps')!,
    seeds: int(f.seeds, '--seeds'),
    seed: int(f.seed, '--seed'),
    resume: f.resume,
    hidden: int(f.hidden, '--hidden'),
    batchSize: int(f.batchSize, '--batch-size'),
    warmupSteps: int(f.warmup, '--warmup'),
    updatesPerStep: int(f.updatesPerStep, '--updates-per-step'),
    evalEvery: int(f.evalEvery, '--eval-every'),
    evalEpisodes: int(f.evalEpisodes, '--eval-episodes'),
    entropyPerDim: num(f.entropyPerDim, '--entropy-per-dim'),
    actorLr: num(f.lr, '--lr'),
    criticLr: num(f.lr, '--lr'),
    autoDelta: f.autoDelta,
    device: f.device,
    precision: f.precision,
    modelPath: f.modelPath,
    actionRepeat: int(f.actionRepeat, '--action-repeat'),
    checkpointEvery: int(f.checkpointEvery, '--checkpoint-every'),
    logEvery: int(f.logEvery, '--log-every'),
    progress: f.progress,
    saveReplay: f.saveReplay,
    graph: f.graph,
  };
}

/** Final evaluation per variant: mean ± std over seeds and the best seed, as Markdown. */
export function summaryTable(task: string, results: readonly Pick<TrainSacResult, 'label' | 'evaluations' | 'stepsPerSecond' | 'updatesPerSecond'>[]): string {
  const rows = results.map((r) => {
    const last = r.evaluations[r.evaluations.length - 1];
    const v = last ? last.returns : [];
    const m = v.reduce((s, x) => s + x, 0) / Math.max(v.length, 1);
    const sd = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / Math.max(v.length - 1, 1));
    return `| ${r.label} | ${last?.step ?? 0} | ${v.length} | ${m.toFixed(1)} ± ${sd.toFixed(1)} | ${v.map((x) => x.toFixed(1)).join(', ')} | ${r.stepsPerSecond.toFixed(0)} | ${r.updatesPerSecond.toFixed(0)} |`;
  });
  return [
    `## ${task}`,
    '',
    '| variant | steps | seeds | final eval return (mean ± std) | per seed | env steps/s | updates/s |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

export function registerTrainCommand(program: Command): void {
  const train = program.command('train').description('train an agent (see `era train sac --help`)');
  train
    .command('sac')
    .description('SAC with the ERA Gaussian std on a MuJoCo task; --baseline adds classic SAC on the same seeds')
    .requiredOption('--task <name>', `task: ${listTasks().join(', ')}`)
    .option('--steps <n>', 'environment steps per seed', '200000')
    .option('--seeds <n>', 'seeds trained side by side', '3')
    .option('--seed <n>', 'base seed', '0')
    .option('--baseline', 'also train classic SAC (learned temperature) with the same seeds')
    .option('--baseline-only', 'train only classic SAC')
    .option('--out <dir>', 'output folder (default runs/<task>-seed<seed>)')
    .option('--resume', 'continue from the checkpoints in the output folder')
    .option('--hidden <n>', 'hidden width (default 512)')
    .option('--batch-size <n>', 'batch size (default 256)')
    .option('--warmup <n>', 'uniform random steps before training (default 5000)')
    .option('--updates-per-step <n>', 'updates per environment step (default 2)')
    .option('--eval-every <n>', 'steps between evaluations', '10000')
    .option('--eval-episodes <n>', 'deterministic episodes per evaluation and seed', '10')
    .option('--lr <x>', 'actor and critic learning rate (default 3e-4)')
    .option('--entropy-per-dim <x>', 'ERA target entropy per action dimension (default 0.25)')
    .option('--auto-delta', "tune the README's δ so the truncated policy's entropy meets the target (needs --entropy-per-dim below ln 2)")
    .option('--device <cpu|cuda>', 'device (default: cuda where present)')
    .option('--precision <f32|tf32|bf16>', 'GEMM precision (default f32)')
    .option('--threads <n>', 'CPU backend threads (default: one per CPU; as ERA_NUM_THREADS)')
    .option('--model-path <file>', 'humanoid.xml for the humanoid tasks')
    .option('--action-repeat <n>', 'repeat each action n control steps')
    .option('--checkpoint-every <n>', 'steps between checkpoints (default 50000)')
    .option('--log-every <n>', 'steps between train metric lines (default 1000)')
    .option('--graph', 'record each update into a CUDA graph and replay it (CUDA; not with --auto-delta)')
    .option('--no-progress', 'no progress line')
    .option('--no-save-replay', 'leave the replay buffer out of checkpoints')
    .action(async (f: SacFlags) => {
      const threads = int(f.threads, '--threads');
      if (threads !== undefined) setNumThreads(integer(threads, '--threads', 1, MAX_THREADS));
      const base = sacOptionsFromFlags(f);
      // One folder per task and base seed, so another --seed never resumes or overwrites this run.
      const outDir = path.resolve(f.out ?? path.join('runs', `${f.task}-seed${f.seed}`));
      const variants: ('era' | 'sac')[] = f.baselineOnly ? ['sac'] : f.baseline ? ['era', 'sac'] : ['era'];
      const results: TrainSacResult[] = [];
      for (const variant of variants) {
        results.push(await trainSac({ ...base, variant, outDir: path.join(outDir, variant) }));
      }
      const curve = await writeCurves(results, path.join(outDir, 'curve'), `${f.task}: ${results.map((r) => r.label).join(' vs ')}`);
      const table = summaryTable(f.task, results);
      const command = `era train sac ${process.argv.slice(4).join(' ')}`.trim();
      await writeFile(path.join(outDir, 'summary.md'), `${table}\nCommand: \`${command}\`\n`);
      console.log(table);
      console.log(`curve: ${[curve.svg, curve.png].filter(Boolean).join(', ')}`);
    });

  train
    .command('report')
    .description('rebuild <dir>/curve.* and <dir>/summary.md from the metrics of <dir>/era and <dir>/sac '
      + '(variants trained in separate processes, e.g. `era train sac` and `era train sac --baseline-only` with the same --out)')
    .argument('<dir>', 'the --out folder of era train sac')
    .action(async (dir: string) => {
      const outDir = path.resolve(dir);
      const runs = (['era', 'sac'] as const).map((v) => readRunSummary(path.join(outDir, v))).filter((r) => r !== undefined);
      if (runs.length === 0) throw new Error(`Expected era/metrics.jsonl or sac/metrics.jsonl under ${outDir} but found neither`);
      const tasks = [...new Set(runs.map((r) => r.task))];
      if (tasks.length > 1) throw new Error(`Expected one task in ${outDir} but its runs trained ${tasks.join(' and ')}`);
      const curve = await writeCurves(runs, path.join(outDir, 'curve'), `${tasks[0]}: ${runs.map((r) => r.label).join(' vs ')}`);
      const table = summaryTable(tasks[0], runs);
      const note = `Rebuilt by \`era train report ${dir}\` from ${runs.map((r) => `${r.variant}/metrics.jsonl (to step ${r.lastStep})`).join(' and ')}.`;
      await writeFile(path.join(outDir, 'summary.md'), `${table}\n${note}\n`);
      console.log(table);
      console.log(`curve: ${[curve.svg, curve.png].filter(Boolean).join(', ')}`);
    });
}

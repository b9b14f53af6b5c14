/**
 * `era train sac`: SAC+ERA (and, with --baseline, classic SAC with the same seeds) on a MuJoCo task,
 * with a progress line, JSONL metrics, checkpoints and a learning curve per run plus a combined
 * curve and a summary table when both variants ran.
 */
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { Command } from 'commander';

import { MAX_THREADS, setNumThreads } from '../cpu.js';
import { defaultDevice } from '../device.js';
import { listTasks } from '../rl/env/index.js';
import { readSacCheckpointHeader } from '../rl/sac/checkpoint.js';
import { readRunSummary, type RunSummary } from '../rl/sac/run-report.js';
import { checkResume, checkSettings, runSettings, trainSac, writeCurves, type TrainSacResult } from '../rl/sac/trainer.js';
import { int } from './flags.js';
import { SIGINT_EXIT_CODE, onInterrupt } from './interrupt.js';
import { flagOf, sacOptionsFromFlags, type SacFlags, type SacRunOptions } from './train-flags.js';

type Variant = 'era' | 'sac';

/** What to do with one variant's folder: train it (fresh or resumed), or reuse a finished run. */
interface VariantPlan {
  variant: Variant;
  dir: string;
  options: SacRunOptions;
  /** A run already at --steps (a --baseline run resumed after its first variant finished). */
  finished?: RunSummary;
}

/** SAC+ERA's entropy flags mean nothing to classic SAC. */
function variantOptions(base: SacRunOptions, variant: Variant): SacRunOptions {
  return variant === 'sac' ? { ...base, autoDelta: undefined, entropyPerDim: undefined } : base;
}

/**
 * Every folder checked before anything is written: without --resume a folder holding a run is
 * refused (unless --overwrite); with --resume each variant needs a checkpoint of this task below
 * --steps with the same settings (unless --force), except that a --baseline run interrupted in its
 * first variant resumes the second from scratch (its folder is empty) and reuses a finished first
 * (one at --steps, also checked for the same settings).
 */
export async function planVariants(outDir: string, variants: Variant[], base: SacRunOptions, overwrite: boolean): Promise<VariantPlan[]> {
  const plans: VariantPlan[] = [];
  for (const variant of variants) {
    const dir = path.join(outDir, variant);
    const options = variantOptions(base, variant);
    // What the checkpoint is compared with: this variant's settings.
    const settings = runSettings({ ...options, variant });
    const held = ['checkpoint.safetensors', 'metrics.jsonl'].filter((f) => existsSync(path.join(dir, f)));
    if (!base.resume) {
      if (held.length > 0 && !overwrite) {
        throw new RangeError(`${dir} already holds a run (${held.join(', ')}): add --resume to continue it, or --overwrite to start it over`);
      }
      plans.push({ variant, dir, options });
      continue;
    }
    if (held.length === 0) {
      plans.push({ variant, dir, options: { ...options, resume: false } });
      continue;
    }
    if (!held.includes('checkpoint.safetensors')) throw new RangeError(`--resume: no checkpoint.safetensors in ${dir}`);
    const header = await readSacCheckpointHeader(path.join(dir, 'checkpoint.safetensors'));
    const finished = header.step === base.steps && header.task === base.task ? readRunSummary(dir) : undefined;
    if (finished) {
      checkSettings({ outDir: dir, settings, force: base.force }, header, flagOf);
      plans.push({ variant, dir, options, finished });
      continue;
    }
    await checkResume({ outDir: dir, task: base.task, steps: base.steps, settings, force: base.force }, flagOf);
    plans.push({ variant, dir, options });
  }
  const resumable = plans.filter((p) => p.options.resume !== false);
  if (base.resume && resumable.length === 0) throw new RangeError(`--resume: no checkpoint.safetensors in ${plans[0].dir}`);
  if (plans.every((p) => p.finished)) {
    // Nothing left to train: the step check's own message.
    await checkResume({ outDir: plans[0].dir, task: base.task, steps: base.steps, settings: runSettings({ ...plans[0].options, variant: plans[0].variant }), force: true }, flagOf);
  }
  return plans;
}

/**
 * --overwrite: every planned variant's checkpoint, metrics and curve, and the combined curve and
 * summary, removed before anything trains, so that nothing of the replaced run outlives it however
 * the new one ends (a later --resume must not pick up an old variant's checkpoint).
 */
export async function removeRuns(outDir: string, plans: readonly Pick<VariantPlan, 'dir'>[]): Promise<void> {
  const curve = (dir: string) => ['svg', 'png', 'csv'].map((ext) => path.join(dir, `curve.${ext}`));
  const files = [path.join(outDir, 'summary.md'), ...curve(outDir),
    ...plans.flatMap((p) => [path.join(p.dir, 'checkpoint.safetensors'), path.join(p.dir, 'metrics.jsonl'), ...curve(p.dir)])];
  for (const f of files) await rm(f, { force: true });
}

/** `a` as one shell word. */
const shellQuote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/**
 * How this process was started, as the user would type it again: `era` (the package's bin on PATH),
 * `npx era` (a project's node_modules/.bin), `npm run era --` (the package script, from a clone)
 * or `node <path to era.js>`.
 */
export function eraInvocation(argv: readonly string[] = process.argv, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(),
  execArgv: readonly string[] = process.execArgv): string {
  if (env.npm_lifecycle_event === 'era') return 'npm run era --';
  const script = argv[1] ?? '';
  if (path.basename(script) === 'era') return script.split(path.sep).includes('.bin') ? 'npx era' : 'era';
  const rel = path.relative(cwd, script);
  // Node's own flags too (`--import tsx` from the sources), quoted for the shell.
  return ['node', ...execArgv.map(shellQuote), shellQuote(rel.startsWith('..') || path.isAbsolute(rel) ? script : rel)].join(' ');
}

/** The command line to continue a stopped run (this one, with --resume and without --overwrite), or with `resume` false to run it again. */
function resumeCommand(resume = true): string {
  const args = resume ? process.argv.slice(4).filter((a) => a !== '--overwrite') : process.argv.slice(4);
  return `${eraInvocation()} train sac ${[...args, ...(!resume || args.includes('--resume') ? [] : ['--resume'])].map(shellQuote).join(' ')}`;
}

/** Final evaluation per variant: mean ± std over seeds and the best seed, as Markdown. */
export function summaryTable(task: string, results: readonly Pick<TrainSacResult, 'label' | 'evaluations' | 'stepsPerSecond' | 'updatesPerSecond'>[]): string {
  const rows = results.map((r) => {
    const last = r.evaluations[r.evaluations.length - 1];
    if (!last) return `| ${r.label} | – | – | no evaluation yet | | ${r.stepsPerSecond.toFixed(0)} | ${r.updatesPerSecond.toFixed(0)} |`;
    const v = last.returns;
    const m = v.reduce((s, x) => s + x, 0) / Math.max(v.length, 1);
    const sd = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / Math.max(v.length - 1, 1));
    return `| ${r.label} | ${last.step} | ${v.length} | ${m.toFixed(1)} ± ${sd.toFixed(1)} | ${v.map((x) => x.toFixed(1)).join(', ')} | ${r.stepsPerSecond.toFixed(0)} | ${r.updatesPerSecond.toFixed(0)} |`;
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
    .option('--overwrite', 'start over in an output folder that already holds a run')
    .option('--force', 'with --resume: continue with settings (--lr, --action-repeat, ...) other than the checkpoint\'s')
    .option('--hidden <n>', 'hidden width (default 512)')
    .option('--batch-size <n>', 'batch size (default 256)')
    .option('--warmup <n>', 'uniform random steps before training (default 5000)')
    .option('--updates-per-step <n>', 'updates per environment step (default 2)')
    .option('--eval-every <n>', 'steps between evaluations', '10000')
    .option('--eval-episodes <n>', 'deterministic episodes per evaluation and seed', '10')
    .option('--lr <x>', 'actor and critic learning rate (default 3e-4)')
    .option('--entropy-per-dim <x>', 'ERA target entropy per action dimension, between −6.58 and 1.42 (default 0.25)')
    .option('--auto-delta', "tune the README's δ so the truncated policy's entropy meets the target (needs --entropy-per-dim below ln 2)")
    .option('--device <cpu|cuda>', 'device (default: cuda where present)')
    .option('--precision <f32|tf32|bf16>', 'GEMM precision (default f32)')
    .option('--threads <n>', 'CPU backend threads (default: one per CPU; as ERA_NUM_THREADS)')
    .option('--model-path <file>', 'humanoid.xml for the humanoid tasks')
    .option('--action-repeat <n>', 'repeat each action n control steps')
    .option('--checkpoint-every <n>', 'steps between checkpoints (default 50000)')
    .option('--log-every <n>', 'steps between train metric lines (default 1000)')
    .option('--graph', 'record each update into a CUDA graph and replay it (CUDA; not with --auto-delta)')
    .option('--no-progress', 'no progress line (messages and evaluations still go to stderr)')
    .option('--no-save-replay', 'leave the replay buffer out of checkpoints')
    .action(async (f: SacFlags) => {
      const threads = int(f.threads, '--threads', 1, MAX_THREADS);
      if (threads !== undefined) setNumThreads(threads);
      const { options: base, variants, warnings } = sacOptionsFromFlags(f, defaultDevice);
      // One folder per task and base seed, so another --seed never resumes or overwrites this run.
      const outDir = path.resolve(f.out ?? path.join('runs', `${f.task}-seed${base.seed ?? 0}`));
      const plans = await planVariants(outDir, variants, base, f.overwrite === true);
      for (const w of warnings) console.error(`era: warning: ${w}`);
      if (f.overwrite) await removeRuns(outDir, plans);
      // Without a progress bar, the trainer's lines (where it writes, each evaluation) go to stderr.
      const log = f.progress ? undefined : (line: string) => console.error(line);
      const results: (TrainSacResult | RunSummary)[] = [];
      let stopped: TrainSacResult | undefined;
      // Ctrl-C stops the variant training at its next step (see interrupt.ts, and trainSac's
      // signal: it looks at least every 250 ms, also during an evaluation); only while training.
      const interrupt = onInterrupt('era: stopping at the next step boundary (within a fraction of a second; an unfinished evaluation '
        + 'is dropped and redone on --resume) to save a checkpoint; press Ctrl-C again to quit without saving');
      try {
        for (const p of plans) {
          if (p.finished) {
            console.error(`${p.finished.label}: already at step ${base.steps} in ${p.dir}`);
            results.push(p.finished);
            continue;
          }
          if (interrupt.signal.aborted) break;
          const r = await trainSac({ ...p.options, variant: p.variant, outDir: p.dir, signal: interrupt.signal, log });
          // A fresh run stopped before its first step left nothing (see trainSac): no row for it.
          if (!(r.interrupted && r.step === 0 && !p.options.resume)) results.push(r);
          if (r.interrupted) {
            stopped = r;
            break;
          }
        }
      } finally {
        interrupt.remove();
      }
      if (results.length === 0) {
        console.error(`era: stopped before the first step; nothing was saved. Start again with:\n  ${resumeCommand(false)}`);
        process.exitCode = SIGINT_EXIT_CODE;
        return;
      }
      const drawn = results.filter((r) => r.evaluations.length > 0);
      const curve = drawn.length > 0 ? await writeCurves(drawn, path.join(outDir, 'curve'), `${f.task}: ${drawn.map((r) => r.label).join(' vs ')}`) : null;
      const table = summaryTable(f.task, results);
      const command = `era train sac ${process.argv.slice(4).join(' ')}`.trim();
      const note = stopped ? `Stopped at step ${stopped.step} of ${base.steps} (Ctrl-C).\n` : '';
      await writeFile(path.join(outDir, 'summary.md'), `${table}\n${note}Command: \`${command}\`\n`);
      console.log(table);
      if (curve) console.log(`curve: ${[curve.svg, curve.png].filter(Boolean).join(', ')}`);
      if (stopped || results.length < plans.length) {
        const at = !stopped ? `stopped before ${plans[results.length].variant}`
          : stopped.step === 0 ? `${stopped.label} stopped before its first step (nothing of it saved)`
            : `${stopped.label} stopped at step ${stopped.step} of ${base.steps}; its checkpoint and metrics are in ${stopped.outDir}`;
        console.error(`era: ${at}, the summary in ${outDir}. Continue with:\n  ${resumeCommand()}`);
        process.exitCode = SIGINT_EXIT_CODE;
      }
    });

  train
    .command('report')
    .description('rebuild <dir>/curve.* and <dir>/summary.md from the metrics of <dir>/era and <dir>/sac '
      + '(variants trained in separate processes, e.g. `era train sac` and `era train sac --baseline-only` with the same --out)')
    .argument('<dir>', 'the --out folder of era train sac')
    .action(async (dir: string) => {
      const outDir = path.resolve(dir);
      const found = (['era', 'sac'] as const).map((v) => readRunSummary(path.join(outDir, v))).filter((r) => r !== undefined);
      if (found.length === 0) throw new Error(`Expected era/metrics.jsonl or sac/metrics.jsonl under ${outDir} but found neither`);
      const tasks = [...new Set(found.map((r) => r.task))];
      if (tasks.length > 1) throw new Error(`Expected one task in ${outDir} but its runs trained ${tasks.join(' and ')}`);
      // A run still in its first evaluation interval has nothing to draw or tabulate yet.
      const runs = found.filter((r) => r.evaluations.length > 0);
      for (const r of found) {
        if (r.evaluations.length === 0) {
          const message = `${path.join(outDir, r.variant, 'metrics.jsonl')} has no evaluation lines yet`;
          if (runs.length === 0) throw new Error(message);
          console.error(`era: warning: ${message}; left out`);
        }
      }
      const curve = await writeCurves(runs, path.join(outDir, 'curve'), `${tasks[0]}: ${runs.map((r) => r.label).join(' vs ')}`);
      const table = summaryTable(tasks[0], runs);
      const note = `Rebuilt by \`era train report ${dir}\` from ${runs.map((r) => `${r.variant}/metrics.jsonl (to step ${r.lastStep})`).join(' and ')}.`;
      await writeFile(path.join(outDir, 'summary.md'), `${table}\n${note}\n`);
      console.log(table);
      console.log(`curve: ${[curve.svg, curve.png].filter(Boolean).join(', ')}`);
    });
}

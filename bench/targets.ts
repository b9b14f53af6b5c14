/**
 * The open issues' GPU targets, judged from one bench run's JSON (bench/run.ts) and, for issue 5,
 * the metrics of an `era train sac` run: a Markdown table of target, measured value and verdict,
 * so a short GPU lease ends with the answer in one place (scripts/bundle-run.sh `check` prints it).
 *
 *   node dist/bench/targets.js --bench <device>.json [--train <dir> [--throughput <dir>]] [--table <dir>...] [--out <file>]
 *
 * (<dir>: an `era train sac --out` folder; --throughput: a short run alone on the device, for the
 * updates/s figure; --table: a `--baseline` run of the SAC+ERA against SAC table.)
 *
 * A target whose case did not run (filtered out, failed, no PyTorch figure) reads "not measured",
 * never "met". The thresholds are the issues' own words, except the extra-memory rows: "O(N)"
 * becomes the project's proxy "at most 1% of the logits' bytes" (one [N, V] temporary would be
 * 100%). The PyTorch ratios use the baseline measured in the same run (bench/baselines/), as the
 * issues ask.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { readMetrics, type MetricsEvent } from '../lib/report/metrics.js';
import type { CaseResult } from './harness.js';

export interface BenchJson {
  device?: string;
  backend?: string;
  cases: CaseResult[];
}

export type Verdict = 'met' | 'missed' | 'not measured';

export interface TargetRow {
  issue: number;
  target: string;
  /** The bench case or run the figure comes from. */
  source: string;
  measured: string;
  required: string;
  verdict: Verdict;
}

type Metric = (r: CaseResult) => number | undefined;

const positive = (x: number | null | undefined): number | undefined => (typeof x === 'number' && Number.isFinite(x) && x > 0 ? x : undefined);
const ratio = (num: number | undefined, den: number | undefined) => (num !== undefined && den !== undefined ? num / den : undefined);
const okMs = (r: CaseResult) => (r.status === 'ok' ? positive(r.medianMs) : undefined);

/** era-cuda's time against one PyTorch column of the same run (> 1: era-cuda is faster). */
const speedupOver = (column: 'eagerMs' | 'compileMs'): Metric => (r) => ratio(positive(r.baseline?.[column]), okMs(r));

interface CaseTarget {
  issue: number;
  target: string;
  /** The case name, exactly (case names carry their sizes). */
  name: string;
  metric: Metric;
  atLeast: number;
  /** How a value prints, e.g. "2.31×". */
  format: (x: number) => string;
  /** Strictly greater than atLeast (for "faster than"). */
  strict?: boolean;
  /** The value must be at most atLeast instead (for "no more memory than"): atLeast is then the upper bound. */
  atMost?: boolean;
  /** More of the figure, printed after the value (e.g. the bytes behind a share). */
  detail?: (r: CaseResult) => string;
  /** The figure is a ratio to a PyTorch column of the same run. */
  againstPyTorch?: boolean;
}

// Three decimals on ratios and one on rates, so a value never prints as its threshold and misses it.
const times = (x: number) => `${x.toFixed(3)}×`;
const percent = (x: number) => `${(100 * x).toFixed(2)}%`;
const perSecond = (x: number) => `${x.toFixed(1)}/s`;
const gbps = (x: number) => `${x.toFixed(0)} GB/s`;

const SAC = 'B=256 obs=67 act=21';

/** The bench-side targets of issues 2-4, in issue order. */
export const CASE_TARGETS: readonly CaseTarget[] = [
  { issue: 2, target: 'device copy bandwidth', name: 'copy 1GiB', metric: (r) => (r.status === 'ok' ? positive(r.gbps) : undefined), atLeast: 2500, format: gbps },
  { issue: 3, target: 'era.logits f32 fwd+bwd: fraction of copy bandwidth', name: 'era.logits fwd+bwd N=8192 V=32768 f32', metric: (r) => (r.status === 'ok' ? positive(r.fractionOfCopy) : undefined), atLeast: 0.85, format: percent },
  { issue: 3, target: 'era.logits f32 fwd+bwd: speed-up over torch.compile', name: 'era.logits fwd+bwd N=8192 V=32768 f32', metric: speedupOver('compileMs'), againstPyTorch: true, atLeast: 2, format: times },
  { issue: 3, target: 'era.logits bf16 fwd+bwd V=151936: speed-up over torch.compile', name: 'era.logits fwd+bwd N=8192 V=151936 bf16', metric: speedupOver('compileMs'), againstPyTorch: true, atLeast: 4, format: times },
  ...(['N=8192 V=32768 f32', 'N=8192 V=151936 bf16'] as const).map((c) => ({
    issue: 3, target: `era.logits ${c.split(' ').pop()} fwd+bwd: extra device memory (beyond inputs and gradient) as a share of the logits; O(N), where one [N, V] temporary would be ≥ 100%`,
    name: `era.logits fwd+bwd ${c}`, metric: (r: CaseResult) => (r.status === 'ok' && typeof r.extraFraction === 'number' ? r.extraFraction : undefined),
    atLeast: 0.01, atMost: true, format: percent,
    detail: (r: CaseResult) => ` (${((r.extraBytes ?? 0) / 2 ** 20).toFixed(2)} MiB)`,
  })),
  { issue: 3, target: 'era.softmaxCrossEntropy fwd+bwd: speed-up over torch.compile', name: 'era.softmaxCrossEntropy fwd+bwd B=65536 C=1000', metric: speedupOver('compileMs'), againstPyTorch: true, atLeast: 4, format: times },
  { issue: 3, target: 'era.gaussian fwd+bwd: speed-up over PyTorch eager', name: 'era.gaussian fwd+bwd B=256 D=21', metric: speedupOver('eagerMs'), againstPyTorch: true, atLeast: 20, format: times },
  { issue: 4, target: 'bf16 GEMM 4096³: TFLOP/s over torch.matmul\'s', name: 'matmul 4096x4096x4096 bf16', metric: speedupOver('eagerMs'), againstPyTorch: true, atLeast: 0.5, format: percent },
  ...(['f32', 'tf32', 'bf16'] as const).flatMap((p) => [
    { issue: 4, target: `GEMM 256×512×512 ${p}: faster than torch.matmul`, name: `matmul 256x512x512 ${p}`, metric: speedupOver('eagerMs'), againstPyTorch: true, atLeast: 1, strict: true, format: times },
    { issue: 4, target: `GEMM 256×88→512 ${p}: faster than torch.matmul`, name: `matmul 256x88x512 ${p}`, metric: speedupOver('eagerMs'), againstPyTorch: true, atLeast: 1, strict: true, format: times },
  ]),
];

/** The SAC update variants the bench runs; the issue names no precision, so the fastest counts. */
export const SAC_UPDATE_CASES = [`sac update ${SAC} f32`, `sac update ${SAC} tf32`, `sac update ${SAC} f32 graph`, `sac update ${SAC} tf32 graph`];

function verdictOf(value: number | undefined, atLeast: number, strict = false, atMost = false): Verdict {
  if (value === undefined) return 'not measured';
  if (atMost) return value <= atLeast ? 'met' : 'missed';
  return (strict ? value > atLeast : value >= atLeast) ? 'met' : 'missed';
}

function whyUnmeasured(r: CaseResult | undefined, needsBaseline: boolean): string {
  if (!r) return 'case not run';
  if (r.status !== 'ok') return `case failed: ${(r.error ?? '').split('\n')[0].slice(0, 80)}`;
  if (!needsBaseline) return 'no figure in the result';
  return r.baseline ? 'no PyTorch figure' : 'no PyTorch baseline in this run';
}

/** Rows for issues 2-4 from one bench JSON. */
export function benchTargets(bench: BenchJson): TargetRow[] {
  const byName = new Map(bench.cases.map((c) => [c.name, c]));
  const rows: TargetRow[] = CASE_TARGETS.map((t) => {
    const r = byName.get(t.name);
    const value = r ? t.metric(r) : undefined;
    return {
      issue: t.issue, target: t.target, source: t.name,
      measured: value === undefined ? `— (${whyUnmeasured(r, t.againstPyTorch === true)})` : t.format(value) + (t.detail && r ? t.detail(r) : ''),
      required: `${t.atMost ? '≤' : t.strict ? '>' : '≥'} ${t.format(t.atLeast)}`,
      verdict: verdictOf(value, t.atLeast, t.strict, t.atMost),
    };
  });
  // The SAC update: the fastest variant that ran, with the PyTorch figures beside it.
  const sac = SAC_UPDATE_CASES.map((n) => byName.get(n)).filter((r): r is CaseResult => r !== undefined && okMs(r) !== undefined);
  const best = sac.sort((a, b) => a.medianMs! - b.medianMs!)[0];
  const rate = best ? 1000 / best.medianMs! : undefined;
  const torch = best ? sacBaselineNote(best, byName) : '';
  rows.push({
    issue: 4, target: 'one full SAC update (twin LayerNorm critics, hidden 512, batch 256)', source: best?.name ?? `sac update ${SAC} *`,
    measured: rate === undefined ? '— (no sac update case ran)' : `${perSecond(rate)}${torch}`,
    required: '≥ 3000/s', verdict: verdictOf(rate, 3000),
  });
  return rows;
}

/**
 * PyTorch's figures for an era SAC-update variant. PyTorch has no graph variant of its own (its
 * compiled update is the counterpart), so a "graph" case takes the baseline of its precision; where
 * that precision did not run on the PyTorch side, the f32 baseline stands in, labelled as such.
 */
export function sacBaselineNote(r: CaseResult, byName: ReadonlyMap<string, CaseResult>): string {
  const precision = / tf32( graph)?$/.test(r.name) ? 'tf32' : 'f32';
  const own = r.baseline ?? byName.get(r.name.replace(/ graph$/, ''))?.baseline;
  const f32 = byName.get(`sac update ${SAC} f32`)?.baseline;
  const [b, label] = own ? [own, precision] : f32 ? [f32, 'f32'] : [undefined, ''];
  if (!b) return ' (no PyTorch figure in this run)';
  return ` (PyTorch ${label}: eager ${fmtRate(b.eagerMs)}, torch.compile ${fmtRate(b.compileMs)})`;
}

function fmtRate(ms: number | null | undefined): string {
  const m = positive(ms);
  return m === undefined ? '—' : perSecond(1000 / m);
}

/** A metrics.jsonl's events, or none where the run never wrote one. */
function metricsOf(file: string): MetricsEvent[] {
  return existsSync(file) ? readMetrics(file) : [];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? undefined : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * The updates/s of a run's logged windows that lie wholly after the warm-up (each window spans
 * `logEvery` environment steps, stepping, acting and evaluations included).
 */
export function trainingRates(lines: readonly MetricsEvent[]): number[] {
  const run = lines.find((l) => l.kind === 'run');
  const warmup = typeof run?.warmupSteps === 'number' ? run.warmupSteps : 0;
  const window = typeof run?.logEvery === 'number' ? run.logEvery : 0;
  return lines.filter((l) => l.kind === 'train' && l.step - window >= warmup && typeof l.updatesPerSecond === 'number' && l.updatesPerSecond > 0)
    .map((l) => l.updatesPerSecond as number);
}

/**
 * Issue 5's cartpole-swingup targets from the SAC+ERA metrics of `era train sac --out <dir>`
 * (<dir>/era/metrics.jsonl): the best mean evaluation return at or before step 100,000 over at
 * least 3 seeds, and the median updates/s of the logged windows after the warm-up, taken from
 * `throughputDir` where given (a run alone on the device) and else from the same run.
 */
export function trainTargets(dir: string, throughputDir?: string): TargetRow[] {
  const lines = metricsOf(path.join(dir, 'era', 'metrics.jsonl'));
  const describe = (ls: readonly MetricsEvent[]) => {
    const run = ls.find((l) => l.kind === 'run');
    const s = typeof run?.seeds === 'number' ? run.seeds : 0;
    return {
      run, seeds: s,
      text: `${typeof run?.task === 'string' ? run.task : '?'}: ${s} seeds, hidden ${String(run?.hidden ?? '?')}, batch ${String(run?.batchSize ?? '?')}, ` +
        `${String(run?.device ?? '?')}${run?.graph === true ? ', graph' : ''}`,
    };
  };
  const main = describe(lines);
  const evals = lines.filter((l) => l.kind === 'eval' && l.step <= 100_000 && typeof l.return === 'number');
  const best = evals.reduce<MetricsEvent | undefined>((b, l) => (b === undefined || (l.return as number) > (b.return as number) ? l : b), undefined);
  const lastStep = lines.reduce((s, l) => Math.max(s, typeof l.step === 'number' ? l.step : 0), 0);
  const lastEval = lines.reduce((s, l) => (l.kind === 'eval' && typeof l.return === 'number' ? Math.max(s, l.step) : s), 0);
  const enoughSeeds = main.seeds >= 3;
  // Below 600 only counts as missed once the run evaluated at step 100,000 (the trainer writes a
  // step's train line before its evaluation): a run cut earlier proves nothing.
  const reached = lastEval >= 100_000;
  const bestReturn = best?.return as number | undefined;
  const returnValue = enoughSeeds && bestReturn !== undefined && (bestReturn >= 600 || reached) ? bestReturn : undefined;

  const rateLines = throughputDir ? metricsOf(path.join(throughputDir, 'era', 'metrics.jsonl')) : lines;
  const rateRun = describe(rateLines);
  const rates = trainingRates(rateLines);
  const rate = median(rates);
  // The reference's sizes and its 2 updates per environment step (more would inflate updates/s).
  const fullSize = rateRun.run?.hidden === 512 && rateRun.run?.batchSize === 256 && rateRun.run?.updatesPerStep === 2;
  // With one seed an update is one agent's gradient step; with S seeds one call updates all S.
  const perCall = rateRun.seeds > 1 ? ` (one update = one call over all ${rateRun.seeds} seeds)` : '';
  return [
    {
      issue: 5, target: 'SAC+ERA cartpole-swingup evaluation return within 100k steps (mean of 3 seeds)', source: main.text,
      measured: lines.length === 0 ? '— (no metrics)' : !enoughSeeds ? `— (${main.seeds} seeds)` : best
        ? `${(best.return as number).toFixed(1)} at step ${best.step} (ran to step ${lastStep}, evaluated to ${lastEval}${reached || returnValue !== undefined ? '' : ', no evaluation at 100k: not judged'})`
        : `— (no evaluation by step ${lastStep})`,
      required: '≥ 600', verdict: verdictOf(returnValue, 600),
    },
    {
      issue: 5, target: 'training updates/s at batch 256, hidden 512, environment stepping included',
      source: `${rateRun.text}${throughputDir ? ' (run alone)' : ''}`,
      measured: rate === undefined ? '— (no logged window after the warm-up)'
        : `${perSecond(rate)} (median of ${rates.length} windows)${perCall}${fullSize ? '' : ' — not at batch 256, hidden 512, 2 updates per step'}`,
      required: '≥ 2000/s', verdict: verdictOf(fullSize ? rate : undefined, 2000),
    },
  ];
}

/** Issue 5's table runs: whether each finished both variants with at least 200k steps. */
export function tableTargets(dirs: readonly string[]): TargetRow[] {
  return dirs.map((dir) => {
    const done = (['era', 'sac'] as const).map((v) => {
      const lines = metricsOf(path.join(dir, v, 'metrics.jsonl'));
      const run = lines.find((l) => l.kind === 'run');
      const last = lines.filter((l) => l.kind === 'eval').reduce((s, l) => Math.max(s, l.step ?? 0), 0);
      return { v, task: typeof run?.task === 'string' ? run.task : path.basename(dir), last, seeds: typeof run?.seeds === 'number' ? run.seeds : 0 };
    });
    const ok = done.every((d) => d.last >= 200_000);
    return {
      issue: 5, target: `SAC+ERA vs SAC table run: ${done[0].task}`, source: `SAC+ERA and SAC runs in ${path.basename(dir)}/`,
      measured: done.map((d) => `${d.v === 'era' ? 'SAC+ERA' : 'SAC'} evaluated to step ${d.last} (${d.seeds} seeds)`).join('; '),
      required: 'both ≥ 200000 steps', verdict: done.every((d) => d.last === 0) ? 'not measured' : ok ? 'met' : 'missed',
    };
  });
}

export function targetsMarkdown(rows: readonly TargetRow[], device: string | undefined): string {
  const count = (v: Verdict) => rows.filter((r) => r.verdict === v).length;
  const mark: Record<Verdict, string> = { met: 'met', missed: '**missed**', 'not measured': 'not measured' };
  return [
    `## Issue targets${device ? ` on ${device}` : ''}`,
    '',
    `${count('met')} met, ${count('missed')} missed, ${count('not measured')} not measured.`,
    '',
    '| issue | target | source | measured | required | verdict |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.issue} | ${r.target} | ${r.source} | ${r.measured} | ${r.required} | ${mark[r.verdict]} |`),
    '',
  ].join('\n');
}

/** A bench JSON, or no cases and the reason (missing, or cut short mid-write). */
export function loadBench(file: string): { bench: BenchJson; problem?: string } {
  if (!existsSync(file)) return { bench: { cases: [] }, problem: `none at ${file}` };
  try {
    const bench = JSON.parse(readFileSync(file, 'utf8')) as BenchJson;
    if (!Array.isArray(bench.cases)) return { bench: { cases: [] }, problem: `${file} has no cases list` };
    return { bench };
  } catch (err) {
    return { bench: { cases: [] }, problem: `${file} does not parse (${(err as Error).message.slice(0, 80)})` };
  }
}

function main(): number {
  const { values } = parseArgs({
    options: {
      bench: { type: 'string' },
      train: { type: 'string' },
      throughput: { type: 'string' },
      table: { type: 'string', multiple: true },
      out: { type: 'string' },
    },
  });
  const rows: TargetRow[] = [];
  let device: string | undefined;
  if (values.bench) {
    const { bench, problem } = loadBench(values.bench);
    device = bench.device;
    if (problem) console.log(`(bench results: ${problem}; the bench targets read "not measured")\n`);
    rows.push(...benchTargets(bench));
  }
  if (values.train) rows.push(...trainTargets(values.train, values.throughput));
  if (values.table) rows.push(...tableTargets(values.table));
  const md = targetsMarkdown(rows, device);
  if (values.out) writeFileSync(values.out, md);
  process.stdout.write(md);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main();

/**
 * `npm run bench`: runs every *.bench.js (*.bench.ts under tsx) beside this file on the active backend
 * (era.defaultDevice(), so ERA_DEVICE applies) and writes <out>/<device-slug>.json and .md.
 *
 *   node dist/bench/run.js [--filter <substr>[|<substr>...]] [--out <dir>] [--baselines <json>] [--quick]
 *
 * The copy case runs first, always (even when --filter leaves it out of the table): its GB/s is
 * the ceiling the other cases are measured against. --baselines merges PyTorch figures written by
 * bench/baselines/run_all.py; case names match one to one. A filter is case-insensitive and may list
 * alternatives separated by '|' (a case runs when its name or bench file contains any of them).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import era from '../lib/index.js';
import { packageRoot } from '../lib/native.js';
import { atomicWriteFile } from '../lib/util/atomic-write.js';
import { filterRank, filterTerms, matchesFilter } from './filter.js';
import { createContext, runCase, type BenchCase, type CaseResult } from './harness.js';

interface BaselineFile {
  device?: string;
  torch?: string;
  /** run_all.py --quick. */
  quick?: boolean;
  cases?: Record<string, { eager_ms?: number | null; compile_ms?: number | null; bytes?: number; note?: string }>;
}

const USAGE = 'usage: node dist/bench/run.js [--filter <substr>[|<substr>...]] [--out <dir>] [--baselines <json>] [--quick]';

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

function slugify(s: string): string {
  return s.toLowerCase().replace(/\((r|tm)\)|\bcpu\b|@.*$/g, ' ').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

/** Bench entries beside this file, copy first (it sets the ceiling), then by name. */
async function loadEntries(): Promise<{ bench: string; cases: BenchCase[] }[]> {
  const self = fileURLToPath(import.meta.url);
  const dir = path.dirname(self);
  // Compiled (dist/bench/*.js) or run from source through tsx (bench/*.ts): the benches sit beside this file.
  const suffix = `.bench${path.extname(self)}`;
  const files = readdirSync(dir).filter((f) => f.endsWith(suffix));
  if (files.length === 0) throw new Error(`no *${suffix} files beside ${self}; build with \`npx tsc -p .\` and run dist/bench/run.js`);
  const copy = `copy${suffix}`;
  files.sort((a, b) => Number(b === copy) - Number(a === copy) || a.localeCompare(b));
  const entries = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as { benches?: BenchCase[] };
    if (!Array.isArray(mod.benches)) throw new Error(`${f} does not export benches: BenchCase[]`);
    entries.push({ bench: f.slice(0, -suffix.length), cases: mod.benches });
  }
  return entries;
}

function readBaselines(file: string | undefined): BaselineFile | undefined {
  if (!file) return undefined;
  if (!existsSync(file)) {
    log(`no baselines at ${file}; PyTorch columns stay empty`);
    return undefined;
  }
  // A bad file (cut mid-write, NaN from an older run_all.py) costs the PyTorch columns, not the bench stage.
  try {
    const base = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (typeof base !== 'object' || base === null || Array.isArray(base)) throw new Error('not a JSON object');
    return base as BaselineFile;
  } catch (err) {
    log(`warning: baselines at ${file} unreadable (${(err as Error).message.slice(0, 120)}); PyTorch columns stay empty`);
    return undefined;
  }
}

const fmt = (x: number | null | undefined, digits = 3) => (x === null || x === undefined ? '—' : x >= 100 ? x.toFixed(0) : x.toPrecision(digits));
const pct = (x: number | undefined) => (x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);

function markdown(title: string, header: string[], results: CaseResult[], base: BaselineFile | undefined, terms: readonly string[]): string {
  const lines = [`# ${title}`, '', ...header, ''];
  lines.push('| case | ms (median) | GB/s | % of copy | TFLOP/s | PyTorch eager ms | torch.compile ms | speedup vs best PyTorch |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    if (r.status !== 'ok') {
      lines.push(`| ${r.name} | failed | — | — | — | ${fmt(r.baseline?.eagerMs)} | ${fmt(r.baseline?.compileMs)} | — |`);
      continue;
    }
    const speed = r.speedup === undefined ? '—' : `${r.speedup.toFixed(2)}×`;
    lines.push(`| ${r.name} | ${fmt(r.medianMs)} | ${fmt(r.gbps)} | ${pct(r.fractionOfCopy)} | ${fmt(r.tflops)} | ${fmt(r.baseline?.eagerMs)} | ${fmt(r.baseline?.compileMs)} | ${speed} |`);
  }
  // PyTorch cases with no era twin (pinned-memory transfers, say) are shown for reference.
  const names = new Set(results.map((r) => r.name));
  const extra = Object.entries(base?.cases ?? {}).filter(([n]) => !names.has(n) && matchesFilter(terms, n));
  if (extra.length > 0) {
    lines.push('', 'PyTorch-only reference cases (no era-cuda counterpart):', '', '| case | PyTorch eager ms | torch.compile ms | GB/s (eager) |', '|---|---:|---:|---:|');
    for (const [n, c] of extra) {
      const gbps = c.bytes && c.eager_ms ? c.bytes / c.eager_ms / 1e6 : undefined;
      lines.push(`| ${n}${c.note ? ` (${c.note})` : ''} | ${fmt(c.eager_ms)} | ${fmt(c.compile_ms)} | ${fmt(gbps)} |`);
    }
  }
  const notes = results.flatMap((r) => [
    ...(r.note ? [`- ${r.name}: ${r.note}`] : []),
    // The GPU waited for the host: the figure is the host's issue rate, the GPU time is at most it.
    ...(r.issueMs !== undefined && r.medianMs && r.issueMs >= 0.8 * r.medianMs && !r.synchronizes
      ? [`- ${r.name}: launch-bound: the host took ${fmt(r.issueMs)} ms per run to issue the work`] : []),
    ...(r.error ? [`- ${r.name}: **failed**: ${r.error.split('\n')[0]}`] : []),
  ]);
  if (notes.length > 0) lines.push('', 'Notes:', '', ...notes);
  lines.push('', 'Median of repeats after warm-up (p20/p80 and raw samples in the JSON); "speedup" is the best PyTorch ms over the era-cuda ms (> 1: era-cuda is faster).', '');
  return lines.join('\n');
}

const OPTIONS = {
  filter: { type: 'string' },
  out: { type: 'string' },
  baselines: { type: 'string' },
  quick: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

async function main(): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];
  try {
    ({ values } = parseArgs({ options: OPTIONS }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const device = era.defaultDevice();
  const info = era.info();
  const deviceName = device === 'cuda' ? info.cuda.name ?? 'cuda' : `cpu (${os.cpus()[0]?.model.trim() ?? os.arch()})`;
  const slug = device === 'cuda' ? slugify(deviceName) : `cpu-${slugify(os.cpus()[0]?.model ?? os.arch())}`;
  const outDir = path.resolve(values.out ?? path.join(packageRoot(), 'bench', 'results'));
  const terms = filterTerms(values.filter);
  const base = readBaselines(values.baselines);
  const ctx = createContext(device, values.quick);
  log(`device ${deviceName} (${device}); ${values.quick ? 'quick' : 'full'} run; out ${outDir}`);

  const entries = await loadEntries();
  const todo = entries.flatMap((e) => e.cases.map((c) => ({ bench: e.bench, c })));
  const matches = (bench: string, c: BenchCase) => matchesFilter(terms, c.name, bench);
  // The ceiling (copy) first, then in the order of the filter's terms (stable within a term).
  const rank = ({ bench, c }: { bench: string; c: BenchCase }) => (c.ceiling ? -1 : filterRank(terms, c.name, bench));
  const selected = todo.filter(({ bench, c }) => c.ceiling || matches(bench, c)).sort((a, b) => rank(a) - rank(b));
  const results: CaseResult[] = [];
  let ceiling: { case: string; gbps: number } | undefined;
  const title = `era-cuda benchmarks: ${deviceName}`;
  const startedAt = new Date().toISOString();
  for (const [i, { bench, c }] of selected.entries()) {
    log(`(${i + 1}/${selected.length}) ${c.name} ...`);
    const r = await runCase(c, bench, ctx, ceiling?.gbps);
    if (c.ceiling && r.gbps) {
      ceiling = { case: r.name, gbps: r.gbps };
      r.fractionOfCopy = 1;
    }
    const b = base?.cases?.[r.name];
    if (b) {
      r.baseline = { eagerMs: b.eager_ms ?? null, compileMs: b.compile_ms ?? null };
      const best = Math.min(...[b.eager_ms, b.compile_ms].filter((x): x is number => typeof x === 'number' && x > 0));
      if (r.medianMs && Number.isFinite(best)) r.speedup = Number((best / r.medianMs).toPrecision(4));
    }
    log(r.status === 'ok'
      ? `    ${fmt(r.medianMs)} ms (p20 ${fmt(r.p20Ms)}, p80 ${fmt(r.p80Ms)}, ${r.inner} run/sample)` +
          `${r.gbps ? `, ${fmt(r.gbps)} GB/s` : ''}${r.tflops ? `, ${fmt(r.tflops)} TFLOP/s` : ''}` +
          `${r.fractionOfCopy !== undefined ? `, ${pct(r.fractionOfCopy)} of copy` : ''}${r.checked ? ', output checked' : ''}`
      : `    FAILED: ${r.error}`);
    // A filtered-out ceiling case still ran, but stays out of the report.
    if (matches(bench, c)) results.push(r);
    // Written after every case, so a run cut short (a GPU lease's time limit) keeps what it measured.
    await writeReport(i + 1 < selected.length ? { done: i + 1, of: selected.length } : undefined);
  }
  if (selected.length === 0) await writeReport();
  log(`wrote ${path.join(outDir, `${slug}.json`)} and .md`);
  process.stdout.write(markdown(title, header(), results, base, terms));
  // A missing ceiling is a failure too, even when the filter hid the copy case.
  const failed = Math.max(results.filter((r) => r.status !== 'ok').length, ceiling ? 0 : 1);
  if (failed > 0) log(`${failed} failure(s)`);
  return failed > 0 ? 1 : 0;

  // The baselines' device is a GPU's name, or "cpu (torch <version>, <n> threads)" from
  // run_all.py --device cpu (which cannot tell which CPU: the same host is assumed).
  function header(partial?: { done: number; of: number }): string[] {
    const sameDevice = (name: string) => (device === 'cuda' ? name === deviceName : name.startsWith('cpu'));
    return [
      `era-cuda ${info.version}, ${device} backend, node ${info.node}` +
        (device === 'cuda' ? `, CUDA runtime ${info.cuda.runtimeVersion}, driver ${info.cuda.driverVersion}, sm ${info.cuda.computeCapability}`
          : `, ${info.cpu.threads} of ${info.cpu.cores} CPUs, GEMM kernel ${info.cpu.gemmKernel}, vector build ${info.cpu.vectorBuild}`) +
        `, ${startedAt}${values.quick ? ', --quick' : ''}.`,
      `Ceiling: ${ceiling ? `device copy ${fmt(ceiling.gbps)} GB/s (${ceiling.case}, this run)` : 'none (the copy case did not run)'}.`,
      base ? `PyTorch baselines: torch ${base.torch ?? '?'} on ${base.device ?? '?'}${base.device && !sameDevice(base.device) ? ' (**not the device measured here**)' : ''}.` : 'PyTorch baselines: none.',
      ...(partial ? [`**Partial: ${partial.done} of ${partial.of} cases so far** (the run was still going when this was written).`] : []),
    ];
  }

  async function writeReport(partial?: { done: number; of: number }): Promise<void> {
    const json = {
      device: deviceName, backend: device, slug, date: startedAt, quick: values.quick, filter: values.filter ?? null,
      complete: partial === undefined,
      info, host: { cpu: os.cpus()[0]?.model ?? null, cpus: os.cpus().length, memoryBytes: os.totalmem() },
      ceiling: ceiling ?? null,
      baselines: base ? { path: path.resolve(values.baselines!), device: base.device ?? null, torch: base.torch ?? null, quick: base.quick ?? null } : null,
      cases: results,
    };
    mkdirSync(outDir, { recursive: true });
    // Atomically: a run killed mid-write leaves the previous whole file.
    const text = (t: string) => new TextEncoder().encode(t);
    await atomicWriteFile(path.join(outDir, `${slug}.json`), text(`${JSON.stringify(json, null, 2)}\n`));
    await atomicWriteFile(path.join(outDir, `${slug}.md`), text(markdown(title, header(partial), results, base, terms)));
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    // An EraError (no device, addon not loadable) explains itself; anything else gets its stack.
    console.error(err instanceof era.EraError ? `${err.name}: ${err.message}` : err instanceof Error ? err.stack ?? err.message : err);
    process.exitCode = 1;
  },
);

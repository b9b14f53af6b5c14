/**
 * The benchmark harness. A bench entry is a module bench/<name>.bench.ts exporting
 * `benches: BenchCase[]`; run.ts loads every entry and calls runCase() on each case.
 *
 * Each figure is the median of timed repeats after warm-up. On CUDA a repeat is timed with the
 * native event timer on the library stream around back-to-back runs: the time the GPU takes to
 * finish them, which is the GPU's own time unless the host cannot issue the work as fast as the
 * GPU runs it. The host's issue time is recorded beside it (issueMs), so such launch-bound cases
 * are marked. On the CPU repeats are timed with process.hrtime. GB/s and TFLOP/s come from the bytes and FLOPs a case declares, and the fraction
 * of the ceiling compares against the device copy bandwidth measured earlier in the same run.
 */
import era, { type Device, type Tensor } from '../lib/index.js';
import { native } from '../lib/native.js';

/** What a case's setup() hands back: the work to time and how to judge it. */
export interface BenchRun {
  /** One unit of work. `iteration` counts every call (warm-up included), so cases can rotate input sets. */
  run(iteration: number): void;
  /** Bytes one run() moves (reads + writes), for GB/s. */
  bytes?: number;
  /** Floating-point operations one run() performs, for TFLOP/s. */
  flops?: number;
  /** Verifies the outputs after timing; throws when they are wrong. */
  check?(): void;
  /** Frees everything setup() allocated. */
  dispose(): void;
  /** false where the device copy bandwidth is not this work's ceiling (PCIe transfers). */
  compareToCopy?: boolean;
  /** A line for the report's notes (what was actually measured, caveats). */
  note?: string;
  /**
   * run() waits for the device at least once (a read-back), so its host time includes GPU time:
   * issueMs ≈ medianMs then says nothing about launch overhead, and the report does not call the
   * case launch-bound.
   */
  synchronizes?: boolean;
  /**
   * Device memory one run needs beyond its inputs and its main output (measured in setup; CUDA
   * only), and the size it is judged against (e.g. the logits' bytes, for "extra memory O(N)").
   */
  extraBytes?: number;
  extraBytesOf?: number;
  /**
   * CUDA only: the nodes each part of the work records when captured alone in a CUDA graph (its
   * kernel launches), by part, e.g. { forward: 1, backward: 1 } for "one launch each".
   */
  graphNodes?: Record<string, number>;
}

export interface BenchCase {
  name: string;
  /** Allocates random inputs (never zeros) on ctx.device. */
  setup(ctx: BenchContext): BenchRun | Promise<BenchRun>;
  /** This case's GB/s is the run's ceiling (the device copy); run.ts runs it first, always. */
  ceiling?: boolean;
  /** Overrides of the default warm-up and repeat counts. */
  warmup?: number;
  repeats?: number;
}

export interface BenchContext {
  device: Device;
  /** Fewer repeats (CI smoke runs). */
  quick: boolean;
  /** The last-level cache that repeats must not run from: the GPU's L2, or a bound for CPU LLCs. */
  cacheBytes: number;
}

export interface CaseResult {
  name: string;
  /** The bench entry the case came from (e.g. "copy"). */
  bench: string;
  status: 'ok' | 'failed';
  error?: string;
  note?: string;
  medianMs?: number;
  p20Ms?: number;
  p80Ms?: number;
  /** CUDA: median host time per run to issue the work (≈ medianMs: launch-bound, unless it synchronizes). */
  issueMs?: number;
  /** BenchRun.synchronizes. */
  synchronizes?: boolean;
  /** Per-run times in ms (one sample = `inner` back-to-back runs, divided by `inner`). */
  samples?: number[];
  inner?: number;
  bytes?: number;
  flops?: number;
  gbps?: number;
  tflops?: number;
  /** GB/s over the device copy GB/s of this run. */
  fractionOfCopy?: number;
  /** Whether check() ran and passed. */
  checked?: boolean;
  /** BenchRun.extraBytes, and its share of BenchRun.extraBytesOf. */
  extraBytes?: number;
  extraFraction?: number;
  /** BenchRun.graphNodes. */
  graphNodes?: Record<string, number>;
  baseline?: { eagerMs: number | null; compileMs: number | null };
  /** Best PyTorch ms over era ms (> 1: era is faster). */
  speedup?: number;
}

export function createContext(device: Device, quick: boolean): BenchContext {
  const l2 = device === 'cuda' ? era.info().cuda.l2CacheBytes : undefined;
  // 64 MiB bounds the LLC of the CPUs we run on; the H100's L2 is 50 MB.
  return { device, quick, cacheBytes: l2 && l2 > 0 ? l2 : 64 << 20 };
}

/** How many input sets of `bytesPerSet` to rotate through so that together they span twice the cache. */
export function rotationCount(ctx: BenchContext, bytesPerSet: number, max = 64): number {
  return Math.max(1, Math.min(max, Math.ceil((2 * ctx.cacheBytes) / Math.max(1, bytesPerSet))));
}

/** Seeded uniform input in [-1, 1) on the context's device: random, never zeros. */
export function randomInput(ctx: BenchContext, shape: readonly number[], seed: number): Tensor {
  return era.uniform(shape, { device: ctx.device, seed, low: -1, high: 1 });
}

/** Byte-exact equality of two host arrays (memcmp through Buffer views). */
export function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const view = (x: ArrayBufferView) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  return a.byteLength === b.byteLength && view(a).equals(view(b));
}

/** Throws unless `a` holds some non-zero values (guards against checks that compare zeros with zeros). */
export function assertNonZero(a: ArrayLike<number>, what: string): void {
  const step = Math.max(1, Math.floor(a.length / 1024));
  for (let i = 0; i < a.length; i += step) if (a[i] !== 0) return;
  throw new Error(`${what}: sampled values are all zero`);
}

export function formatBytes(n: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return `${n}B`;
}

/** Linear-interpolated quantile of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Times `count` back-to-back runs starting at `iteration`: total ms, and on CUDA the host's ms to
 * issue them (on the CPU the two are the same).
 */
function timeRuns(device: Device, work: BenchRun, iteration: number, count: number): { ms: number; issueMs: number } {
  if (device === 'cuda') {
    // Events on the library stream: start fires once earlier work is done, stop waits for ours.
    native().timerStart();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < count; i++) work.run(iteration + i);
    const issueMs = Number(process.hrtime.bigint() - t0) / 1e6;
    return { ms: native().timerStop(), issueMs };
  }
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) work.run(iteration + i);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, issueMs: ms };
}

/**
 * The shortest sample, in ms (bench/baselines/_common.py uses the same). A 1 ms case timed one run
 * a sample would count, every sample, the gap between the start event and its first kernel.
 */
export const MIN_SAMPLE_MS = 5;

/** Six significant digits: plenty for timings, and keeps the JSON readable. */
const round = (x: number) => Number(x.toPrecision(6));

/**
 * Sets the case up, warms up, picks how many runs one sample spans (so samples last at least
 * MIN_SAMPLE_MS and launch gaps or timer resolution do not dominate), times the repeats, then checks.
 */
export async function runCase(c: BenchCase, bench: string, ctx: BenchContext, ceilingGbps?: number): Promise<CaseResult> {
  const result: CaseResult = { name: c.name, bench, status: 'failed' };
  let work: BenchRun | undefined;
  try {
    work = await c.setup(ctx);
    result.note = work.note;
    if (work.synchronizes) result.synchronizes = true;
    if (work.graphNodes) result.graphNodes = { ...work.graphNodes };
    if (work.extraBytes !== undefined) {
      result.extraBytes = work.extraBytes;
      if (work.extraBytesOf) result.extraFraction = round(work.extraBytes / work.extraBytesOf);
    }
    era.synchronize(); // setup's random fills must not land in the first sample
    // --quick caps every case, its own counts included.
    const warmup = ctx.quick ? Math.min(c.warmup ?? 1, 1) : c.warmup ?? 3;
    const repeats = ctx.quick ? Math.min(c.repeats ?? 5, 5) : c.repeats ?? 25;
    let iteration = 0;
    const warm: number[] = [];
    for (let i = 0; i < Math.max(1, warmup); i++) warm.push(timeRuns(ctx.device, work, iteration++, 1).ms);
    const inner = Math.min(1000, Math.max(1, Math.ceil(MIN_SAMPLE_MS / Math.max(1e-6, Math.min(...warm)))));
    const samples: number[] = [];
    const issue: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const t = timeRuns(ctx.device, work, iteration, inner);
      samples.push(t.ms / inner);
      issue.push(t.issueMs / inner);
      iteration += inner;
    }
    const sorted = samples.slice().sort((a, b) => a - b);
    const median = quantile(sorted, 0.5);
    Object.assign(result, {
      medianMs: round(median), p20Ms: round(quantile(sorted, 0.2)), p80Ms: round(quantile(sorted, 0.8)),
      samples: samples.map((s) => round(s)), inner, bytes: work.bytes, flops: work.flops,
    });
    if (ctx.device === 'cuda') result.issueMs = round(quantile(issue.sort((a, b) => a - b), 0.5));
    if (work.bytes) result.gbps = round(work.bytes / median / 1e6);
    if (work.flops) result.tflops = round(work.flops / median / 1e9);
    if (result.gbps && ceilingGbps && work.compareToCopy !== false) result.fractionOfCopy = round(result.gbps / ceilingGbps);
    if (work.check) {
      era.synchronize();
      try {
        work.check();
      } catch (err) {
        throw new Error(`check failed: ${(err as Error).message}`);
      }
      result.checked = true;
    }
    result.status = 'ok';
  } catch (err) {
    result.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  } finally {
    try {
      work?.dispose();
      era.emptyCache(); // give the next case the whole device
    } catch (err) {
      result.status = 'failed';
      result.error ??= `dispose failed: ${(err as Error).message}`;
    }
  }
  return result;
}

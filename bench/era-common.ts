/**
 * Helpers shared by the ERA benches (era-gaussian, era-vision, era-logits): a seeded xorshift32
 * (the PyTorch twins in bench/baselines/_era_common.py use the same one, so both sides draw the
 * same ragged responses), a tolerance check against float64 references, and a measurement of the
 * device memory an operation needs beyond its inputs.
 *
 * Not a bench entry itself (run.ts loads only *.bench.js, or *.bench.ts under tsx).
 */
import era, { type Tensor } from '../lib/index.js';

/** xorshift32 (13, 17, 5): the same sequence as _era_common.Xorshift in the baselines. */
export class Xorshift {
  private x: number;

  constructor(seed: number) {
    this.x = seed >>> 0 || 0x9e3779b9;
  }

  next(): number {
    let x = this.x;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.x = x;
    return x;
  }

  /** Uniform in [0, 1) from the top 24 bits. */
  uniform(): number {
    return (this.next() >>> 8) / 16777216;
  }
}

/** GRPO advantages with ±1 rewards and 8 samples per prompt: sqrt(7(8−m)/(8m)) for m = 1..7 correct. */
export const GRPO_MAGNITUDES = [1, 2, 3, 4, 5, 6, 7].map((m) => Math.sqrt((7 * (8 - m)) / (8 * m)));

export interface ResponsePlan {
  /** [R + 1] row offsets. */
  offsets: Int32Array;
  /** Per response: its advantage (broadcast to every token) and whether its rows are "confident". */
  advantage: number[];
  confident: boolean[];
}

/**
 * N tokens cut into responses of 64..1024 tokens (for N < 4096: N/16..N/4, so small CPU sizes
 * still have several responses; the last one takes what is left), each with a GRPO advantage of
 * random sign and a "confident" flag (about a third: their rows get a spike on the sampled token,
 * so their entropy is low). Responses 0 and 1 are forced to a confident one with A = +2.47 and an
 * unconfident one with A = +1.62, so both scaling branches (k and 1/k) always occur, also under
 * the reference's A >= 1 test. Mirrors _era_common.response_plan draw for draw.
 */
export function responsePlan(n: number, seed: number): ResponsePlan {
  const rng = new Xorshift(seed);
  const maxLen = Math.max(1, Math.min(1024, Math.floor(n / 4)));
  const minLen = Math.max(1, Math.min(64, Math.floor(maxLen / 4)));
  const offsets = [0];
  const advantage: number[] = [];
  const confident: boolean[] = [];
  let total = 0;
  while (total < n) {
    const len = Math.min(minLen + (rng.next() % (maxLen - minLen + 1)), n - total);
    const sign = rng.next() % 2 === 0 ? 1 : -1;
    const mag = GRPO_MAGNITUDES[rng.next() % 7];
    const conf = rng.next() % 3 === 0;
    const i = advantage.length;
    total += len;
    offsets.push(total);
    advantage.push(i === 0 ? GRPO_MAGNITUDES[0] : i === 1 ? GRPO_MAGNITUDES[1] : sign * mag);
    confident.push(i === 0 ? true : i === 1 ? false : conf);
  }
  return { offsets: Int32Array.from(offsets), advantage, confident };
}

/**
 * Throws unless |actual − expected| <= atol + rtol·|expected| everywhere (reports the worst index).
 * Also refuses comparisons of all-zero references.
 */
export function assertClose(
  actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, atol: number, rtol: number,
): void {
  if (actual.length !== expected.length) throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  let worst = -1;
  let worstExcess = 0;
  let nonZero = false;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const a = actual[i];
    if (e !== 0) nonZero = true;
    const err = Math.abs(a - e);
    const tol = atol + rtol * Math.abs(e);
    if (!(err <= tol) && (worst < 0 || err - tol > worstExcess || Number.isNaN(err))) {
      worst = i;
      worstExcess = err - tol;
      if (Number.isNaN(err)) break;
    }
  }
  if (!nonZero && expected.length > 0) throw new Error(`${what}: the reference is all zeros`);
  if (worst >= 0) {
    throw new Error(`${what}: index ${worst}: got ${actual[worst]}, expected ${expected[worst]} (atol ${atol}, rtol ${rtol})`);
  }
}

/** max |x| of an array. */
export function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

/** bf16 bits (Uint16) to a number. */
const f32View = new Float32Array(1);
const u32View = new Uint32Array(f32View.buffer);
export function bf16ToNumber(bits: number): number {
  u32View[0] = bits << 16;
  return f32View[0];
}

export interface MemoryUse {
  /** Bytes still allocated when `fn` returned (its outputs, in allocator bucket sizes). */
  liveBytes: number;
  /** The high-water mark during `fn` above the allocation level it started from. */
  peakBytes: number;
  /** peakBytes − liveBytes: workspace that `fn` freed before returning. */
  transientBytes: number;
}

/**
 * Device memory `fn` allocates beyond what is live when it starts (CUDA only; undefined on the
 * CPU, where the library keeps no high-water mark). The caching allocator's peak counter never
 * resets, so a ballast allocation first lifts the live level to the earlier peak: any later
 * rise of the peak is then `fn`'s own. `fn` returns the tensors it created, which the caller owns.
 */
export function measureDeviceMemory<T>(device: string, fn: () => T): { result: T; use?: MemoryUse } {
  if (device !== 'cuda') return { result: fn() };
  era.synchronize();
  const before = era.memory().cuda;
  let ballast: Tensor | undefined;
  const gap = before.peakBytes - before.allocatedBytes;
  if (gap > 0) ballast = era.empty([Math.ceil(gap / 4)], { device: 'cuda' });
  try {
    const start = era.memory().cuda; // allocated >= the earlier peak now, so peak == allocated
    const result = fn();
    era.synchronize();
    const end = era.memory().cuda;
    const base = Math.max(start.allocatedBytes, start.peakBytes);
    const liveBytes = end.allocatedBytes - start.allocatedBytes;
    const peakBytes = end.peakBytes - base;
    return { result, use: { liveBytes, peakBytes, transientBytes: Math.max(0, peakBytes - liveBytes) } };
  } finally {
    ballast?.dispose();
  }
}

/** Bytes as KiB / MiB / GiB with 3 significant digits. */
export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (n >= size) return `${(n / size).toPrecision(3)} ${unit}`;
  }
  return `${n} B`;
}

/**
 * Learning-curve data: validation of the runs and their aggregation over seeds.
 *
 * Seeds may be evaluated at different x (environment steps). Aggregation works on the union grid:
 * the sorted set of every x of every run of the variant. At each grid point each run contributes
 * its value linearly interpolated between its own two neighbouring points, but only inside its
 * own range [first x, last x]: runs are never extrapolated, so where a seed stopped early the
 * statistics at later x are over the seeds that got there (`count` says how many).
 */
import { rangeError, typeError } from '../validate.js';

export interface Run {
  /** Environment steps, strictly increasing. */
  x: ArrayLike<number>;
  /** Evaluation return at each x. */
  y: ArrayLike<number>;
}

export interface Series {
  /** Variant name shown in the legend, e.g. 'SAC+ERA'. */
  name: string;
  /** One run per seed. */
  runs: Run[];
}

/** How the band around the mean is drawn: min–max over seeds, or mean ± 1 sample std. */
export type BandKind = 'minmax' | 'std';

export interface AggregatedSeries {
  name: string;
  /** Number of runs (seeds) of the variant. */
  seeds: number;
  /** The union grid. */
  x: number[];
  /** Mean over the runs that cover x. */
  mean: number[];
  /** Sample standard deviation (n − 1); 0 where one run covers x. */
  std: number[];
  min: number[];
  max: number[];
  /** How many runs cover x. */
  count: number[];
}

function isArrayLike(v: unknown): v is ArrayLike<number> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

function checkRun(run: unknown, name: string): Run {
  if (run === null || typeof run !== 'object') throw typeError('an object { x, y }', name, run);
  const { x, y } = run as Record<string, unknown>;
  if (!isArrayLike(x)) throw typeError('an array of numbers', `${name}.x`, x);
  if (!isArrayLike(y)) throw typeError('an array of numbers', `${name}.y`, y);
  if (x.length === 0) throw rangeError('a non-empty array', `${name}.x`, x);
  if (y.length !== x.length) throw rangeError(`an array of length ${x.length} (the length of x)`, `${name}.y`, y);
  for (let i = 0; i < x.length; i++) {
    for (const [arr, axis] of [[x, 'x'], [y, 'y']] as const) {
      const v = arr[i];
      if (typeof v !== 'number') throw typeError('a finite number', `${name}.${axis}[${i}]`, v);
      if (!Number.isFinite(v)) throw rangeError('a finite number', `${name}.${axis}[${i}]`, v);
    }
    if (i > 0 && !(x[i] > x[i - 1])) throw rangeError(`a number greater than x[${i - 1}] = ${x[i - 1]} (x must increase)`, `${name}.x[${i}]`, x[i]);
  }
  return { x, y };
}

/** Validates `series` and returns it; errors name the offending element, e.g. `spec.series[1].runs[0].y[3]`. */
export function checkSeries(series: unknown, name = 'spec.series'): Series[] {
  if (!Array.isArray(series)) throw typeError('an array of { name, runs }', name, series);
  if (series.length === 0) throw rangeError('a non-empty array of { name, runs }', name, series);
  const seen = new Set<string>();
  return series.map((s: unknown, i) => {
    const at = `${name}[${i}]`;
    if (s === null || typeof s !== 'object') throw typeError('an object { name, runs }', at, s);
    const { name: label, runs } = s as Record<string, unknown>;
    if (typeof label !== 'string' || label.length === 0) throw typeError('a non-empty string', `${at}.name`, label);
    if (seen.has(label)) throw rangeError('a name not used by another series', `${at}.name`, label);
    seen.add(label);
    if (!Array.isArray(runs)) throw typeError('an array of runs { x, y }', `${at}.runs`, runs);
    if (runs.length === 0) throw rangeError('a non-empty array of runs { x, y }', `${at}.runs`, runs);
    return { name: label, runs: runs.map((r: unknown, j) => checkRun(r, `${at}.runs[${j}]`)) };
  });
}

/** y of `run` at `x` by linear interpolation, or undefined outside the run's range. */
function valueAt(run: Run, x: number, cursor: { i: number }): number | undefined {
  const n = run.x.length;
  if (x < run.x[0] || x > run.x[n - 1]) return undefined;
  // The grid is visited in increasing order, so a forward cursor finds the segment in O(1) amortised.
  while (cursor.i < n - 1 && run.x[cursor.i + 1] < x) cursor.i++;
  const i = cursor.i;
  if (run.x[i] === x || i === n - 1) return run.y[i];
  const x0 = run.x[i];
  const x1 = run.x[i + 1];
  if (x1 === x) return run.y[i + 1];
  const t = (x - x0) / (x1 - x0);
  return run.y[i] + t * (run.y[i + 1] - run.y[i]);
}

/** Mean, sample std, min and max over seeds on the union grid (see the file comment). Input must be checked. */
export function aggregateSeries(series: Series): AggregatedSeries {
  const grid = [...new Set(series.runs.flatMap((r) => Array.from(r.x)))].sort((a, b) => a - b);
  const cursors = series.runs.map(() => ({ i: 0 }));
  const out: AggregatedSeries = { name: series.name, seeds: series.runs.length, x: grid, mean: [], std: [], min: [], max: [], count: [] };
  for (const x of grid) {
    const values: number[] = [];
    series.runs.forEach((run, j) => {
      const v = valueAt(run, x, cursors[j]);
      if (v !== undefined) values.push(v);
    });
    const n = values.length; // >= 1: x comes from some run's own grid
    const mean = values.reduce((a, b) => a + b, 0) / n;
    const ss = values.reduce((a, v) => a + (v - mean) ** 2, 0);
    out.mean.push(mean);
    out.std.push(n > 1 ? Math.sqrt(ss / (n - 1)) : 0);
    out.min.push(Math.min(...values));
    out.max.push(Math.max(...values));
    out.count.push(n);
  }
  return out;
}

/** The band's lower and upper edge at grid point i. */
export function bandAt(s: AggregatedSeries, i: number, kind: BandKind): [number, number] {
  return kind === 'std' ? [s.mean[i] - s.std[i], s.mean[i] + s.std[i]] : [s.min[i], s.max[i]];
}

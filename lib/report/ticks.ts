/**
 * Axis ticks at "nice" numbers (steps of 1, 2 or 5 × 10^k) and compact labels ("200k", "1.5M").
 */

export interface Ticks {
  /** The tick step: 1, 2 or 5 times a power of ten. */
  step: number;
  /** Tick values from floor(lo / step) · step to ceil(hi / step) · step. */
  values: number[];
}

/** Rounds away the binary noise of k · step (0.1 · 3 = 0.30000000000000004). */
function clean(v: number): number {
  const r = Number(v.toPrecision(12));
  return r === 0 ? 0 : r; // no -0 in labels
}

/** The 1-2-5 step that splits [lo, hi] into the number of intervals closest to `target`. */
export function niceStep(lo: number, hi: number, target = 5): number {
  const span = hi - lo;
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const goal = Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(span / goal));
  let best = mag;
  for (const f of [2, 5, 10]) {
    // Ties go to the larger step (fewer labels).
    if (Math.abs(span / (f * mag) - goal) <= Math.abs(span / best - goal) + 1e-9) best = f * mag;
  }
  return clean(best);
}

/**
 * Nice ticks covering [lo, hi]. A zero-width range is widened first (±1, or ±10% of the value)
 * so that a constant curve still gets an axis.
 */
export function niceTicks(lo: number, hi: number, target = 5): Ticks {
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const step = niceStep(lo, hi, target);
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const values: number[] = [];
  for (let k = first; k <= last; k++) values.push(clean(k * step));
  return { step, values };
}

const UNITS: readonly [number, string][] = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];

/**
 * A tick label: with `si`, thousands and up get an SI suffix ("200k", "1.5M", "2G"); values get as
 * many decimals as the step needs ("0.5", "612"), trailing zeros dropped.
 */
export function formatTick(value: number, step: number, si = true): string {
  const abs = Math.abs(value);
  const [unit, suffix] = (si ? UNITS.find(([u]) => abs >= u) : undefined) ?? [1, ''];
  const decimals = Math.max(0, Math.min(12, Math.ceil(Math.log10(unit / step) - 1e-9)));
  let text = (value / unit).toFixed(decimals);
  if (text.includes('.')) text = text.replace(/0+$/, '').replace(/\.$/, '');
  if (/^-0$/.test(text)) text = '0';
  return text + suffix;
}

/**
 * Labels for one axis: SI suffixes when the axis reaches 10^4 ("0, 200k, ..., 1M"), plain numbers
 * below that ("-500, 0, 500, 1000"), so one axis never mixes "500" and "1k".
 */
export function formatTicks(ticks: Ticks): string[] {
  const si = ticks.values.some((v) => Math.abs(v) >= 1e4);
  return ticks.values.map((v) => formatTick(v, ticks.step, si));
}

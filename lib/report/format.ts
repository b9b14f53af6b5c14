/**
 * Compact number and duration formats for progress lines: "84k", "1.6k", "812", "2m31s".
 */

const SUFFIXES = ['', 'k', 'M', 'G', 'T'];

/** Three significant digits with an SI suffix: 84000 → "84k", 1600 → "1.6k", 812.4 → "812". */
export function formatCount(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  let k = 0;
  let s = Number(a.toPrecision(3));
  while (s >= 1000 && k < SUFFIXES.length - 1) {
    k++;
    s = Number((a / 1000 ** k).toPrecision(3));
  }
  return `${v < 0 && s !== 0 ? '-' : ''}${s}${SUFFIXES[k]}`;
}

/** A metric value: four significant digits below 10^4 (612.3, 0.1235), formatCount above. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1e4) return formatCount(v);
  return String(Number(v.toPrecision(4)));
}

/** Seconds as "45s", "2m31s", "1h02m", "3d04h"; "?" when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const two = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d${two(Math.floor((s % 86400) / 3600))}h`;
}

/**
 * Learning curves as hand-written SVG: x = environment steps, y = evaluation return, one line per
 * variant (the mean over seeds on the union grid of the seeds' x, see curve-data.ts) and, for a
 * variant with two or more seeds, a translucent band (min–max over seeds by default, or mean ± 1
 * sample std); the legend says which. Deterministic: the same spec gives the same bytes (no dates,
 * no random ids; coordinates rounded to 0.01 px).
 *
 * Axes: y spans nice ticks (1-2-5 steps) around every plotted value; x spans the data's own range
 * with nice ticks inside it, labelled "200k"/"1.5M". Colours are the Okabe–Ito palette
 * (colour-blind safe), cycled with dash patterns past eight variants.
 */
import { oneOf, plainObject, rangeError, typeError } from '../validate.js';
import { aggregateSeries, bandAt, checkSeries, type AggregatedSeries, type BandKind, type Series } from './curve-data.js';
import { formatTicks, niceTicks } from './ticks.js';

export interface LearningCurveSpec {
  title: string;
  /** Default 'environment steps'. */
  xLabel?: string;
  /** Default 'evaluation return'. */
  yLabel?: string;
  series: Series[];
  /** 'minmax' (default) or 'std' (mean ± 1 sample std over seeds). */
  band?: BandKind;
  /** SVG size in px (defaults 720 × 440). */
  width?: number;
  height?: number;
}

export interface CurveOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  band: BandKind;
  width: number;
  height: number;
}

/** Okabe & Ito (2008); yellow last, it is the weakest on white. */
export const PALETTE = Object.freeze(['#0072B2', '#D55E00', '#009E73', '#E69F00', '#CC79A7', '#56B4E9', '#000000', '#F0E442']);
const DASHES = ['', '7 4', '2 3'];

const FONT = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A coordinate rounded to 0.01 px, without "-0". */
function px(v: number): string {
  const r = Math.round(v * 100) / 100;
  return String(r === 0 ? 0 : r);
}

function size(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw typeError('an integer between 200 and 10000', name, value);
  if (!Number.isInteger(value) || value < 200 || value > 10000) throw rangeError('an integer between 200 and 10000', name, value);
  return value;
}

function text(value: unknown, name: string, fallback?: string): string {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string') throw typeError('a string', name, value);
  return value;
}

/** Validates a spec; returns the drawing options and the checked series. */
export function checkSpec(spec: unknown): { options: CurveOptions; series: Series[] } {
  if (spec === undefined) throw typeError('an object { title, series, ... }', 'spec', spec);
  const s = plainObject(spec, 'spec');
  const options: CurveOptions = {
    title: text(s.title, 'spec.title'),
    xLabel: text(s.xLabel, 'spec.xLabel', 'environment steps'),
    yLabel: text(s.yLabel, 'spec.yLabel', 'evaluation return'),
    band: s.band === undefined ? 'minmax' : oneOf(s.band, ['minmax', 'std'] as const, 'spec.band'),
    width: size(s.width, 'spec.width', 720),
    height: size(s.height, 'spec.height', 440),
  };
  return { options, series: checkSeries(s.series, 'spec.series') };
}

/** The SVG of a learning curve (see the file comment). Throws TypeError/RangeError naming the bad part of spec. */
export function learningCurveSvg(spec: LearningCurveSpec): string {
  const { options, series } = checkSpec(spec);
  return renderCurveSvg(series.map(aggregateSeries), options);
}

function legendLabel(s: AggregatedSeries): string {
  return `${s.name} (${s.seeds} seed${s.seeds === 1 ? '' : 's'})`;
}

/** Draws already aggregated series. */
export function renderCurveSvg(data: AggregatedSeries[], o: CurveOptions): string {
  const W = o.width;
  const H = o.height;
  // Legend column on the right, sized from the longest label (~0.6 em per character at 12 px).
  const longest = Math.max(...data.map((s) => legendLabel(s).length), 22);
  const legendW = Math.min(280, 44 + Math.ceil(longest * 7));
  const maxChars = Math.floor((legendW - 44) / 7);
  const left = 76;
  const right = legendW + 12;
  const top = o.title ? 44 : 20;
  const bottom = 56;
  const pw = W - left - right;
  const ph = H - top - bottom;
  if (pw < 80 || ph < 80) throw rangeError(`a size leaving a plot area of at least 80 × 80 px (the legend takes ${legendW} px)`, 'spec.width', W);

  // Domains.
  let xmin = Infinity;
  let xmax = -Infinity;
  let ymin = Infinity;
  let ymax = -Infinity;
  for (const s of data) {
    xmin = Math.min(xmin, s.x[0]);
    xmax = Math.max(xmax, s.x[s.x.length - 1]);
    s.x.forEach((_, i) => {
      const [lo, hi] = s.seeds > 1 ? bandAt(s, i, o.band) : [s.mean[i], s.mean[i]];
      ymin = Math.min(ymin, lo, s.mean[i]);
      ymax = Math.max(ymax, hi, s.mean[i]);
    });
  }
  const yt = niceTicks(ymin, ymax, Math.max(2, Math.round(ph / 60)));
  const y0 = yt.values[0];
  const y1 = yt.values[yt.values.length - 1];
  let xt = niceTicks(xmin, xmax, Math.max(2, Math.round(pw / 80)));
  let x0 = xmin;
  let x1 = xmax;
  if (x1 === x0) {
    // One x for every series: centre it in a nice range.
    x0 = xt.values[0];
    x1 = xt.values[xt.values.length - 1];
  } else {
    const eps = (x1 - x0) * 1e-9;
    xt = { step: xt.step, values: xt.values.filter((v) => v >= x0 - eps && v <= x1 + eps) };
  }
  const sx = (x: number) => left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => top + ph - ((y - y0) / (y1 - y0)) * ph;

  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}" font-size="12">`);
  out.push(`<rect class="background" x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  if (o.title) out.push(`<text class="title" x="${px(left + pw / 2)}" y="26" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(o.title)}</text>`);

  // Grid and tick labels.
  out.push('<g class="grid" stroke="#e3e3e3" stroke-width="1">');
  for (const v of yt.values) out.push(`<line x1="${px(left)}" y1="${px(sy(v))}" x2="${px(left + pw)}" y2="${px(sy(v))}"/>`);
  for (const v of xt.values) out.push(`<line x1="${px(sx(v))}" y1="${px(top)}" x2="${px(sx(v))}" y2="${px(top + ph)}"/>`);
  out.push('</g>');
  out.push('<g class="y-ticks" text-anchor="end" fill="#333333">');
  const yLabels = formatTicks(yt);
  yt.values.forEach((v, i) => out.push(`<text x="${px(left - 8)}" y="${px(sy(v) + 4)}" data-value="${v}">${escapeXml(yLabels[i])}</text>`));
  out.push('</g>');
  out.push('<g class="x-ticks" text-anchor="middle" fill="#333333">');
  const xLabels = formatTicks(xt);
  xt.values.forEach((v, i) => out.push(`<text x="${px(sx(v))}" y="${px(top + ph + 18)}" data-value="${v}">${escapeXml(xLabels[i])}</text>`));
  out.push('</g>');

  // Bands first, then the lines over them.
  data.forEach((s, k) => {
    if (s.seeds < 2) return;
    const color = PALETTE[k % PALETTE.length];
    const upper = s.x.map((x, i) => `${px(sx(x))} ${px(sy(bandAt(s, i, o.band)[1]))}`);
    const lower = s.x.map((x, i) => `${px(sx(x))} ${px(sy(bandAt(s, i, o.band)[0]))}`).reverse();
    out.push(`<path class="band" data-series="${escapeXml(s.name)}" d="M ${upper.join(' L ')} L ${lower.join(' L ')} Z" fill="${color}" fill-opacity="0.2" stroke="none"/>`);
  });
  data.forEach((s, k) => {
    const color = PALETTE[k % PALETTE.length];
    const dash = DASHES[Math.floor(k / PALETTE.length) % DASHES.length];
    const d = s.x.map((x, i) => `${i === 0 ? 'M' : 'L'} ${px(sx(x))} ${px(sy(s.mean[i]))}`).join(' ');
    out.push(`<path class="mean" data-series="${escapeXml(s.name)}" d="${d}" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    // A one-point line has no length and would not show.
    if (s.x.length === 1) out.push(`<circle class="point" cx="${px(sx(s.x[0]))}" cy="${px(sy(s.mean[0]))}" r="3" fill="${color}"/>`);
  });

  // Frame (also the plot-area record the tests read) and axis labels.
  out.push(`<rect class="plot-area" x="${px(left)}" y="${px(top)}" width="${px(pw)}" height="${px(ph)}" fill="none" stroke="#333333" stroke-width="1"/>`);
  out.push(`<text class="x-label" x="${px(left + pw / 2)}" y="${px(H - 14)}" text-anchor="middle" font-size="13">${escapeXml(o.xLabel)}</text>`);
  const ly = top + ph / 2;
  out.push(`<text class="y-label" x="18" y="${px(ly)}" text-anchor="middle" font-size="13" transform="rotate(-90 18 ${px(ly)})">${escapeXml(o.yLabel)}</text>`);

  // Legend.
  const lx = left + pw + 16;
  let ly2 = top + 6;
  out.push('<g class="legend">');
  data.forEach((s, k) => {
    const color = PALETTE[k % PALETTE.length];
    const dash = DASHES[Math.floor(k / PALETTE.length) % DASHES.length];
    if (s.seeds > 1) out.push(`<rect x="${px(lx)}" y="${px(ly2)}" width="24" height="12" fill="${color}" fill-opacity="0.2"/>`);
    out.push(`<line x1="${px(lx)}" y1="${px(ly2 + 6)}" x2="${px(lx + 24)}" y2="${px(ly2 + 6)}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    // Labels longer than the column are cut with an ellipsis; the full one stays in a <title>.
    const label = legendLabel(s);
    const shown = label.length > maxChars ? `${label.slice(0, maxChars - 1)}…` : label;
    const tip = shown === label ? '' : `<title>${escapeXml(label)}</title>`;
    out.push(`<text x="${px(lx + 30)}" y="${px(ly2 + 10)}">${tip}${escapeXml(shown)}</text>`);
    ly2 += 20;
  });
  const bandText = o.band === 'std' ? 'band: mean ± 1 std over seeds' : 'band: min–max over seeds';
  out.push(`<text class="legend-note" x="${px(lx)}" y="${px(ly2 + 10)}" font-size="11" fill="#555555">line: mean over seeds</text>`);
  if (data.some((s) => s.seeds > 1)) out.push(`<text class="legend-note" x="${px(lx)}" y="${px(ly2 + 25)}" font-size="11" fill="#555555">${bandText}</text>`);
  out.push('</g>');
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

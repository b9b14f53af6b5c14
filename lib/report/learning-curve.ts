/**
 * writeLearningCurve: one call that writes a learning curve as <out>.svg, <out>.png (when the
 * renderer loads, see png.ts) and <out>.csv (the plotted means and bands, see curve-csv.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { integer, plainObject, typeError } from '../validate.js';
import { aggregateSeries } from './curve-data.js';
import { curveCsv } from './curve-csv.js';
import { checkSpec, renderCurveSvg, type LearningCurveSpec } from './curve-svg.js';
import { svgToPng, type SvgToPngOptions } from './png.js';

export interface WriteCurveOptions {
  /** PNG width in px (default twice the SVG width). */
  pngWidth?: number;
  /** Skip the PNG (default false). */
  png?: boolean;
  /** Passed to svgToPng. */
  warn?: SvgToPngOptions['warn'];
  loader?: SvgToPngOptions['loader'];
}

export interface WrittenCurve {
  svg: string;
  /** null where the PNG was skipped (renderer unavailable, or options.png false). */
  png: string | null;
  csv: string;
}

/**
 * Writes `<outPathWithoutExt>.svg`, `.png` and `.csv` (parent folders created) and returns the
 * paths written. The spec is validated before anything is written.
 */
export async function writeLearningCurve(spec: LearningCurveSpec, outPathWithoutExt: string, options: WriteCurveOptions = {}): Promise<WrittenCurve> {
  const { options: drawing, series } = checkSpec(spec);
  if (typeof outPathWithoutExt !== 'string' || outPathWithoutExt.length === 0) throw typeError('a file path without extension', 'outPathWithoutExt', outPathWithoutExt);
  const opts = plainObject(options, 'options');
  const pngWidth = opts.pngWidth === undefined ? 2 * drawing.width : integer(opts.pngWidth, 'options.pngWidth', 1, 16384);
  const data = series.map(aggregateSeries);
  const svg = renderCurveSvg(data, drawing);
  const out = { svg: `${outPathWithoutExt}.svg`, png: `${outPathWithoutExt}.png`, csv: `${outPathWithoutExt}.csv` };
  await mkdir(path.dirname(path.resolve(out.svg)), { recursive: true });
  await writeFile(out.svg, svg);
  await writeFile(out.csv, curveCsv(data, drawing.band));
  const png = opts.png === false ? null
    : await svgToPng(svg, out.png, { width: pngWidth, warn: opts.warn as WriteCurveOptions['warn'], loader: opts.loader as WriteCurveOptions['loader'] });
  return { svg: out.svg, png, csv: out.csv };
}

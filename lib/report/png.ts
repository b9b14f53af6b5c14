/**
 * SVG → PNG through @resvg/resvg-js, loaded lazily: its native binary is an optional dependency,
 * so where it is missing (another platform, an install without optionals) the PNG is skipped with
 * one warning line instead of failing the training run that asked for it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { integer, plainObject, typeError } from '../validate.js';

/** The part of @resvg/resvg-js used here. */
export interface ResvgModule {
  Resvg: new (svg: string | Buffer, options?: {
    fitTo?: { mode: 'width'; value: number };
    background?: string;
    font?: { loadSystemFonts?: boolean };
  }) => { render(): { asPng(): Buffer } };
}

export interface SvgToPngOptions {
  /** Width of the PNG in px (default 1200); the height keeps the SVG's aspect ratio. */
  width?: number;
  /** Where the one-line warning goes when resvg cannot be loaded (default console.warn). */
  warn?: (message: string) => void;
  /** Loads the renderer (default: import('@resvg/resvg-js')); for tests and custom builds. */
  loader?: () => Promise<ResvgModule>;
}

let cached: Promise<ResvgModule> | undefined;
let warned = false;

async function defaultLoader(): Promise<ResvgModule> {
  cached ??= import('@resvg/resvg-js').then((m) => ((m as { default?: ResvgModule }).default ?? m) as ResvgModule);
  return cached;
}

/**
 * Renders `svg` to a PNG file at `outPath` (parent folders created) and returns the path, or
 * returns null after one warning line where the renderer cannot be loaded (the default loader
 * warns once per process). Render errors of a loadable renderer (a malformed SVG) are thrown.
 */
export async function svgToPng(svg: string, outPath: string, options: SvgToPngOptions = {}): Promise<string | null> {
  if (typeof svg !== 'string') throw typeError('an SVG string', 'svg', svg);
  if (typeof outPath !== 'string' || outPath.length === 0) throw typeError('a file path', 'outPath', outPath);
  const opts = plainObject(options, 'options');
  const width = opts.width === undefined ? 1200 : integer(opts.width, 'options.width', 1, 16384);
  const warn = (opts.warn as SvgToPngOptions['warn']) ?? ((m: string) => console.warn(m));
  const loader = opts.loader as SvgToPngOptions['loader'];
  let resvg: ResvgModule;
  try {
    resvg = await (loader ?? defaultLoader)();
  } catch (err) {
    if (loader || !warned) {
      const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
      warn(`[era-cuda] PNG skipped: @resvg/resvg-js could not be loaded (${reason})`);
      if (!loader) warned = true;
    }
    return null;
  }
  const png = new resvg.Resvg(svg, {
    fitTo: { mode: 'width', value: width },
    background: '#ffffff',
    font: { loadSystemFonts: true }, // the SVG names its font families; system fonts supply them
  }).render().asPng();
  await mkdir(path.dirname(path.resolve(outPath)), { recursive: true });
  await writeFile(outPath, png);
  return outPath;
}

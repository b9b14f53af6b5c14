/**
 * Training reports (lib/report): nice ticks and their labels; the learning-curve SVG checked
 * structurally (a small XML parser below) and geometrically (the mean line through the right
 * pixels for a tiny known input, one band per multi-seed variant); seeds on different x grids;
 * the PNG (signature and IHDR width) and its fallback without a renderer; the CSV; the JSON-lines
 * metrics (round trip, NaN → null, flushing, a truncated last line, durability across
 * process.exit()); the progress line on a fake TTY and a fake log stream with a fake clock.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { expect } from 'chai';

import { EraError } from '../lib/errors.js';
import {
  MetricsWriter, PALETTE, ProgressBar, aggregateSeries, formatCount, formatDuration, formatTick, formatTicks, formatValue,
  learningCurveSvg, niceStep, niceTicks, readMetrics, svgToPng, writeLearningCurve, type LearningCurveSpec,
} from '../lib/report/index.js';
import { expectThrowsNaming, libModule, rng, runNode, scriptExtension, testSeed } from './helpers.js';

const seed = testSeed();
let tmp: string;

// A small XML parser: enough to prove the SVG is well formed and to query its elements. -------

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string, where: string): string {
  return text.replace(/&([^;]*);?/g, (m, name: string) => {
    if (!m.endsWith(';')) throw new Error(`bare & in ${where}`);
    if (name in ENTITIES) return ENTITIES[name];
    if (/^#[0-9]+$/.test(name)) return String.fromCodePoint(Number(name.slice(1)));
    throw new Error(`unknown entity &${name}; in ${where}`);
  });
}

/** Parses a document with one root element; throws on unbalanced or malformed markup. */
function parseXml(doc: string): XmlElement {
  let i = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  if (doc.startsWith('<?xml')) {
    i = doc.indexOf('?>') + 2;
    if (i < 2) throw new Error('unterminated XML declaration');
  }
  while (i < doc.length) {
    const lt = doc.indexOf('<', i);
    const textEnd = lt < 0 ? doc.length : lt;
    const text = doc.slice(i, textEnd);
    if (text.includes('>')) throw new Error(`stray > in text at ${i}`);
    if (stack.length > 0) stack[stack.length - 1].text += decode(text, `text at ${i}`);
    else if (text.trim() !== '') throw new Error(`text outside the root at ${i}`);
    if (lt < 0) break;
    const gt = doc.indexOf('>', lt);
    if (gt < 0) throw new Error(`unterminated tag at ${lt}`);
    const tag = doc.slice(lt + 1, gt);
    i = gt + 1;
    if (tag.startsWith('/')) {
      const open = stack.pop();
      if (!open || open.name !== tag.slice(1)) throw new Error(`</${tag.slice(1)}> closes <${open?.name}> at ${lt}`);
      if (stack.length === 0) root = open;
      continue;
    }
    const selfClosing = tag.endsWith('/');
    const body = selfClosing ? tag.slice(0, -1) : tag;
    const m = /^([A-Za-z_][\w:.-]*)/.exec(body);
    if (!m) throw new Error(`bad tag name at ${lt}`);
    const attrs: Record<string, string> = {};
    let rest = body.slice(m[1].length);
    const attrRe = /^\s+([A-Za-z_:][\w:.-]*)="([^"<]*)"/;
    for (let a = attrRe.exec(rest); a; a = attrRe.exec(rest)) {
      if (a[1] in attrs) throw new Error(`duplicate attribute ${a[1]} at ${lt}`);
      attrs[a[1]] = decode(a[2], `attribute ${a[1]}`);
      rest = rest.slice(a[0].length);
    }
    if (rest.trim() !== '') throw new Error(`malformed attributes '${rest}' at ${lt}`);
    if (root) throw new Error('content after the root element');
    const el: XmlElement = { name: m[1], attrs, children: [], text: '' };
    if (stack.length > 0) stack[stack.length - 1].children.push(el);
    if (selfClosing) {
      if (stack.length === 0) root = el;
    } else {
      stack.push(el);
    }
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (!root) throw new Error('no root element');
  return root;
}

function all(el: XmlElement, pred: (e: XmlElement) => boolean, out: XmlElement[] = []): XmlElement[] {
  if (pred(el)) out.push(el);
  for (const c of el.children) all(c, pred, out);
  return out;
}

const byClass = (root: XmlElement, cls: string) => all(root, (e) => e.attrs.class === cls);

/** The numbers of a path's d attribute as [x, y] pairs (M/L/Z commands only). */
function pathPoints(d: string): [number, number][] {
  const nums = d.replace(/[MLZ]/g, ' ').trim().split(/\s+/).map(Number);
  const pts: [number, number][] = [];
  for (let k = 0; k < nums.length; k += 2) pts.push([nums[k], nums[k + 1]]);
  return pts;
}

describe('report', () => {
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'era-report-'));
  });
  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('XML checker (the tests below rely on it)', () => {
    it('rejects unbalanced, misnested and unescaped markup', () => {
      expect(() => parseXml('<a><b></a></b>')).to.throw(/closes/);
      expect(() => parseXml('<a><b>')).to.throw(/unclosed/);
      expect(() => parseXml('<a>x & y</a>')).to.throw(/bare &/);
      expect(() => parseXml('<a x=1/>')).to.throw(/malformed attributes/);
      expect(parseXml('<a k="&lt;1&gt;"><b/>t &amp; u</a>')).to.deep.include({ name: 'a', attrs: { k: '<1>' }, text: 't & u' });
    });
  });

  // Ticks ---------------------------------------------------------------------------------------

  describe('nice ticks', () => {
    it('uses steps of 1, 2 or 5 times a power of ten that cover the range', () => {
      const r = rng(seed);
      for (let n = 0; n < 500; n++) {
        const scale = 10 ** Math.floor(r() * 14 - 6);
        const lo = (r() * 2 - 1) * scale;
        const hi = lo + r() * scale * 3 + 1e-3 * scale;
        const target = 2 + Math.floor(r() * 8);
        const t = niceTicks(lo, hi, target);
        const mantissa = t.step / 10 ** Math.floor(Math.log10(t.step) + 1e-12);
        expect([1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-9), `step ${t.step} (seed ${seed})`).to.equal(true);
        expect(t.values[0]).to.be.at.most(lo);
        expect(t.values[t.values.length - 1]).to.be.at.least(hi);
        expect(t.values.length - 1, `intervals for target ${target}`).to.be.within(Math.max(1, Math.floor(target / 2.5)), Math.ceil(target * 2.5) + 1);
        for (const v of t.values) expect(Math.abs(v / t.step - Math.round(v / t.step)), `tick ${v} is a multiple of ${t.step}`).to.be.below(1e-6);
      }
    });

    it('picks the step closest to the wanted count and widens a zero range', () => {
      expect(niceStep(0, 1_000_000, 5)).to.equal(200_000);
      expect(niceStep(25_000, 1_040_000, 5)).to.equal(200_000);
      expect(niceStep(0, 20, 6)).to.equal(5);
      expect(niceTicks(0, 1, 5).values).to.deep.equal([0, 0.2, 0.4, 0.6, 0.8, 1]);
      expect(niceTicks(-0.3, 0.7, 5).values).to.deep.equal([-0.4, -0.2, 0, 0.2, 0.4, 0.6, 0.8]);
      const flat = niceTicks(5, 5, 4);
      expect(flat.values[0]).to.be.below(5);
      expect(flat.values[flat.values.length - 1]).to.be.above(5);
    });

    it('labels ticks like "200k" and "1.5M", and keeps one style per axis', () => {
      expect(formatTick(200_000, 200_000)).to.equal('200k');
      expect(formatTick(1_000_000, 200_000)).to.equal('1M');
      expect(formatTick(1_200_000, 200_000)).to.equal('1.2M');
      expect(formatTick(1_500, 500)).to.equal('1.5k');
      expect(formatTick(0, 200_000)).to.equal('0');
      expect(formatTick(0.5, 0.5)).to.equal('0.5');
      expect(formatTick(-0.25, 0.05)).to.equal('-0.25');
      expect(formatTick(3e9, 1e9)).to.equal('3G');
      expect(formatTicks(niceTicks(0, 1_000_000, 5))).to.deep.equal(['0', '200k', '400k', '600k', '800k', '1M']);
      expect(formatTicks({ step: 500, values: [-500, 0, 500, 1000] })).to.deep.equal(['-500', '0', '500', '1000']);
    });
  });

  // Aggregation over seeds ----------------------------------------------------------------------

  describe('aggregation over seeds', () => {
    it('averages on the union grid, interpolating each seed inside its own range only', () => {
      const a = aggregateSeries({
        name: 'v',
        runs: [{ x: [0, 10, 20], y: [0, 10, 30] }, { x: [0, 5, 10], y: [2, 16, 20] }],
      });
      expect(a.x).to.deep.equal([0, 5, 10, 20]);
      expect(a.count).to.deep.equal([2, 2, 2, 1]);
      // x = 5: run 0 interpolates to 5, run 1 has 16.
      expect(a.mean).to.deep.equal([1, 10.5, 15, 30]);
      expect(a.min).to.deep.equal([0, 5, 10, 30]);
      expect(a.max).to.deep.equal([2, 16, 20, 30]);
      expect(a.std[0]).to.be.closeTo(Math.SQRT2, 1e-12);
      expect(a.std[1]).to.be.closeTo(Math.sqrt(2 * 5.5 ** 2), 1e-12);
      expect(a.std[3]).to.equal(0);
    });

    it('takes typed arrays like plain arrays', () => {
      const plain = aggregateSeries({ name: 'v', runs: [{ x: [1, 2, 3], y: [3, 1, 2] }] });
      const typed = aggregateSeries({ name: 'v', runs: [{ x: new Float64Array([1, 2, 3]), y: new Float32Array([3, 1, 2]) }] });
      expect(typed).to.deep.equal(plain);
    });
  });

  // The SVG -------------------------------------------------------------------------------------

  /** Variant A: two seeds (mean (0,1), (10,15)); variant B: one seed. */
  function tinySpec(extra: Partial<LearningCurveSpec> = {}): LearningCurveSpec {
    return {
      title: 'tiny',
      series: [
        { name: 'A', runs: [{ x: [0, 10], y: [0, 10] }, { x: [0, 10], y: [2, 20] }] },
        { name: 'B', runs: [{ x: [0, 5, 10], y: [4, 4, 8] }] },
      ],
      ...extra,
    };
  }

  /** The plot rectangle and the axis domains, read from the SVG itself. */
  function geometry(root: XmlElement) {
    const [area] = byClass(root, 'plot-area');
    const rect = { x: +area.attrs.x, y: +area.attrs.y, w: +area.attrs.width, h: +area.attrs.height };
    const yTicks = byClass(root, 'y-ticks')[0].children.map((t) => +t.attrs['data-value']);
    return { rect, yTicks, y0: yTicks[0], y1: yTicks[yTicks.length - 1] };
  }

  describe('learningCurveSvg', () => {
    it('is well-formed XML with one mean line per variant and one band per multi-seed variant', () => {
      const svg = learningCurveSvg({
        title: 'walker <run> & "friends"',
        series: [
          { name: 'SAC+ERA', runs: [{ x: [0, 1, 2], y: [1, 2, 3] }, { x: [0, 1, 2], y: [2, 3, 5] }, { x: [0, 1, 2], y: [0, 2, 4] }] },
          { name: 'SAC', runs: [{ x: [0, 1, 2], y: [1, 1, 2] }, { x: [0, 1, 2], y: [0, 1, 1] }] },
          { name: 'one <seed>', runs: [{ x: [0, 2], y: [1, 1] }] },
        ],
      });
      const root = parseXml(svg);
      expect(root.name).to.equal('svg');
      expect(root.attrs.xmlns).to.equal('http://www.w3.org/2000/svg');
      const means = byClass(root, 'mean');
      const bands = byClass(root, 'band');
      expect(means.map((p) => p.attrs['data-series'])).to.deep.equal(['SAC+ERA', 'SAC', 'one <seed>']);
      expect(bands.map((p) => p.attrs['data-series'])).to.deep.equal(['SAC+ERA', 'SAC']);
      expect(byClass(root, 'title')[0].text).to.equal('walker <run> & "friends"');
      const strokes = means.map((p) => p.attrs.stroke);
      expect(new Set(strokes).size).to.equal(3);
      for (const s of strokes) expect(PALETTE).to.include(s);
      expect(bands[0].attrs.fill).to.equal(strokes[0]);
      expect(Number(bands[0].attrs['fill-opacity'])).to.be.within(0.05, 0.5);
      const legend = byClass(root, 'legend')[0];
      const legendText = all(legend, (e) => e.name === 'text').map((e) => e.text);
      expect(legendText).to.include.members(['SAC+ERA (3 seeds)', 'SAC (2 seeds)', 'one <seed> (1 seed)', 'band: min–max over seeds']);
      expect(byClass(root, 'x-label')[0].text).to.equal('environment steps');
      expect(byClass(root, 'y-label')[0].text).to.equal('evaluation return');
    });

    it('draws the mean line through the right pixels', () => {
      const root = parseXml(learningCurveSvg(tinySpec()));
      const { rect, yTicks, y0, y1 } = geometry(root);
      expect(y0).to.be.at.most(0);
      expect(y1).to.be.at.least(20);
      const step = yTicks[1] - yTicks[0];
      yTicks.forEach((v, k) => expect(v).to.be.closeTo(y0 + k * step, 1e-9));
      // x spans the data, 0..10.
      const X = (x: number) => rect.x + (x / 10) * rect.w;
      const Y = (y: number) => rect.y + rect.h - ((y - y0) / (y1 - y0)) * rect.h;
      const [meanA, meanB] = byClass(root, 'mean').map((p) => pathPoints(p.attrs.d));
      const expectPts = (got: [number, number][], want: [number, number][]) => {
        expect(got.length).to.equal(want.length);
        got.forEach(([gx, gy], k) => {
          expect(gx, `x of point ${k}`).to.be.closeTo(X(want[k][0]), 0.006);
          expect(gy, `y of point ${k}`).to.be.closeTo(Y(want[k][1]), 0.006);
        });
      };
      expectPts(meanA, [[0, 1], [10, 15]]);
      expectPts(meanB, [[0, 4], [5, 4], [10, 8]]);
      // The band of A: max edge left to right, then min edge back.
      expectPts(pathPoints(byClass(root, 'band')[0].attrs.d), [[0, 2], [10, 20], [10, 10], [0, 0]]);
      // The x ticks are inside 0..10 and labelled.
      const xt = byClass(root, 'x-ticks')[0].children;
      expect(xt.map((t) => t.text)).to.deep.equal(['0', '2', '4', '6', '8', '10']);
      xt.forEach((t) => expect(+t.attrs.x).to.be.closeTo(X(+t.attrs['data-value']), 0.006));
    });

    it('draws mean ± 1 std when asked, and says so in the legend', () => {
      const root = parseXml(learningCurveSvg(tinySpec({ band: 'std' })));
      const { rect, y0, y1 } = geometry(root);
      const Y = (y: number) => rect.y + rect.h - ((y - y0) / (y1 - y0)) * rect.h;
      const pts = pathPoints(byClass(root, 'band')[0].attrs.d);
      const s10 = Math.sqrt(50); // sample std of {10, 20}
      [1 + Math.SQRT2, 15 + s10, 15 - s10, 1 - Math.SQRT2].forEach((v, k) => expect(pts[k][1]).to.be.closeTo(Y(v), 0.006));
      expect(y0).to.be.at.most(1 - Math.SQRT2);
      expect(byClass(root, 'legend-note').map((e) => e.text)).to.include('band: mean ± 1 std over seeds');
    });

    it('draws no band for a single seed and a visible point for a single x', () => {
      const root = parseXml(learningCurveSvg({ title: '', series: [{ name: 'only', runs: [{ x: [25_000], y: [3] }] }] }));
      expect(byClass(root, 'band')).to.have.length(0);
      expect(byClass(root, 'mean')).to.have.length(1);
      expect(byClass(root, 'point')).to.have.length(1);
      expect(byClass(root, 'title')).to.have.length(0);
      expect(byClass(root, 'legend-note').map((e) => e.text)).to.deep.equal(['line: mean over seeds']);
    });

    it('handles seeds with different x grids on the union grid', () => {
      const root = parseXml(learningCurveSvg({
        title: 'grids',
        series: [{ name: 'A', runs: [{ x: [0, 10, 20], y: [0, 10, 30] }, { x: [0, 5, 10], y: [2, 16, 20] }] }],
      }));
      expect(pathPoints(byClass(root, 'mean')[0].attrs.d)).to.have.length(4);
      expect(pathPoints(byClass(root, 'band')[0].attrs.d)).to.have.length(8);
    });

    it('cuts a long legend label with an ellipsis and keeps the full one in a title', () => {
      const name = `SAC+ERA ${'x'.repeat(80)}`;
      const root = parseXml(learningCurveSvg({ title: 't', series: [{ name, runs: [{ x: [0, 1], y: [0, 1] }] }] }));
      const entry = all(byClass(root, 'legend')[0], (e) => e.name === 'text' && e.children.length > 0)[0];
      expect(entry.text.endsWith('…')).to.equal(true);
      expect(entry.text.length).to.be.below(name.length);
      expect(entry.children[0]).to.deep.include({ name: 'title', text: `${name} (1 seed)` });
    });

    it('is deterministic', () => {
      expect(learningCurveSvg(tinySpec())).to.equal(learningCurveSvg(tinySpec()));
    });

    it('rejects bad specs with errors naming the argument', () => {
      const run = { x: [0, 1], y: [0, 1] };
      const spec = (series: unknown, extra: object = {}) => ({ title: 't', series, ...extra }) as LearningCurveSpec;
      expectThrowsNaming(() => learningCurveSvg(undefined as unknown as LearningCurveSpec), TypeError, 'spec');
      expectThrowsNaming(() => learningCurveSvg({ series: [{ name: 'a', runs: [run] }] } as unknown as LearningCurveSpec), TypeError, 'spec.title');
      expectThrowsNaming(() => learningCurveSvg(spec([])), RangeError, 'spec.series');
      expectThrowsNaming(() => learningCurveSvg(spec(undefined)), TypeError, 'spec.series');
      expectThrowsNaming(() => learningCurveSvg(spec([{ name: 'a', runs: [] }])), RangeError, 'spec.series[0].runs');
      expectThrowsNaming(() => learningCurveSvg(spec([{ runs: [run] }])), TypeError, 'spec.series[0].name');
      expectThrowsNaming(() => learningCurveSvg(spec([{ name: 'a', runs: [run] }, { name: 'a', runs: [run] }])), RangeError, 'spec.series[1].name');
      expectThrowsNaming(() => learningCurveSvg(spec([{ name: 'a', runs: [run, { x: [0, 1, 2], y: [0, NaN, 1] }] }])), RangeError, 'spec.series[0].runs[1].y[1]', { also: /NaN/ });
      expectThrowsNaming(() => learningCurveSvg(spec([{ name: 'a', runs: [{ x: [0, Infinity], y: [0, 1] }] }])), RangeError, 'spec.series[0].runs[0].x[1]');
      expectThrowsNaming(() => learningCurveSvg(spec([{ name: 'a', runs: [{ x: [0, 2, 1], y: [0, 1, 2] }] }])), RangeError, 'spec.series[0].runs[0].x[2]');
      expectThrowsNaming(() => learningCurveSvg(spec([{ name: 'a', runs: [{ x: [0, 1], y: [0] }] }])), RangeError, 'spec.series[0].runs[0].y');
      expectThrowsNaming(() => learningCurveSvg(spec([{ name: 'a', runs: [{ x: [], y: [] }] }])), RangeError, 'spec.series[0].runs[0].x');
      expectThrowsNaming(() => learningCurveSvg(spec([{ name: 'a', runs: [{ x: [0, '1'], y: [0, 1] }] }])), TypeError, 'spec.series[0].runs[0].x[1]');
      expectThrowsNaming(() => learningCurveSvg(spec([{ name: 'a', runs: [run] }], { band: 'iqr' })), RangeError, 'spec.band');
      expectThrowsNaming(() => learningCurveSvg(spec([{ name: 'a', runs: [run] }], { width: 50 })), RangeError, 'spec.width');
    });
  });

  // PNG, CSV and writeLearningCurve ------------------------------------------------------------

  const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

  /** Width and height from the IHDR chunk, which must come first. */
  function pngSize(buf: Buffer): { width: number; height: number } {
    expect(buf.subarray(0, 8).equals(PNG_SIGNATURE), 'PNG signature').to.equal(true);
    expect(buf.toString('latin1', 12, 16)).to.equal('IHDR');
    return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
  }

  async function resvgLoads(): Promise<boolean> {
    try {
      await import('@resvg/resvg-js');
      return true;
    } catch {
      return false;
    }
  }

  describe('PNG and files', () => {
    it('svgToPng writes a PNG of the requested width', async function () {
      if (!(await resvgLoads())) this.skip();
      const out = path.join(tmp, 'png', 'curve.png');
      const written = await svgToPng(learningCurveSvg(tinySpec()), out, { width: 500 });
      expect(written).to.equal(out);
      const { width, height } = pngSize(fs.readFileSync(out));
      expect(width).to.equal(500);
      expect(height).to.be.closeTo((500 * 440) / 720, 1);
    });

    it('svgToPng skips the PNG with one warning line where the renderer cannot load', async () => {
      const warnings: string[] = [];
      const out = path.join(tmp, 'missing.png');
      const written = await svgToPng('<svg xmlns="http://www.w3.org/2000/svg"/>', out, {
        warn: (m) => warnings.push(m),
        loader: () => Promise.reject(new Error("Cannot find module '@resvg/resvg-js-linux-x64-gnu'\nRequire stack: ...")),
      });
      expect(written).to.equal(null);
      expect(fs.existsSync(out)).to.equal(false);
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.match(/PNG skipped/).and.not.include('\n');
    });

    it('writeLearningCurve writes the SVG, the PNG and the CSV of the plotted values', async function () {
      const base = path.join(tmp, 'out', 'tiny');
      const paths = await writeLearningCurve(tinySpec(), base, { pngWidth: 300 });
      expect(paths.svg).to.equal(`${base}.svg`);
      expect(paths.csv).to.equal(`${base}.csv`);
      expect(fs.readFileSync(paths.svg, 'utf8')).to.equal(learningCurveSvg(tinySpec()));
      expect(fs.readFileSync(paths.csv, 'utf8')).to.equal([
        'series,x,n,mean,std,min,max,band_lo,band_hi',
        `A,0,2,1,${Math.SQRT2},0,2,0,2`,
        `A,10,2,15,${Math.sqrt(50)},10,20,10,20`,
        'B,0,1,4,0,4,4,,',
        'B,5,1,4,0,4,4,,',
        'B,10,1,8,0,8,8,,',
        '',
      ].join('\n'));
      if (!(await resvgLoads())) {
        expect(paths.png).to.equal(null);
        this.skip();
      }
      expect(paths.png).to.equal(`${base}.png`);
      expect(pngSize(fs.readFileSync(paths.png!)).width).to.equal(300);
    });

    it('writeLearningCurve quotes CSV names, can skip the PNG, and writes nothing for a bad spec', async () => {
      const base = path.join(tmp, 'quoted');
      const paths = await writeLearningCurve({ title: 't', series: [{ name: 'SAC, "ERA"', runs: [{ x: [1], y: [2] }] }] }, base, { png: false });
      expect(paths.png).to.equal(null);
      expect(fs.readFileSync(paths.csv, 'utf8').split('\n')[1]).to.equal('"SAC, ""ERA""",1,1,2,0,2,2,,');
      const bad = path.join(tmp, 'bad');
      let err: unknown;
      try {
        await writeLearningCurve({ title: 't', series: [{ name: 'a', runs: [{ x: [0], y: [NaN] }] }] }, bad);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(RangeError);
      expect((err as Error).message).to.include('for spec.series[0].runs[0].y[0] ');
      expect(fs.existsSync(`${bad}.svg`)).to.equal(false);
      let err2: unknown;
      try {
        await writeLearningCurve(tinySpec(), '' as string);
      } catch (e) {
        err2 = e;
      }
      expect(err2).to.be.instanceOf(TypeError);
      expect((err2 as Error).message).to.include('for outPathWithoutExt ');
    });
  });

  // Metrics -------------------------------------------------------------------------------------

  describe('MetricsWriter and readMetrics', () => {
    it('round-trips events, writing non-finite numbers as null', () => {
      const file = path.join(tmp, 'metrics', 'run.jsonl');
      let t = 1_764_000_000_123;
      const w = new MetricsWriter(file, { now: () => t });
      w.write('train', 1000, { criticLoss: 0.25, actorLoss: -3.5, entropy: NaN });
      t += 2500;
      w.write('eval', 25_000, { return: 612.3, best: Infinity, worst: -Infinity, env: 'humanoid-run', final: false, note: null });
      w.close();
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      expect(lines).to.have.length(3);
      expect(lines[2]).to.equal('');
      expect(lines[0]).to.equal('{"time":1764000000.123,"step":1000,"kind":"train","criticLoss":0.25,"actorLoss":-3.5,"entropy":null}');
      const events = readMetrics(file, { warn: () => expect.fail('no warning expected') });
      expect(events).to.deep.equal([
        { time: 1764000000.123, step: 1000, kind: 'train', criticLoss: 0.25, actorLoss: -3.5, entropy: null },
        { time: 1764000002.623, step: 25_000, kind: 'eval', return: 612.3, best: null, worst: null, env: 'humanoid-run', final: false, note: null },
      ]);
    });

    it('flushes after flushLines lines or flushIntervalMs, and on close', () => {
      const file = path.join(tmp, 'flush.jsonl');
      let t = 0;
      // A long interval keeps the real background timer out of the way; the fake clock jumps it.
      const w = new MetricsWriter(file, { now: () => t, flushLines: 3, flushIntervalMs: 60_000 });
      const count = () => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
      w.write('train', 1, { a: 1 });
      w.write('train', 2, { a: 2 });
      expect(count()).to.equal(0);
      w.write('train', 3, { a: 3 });
      expect(count()).to.equal(3);
      w.write('train', 4);
      t = 59_999;
      w.write('train', 5);
      expect(count()).to.equal(3);
      t = 60_000;
      w.write('train', 6);
      expect(count()).to.equal(6);
      w.write('eval', 7);
      w.flush();
      expect(count()).to.equal(7);
      w.write('eval', 8);
      w.close();
      w.close(); // twice is harmless
      expect(readMetrics(file).map((e) => e.step)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(() => w.write('train', 9)).to.throw(EraError).with.property('code', 'ERA_DISPOSED');
    });

    it('appends by default and truncates with append: false', () => {
      const file = path.join(tmp, 'append.jsonl');
      for (let k = 0; k < 2; k++) {
        const w = new MetricsWriter(file);
        w.write('train', k);
        w.close();
      }
      expect(readMetrics(file).map((e) => e.step)).to.deep.equal([0, 1]);
      const w = new MetricsWriter(file, { append: false });
      w.write('train', 7);
      w.close();
      expect(readMetrics(file).map((e) => e.step)).to.deep.equal([7]);
    });

    it('skips a partial last line with a warning, and a reopened file stays readable', () => {
      const file = path.join(tmp, 'crash.jsonl');
      fs.writeFileSync(file, '{"time":1,"step":1,"kind":"train","a":1}\n{"time":2,"step":2,"kind":"eval","a":2}\n{"time":3,"step":3,"ki');
      const warnings: string[] = [];
      const events = readMetrics(file, { warn: (m) => warnings.push(m) });
      expect(events.map((e) => e.step)).to.deep.equal([1, 2]);
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.match(/partial last line \(line 3\)/);
      // Appending after the crash ends the cut line first, so the new event is whole.
      const w = new MetricsWriter(file);
      w.write('train', 4, { a: 4 });
      w.close();
      const warnings2: string[] = [];
      expect(readMetrics(file, { warn: (m) => warnings2.push(m) }).map((e) => e.step)).to.deep.equal([1, 2, 4]);
      expect(warnings2).to.have.length(1);
      expect(warnings2[0]).to.match(/malformed line \(line 3\)/);
    });

    it('loses no line when the process exits without close()', function () {
      this.timeout(60_000);
      const file = path.join(tmp, 'exit.jsonl');
      const script = path.join(tmp, `exit-child${scriptExtension}`);
      const lib = libModule('report/metrics');
      fs.writeFileSync(script, [
        `import { MetricsWriter } from ${JSON.stringify(lib)};`,
        `const w = new MetricsWriter(${JSON.stringify(file)}, { flushLines: 1000, flushIntervalMs: 3600000 });`,
        'for (let i = 0; i < 250; i++) w.write("train", i, { loss: i / 10 });',
        'process.exit(0);',
      ].join('\n'));
      const res = runNode([script]);
      expect(res.status, res.stderr).to.equal(0);
      const events = readMetrics(file);
      expect(events).to.have.length(250);
      expect(events[249]).to.include({ step: 249, loss: 24.9 });
    });

    it('rejects bad events with errors naming the argument', () => {
      const w = new MetricsWriter(path.join(tmp, 'bad.jsonl'));
      try {
        expectThrowsNaming(() => w.write('', 0), TypeError, 'kind');
        expectThrowsNaming(() => w.write('train', -1), RangeError, 'step');
        expectThrowsNaming(() => w.write('train', 1.5), RangeError, 'step');
        expectThrowsNaming(() => w.write('train', 1, { time: 3 }), RangeError, 'values.time');
        expectThrowsNaming(() => w.write('train', 1, { loss: [1] as unknown as number }), TypeError, 'values.loss');
      } finally {
        w.close();
      }
      expectThrowsNaming(() => new MetricsWriter(''), TypeError, 'path');
      expectThrowsNaming(() => new MetricsWriter(path.join(tmp, 'x.jsonl'), { flushLines: 0 }), RangeError, 'options.flushLines');
    });
  });

  // Progress ------------------------------------------------------------------------------------

  class FakeStream {
    chunks: string[] = [];
    constructor(readonly isTTY: boolean, readonly columns?: number) {}
    write(s: string): boolean {
      this.chunks.push(s);
      return true;
    }
    get text(): string {
      return this.chunks.join('');
    }
  }

  describe('format helpers', () => {
    it('formats counts, values and durations compactly', () => {
      expect([84_000, 200_000, 1_600, 812.4, 1_234_567, 999_999, 0, -2_500, 0.5].map(formatCount))
        .to.deep.equal(['84k', '200k', '1.6k', '812', '1.23M', '1M', '0', '-2.5k', '0.5']);
      expect([612.3, 612.34567, 0.123456, 12_345, -3.5, NaN].map(formatValue)).to.deep.equal(['612.3', '612.3', '0.1235', '12.3k', '-3.5', 'NaN']);
      expect([0, 59.4, 151, 3_725, 90_061, -1, Infinity].map(formatDuration)).to.deep.equal(['0s', '59s', '2m31s', '1h02m', '1d01h', '?', '?']);
    });
  });

  describe('ProgressBar', () => {
    it('redraws in place on a TTY at most every 100 ms, then prints the final line', () => {
      const stream = new FakeStream(true, 200);
      let t = 0;
      const bar = new ProgressBar({ total: 200_000, stream, now: () => t });
      // 800 steps/s, an update every 20 ms for 105 s.
      for (t = 0; t <= 105_000; t += 20) bar.update((t * 4) / 5, { 'upd/s': 1600, eval: 612.3 });
      t = 105_000;
      expect(stream.chunks).to.have.length(1051); // one per 100 ms, not one per update (5251)
      for (const c of stream.chunks) {
        expect(c.startsWith('\r')).to.equal(true);
        expect(c).not.to.include('\n');
      }
      const last = stream.chunks[stream.chunks.length - 1].slice(1).trimEnd();
      expect(last).to.equal('[########------------] 42% 84k/200k steps | 800 steps/s | 1.6k upd/s | eval 612.3 | ETA 2m25s');
      bar.done();
      const final = stream.chunks[stream.chunks.length - 1];
      expect(final.startsWith('\r') && final.endsWith('\n')).to.equal(true);
      expect(final.trimEnd()).to.equal('\r[########------------] 42% 84k/200k steps | 800 steps/s | 1.6k upd/s | eval 612.3 | done in 1m45s');
      bar.done();
      bar.update(90_000);
      expect(stream.chunks[stream.chunks.length - 1]).to.equal(final);
    });

    it('prints a plain line every logEveryMs on a non-TTY stream', () => {
      const stream = new FakeStream(false);
      let t = 0;
      const bar = new ProgressBar({ total: 50_000, stream, now: () => t, unit: 'steps' });
      for (t = 0; t <= 35_000; t += 100) bar.update(t, { eval: t / 100 });
      t = 35_000;
      bar.done({ eval: 1234.5 });
      expect(stream.text).not.to.include('\r');
      const lines = stream.text.split('\n');
      expect(lines.pop()).to.equal('');
      expect(lines).to.have.length(5); // t = 0, 10 s, 20 s, 30 s, then done()
      expect(lines[0]).to.equal('[--------------------] 0% 0/50k steps | eval 0');
      expect(lines[1]).to.equal('[####----------------] 20% 10k/50k steps | 1k steps/s | eval 100 | ETA 40s');
      expect(lines[4]).to.equal('[##############------] 70% 35k/50k steps | 1k steps/s | eval 1235 | done in 35s');
    });

    it('smooths the rate instead of jumping to the newest one', () => {
      const stream = new FakeStream(true, 200);
      let t = 0;
      const bar = new ProgressBar({ stream, now: () => t });
      let step = 0;
      for (t = 100; t <= 10_000; t += 100) bar.update((step += 100)); // 1000 steps/s
      expect(bar.rate).to.be.closeTo(1000, 1e-6);
      for (t = 10_100; t <= 11_000; t += 100) bar.update((step += 200)); // 2000 steps/s for one sample
      expect(bar.rate).to.be.closeTo(1300, 1e-6); // 1000 + 0.3 · (2000 − 1000)
      expect(bar.line()).to.equal('12k steps | 1.3k steps/s');
    });

    it('keeps fields until replaced or removed, fits the terminal width, and logs above the bar', () => {
      const stream = new FakeStream(true, 40);
      let t = 0;
      const bar = new ProgressBar({ total: 1000, stream, now: () => t, width: 10 });
      bar.update(100, { eval: 5, phase: 'warmup' });
      t = 200;
      bar.update(200);
      expect(bar.line()).to.include('eval 5').and.include('phase warmup');
      for (const c of stream.chunks) expect(c.slice(1).trimEnd().length).to.be.at.most(39);
      t = 400;
      bar.update(300, { phase: null });
      expect(bar.line()).not.to.include('phase');
      bar.log('eval at 300: 5.0');
      const tail = stream.chunks.slice(-2);
      expect(tail[0]).to.match(/^\r +\reval at 300: 5\.0\n$/);
      expect(tail[1].startsWith('\r[###-------] 30%')).to.equal(true);
      bar.done();
    });

    it('rejects bad input with errors naming the argument', () => {
      const stream = new FakeStream(false);
      const bar = new ProgressBar({ total: 10, stream, now: () => 0 });
      expectThrowsNaming(() => bar.update(NaN), RangeError, 'step');
      expectThrowsNaming(() => bar.update(1, { eval: {} as unknown as number }), TypeError, 'fields.eval');
      expectThrowsNaming(() => new ProgressBar({ total: 0, stream }), RangeError, 'options.total');
      expectThrowsNaming(() => new ProgressBar({ smoothing: 2, stream }), RangeError, 'options.smoothing');
      expectThrowsNaming(() => new ProgressBar({ stream: {} as never }), TypeError, 'options.stream');
    });
  });
});

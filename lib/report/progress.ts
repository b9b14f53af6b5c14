/**
 * A one-line progress display for long work (training loops):
 *
 *   [########------------] 42% 84k/200k steps | 812 steps/s | 1.6k upd/s | eval 612.3 | ETA 2m31s
 *
 * On a TTY the line is redrawn in place with \r, at most once per `redrawMs` (default 100 ms); on
 * anything else (CI, log files) a plain line is printed every `logEveryMs` (default 10 s), so logs
 * stay readable. done() prints the final line with the total time.
 *
 * Rates (the bar's own steps/s, and caller fields whose name ends in '/s') are smoothed: a sample is
 * taken every `sampleMs` (default 1 s) and folded into an exponential moving average with weight
 * `smoothing` (default 0.3) on the newest sample; until the first sample, the average since the
 * start is shown. Caller fields are sticky: a field keeps its last value until it is given again
 * (null removes it). The stream and the clock are injectable for tests.
 */
import { finiteNumber, integer, plainObject, rangeError, typeError } from '../validate.js';
import { formatCount, formatDuration, formatValue } from './format.js';

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export type ProgressFields = Record<string, number | string | null | undefined>;

export interface ProgressBarOptions {
  /** Total amount of work; without it there is no bar, percentage or ETA. */
  total?: number;
  /** The work's unit (default 'steps'). */
  unit?: string;
  /** Where the step count starts (default 0; for resumed runs). */
  start?: number;
  /** Bar cells (default 20). */
  width?: number;
  /** Default process.stderr. */
  stream?: ProgressStream;
  /** Redraw in place (default stream.isTTY). */
  tty?: boolean;
  /** Monotonic clock in ms (default performance.now). */
  now?: () => number;
  redrawMs?: number;
  logEveryMs?: number;
  sampleMs?: number;
  smoothing?: number;
}

const isRate = (key: string) => key.endsWith('/s');

export class ProgressBar {
  private readonly total: number | undefined;
  private readonly unit: string;
  private readonly width: number;
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private readonly redrawMs: number;
  private readonly logEveryMs: number;
  private readonly sampleMs: number;
  private readonly smoothing: number;
  private readonly t0: number;
  private readonly step0: number;
  private step: number;
  private fields = new Map<string, number | string>();
  private smoothed = new Map<string, number>();
  private rateEma: number | undefined;
  private sampleT: number;
  private sampleStep: number;
  private lastDraw = -Infinity;
  private drawnLength = 0;
  private finished = false;

  constructor(options: ProgressBarOptions = {}) {
    const o = plainObject(options, 'options');
    this.total = o.total === undefined ? undefined : integer(o.total, 'options.total', 1);
    if (o.unit !== undefined && typeof o.unit !== 'string') throw typeError('a string', 'options.unit', o.unit);
    this.unit = (o.unit as string | undefined) ?? 'steps';
    this.width = o.width === undefined ? 20 : integer(o.width, 'options.width', 1, 200);
    const stream = (o.stream as ProgressStream | undefined) ?? process.stderr;
    if (stream === null || typeof stream !== 'object' || typeof stream.write !== 'function') throw typeError('a stream with write()', 'options.stream', o.stream);
    this.stream = stream;
    if (o.tty !== undefined && typeof o.tty !== 'boolean') throw typeError('a boolean', 'options.tty', o.tty);
    this.tty = (o.tty as boolean | undefined) ?? stream.isTTY === true;
    if (o.now !== undefined && typeof o.now !== 'function') throw typeError('a function returning ms', 'options.now', o.now);
    this.now = (o.now as (() => number) | undefined) ?? (() => performance.now());
    this.redrawMs = o.redrawMs === undefined ? 100 : finiteNumber(o.redrawMs, 'options.redrawMs');
    this.logEveryMs = o.logEveryMs === undefined ? 10_000 : finiteNumber(o.logEveryMs, 'options.logEveryMs');
    this.sampleMs = o.sampleMs === undefined ? 1000 : finiteNumber(o.sampleMs, 'options.sampleMs');
    this.smoothing = o.smoothing === undefined ? 0.3 : finiteNumber(o.smoothing, 'options.smoothing');
    if (this.smoothing <= 0 || this.smoothing > 1) throw rangeError('a number in (0, 1]', 'options.smoothing', this.smoothing);
    this.step0 = o.start === undefined ? 0 : finiteNumber(o.start, 'options.start');
    this.step = this.step0;
    this.t0 = this.now();
    this.sampleT = this.t0;
    this.sampleStep = this.step0;
  }

  /** The smoothed rate in units per second (undefined before any time has passed). */
  get rate(): number | undefined {
    return this.rateAt(this.now());
  }

  private rateAt(t: number): number | undefined {
    if (this.rateEma !== undefined) return this.rateEma;
    const dt = (t - this.t0) / 1000;
    return dt > 0 ? (this.step - this.step0) / dt : undefined;
  }

  /** Records progress and redraws when due. Ignored after done(). */
  update(step: number, fields?: ProgressFields): void {
    if (this.finished) return;
    finiteNumber(step, 'step');
    this.setFields(fields);
    this.step = step;
    const t = this.now();
    if (t - this.sampleT >= this.sampleMs) {
      const inst = (step - this.sampleStep) / ((t - this.sampleT) / 1000);
      this.rateEma = this.rateEma === undefined ? inst : this.rateEma + this.smoothing * (inst - this.rateEma);
      for (const [key, v] of this.fields) {
        if (typeof v !== 'number' || !isRate(key)) continue;
        const prev = this.smoothed.get(key);
        this.smoothed.set(key, prev === undefined ? v : prev + this.smoothing * (v - prev));
      }
      this.sampleT = t;
      this.sampleStep = step;
    }
    if (t - this.lastDraw >= (this.tty ? this.redrawMs : this.logEveryMs)) this.draw(t);
  }

  /** Prints a message on its own line (above the bar on a TTY). */
  log(message: string): void {
    if (typeof message !== 'string') throw typeError('a string', 'message', message);
    if (this.tty && this.drawnLength > 0 && !this.finished) {
      this.stream.write(`\r${' '.repeat(this.drawnLength)}\r${message}\n`);
      this.drawnLength = 0;
      this.draw(this.now());
    } else {
      this.stream.write(`${message}\n`);
    }
  }

  /** Prints the final line (total time instead of the ETA, the average rate) and ends it. Twice is harmless. */
  done(fields?: ProgressFields): void {
    if (this.finished) return;
    this.setFields(fields);
    this.finished = true;
    const line = this.fit(this.render(this.now(), true));
    this.stream.write(this.tty ? `\r${line}${' '.repeat(Math.max(0, this.drawnLength - line.length))}\n` : `${line}\n`);
    this.drawnLength = 0;
  }

  /** The current line's text, as it would be drawn now. */
  line(): string {
    return this.render(this.now(), this.finished);
  }

  private render(t: number, final: boolean): string {
    const head: string[] = [];
    const total = this.total;
    if (total !== undefined) {
      const frac = Math.min(1, Math.max(0, this.step / total));
      const cells = Math.round(frac * this.width);
      head.push(`[${'#'.repeat(cells)}${'-'.repeat(this.width - cells)}]`, `${Math.floor(frac * 100)}%`);
      head.push(`${formatCount(this.step)}/${formatCount(total)} ${this.unit}`);
    } else {
      head.push(`${formatCount(this.step)} ${this.unit}`);
    }
    const parts = [head.join(' ')];
    const elapsed = (t - this.t0) / 1000;
    const rate = final ? (elapsed > 0 ? (this.step - this.step0) / elapsed : undefined) : this.rateAt(t);
    if (rate !== undefined) parts.push(`${formatCount(rate)} ${this.unit}/s`);
    for (const [key, v] of this.fields) {
      if (typeof v === 'string') parts.push(`${key} ${v}`);
      else if (isRate(key)) parts.push(`${formatCount(final ? v : this.smoothed.get(key) ?? v)} ${key}`);
      else parts.push(`${key} ${formatValue(v)}`);
    }
    if (final) parts.push(`done in ${formatDuration(elapsed)}`);
    else if (total !== undefined && rate !== undefined && rate > 0) parts.push(`ETA ${formatDuration(Math.max(0, total - this.step) / rate)}`);
    return parts.join(' | ');
  }

  private setFields(fields: ProgressFields | undefined): void {
    const f = plainObject(fields, 'fields');
    for (const [key, v] of Object.entries(f)) {
      if (v === null || v === undefined) {
        this.fields.delete(key);
        this.smoothed.delete(key);
      } else if (typeof v === 'number' || typeof v === 'string') {
        this.fields.set(key, v);
      } else {
        throw typeError('a number or string', `fields.${key}`, v);
      }
    }
  }

  /** Cut to the terminal width: a wrapped line cannot be redrawn with \r. */
  private fit(line: string): string {
    const cols = this.tty ? this.stream.columns : undefined;
    return cols && cols > 1 && line.length > cols - 1 ? line.slice(0, cols - 1) : line;
  }

  private draw(t: number): void {
    const line = this.fit(this.render(t, false));
    if (this.tty) {
      this.stream.write(`\r${line}${' '.repeat(Math.max(0, this.drawnLength - line.length))}`);
      this.drawnLength = line.length;
    } else {
      this.stream.write(`${line}\n`);
    }
    this.lastDraw = t;
  }
}

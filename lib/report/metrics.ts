/**
 * Training metrics as JSON lines: one object per event,
 *
 *   {"time":1764161234.567,"step":25000,"kind":"eval","return":612.3,"entropy":null}
 *
 * `time` is Unix time in seconds (millisecond resolution), `step` the environment step, `kind` what
 * the event is ('train', 'eval', ...), then the caller's fields (numbers, strings, booleans).
 * JSON has no NaN or ±Infinity: non-finite numbers are written as null, and read back as null.
 *
 * Durability: lines are buffered and written with synchronous appends when `flushLines` lines are
 * waiting, when `flushIntervalMs` has passed (checked on every write and by an unref'd timer), on
 * flush()/close(), and from a process 'exit' hook, so a normal exit (including process.exit())
 * loses nothing. A kill or crash can lose at most the unflushed buffer and leave a partial last
 * line, which readMetrics skips with a warning; reopening the file for append first ends such a
 * line, so later lines stay whole.
 */
import fs from 'node:fs';
import path from 'node:path';

import { EraError } from '../errors.js';
import { integer, plainObject, rangeError, typeError } from '../validate.js';

export type MetricValue = number | string | boolean | null;

export interface MetricsEvent {
  time: number;
  step: number;
  kind: string;
  [field: string]: MetricValue;
}

export interface MetricsWriterOptions {
  /** Append to an existing file (default true) or truncate it. */
  append?: boolean;
  /** Flush when this many lines wait (default 64). */
  flushLines?: number;
  /** Flush when the oldest waiting line is this old (default 1000 ms). */
  flushIntervalMs?: number;
  /** Wall clock in ms since the epoch (default Date.now); injectable for tests. */
  now?: () => number;
}

const RESERVED = new Set(['time', 'step', 'kind']);
const open = new Set<MetricsWriter>();
let exitHook = false;

function flushAllOnExit(): void {
  for (const w of open) {
    try {
      w.close();
    } catch {
      // Nothing useful can be done about a failing disk at exit.
    }
  }
}

export class MetricsWriter {
  readonly path: string;
  private fd: number | undefined;
  private buffer: string[] = [];
  private firstBuffered = 0;
  private readonly flushLines: number;
  private readonly flushIntervalMs: number;
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout;
  private timerError: unknown;

  constructor(filePath: string, options: MetricsWriterOptions = {}) {
    if (typeof filePath !== 'string' || filePath.length === 0) throw typeError('a file path', 'path', filePath);
    const o = plainObject(options, 'options');
    if (o.append !== undefined && typeof o.append !== 'boolean') throw typeError('a boolean', 'options.append', o.append);
    if (o.now !== undefined && typeof o.now !== 'function') throw typeError('a function returning ms since the epoch', 'options.now', o.now);
    this.flushLines = o.flushLines === undefined ? 64 : integer(o.flushLines, 'options.flushLines', 1);
    this.flushIntervalMs = o.flushIntervalMs === undefined ? 1000 : integer(o.flushIntervalMs, 'options.flushIntervalMs', 1);
    this.now = (o.now as () => number) ?? Date.now;
    this.path = filePath;
    const append = o.append !== false;
    fs.mkdirSync(path.dirname(path.resolve(filePath)), { recursive: true });
    const partial = append && endsWithoutNewline(filePath);
    this.fd = fs.openSync(filePath, append ? 'a' : 'w');
    if (partial) fs.writeSync(this.fd, '\n'); // end a line cut short by a crash
    this.timer = setInterval(() => {
      try {
        if (this.buffer.length > 0) this.flush();
      } catch (err) {
        this.timerError = err; // reported by the next call instead of crashing the process
      }
    }, this.flushIntervalMs);
    this.timer.unref();
    open.add(this);
    if (!exitHook) {
      process.on('exit', flushAllOnExit);
      exitHook = true;
    }
  }

  /** Appends one event. Throws TypeError/RangeError naming a bad argument, EraError after close(). */
  write(kind: string, step: number, values: Record<string, MetricValue> = {}): void {
    this.checkOpen();
    if (typeof kind !== 'string' || kind.length === 0) throw typeError('a non-empty string', 'kind', kind);
    integer(step, 'step', 0);
    const fields = plainObject(values, 'values');
    const event: Record<string, MetricValue> = { time: Math.round(this.now()) / 1000, step, kind };
    for (const [key, v] of Object.entries(fields)) {
      if (RESERVED.has(key)) throw rangeError('a field name other than time, step and kind', `values.${key}`, v);
      if (v !== null && typeof v !== 'number' && typeof v !== 'string' && typeof v !== 'boolean') {
        throw typeError('a number, string, boolean or null', `values.${key}`, v);
      }
      event[key] = v; // JSON.stringify writes NaN and ±Infinity as null
    }
    if (this.buffer.length === 0) this.firstBuffered = this.now();
    this.buffer.push(`${JSON.stringify(event)}\n`);
    if (this.buffer.length >= this.flushLines || this.now() - this.firstBuffered >= this.flushIntervalMs) this.flush();
  }

  /** Writes the buffered lines to the file now. */
  flush(): void {
    this.checkOpen();
    if (this.buffer.length === 0) return;
    const text = this.buffer.join('');
    this.buffer = [];
    fs.writeSync(this.fd!, text);
  }

  /** Flushes and closes the file; closing twice is harmless. */
  close(): void {
    if (this.fd === undefined) return;
    clearInterval(this.timer);
    open.delete(this);
    try {
      if (this.buffer.length > 0) fs.writeSync(this.fd, this.buffer.join(''));
      this.buffer = [];
    } finally {
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private checkOpen(): void {
    if (this.fd === undefined) throw new EraError(`MetricsWriter for ${this.path} is closed`, 'ERA_DISPOSED');
    if (this.timerError !== undefined) {
      const err = this.timerError;
      this.timerError = undefined;
      throw err;
    }
  }
}

function endsWithoutNewline(filePath: string): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(filePath, 'r');
    const { size } = fs.fstatSync(fd);
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    fs.readSync(fd, last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export interface ReadMetricsOptions {
  /** Where warnings about skipped lines go (default console.warn). */
  warn?: (message: string) => void;
}

/**
 * Parses a metrics file back into events, in file order. Lines that do not parse as a JSON object
 * are skipped with one warning each: after a crash that is the partial last line; anywhere else it
 * is reported as a malformed line. Non-finite numbers come back as null.
 */
export function readMetrics(filePath: string, options: ReadMetricsOptions = {}): MetricsEvent[] {
  if (typeof filePath !== 'string' || filePath.length === 0) throw typeError('a file path', 'path', filePath);
  const o = plainObject(options, 'options');
  const warn = (o.warn as ReadMetricsOptions['warn']) ?? ((m: string) => console.warn(m));
  const lines = fs.readFileSync(filePath, 'utf8').split('\n');
  const events: MetricsEvent[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = undefined;
    }
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      events.push(parsed as MetricsEvent);
      return;
    }
    // The text after the last '\n' is the last line; a partial one is what a crash leaves.
    const what = i === lines.length - 1 ? 'a partial last line' : 'a malformed line';
    warn(`[era-cuda] readMetrics: skipped ${what} (line ${i + 1}) of ${filePath}`);
  });
  return events;
}

/**
 * Seeded random numbers from a counter-based generator (Philox4x32-10). Element i of a draw depends
 * only on (seed, counter offset, i), so the CPU and CUDA backends give the same numbers: uniform
 * draws bit for bit, normal draws to within one float ulp (their Box-Muller uses each side's
 * double-precision log/cos).
 */
import { randomInt } from 'node:crypto';

import type { Device } from './device.js';
import { isCapturing } from './graph.js';
import { native } from './native.js';
import { empty, tensorArg, type Tensor } from './tensor.js';
import { finiteNumber, integer, optionNames, plainObject, rangeError, typeError } from './validate.js';

/** A Philox stream: a seed plus a counter offset that advances with every draw. */
export class Generator {
  readonly seed: number;
  offset = 0;

  constructor(seed: number) {
    this.seed = integer(seed, 'seed', 0);
  }

  /** Reserves counters for `n` values drawn `perValue` words at a time; returns the start offset. */
  reserve(n: number, wordsPerValue: 1 | 2): number {
    const start = this.offset;
    this.offset += wordsPerValue === 1 ? Math.ceil(n / 4) * 4 : Math.ceil(n / 2) * 4;
    return start;
  }
}

/**
 * The counter offset for a draw of `n` values on `device` by `op`. A CUDA draw recorded into a
 * graph would keep this offset on every replay (the same numbers each time, while the generator
 * moved on once), so it is refused: draw into a tensor before each replay instead, as the SAC
 * agent does with the *Transform ops. CPU draws run at once and stay allowed.
 */
export function reserveDraw(g: Generator, n: number, wordsPerValue: 1 | 2, device: Device, op: string): number {
  if (device === 'cuda' && isCapturing()) {
    throw typeError('a draw made outside CUDA graph recording (a recorded draw repeats its numbers on every replay; fill a tensor before each replay)', op, 'a call while a graph is recorded');
  }
  return g.reserve(n, wordsPerValue);
}

let defaultGenerator = new Generator(randomInt(0, 2 ** 47));

/** Reseeds the default generator (like torch.manual_seed). */
export function manualSeed(seed: number): void {
  defaultGenerator = new Generator(seed);
}

export interface RandomOptions {
  device?: Device;
  /** Draw from a fresh generator with this seed (counter 0) instead of the default one. */
  seed?: number;
  generator?: Generator;
  /** Write into this f32 tensor (of the requested shape) instead of a new one. */
  out?: Tensor;
}

const UNIFORM_OPTIONS = optionNames('device', 'seed', 'generator', 'out', 'low', 'high');
const NORMAL_OPTIONS = optionNames('device', 'seed', 'generator', 'out', 'mean', 'std');

function generatorFor(o: Record<string, unknown>): Generator {
  if (o.seed !== undefined && o.generator !== undefined) throw rangeError('either seed or generator, not both', 'options', o);
  if (o.seed !== undefined) return new Generator(integer(o.seed, 'options.seed', 0));
  if (o.generator !== undefined) {
    if (!(o.generator instanceof Generator)) throw typeError('a Generator', 'options.generator', o.generator);
    return o.generator;
  }
  return defaultGenerator;
}

/**
 * Uniform f32 numbers: strictly inside (0, 1) for the default range; for other ranges
 * low + (high − low)·u is rounded to f32, which can land on low or high themselves.
 */
export function uniform(shape: readonly number[], options?: RandomOptions & { low?: number; high?: number }): Tensor {
  const o = plainObject(options, 'options', UNIFORM_OPTIONS);
  const low = o.low === undefined ? 0 : finiteNumber(o.low, 'options.low');
  const high = o.high === undefined ? 1 : finiteNumber(o.high, 'options.high');
  if (!(high > low)) throw rangeError(`a number greater than options.low (${low})`, 'options.high', high);
  const g = generatorFor(o);
  const given = o.out !== undefined;
  const out = given ? outArg(o.out, shape, o.device) : empty(shape, { device: o.device as Device | undefined });
  try {
    native().randomUniform(out.handle, g.seed, reserveDraw(g, out.size, 1, out.device, 'uniform'), low, high);
  } catch (err) {
    if (!given) out.dispose();
    throw err;
  }
  return out;
}

/** Normal numbers with the given mean and standard deviation, f32. */
export function normal(shape: readonly number[], options?: RandomOptions & { mean?: number; std?: number }): Tensor {
  const o = plainObject(options, 'options', NORMAL_OPTIONS);
  const mean = o.mean === undefined ? 0 : finiteNumber(o.mean, 'options.mean');
  const std = o.std === undefined ? 1 : finiteNumber(o.std, 'options.std');
  if (std < 0) throw rangeError('a non-negative number', 'options.std', std);
  const g = generatorFor(o);
  const given = o.out !== undefined;
  const out = given ? outArg(o.out, shape, o.device) : empty(shape, { device: o.device as Device | undefined });
  try {
    native().randomNormal(out.handle, g.seed, reserveDraw(g, out.size, 2, out.device, 'normal'), mean, std);
  } catch (err) {
    if (!given) out.dispose();
    throw err;
  }
  return out;
}

/** options.out: an f32 tensor of the requested shape (and device, where one is given). */
function outArg(value: unknown, shape: readonly number[], device: unknown): Tensor {
  const t = tensorArg(value, 'options.out', ['f32']);
  if (t.shape.join() !== shape.join()) throw rangeError(`a tensor of shape [${shape.join(', ')}]`, 'options.out', `shape [${t.shape.join(', ')}]`);
  if (device !== undefined && t.device !== device) throw rangeError(`a ${String(device)} tensor`, 'options.out', `a ${t.device} tensor`);
  return t;
}

/**
 * The environments' own seeded PRNG: xoshiro128** (Blackman & Vigna) seeded through splitmix32,
 * so a seed gives the same stream on every platform and Node version (Math.random cannot be
 * seeded). Uniforms have 32 random bits; normals come from the Box-Muller transform.
 */
import { integer } from '../../validate.js';

/** splitmix32: spreads a 32-bit seed over the four words of state. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  constructor(seed: number) {
    this.seed(seed);
  }

  /** Restarts the stream; `seed` is a non-negative safe integer (all 53 bits matter). */
  seed(seed: number): void {
    integer(seed, 'seed', 0);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    const st = { s: lo ^ Math.imul(hi, 0x632be5ab) };
    this.a = splitmix32(st);
    this.b = splitmix32(st) ^ hi;
    this.c = splitmix32(st);
    this.d = splitmix32(st);
    if ((this.a | this.b | this.c | this.d) === 0) this.d = 1; // the all-zero state is a fixed point
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const r = Math.imul(this.rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = this.rotl(this.d, 11);
    return r;
  }

  /** Uniform in [0, 1). */
  random(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.random();
  }

  /** A standard normal (Box-Muller; one of the pair is dropped so the stream stays simple). */
  normal(): number {
    const u1 = 1 - this.random(); // (0, 1]: log stays finite
    const u2 = this.random();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  private rotl(x: number, k: number): number {
    return (x << k) | (x >>> (32 - k));
  }
}

/** A fresh seed from the OS entropy source, for environments created without one. */
export function entropySeed(): number {
  const words = new Uint32Array(2);
  globalThis.crypto.getRandomValues(words);
  return (words[0] & 0x1fffff) * 2 ** 32 + words[1];
}

/**
 * Parameter initialisers computed on the host in float64 from a seeded PRNG, so a model starts
 * from the same bits on every device:
 *
 * - `InitRandom`: xoshiro128** (its state mixed from a safe-integer seed) with uniform and
 *   Box-Muller normal draws.
 * - `orthogonal(rows, cols, gain, rng)`: flax/JAX's `orthogonal` initialiser for a kernel stored
 *   [rows, cols] (rows = fan-in): a normal matrix of the tall shape, its QR factor Q with
 *   sign(diag R) folded in (the unique Q with a positive-diagonal R, which Gram-Schmidt gives),
 *   transposed back when rows < cols, times gain. So WᵀW = gain²·I when rows ≥ cols and
 *   WWᵀ = gain²·I otherwise.
 * - `uniformFill(out, bound, rng)`: U(−bound, bound), PyTorch nn.Linear's default with
 *   bound = 1/sqrt(fan_in) for the weight and the bias.
 */

/** A seeded stream of uniform and normal numbers (float64). */
export class InitRandom {
  #s = new Uint32Array(4);
  #spare: number | null = null;

  constructor(seed: number) {
    // A golden-ratio counter over the seed's low 32 bits, through murmur3's finaliser (a bijection
    // of 32-bit words, 0 to 0), fills the 128-bit state; the high bits, finalised, are XORed into
    // the third word. So distinct seeds up to 2^53 give distinct states, and seeds below 2^32
    // the states they always had. Never all zero.
    const fmix = (v: number): number => {
      let z = Math.imul(v ^ (v >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      this.#s[i] = fmix(x);
    }
    this.#s[2] = (this.#s[2] ^ fmix(Math.floor(seed / 2 ** 32) >>> 0)) >>> 0;
    if (this.#s.every((v) => v === 0)) this.#s[0] = 1;
  }

  /** 32 random bits (xoshiro128**). */
  nextU32(): number {
    const s = this.#s;
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** A standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.#spare !== null) {
      const v = this.#spare;
      this.#spare = null;
      return v;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log is finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.#spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * An orthogonal [rows, cols] matrix (row-major float64) times gain, as flax's orthogonal(gain).
 */
export function orthogonal(rows: number, cols: number, gain: number, rng: InitRandom): Float64Array {
  const tall = rows >= cols;
  const r = tall ? rows : cols; // the tall shape [r, c], r >= c
  const c = tall ? cols : rows;
  // Column-major normal matrix: column j is a[j*r .. j*r + r).
  const a = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) a[j * r + i] = rng.normal();
  // Modified Gram-Schmidt, run twice per column so Q stays orthonormal to rounding; R's diagonal
  // comes out positive, the sign convention the initialiser wants.
  for (let j = 0; j < c; j++) {
    const qj = a.subarray(j * r, j * r + r);
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        const qk = a.subarray(k * r, k * r + r);
        let dot = 0;
        for (let i = 0; i < r; i++) dot += qk[i] * qj[i];
        for (let i = 0; i < r; i++) qj[i] -= dot * qk[i];
      }
    }
    let norm = 0;
    for (let i = 0; i < r; i++) norm += qj[i] * qj[i];
    norm = Math.sqrt(norm);
    for (let i = 0; i < r; i++) qj[i] /= norm;
  }
  const out = new Float64Array(rows * cols);
  // Q is [r, c]: element (i, j) at a[j*r + i]. Tall: W = Q; wide: W = Qᵀ.
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[i * cols + j] = gain * (tall ? a[j * r + i] : a[i * r + j]);
  }
  return out;
}

/** Fills `out` with U(−bound, bound). */
export function uniformFill(out: Float32Array, bound: number, rng: InitRandom): void {
  for (let i = 0; i < out.length; i++) out[i] = (2 * rng.uniform() - 1) * bound;
}

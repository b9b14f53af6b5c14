/**
 * Float64 references for test/rl-ops.test.ts, written independently of the native code: erfc
 * (series / continued fraction; relative error ≤ 1.1e-14, checked against mpmath on [−6, 26]),
 * Φ and Φ⁻¹ (Newton on that Φ from the Abramowitz-Stegun 26.2.23 guess), SAC-ERA's truncated
 * normal (era-spec §1.4) with its clip regimes, the tanh-Gaussian log-prob written directly, the
 * SAC losses, Philox4x32-10, and the KS and chi-square statistics.
 */

export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x > 27.3) return 0; // below the smallest subnormal
  if (x < 1.5) {
    // erf(x) = 2x/√π·e^{−x²}·Σ (2x²)^n / (1·3···(2n+1)): positive terms, no cancellation.
    let term = 1;
    let sum = 1;
    for (let n = 1; n < 200 && term > 1e-18 * sum; n++) {
      term *= (2 * x * x) / (2 * n + 1);
      sum += term;
    }
    return 1 - ((2 * x) / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
  }
  // erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated backwards.
  let f = x;
  for (let k = 400; k >= 1; k--) f = x + k / 2 / f;
  // e^{−x²} with x² split (x = hi + lo, hi·hi exact) so its rounding costs no digits.
  const hi = Math.fround(x);
  const lo = x - hi;
  return (Math.exp(-hi * hi) * Math.exp(-lo * (x + hi))) / Math.sqrt(Math.PI) / f;
}

export const normCdf = (x: number): number => 0.5 * erfc(-x / Math.SQRT2);
export const normPdf = (x: number): number => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);

/**
 * Φ⁻¹ by Newton iterations on log Φ(x) = log q over the lower tail (q = min(p, 1 − p)): log Φ is
 * nearly quadratic, so the iteration cannot overshoot in the deep tail as Newton on Φ does.
 */
export function normIcdf(p: number): number {
  if (!(p > 0 && p < 1)) return p === 0 ? -Infinity : p === 1 ? Infinity : NaN;
  const q = p < 0.5 ? p : 1 - p;
  const t = Math.sqrt(-2 * Math.log(q));
  let x = -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t));
  const logQ = Math.log(q);
  for (let i = 0; i < 100; i++) {
    const c = normCdf(x);
    const step = ((Math.log(c) - logQ) * c) / normPdf(x);
    x -= step;
    if (Math.abs(step) <= 1e-17 * Math.max(1, Math.abs(x))) break;
  }
  return p < 0.5 ? x : -x;
}

// ---------------------------------------------------------------------------------------------
// SAC-ERA's truncated normal.

export const EPS = 1e-6;
export const L = -1 + EPS;
export const H = 1 - EPS;
const clip = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);

export interface TruncRef {
  m: number;
  s: number;
  a: number;
  b: number;
  alpha: number;
  delta: number;
  /** Which clips and clamps are active, as a string of flags (for finite-difference regimes). */
  flags: { mClip: boolean; sClamp: boolean; deltaClamp: boolean };
}

export function truncRef(mu: number, logStd: number, temperature: number): TruncRef {
  const th = Math.tanh(mu);
  const m = clip(th, L, H);
  const e = Math.exp(logStd) * temperature;
  const s = Math.max(e, EPS);
  const a = (L - m) / s;
  const b = (H - m) / s;
  const alpha = normCdf(a);
  const d = normCdf(b) - alpha;
  return { m, s, a, b, alpha, delta: Math.max(d, EPS), flags: { mClip: !(th > L && th < H), sClamp: !(e > EPS), deltaClamp: d < EPS } };
}

/** x (float64, before rounding to f32) and the regime of the clips that decide the gradient. */
export function truncSampleRef(mu: number, logStd: number, temperature: number, u: number): { x: number; regime: string } {
  const t = truncRef(mu, logStd, temperature);
  const uc = clip(u, EPS, 1 - EPS);
  const up = t.alpha + t.delta * uc;
  const z = normIcdf(clip(up, EPS, 1 - EPS));
  const x0 = t.m + t.s * z;
  const uClip = !(up > EPS && up < 1 - EPS);
  const xClip = !(x0 > L + EPS && x0 < H - EPS);
  const f = t.flags;
  const regime = `${+f.mClip}${+f.sClamp}${+f.deltaClamp}${+uClip}${+xClip}`;
  return { x: clip(x0, L + EPS, H - EPS), regime };
}

/** The per-dimension log-prob of era-spec §1.4 (clipped to [−20, 20]). */
export function truncLogProbRef(x: number, mu: number, logStd: number, temperature: number): number {
  const t = truncRef(mu, logStd, temperature);
  const r = (clip(x, L + EPS, H - EPS) - t.m) / t.s;
  return clip(-0.5 * r * r - 0.5 * Math.log(2 * Math.PI) - Math.log(t.s) - Math.log(t.delta), -20, 20);
}

/** The truncated normal's CDF on (L, H) (the action clip moves at most 1e-6 of mass). */
export function truncCdf(x: number, t: TruncRef): number {
  return clip((normCdf((x - t.m) / t.s) - t.alpha) / t.delta, 0, 1);
}

// ---------------------------------------------------------------------------------------------
// The tanh-Gaussian, written directly: log N(u; μ, σ) − log(1 − tanh²u).

export function tanhLogProbDirect(mu: number, logStd: number, noise: number): number {
  const sigma = Math.exp(logStd);
  const u = mu + sigma * noise;
  const z = (u - mu) / sigma;
  const th = Math.tanh(u);
  return -0.5 * z * z - logStd - 0.5 * Math.log(2 * Math.PI) - Math.log(1 - th * th);
}

// ---------------------------------------------------------------------------------------------
// Statistics.

/** Kolmogorov-Smirnov statistic of samples against a CDF. */
export function ksStatistic(samples: ArrayLike<number>, cdf: (x: number) => number): number {
  const xs = Float64Array.from(samples).sort();
  const n = xs.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(xs[i]);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  }
  return d;
}

/** Pearson's chi-square of counts against expected counts. */
export function chiSquare(counts: ArrayLike<number>, expected: ArrayLike<number>): number {
  let c = 0;
  for (let i = 0; i < counts.length; i++) c += (counts[i] - expected[i]) ** 2 / expected[i];
  return c;
}

// ---------------------------------------------------------------------------------------------
// Philox4x32-10 (Salmon et al.), to pin randomIndices' documented formula.

function mulhilo(a: number, b: number): [number, number] {
  const p = BigInt(a >>> 0) * BigInt(b >>> 0);
  return [Number(p >> 32n), Number(p & 0xffffffffn)];
}

/** The four words of counter `block` under `seed` (counter (block_lo, block_hi, 0, 0)). */
export function philoxBlock(seed: number, block: number): number[] {
  let c = [block >>> 0, Math.floor(block / 2 ** 32) >>> 0, 0, 0];
  let k0 = seed >>> 0;
  let k1 = Math.floor(seed / 2 ** 32) >>> 0;
  for (let r = 0; r < 10; r++) {
    const [hi0, lo0] = mulhilo(0xd2511f53, c[0]);
    const [hi1, lo1] = mulhilo(0xcd9e8d57, c[2]);
    c = [(hi1 ^ c[1] ^ k0) >>> 0, lo1, (hi0 ^ c[3] ^ k1) >>> 0, lo0];
    k0 = (k0 + 0x9e3779b9) >>> 0;
    k1 = (k1 + 0xbb67ae85) >>> 0;
  }
  return c;
}

/** randomIndices' element i: (w_i · high) >> 32 with w_i word i of the stream at `offset`. */
export function randomIndexRef(seed: number, offset: number, i: number, high: number): number {
  const w = philoxBlock(seed, offset / 4 + Math.floor(i / 4))[i % 4];
  return Number((BigInt(w) * BigInt(high)) >> 32n);
}

// ---------------------------------------------------------------------------------------------
// SAC losses in float64. q is [C, B] flat (C = 2S); per-seed rows p(s, b).

export type SeedRow = (s: number, b: number) => number;

export function targetRef(q: ArrayLike<number>, s: number, b: number, reward: SeedRow, mask: SeedRow, gamma: number, logProb?: SeedRow, alpha?: ArrayLike<number>): Float64Array {
  const y = new Float64Array(s * b);
  for (let i = 0; i < s; i++) {
    for (let j = 0; j < b; j++) {
      let v = Math.min(q[2 * i * b + j], q[(2 * i + 1) * b + j]);
      if (logProb && alpha) v -= alpha[i] * logProb(i, j);
      y[i * b + j] = reward(i, j) + gamma * mask(i, j) * v;
    }
  }
  return y;
}

export function criticLossRef(q: ArrayLike<number>, s: number, b: number, y: SeedRow): Float64Array {
  const loss = new Float64Array(s);
  for (let i = 0; i < s; i++) {
    for (let j = 0; j < b; j++) loss[i] += ((q[2 * i * b + j] - y(i, j)) ** 2 + (q[(2 * i + 1) * b + j] - y(i, j)) ** 2) / b;
  }
  return loss;
}

export function actorLossRef(q: ArrayLike<number>, s: number, b: number, logProb?: SeedRow, alpha?: ArrayLike<number>, targetEntropy = 0): { loss: Float64Array; alphaLoss: Float64Array } {
  const loss = new Float64Array(s);
  const alphaLoss = new Float64Array(s);
  for (let i = 0; i < s; i++) {
    for (let j = 0; j < b; j++) {
      loss[i] -= Math.min(q[2 * i * b + j], q[(2 * i + 1) * b + j]) / b;
      if (logProb && alpha) {
        loss[i] += (alpha[i] * logProb(i, j)) / b;
        alphaLoss[i] -= (alpha[i] * (logProb(i, j) + targetEntropy)) / b;
      }
    }
  }
  return { loss, alphaLoss };
}

/**
 * era.logits / era.logitsBackward (era-spec §2.3-§2.7): a float64 reference of the whole forward
 * written here, the CPU kernels against it and against central finite differences (all three
 * scales, top-k inside and outside, two temperatures), the §2.4 advantage table, invariants, the
 * bf16 path, bad input, and CUDA against CPU over a grid of shapes.
 */
import { expect } from 'chai';

import { EraError } from '../lib/errors.js';
import { logits, logitsBackward, type LogitsOptions, type LogitsResult, type ResolvedLogitsOptions } from '../lib/era/logits.js';
import { native } from '../lib/native.js';
import { normal } from '../lib/random.js';
import { empty, tensor, type Tensor } from '../lib/tensor.js';
import { describeCuda, expectClose, finiteDifferences, rng, testSeed } from './helpers.js';

const seed = testSeed();

// ---- float64 reference -------------------------------------------------------------------------

/** The options the float64 reference takes: what the kernels receive, less the index check. */
type RefOptions = Omit<ResolvedLogitsOptions, 'validateIndices'>;

const REF_DEFAULTS: RefOptions = {
  omegaLow: 0.45, omegaHigh: 3, k: 2, topFraction: 0.2, temperature: 1, topK: 0, referenceTest: false, rescaleAdvantages: false,
};

/** The options as the reference sees them (written independently of lib/era/logits.ts). */
function refOptions(o: LogitsOptions = {}): RefOptions {
  const r = { ...REF_DEFAULTS };
  if (o.mode === 'reference') {
    r.topK = 20;
    r.referenceTest = true;
  }
  if (o.omegaLow !== undefined) r.omegaLow = o.omegaLow;
  if (o.omegaHigh !== undefined) r.omegaHigh = o.omegaHigh;
  if (o.k !== undefined) r.k = o.k;
  if (o.topFraction !== undefined) r.topFraction = o.topFraction;
  if (o.temperature !== undefined) r.temperature = o.temperature;
  if (o.topK !== undefined) r.topK = o.topK;
  if (o.advantageTest !== undefined) r.referenceTest = o.advantageTest === 'reference';
  if (o.rescaleAdvantages !== undefined) r.rescaleAdvantages = o.rescaleAdvantages;
  return r;
}

interface RefOut {
  logp: Float64Array;
  entropy: Float64Array;
  responseEntropy: Float64Array;
  scale: Float64Array;
  advantages: Float64Array;
  inTopK: boolean[];
}

/** The top-k set of a row: first k of a stable sort by value descending (ties: lower index). */
function topKSet(x: ArrayLike<number>, base: number, v: number, k: number): Set<number> {
  const idx = Array.from({ length: v }, (_, i) => i);
  idx.sort((a, b) => (x[base + b] - x[base + a]) || (a - b));
  return new Set(idx.slice(0, k));
}

function refForward(
  x: ArrayLike<number>, n: number, v: number, tokens: ArrayLike<number>, offsets: ArrayLike<number>,
  adv: ArrayLike<number>, o: RefOptions,
): RefOut {
  const r = offsets.length - 1;
  const out: RefOut = {
    logp: new Float64Array(n), entropy: new Float64Array(n), responseEntropy: new Float64Array(r),
    scale: new Float64Array(n), advantages: new Float64Array(n), inTopK: [],
  };
  const topK = o.topK >= v ? 0 : o.topK;
  const lseOf: ((c: number) => number)[] = [];
  const zy = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    const base = t * v;
    const z = (i: number): number => x[base + i] / o.temperature;
    let m = -Infinity;
    for (let i = 0; i < v; i++) m = Math.max(m, z(i));
    let s = 0;
    let pz = 0;
    for (let i = 0; i < v; i++) {
      s += Math.exp(z(i) - m);
      pz += Math.exp(z(i) - m) * z(i);
    }
    out.entropy[t] = m + Math.log(s) - pz / s; // logsumexp(z) − Σ p z
    const support = topK > 0 ? [...topKSet(x, base, v, topK)] : Array.from({ length: v }, (_, i) => i);
    out.inTopK[t] = support.includes(tokens[t]);
    lseOf[t] = (c: number) => {
      let sc = 0;
      for (const i of support) sc += Math.exp(c * (z(i) - m));
      return c * m + Math.log(sc);
    };
    zy[t] = z(tokens[t]);
  }
  for (let b = 0; b < r; b++) {
    const lo = offsets[b];
    const hi = offsets[b + 1];
    const len = hi - lo;
    if (len === 0) continue;
    const kk = Math.max(1, Math.floor(o.topFraction * len));
    const hs = Array.from(out.entropy.subarray(lo, hi)).sort((a, c) => c - a);
    const hr = hs.slice(0, kk).reduce((a, c) => a + c, 0) / kk;
    out.responseEntropy[b] = hr;
    const low = hr < o.omegaLow;
    const high = hr > o.omegaHigh;
    for (let t = lo; t < hi; t++) {
      const a = adv[t];
      const pass = o.referenceTest ? Math.trunc(a) > 0 : a > 0;
      const c = low && pass ? o.k : high && pass ? 1 / o.k : 1;
      out.scale[t] = c;
      const lse = lseOf[t](c);
      out.logp[t] = out.inTopK[t] ? c * zy[t] - lse : -1e4;
      let a2 = a;
      if (o.rescaleAdvantages && adv[lo] > 0) a2 = low ? a / o.k : high ? a * o.k : a;
      out.advantages[t] = a2;
    }
  }
  return out;
}

// ---- inputs --------------------------------------------------------------------------------------

type Kind = 'low' | 'mid' | 'high' | 'random';

interface Batch {
  n: number;
  v: number;
  x: Float32Array;
  tokens: Int32Array;
  offsets: Int32Array;
  adv: Float32Array;
  kinds: Kind[];
}

function normals(r: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
}

/**
 * Logits with responses of chosen entropy classes (in z = x / temperature units): 'low' = one
 * logit 10 + log V above small noise (H ≈ 0), 'high' = near-uniform (H ≈ log V), 'mid' = up to 8
 * logits 1 + log V above small noise (H ≈ 1.5-2.7 for any V), 'random' = uniform in [-3, 3].
 */
function makeBatch(lengths: number[], kinds: Kind[], v: number, s: number, opts: { temperature?: number; advs?: number[] } = {}): Batch {
  const t = opts.temperature ?? 1;
  const r = rng(s);
  const nr = normals(r);
  const n = lengths.reduce((a, b) => a + b, 0);
  const x = new Float32Array(n * v);
  const tokens = new Int32Array(n);
  const offsets = new Int32Array(lengths.length + 1);
  const adv = new Float32Array(n);
  let row = 0;
  lengths.forEach((len, b) => {
    offsets[b + 1] = offsets[b] + len;
    const a = opts.advs ? opts.advs[b] : r() < 0.75 ? 0.5 + 2 * r() : -0.5 - r();
    for (let j = 0; j < len; j++, row++) {
      const base = row * v;
      for (let i = 0; i < v; i++) {
        const z = kinds[b] === 'low' || kinds[b] === 'mid' ? 0.3 * nr() : kinds[b] === 'high' ? 0.3 * (r() - 0.5) : 6 * (r() - 0.5);
        x[base + i] = z * t;
      }
      const spike = Math.floor(r() * v);
      if (kinds[b] === 'low') x[base + spike] += (10 + Math.log(v)) * t; // dominates even for V = 262144
      if (kinds[b] === 'mid') for (let j2 = 0; j2 < Math.min(8, v - 1); j2++) x[base + Math.floor(r() * v)] += (1 + Math.log(v)) * t;
      tokens[row] = r() < 0.5 && kinds[b] === 'low' ? spike : Math.floor(r() * v);
      adv[row] = a;
    }
  });
  return { n, v, x, tokens, offsets, adv, kinds };
}

const cpuT = (data: Float32Array | Int32Array | Uint16Array, shape: number[], dtype?: 'bf16'): Tensor =>
  tensor(data, shape, { device: 'cpu', ...(dtype ? { dtype } : {}) });

function inputs(b: Batch, device: 'cpu' | 'cuda' = 'cpu', x: Float32Array | Uint16Array = b.x, dtype?: 'bf16') {
  const o = { device, ...(dtype ? { dtype } : {}) };
  return {
    logits: tensor(x, [b.n, b.v], o),
    tokens: tensor(b.tokens, [b.n], { device }),
    offsets: tensor(b.offsets, [b.offsets.length], { device }),
    advantages: tensor(b.adv, [b.n], { device }),
  };
}

const f64 = (t: Tensor): Float64Array => Float64Array.from(t.toArray() as Float32Array);

function disposeAll(...items: (Tensor | LogitsResult | Record<string, Tensor>)[]): void {
  for (const it of items) {
    if ((it as Tensor).isEraTensor) (it as Tensor).dispose();
    else for (const t of Object.values(it)) (t as Tensor).dispose();
  }
}

function compareForward(res: LogitsResult, ref: RefOut, what: string, tol = { atol: 2e-5, rtol: 2e-5 }): void {
  expectClose(f64(res.logProbs), ref.logp, { ...tol, what: `${what} logProbs` });
  expectClose(f64(res.entropy), ref.entropy, { ...tol, what: `${what} entropy` });
  expectClose(f64(res.responseEntropy), ref.responseEntropy, { ...tol, what: `${what} responseEntropy` });
  expectClose(f64(res.scale), ref.scale, { atol: 0, rtol: 1e-7, what: `${what} scale` });
  expectClose(f64(res.advantages), ref.advantages, { atol: 0, rtol: 1e-7, what: `${what} advantages` });
}

// bf16 bit helpers (round to nearest even, as the kernels do).
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function toBf16(x: number): number {
  f32[0] = x;
  const u = u32[0];
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
function fromBf16(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/** A gradient tensor's values (f32, or bf16 widened) as float64. */
function gradientValues(t: Tensor): Float64Array {
  const a = t.toArray();
  return a instanceof Uint16Array ? Float64Array.from(a, fromBf16) : Float64Array.from(a as Float32Array);
}

// ---- non-finite logits ---------------------------------------------------------------------------

/**
 * Eight one-token responses of V logits, advantage −1 (scale 1), each row a case of the documented
 * contract (lib/era/logits.ts): −inf logits (a masked vocabulary) make the entropy NaN but leave the
 * log-prob and gradient finite; a NaN makes the row's log-prob and gradient NaN.
 * 0: the first half −inf; 1: −inf but for up to 200 scattered entries; 2: NaN at element 5; 3: NaN in the
 * last 4 elements; 4: NaN in the first 4; 5: all −inf; 6: finite; 7: the first quarter −inf with the
 * token on a −inf entry (log p = −inf, the gradient e_y − q still finite). Other tokens sit on finite entries.
 */
function nonFiniteBatch(v: number, s: number, dtype: 'f32' | 'bf16'): Batch & {
  data: Float32Array | Uint16Array; finiteLogp: boolean[]; reference: (number | null)[];
} {
  const r = rng(s);
  const n = 8;
  const x = new Float32Array(n * v);
  for (let i = 0; i < x.length; i++) x[i] = 4 * r() - 2;
  const row = (t: number) => x.subarray(t * v, (t + 1) * v);
  row(0).fill(-Infinity, 0, v >> 1);
  const kept = new Set(Array.from({ length: Math.min(200, v >> 3) }, () => Math.floor(r() * v))); // at most v/8: some stay −inf
  row(1).forEach((_, i, a) => { if (!kept.has(i)) a[i] = -Infinity; });
  row(2)[5] = NaN;
  row(3).fill(NaN, v - 4);
  row(4).fill(NaN, 0, 4);
  row(5).fill(-Infinity);
  row(7).fill(-Infinity, 0, v >> 2);
  const tokens = Int32Array.of(v - 1, Math.min(...kept), 0, 0, v - 1, 0, 1, 3);
  const bits = dtype === 'bf16' ? Uint16Array.from(x, toBf16) : undefined;
  if (bits) x.set(Float32Array.from(bits, fromBf16)); // the reference sees the rounded values
  // log-softmax of the finite entries, in float64
  const reference = Array.from({ length: n }, (_, t) => {
    const z = row(t);
    if (z.some(Number.isNaN) || !z.some(Number.isFinite)) return null;
    const m = z.reduce((a, b) => Math.max(a, b), -Infinity);
    const lse = m + Math.log(z.reduce((a, b) => a + Math.exp(b - m), 0));
    return z[tokens[t]] - lse;
  });
  return {
    n, v, x, tokens, offsets: Int32Array.from({ length: n + 1 }, (_, i) => i), adv: new Float32Array(n).fill(-1), kinds: [],
    data: bits ?? x, finiteLogp: reference.map((l) => l !== null), reference,
  };
}

/** How far from 0 a gradient row's sum may be: Σ|g| <= 2, each entry rounded to f32 or to bf16 (2^-9 relative). */
const sumTol = (dtype: 'f32' | 'bf16'): number => (dtype === 'bf16' ? 2 * 2 ** -9 : 1e-4);

/** The contract on one device's results for nonFiniteBatch (gradient of Σ log p). */
function expectNonFiniteContract(b: ReturnType<typeof nonFiniteBatch>, res: LogitsResult, grad: Float64Array, what: string, gradSumTol: number): void {
  const logp = f64(res.logProbs);
  const entropy = f64(res.entropy);
  for (let t = 0; t < b.n; t++) {
    const g = grad.subarray(t * b.v, (t + 1) * b.v);
    if (t !== 6) expect(entropy[t], `${what} row ${t} entropy`).to.be.NaN;
    else expect(entropy[t], `${what} row ${t} entropy`).to.be.within(0, Math.log(b.v));
    if (b.finiteLogp[t]) {
      const ref = b.reference[t] as number;
      if (ref === -Infinity) expect(logp[t], `${what} row ${t} log p`).to.equal(-Infinity);
      else expect(logp[t], `${what} row ${t} log p`).to.be.closeTo(ref, 1e-4 * Math.max(1, Math.abs(ref)));
      expect(g.every(Number.isFinite), `${what} row ${t}: a finite gradient`).to.equal(true);
      // d log p_y / dz = e_y − q: sums to 0, q = 0 on the −inf entries (the token's own too).
      expect(g.reduce((a, c) => a + c, 0), `${what} row ${t} gradient sum`).to.be.closeTo(0, gradSumTol);
      const z = b.x.subarray(t * b.v, (t + 1) * b.v);
      const y = b.tokens[t];
      expect(g.every((gi, i) => z[i] !== -Infinity || i === y || gi === 0), `${what} row ${t}: no gradient on masked entries`).to.equal(true);
      if (ref === -Infinity) {
        // q over the finite entries is their softmax, q_y = 0: the gradient is e_y − softmax.
        const m = z.reduce((a, c) => Math.max(a, c), -Infinity);
        const sum = z.reduce((a, c) => a + Math.exp(c - m), 0);
        const expected = Float64Array.from(z, (zi, i) => (i === y ? 1 : 0) - Math.exp(zi - m) / sum);
        expectClose(g, expected, { atol: 1e-6, rtol: 1e-2, what: `${what} row ${t} gradient` });
      }
    } else {
      expect(logp[t], `${what} row ${t} log p`).to.be.NaN;
      expect(g.every(Number.isNaN), `${what} row ${t}: a NaN gradient`).to.equal(true);
    }
  }
}

/**
 * topK 20 on rows with only 10 finite logits (indices 20..29 of V 37): the set is those 10 and the
 * first 10 −inf entries (ties go to the lower index). Row 0 samples −inf entry 4, inside the set:
 * log p = −inf and the gradient is e_y − (softmax over the finite entries), zero elsewhere. Row 1
 * samples −inf entry 15, outside: the sentinel −1e4 and a zero row. Checks one device's results.
 */
function expectMaskedTokenTopK(device: 'cpu' | 'cuda'): void {
  const v = 37;
  const n = 2;
  const x = new Float32Array(n * v).fill(-Infinity);
  const r = rng(seed + 37);
  for (let t = 0; t < n; t++) for (let i = 20; i < 30; i++) x[t * v + i] = 4 * r() - 2;
  const b: Batch = { n, v, x, tokens: Int32Array.of(4, 15), offsets: Int32Array.of(0, 1, 2), adv: Float32Array.of(-1, -1), kinds: [] };
  const h = inputs(b, device);
  const res = logits(h.logits, h.tokens, h.offsets, h.advantages, { topK: 20 });
  const ones = tensor(new Float32Array(n).fill(1), [n], { device });
  const grad = gradientValues(logitsBackward(h.logits, h.tokens, h.offsets, h.advantages, ones, { topK: 20, forward: res }));
  expect(Array.from(res.logProbs.toArray()), `${device} log p`).to.deep.equal([-Infinity, -1e4]);
  const z = x.subarray(0, v);
  const m = z.reduce((a, c) => Math.max(a, c), -Infinity);
  const sum = z.reduce((a, c) => a + Math.exp(c - m), 0);
  const expected = Float64Array.from({ length: n * v }, (_, i) => (i >= v ? 0 : (i === 4 ? 1 : 0) - Math.exp(z[i] - m) / sum));
  expectClose(grad, expected, { atol: 1e-6, rtol: 1e-4, what: `${device} gradient` });
  // In place (the gradient over the logits): the row's values are all read before any is written.
  for (const topK of [20, 0]) {
    const fwd = logits(h.logits, h.tokens, h.offsets, h.advantages, { topK });
    const want = gradientValues(logitsBackward(h.logits, h.tokens, h.offsets, h.advantages, ones, { topK, forward: fwd }));
    const copy = tensor(Float32Array.from(x), [n, v], { device }); // a CPU tensor wraps its array: copy it
    logitsBackward(copy, h.tokens, h.offsets, h.advantages, ones, { topK, forward: fwd, inPlace: true });
    expect(Array.from(gradientValues(copy)), `${device} topK ${topK} in place`).to.deep.equal(Array.from(want));
    disposeAll(fwd, copy);
  }
  disposeAll(h, res, ones);
}

// ---- CPU -----------------------------------------------------------------------------------------

describe(`era.logits CPU (seed ${seed})`, () => {
  const kinds: Kind[] = ['low', 'high', 'mid', 'random', 'low', 'high', 'mid', 'low', 'random'];
  const lengths = [5, 7, 1, 4, 1, 3, 6, 0, 9];

  const configs: { name: string; opts: LogitsOptions }[] = [
    { name: 'defaults', opts: {} },
    { name: 'topK 20', opts: { topK: 20 } },
    { name: 'temperature 0.7', opts: { temperature: 0.7 } },
    { name: 'rescaleAdvantages', opts: { rescaleAdvantages: true } },
    { name: "mode 'reference'", opts: { mode: 'reference' } },
    { name: 'k 3, topFraction 0.5, topK 5', opts: { k: 3, topFraction: 0.5, topK: 5 } },
    { name: "mode 'reference' with topK 0 (explicit options win)", opts: { mode: 'reference', topK: 0 } },
  ];
  for (const { name, opts } of configs) {
    it(`forward matches the float64 reference (${name}; V = 67, ragged, empty and 1-token responses)`, () => {
      const b = makeBatch(lengths, kinds, 67, seed + 1, { temperature: opts.temperature });
      const inp = inputs(b);
      const res = logits(inp.logits, inp.tokens, inp.offsets, inp.advantages, opts);
      const ref = refForward(b.x, b.n, b.v, b.tokens, b.offsets, b.adv, refOptions(opts));
      compareForward(res, ref, name);
      expect(ref.responseEntropy[7], 'empty response').to.equal(0);
      disposeAll(res, inp);
    });
  }

  it('forward covers all three scales and both sides of the top-k', () => {
    const b = makeBatch(lengths, kinds, 67, seed + 1, { advs: [1, 1, 1, 1, 1, 1, 1, 1, 1] });
    const inp = inputs(b);
    const res = logits(inp.logits, inp.tokens, inp.offsets, inp.advantages, { topK: 20 });
    const c = new Set(Array.from(res.scale.toArray()));
    expect([...c].sort()).to.deep.equal([0.5, 1, 2]);
    const lp = Array.from(res.logProbs.toArray());
    expect(lp.some((l) => l === -1e4), 'a token outside the top 20').to.equal(true);
    expect(lp.some((l) => l > -1e4), 'a token inside the top 20').to.equal(true);
    disposeAll(res, inp);
  });

  for (const topK of [0, 20]) {
    for (const temperature of [1, 0.7]) {
      it(`backward matches float64 finite differences (topK ${topK}, temperature ${temperature}; c = k, 1/k, 1)`, () => {
        const v = 64; // uniform rows have H ≈ log 64 = 4.16 > omegaHigh
        const ks: Kind[] = ['low', 'high', 'mid', 'low', 'high'];
        const b = makeBatch([3, 3, 3, 1, 2], ks, v, seed + 2 + topK + temperature * 10, { temperature, advs: [1.5, 0.7, 2, -1, 1] });
        // Tokens at chosen ranks: inside the top 20 (ranks 0, 5, 19) and outside (20, 40).
        const ranks = [0, 5, 19, 20, 40, 0, 19, 3, 20, 0, 40, 7];
        for (let t = 0; t < b.n; t++) {
          const idx = Array.from({ length: v }, (_, i) => i).sort((p, q) => b.x[t * v + q] - b.x[t * v + p] || p - q);
          b.tokens[t] = idx[ranks[t]];
        }
        const opts: LogitsOptions = { topK, temperature };
        const ro = refOptions(opts);
        const g = Float32Array.from({ length: b.n }, (_, t) => ((t * 7919) % 13) / 6 - 1);
        const inp = inputs(b);
        const gT = cpuT(g, [b.n]);
        const res = logits(inp.logits, inp.tokens, inp.offsets, inp.advantages, opts);
        const scales = new Set(Array.from(res.scale.toArray()));
        expect([...scales].sort(), 'scales present').to.deep.equal([0.5, 1, 2]);
        const grad = logitsBackward(inp.logits, inp.tokens, inp.offsets, inp.advantages, gT, { ...opts, forward: res });
        const x64 = Float64Array.from(b.x);
        const fd = finiteDifferences((xx) => {
          const o = refForward(xx, b.n, v, b.tokens, b.offsets, b.adv, ro);
          let s = 0; // sentinel rows are constant: left out so their -1e4 does not cost precision
          for (let t = 0; t < b.n; t++) if (o.logp[t] !== -1e4) s += g[t] * o.logp[t];
          return s;
        }, x64, 1e-6);
        expectClose(f64(grad), fd, { atol: 2e-6, rtol: 1e-4, what: 'gradient' });
        if (topK > 0) {
          const lp = res.logProbs.toArray();
          const gd = grad.toArray();
          let outside = 0;
          for (let t = 0; t < b.n; t++) {
            if (lp[t] !== -1e4) continue;
            outside++;
            for (let i = 0; i < v; i++) expect(gd[t * v + i], 'zero gradient outside the top-k').to.equal(0);
          }
          expect(outside).to.be.greaterThan(0);
        }
        disposeAll(res, inp, gT, grad);
      });
    }
  }

  it('backward without the forward result, and in place, give the same gradient', () => {
    const b = makeBatch([4, 2, 3], ['low', 'high', 'mid'], 41, seed + 3);
    const g = Float32Array.from({ length: b.n }, (_, i) => i / 3 - 1);
    for (const topK of [0, 20]) {
      const inp = inputs(b);
      const gT = cpuT(g, [b.n]);
      const res = logits(inp.logits, inp.tokens, inp.offsets, inp.advantages, { topK });
      const a = logitsBackward(inp.logits, inp.tokens, inp.offsets, inp.advantages, gT, { topK, forward: res });
      const c = logitsBackward(inp.logits, inp.tokens, inp.offsets, inp.advantages, gT, { topK });
      expect(Array.from(c.toArray())).to.deep.equal(Array.from(a.toArray()));
      const same = logitsBackward(inp.logits, inp.tokens, inp.offsets, inp.advantages, gT, { topK, forward: res, inPlace: true });
      expect(same).to.equal(inp.logits);
      expect(Array.from(inp.logits.toArray())).to.deep.equal(Array.from(a.toArray()));
      disposeAll(res, inp, gT, a, c);
    }
  });

  describe('§2.4 advantage test (m correct of 8: A = sqrt(7(8−m)/(8m)))', () => {
    const ms = [1, 2, 3, 4, 5, 6, 7];
    const pos = ms.map((m) => Math.sqrt((7 * (8 - m)) / (8 * m)));
    const neg = ms.map((m) => -Math.sqrt((7 * m) / (8 * (8 - m))));
    it('table values', () => {
      expectClose(pos, [2.47, 1.62, 1.21, 0.94, 0.72, 0.54, 0.35], { atol: 0.006, rtol: 0, what: 'A(m)' });
    });
    for (const kind of ['low', 'high'] as const) {
      it(`${kind} entropy: 'reference' scales only m <= 3, 'positive' every m <= 7, negatives never`, () => {
        const advs = [...pos, ...neg];
        const b = makeBatch(advs.map(() => 3), advs.map(() => kind), 64, seed + 4, { advs });
        const inp = inputs(b);
        const fired = kind === 'low' ? 2 : 0.5;
        for (const test of ['reference', 'positive'] as const) {
          const res = logits(inp.logits, inp.tokens, inp.offsets, inp.advantages, { advantageTest: test, rescaleAdvantages: true });
          const sc = res.scale.toArray();
          const ad = res.advantages.toArray();
          advs.forEach((a, r) => {
            const m = r < 7 ? ms[r] : 0;
            const expectFire = a > 0 && (test === 'positive' || m <= 3);
            for (let j = 0; j < 3; j++) {
              expect(sc[3 * r + j], `scale, ${test}, A = ${a.toFixed(2)}`).to.equal(expectFire ? fired : 1);
              // §2.5 uses the float test A > 0 whatever advantageTest says.
              const want = a > 0 ? (kind === 'low' ? Math.fround(a) / 2 : Math.fround(a) * 2) : Math.fround(a);
              expect(ad[3 * r + j]).to.be.closeTo(want, 1e-6);
            }
          });
          disposeAll(res);
        }
        disposeAll(inp);
      });
    }
    it("mode 'reference' uses the truncating test", () => {
      const b = makeBatch([2, 2], ['low', 'low'], 30, seed + 5, { advs: [0.94, 1.21] });
      const inp = inputs(b);
      const res = logits(inp.logits, inp.tokens, inp.offsets, inp.advantages, { mode: 'reference' });
      expect(Array.from(res.scale.toArray())).to.deep.equal([1, 1, 2, 2]);
      disposeAll(res, inp);
    });
  });

  it('invariants on random inputs: log p <= 0, 0 <= H <= log V, H_resp within its tokens, §2.5 advantages', () => {
    for (let trial = 0; trial < 4; trial++) {
      const v = [7, 33, 100, 257][trial];
      const r = rng(seed + 10 + trial);
      const lengths = Array.from({ length: 12 }, () => Math.floor(r() * 6) + (r() < 0.2 ? 0 : 1));
      const ks = lengths.map(() => (['low', 'mid', 'high', 'random'] as Kind[])[Math.floor(r() * 4)]);
      const b = makeBatch(lengths, ks, v, seed + 20 + trial);
      const inp = inputs(b);
      for (const opts of [{ rescaleAdvantages: true }, { mode: 'reference' as const, rescaleAdvantages: true, temperature: 0.8 }]) {
        const res = logits(inp.logits, inp.tokens, inp.offsets, inp.advantages, opts);
        const lp = res.logProbs.toArray();
        const h = res.entropy.toArray();
        const hr = res.responseEntropy.toArray();
        const sc = res.scale.toArray();
        const ad = res.advantages.toArray();
        for (let t = 0; t < b.n; t++) {
          expect(lp[t]).to.be.at.most(0);
          expect(h[t]).to.be.within(0, Math.log(v) + 1e-6);
          expect([1, 2, 0.5]).to.include(sc[t]);
        }
        for (let q = 0; q < lengths.length; q++) {
          const lo = b.offsets[q];
          const hi = b.offsets[q + 1];
          if (hi === lo) {
            expect(hr[q]).to.equal(0);
            continue;
          }
          const hs = Array.from(h.subarray(lo, hi));
          expect(hr[q]).to.be.within(Math.min(...hs) - 1e-6, Math.max(...hs) + 1e-6);
          const f = b.adv[lo] > 0 ? (hr[q] < 0.45 ? 0.5 : hr[q] > 3 ? 2 : 1) : 1;
          for (let t = lo; t < hi; t++) expect(ad[t]).to.equal(Math.fround(b.adv[t] * f));
        }
        disposeAll(res);
      }
      disposeAll(inp);
    }
  });

  it('bf16 logits give exactly the f32 results on the bf16-rounded values', () => {
    const b = makeBatch([3, 1, 4, 2], ['low', 'high', 'mid', 'random'], 45, seed + 6);
    const bits = Uint16Array.from(b.x, toBf16);
    const rounded = Float32Array.from(bits, fromBf16);
    const g = Float32Array.from({ length: b.n }, (_, i) => 1 - i / 4);
    for (const opts of [{}, { mode: 'reference' as const }, { temperature: 0.6, topK: 3 }]) {
      const a = inputs(b, 'cpu', rounded);
      const h = inputs(b, 'cpu', bits, 'bf16');
      const gT = cpuT(g, [b.n]);
      const ra = logits(a.logits, a.tokens, a.offsets, a.advantages, opts);
      const rh = logits(h.logits, h.tokens, h.offsets, h.advantages, opts);
      for (const key of ['logProbs', 'entropy', 'responseEntropy', 'scale', 'advantages'] as const) {
        expect(Array.from(rh[key].toArray()), key).to.deep.equal(Array.from(ra[key].toArray()));
      }
      const ga = logitsBackward(a.logits, a.tokens, a.offsets, a.advantages, gT, { ...opts, forward: ra });
      const gh = logitsBackward(h.logits, h.tokens, h.offsets, h.advantages, gT, { ...opts, forward: rh });
      expect(gh.dtype).to.equal('bf16');
      expect(Array.from(gh.toArray())).to.deep.equal(Array.from(ga.toArray() as Float32Array, toBf16));
      disposeAll(a, h, gT, ra, rh, ga, gh);
    }
  });

  it('edge shapes: N = 1, V = 1, V not a multiple of 8, no rows, topK >= V', () => {
    // V = 1: probability 1, entropy 0, log p 0 at every scale.
    const one = inputs({ n: 1, v: 1, x: Float32Array.of(3), tokens: Int32Array.of(0), offsets: Int32Array.of(0, 1), adv: Float32Array.of(2), kinds: [] });
    const r1 = logits(one.logits, one.tokens, one.offsets, one.advantages);
    expect(Array.from(r1.logProbs.toArray())).to.deep.equal([0]);
    expect(Array.from(r1.entropy.toArray())).to.deep.equal([0]);
    expect(Array.from(r1.scale.toArray())).to.deep.equal([2]);
    const g1 = logitsBackward(one.logits, one.tokens, one.offsets, one.advantages, cpuT(Float32Array.of(1), [1]));
    expect(Array.from(g1.toArray(), Math.abs)).to.deep.equal([0]);
    disposeAll(one, r1, g1);
    // No rows at all (one empty response).
    const none = inputs({ n: 0, v: 5, x: new Float32Array(0), tokens: new Int32Array(0), offsets: Int32Array.of(0, 0), adv: new Float32Array(0), kinds: [] });
    const r0 = logits(none.logits, none.tokens, none.offsets, none.advantages);
    expect(r0.logProbs.shape).to.deep.equal([0]);
    expect(Array.from(r0.responseEntropy.toArray())).to.deep.equal([0]);
    disposeAll(none, r0);
    // topK >= V is the full row.
    const b = makeBatch([2, 3], ['mid', 'random'], 13, seed + 7);
    const inp = inputs(b);
    const full = logits(inp.logits, inp.tokens, inp.offsets, inp.advantages);
    const big = logits(inp.logits, inp.tokens, inp.offsets, inp.advantages, { topK: 13 });
    expect(Array.from(big.logProbs.toArray())).to.deep.equal(Array.from(full.logProbs.toArray()));
    disposeAll(inp, full, big);
  });

  it('non-finite logits: −inf (a masked vocabulary) leaves log p and its gradient finite, NaN makes them NaN', () => {
    for (const v of [4099, 64]) {
      for (const dtype of ['f32', 'bf16'] as const) {
        const b = nonFiniteBatch(v, seed + v, dtype);
        const h = inputs(b, 'cpu', b.data, dtype === 'bf16' ? 'bf16' : undefined);
        const res = logits(h.logits, h.tokens, h.offsets, h.advantages);
        const grad = logitsBackward(h.logits, h.tokens, h.offsets, h.advantages, cpuT(new Float32Array(b.n).fill(1), [b.n]), { forward: res });
        expectNonFiniteContract(b, res, gradientValues(grad), `cpu ${dtype} V ${v}`, sumTol(dtype));
        disposeAll(h, res, grad);
      }
    }
  });

  it('topK: a sampled token on a −inf logit gets log p = −inf and a finite gradient inside the set', () => {
    expectMaskedTokenTopK('cpu');
  });

  it('top-k ties go to the lower vocabulary index', () => {
    // Row: [5, 4, 4, 4, 1]; top-2 = {0, 1}: token 2 (tied with 1) is outside, token 1 inside.
    const x = Float32Array.of(5, 4, 4, 4, 1, 5, 4, 4, 4, 1);
    const inp = inputs({ n: 2, v: 5, x, tokens: Int32Array.of(1, 2), offsets: Int32Array.of(0, 2), adv: Float32Array.of(-1, -1), kinds: [] });
    const res = logits(inp.logits, inp.tokens, inp.offsets, inp.advantages, { topK: 2 });
    const lp = res.logProbs.toArray();
    expect(lp[0]).to.be.closeTo(4 - Math.log(Math.exp(5) + Math.exp(4)), 1e-6);
    expect(lp[1]).to.equal(-1e4);
    const g = logitsBackward(inp.logits, inp.tokens, inp.offsets, inp.advantages, cpuT(Float32Array.of(1, 1), [2]), { topK: 2 });
    const gd = g.toArray();
    const q0 = Math.exp(5) / (Math.exp(5) + Math.exp(4));
    expectClose(Array.from(gd.subarray(0, 5)), [-q0, q0, 0, 0, 0], { atol: 1e-6, what: 'row 0' });
    expect(Array.from(gd.subarray(5))).to.deep.equal([0, 0, 0, 0, 0]);
    disposeAll(inp, res, g);
  });

  describe('bad input', () => {
    const b = makeBatch([2, 3], ['mid', 'low'], 9, seed + 8);
    const good = () => inputs(b);
    const call = (over: Partial<ReturnType<typeof good>> = {}, opts?: LogitsOptions) => {
      const i = { ...good(), ...over };
      return () => logits(i.logits, i.tokens, i.offsets, i.advantages, opts);
    };
    const works = () => {
      const i = good();
      const res = logits(i.logits, i.tokens, i.offsets, i.advantages);
      expect(res.logProbs.shape).to.deep.equal([5]);
      disposeAll(i, res);
    };
    afterEach(works);

    it('wrong dtypes name the argument', () => {
      expect(call({ logits: cpuT(new Int32Array(45), [5, 9]) })).to.throw(TypeError, /for logits /);
      expect(call({ tokens: cpuT(Float32Array.from(b.tokens), [5]) })).to.throw(TypeError, /for tokens /);
      expect(call({ offsets: cpuT(Float32Array.from(b.offsets), [3]) })).to.throw(TypeError, /for offsets /);
      expect(call({ advantages: cpuT(Int32Array.of(1, 1, 1, 1, 1), [5]) })).to.throw(TypeError, /for advantages /);
      expect(call({ tokens: [1, 2] as unknown as Tensor })).to.throw(TypeError, /for tokens /);
    });

    it('token ids out of range are a RangeError naming tokens (CPU checks on the host)', () => {
      for (const bad of [-1, 9, 1 << 30]) {
        const y = Int32Array.from(b.tokens);
        y[3] = bad;
        expect(call({ tokens: cpuT(y, [5]) })).to.throw(RangeError, new RegExp(`for tokens but received ${bad} at index 3`));
      }
    });

    it('bad offsets are a RangeError naming offsets', () => {
      for (const off of [[0, 3, 2, 5].slice(0, 3), [0, 4, 3], [1, 2, 5], [0, 2, 4], [0, 2, 6], [0, -1, 5]]) {
        expect(call({ offsets: cpuT(Int32Array.from(off), [off.length]) }), `offsets ${off}`).to.throw(RangeError, /for offsets /);
      }
      expect(call({ offsets: cpuT(new Int32Array(0), [0]) })).to.throw(RangeError, /for offsets /);
      expect(call({ offsets: cpuT(Int32Array.of(0, 2, 5, 5), [2, 2]) })).to.throw(RangeError, /for offsets /);
    });

    it('wrong lengths and shapes name the argument', () => {
      expect(call({ logits: cpuT(new Float32Array(45), [45]) })).to.throw(RangeError, /for logits /);
      expect(call({ logits: cpuT(new Float32Array(0), [5, 0]) })).to.throw(RangeError, /for logits /);
      expect(call({ tokens: cpuT(Int32Array.of(1, 2, 3, 4), [4]) })).to.throw(RangeError, /for tokens /);
      expect(call({ advantages: cpuT(new Float32Array(6), [6]) })).to.throw(RangeError, /for advantages /);
      const i = good();
      expect(() => logitsBackward(i.logits, i.tokens, i.offsets, i.advantages, cpuT(new Float32Array(4), [4]))).to.throw(RangeError, /for gradLogProbs /);
      const res = logits(i.logits, i.tokens, i.offsets, i.advantages);
      expect(() => logitsBackward(i.logits, i.tokens, i.offsets, i.advantages, cpuT(new Float32Array(5), [5]), { forward: { scale: res.entropy, logProbs: res.responseEntropy } })).to.throw(RangeError, /for options\.forward\.logProbs /);
      disposeAll(i, res);
    });

    it('bad options name the option', () => {
      const cases: [LogitsOptions, ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor, RegExp][] = [
        [{ temperature: NaN }, RangeError, /for options\.temperature /],
        [{ temperature: 0 }, RangeError, /for options\.temperature /],
        [{ omegaLow: NaN }, RangeError, /for options\.omegaLow /],
        [{ omegaHigh: Infinity }, RangeError, /for options\.omegaHigh /],
        [{ omegaLow: 2, omegaHigh: 1 }, RangeError, /for options\.omegaHigh /],
        [{ k: 0 }, RangeError, /for options\.k /],
        [{ k: -2 }, RangeError, /for options\.k /],
        [{ k: NaN }, RangeError, /for options\.k /],
        [{ topFraction: 0 }, RangeError, /for options\.topFraction /],
        [{ topFraction: 1.5 }, RangeError, /for options\.topFraction /],
        [{ topK: 2.5 }, RangeError, /for options\.topK /],
        [{ topK: -1 }, RangeError, /for options\.topK /],
        [{ topK: 5000 }, RangeError, /for options\.topK /],
        [{ k: '2' as unknown as number }, TypeError, /for options\.k /],
        [{ advantageTest: 'floor' as 'positive' }, RangeError, /for options\.advantageTest /],
        [{ mode: 'code' as 'paper' }, RangeError, /for options\.mode /],
        [{ rescaleAdvantages: 1 as unknown as boolean }, TypeError, /for options\.rescaleAdvantages /],
      ];
      for (const [opts, cls, re] of cases) expect(call({}, opts), JSON.stringify(opts)).to.throw(cls, re);
      expect(call({}, 5 as unknown as LogitsOptions)).to.throw(TypeError, /for options /);
    });

    it('disposed tensors are an EraError naming the argument', () => {
      for (const name of ['logits', 'tokens', 'offsets', 'advantages'] as const) {
        const i = good();
        i[name].dispose();
        try {
          logits(i.logits, i.tokens, i.offsets, i.advantages);
          expect.fail('no error');
        } catch (err) {
          expect(err).to.be.instanceOf(EraError);
          expect((err as EraError).code).to.equal('ERA_DISPOSED');
          expect((err as Error).message).to.match(new RegExp(`for ${name} `));
        }
        disposeAll(i);
      }
    });

    it('the native layer checks again when the TS layer is bypassed', () => {
      const api = native() as unknown as Record<string, (...a: unknown[]) => void>;
      const i = good();
      const outs = [5, 5, 2, 5, 5].map((n) => empty([n], { device: 'cpu' }));
      const opts = { omegaLow: 0.45, omegaHigh: 3, k: 2, topFraction: 0.2, temperature: 1, topK: 0, referenceTest: false, rescaleAdvantages: false, validateIndices: true };
      const run = (o: Record<string, unknown>, over: Record<number, Tensor> = {}) => () => {
        const args = [i.logits, i.tokens, i.offsets, i.advantages, ...outs].map((t, j) => (over[j] ?? t).handle);
        api.eraLogitsForward(...args, o);
      };
      expect(run(opts)).to.not.throw();
      expect(run({ ...opts, k: 0 })).to.throw(RangeError, /for options\.k /);
      expect(run({ ...opts, k: undefined })).to.throw(TypeError, /for options\.k /);
      expect(run({ ...opts, topFraction: 2 })).to.throw(RangeError, /for options\.topFraction /);
      expect(run({ ...opts, topK: 1.5 })).to.throw(RangeError, /for options\.topK /);
      expect(run({ ...opts, temperature: NaN })).to.throw(RangeError, /for options\.temperature /);
      expect(run(opts, { 6: empty([3], { device: 'cpu' }) })).to.throw(RangeError, /for responseEntropy /);
      expect(run(opts, { 4: empty([5], { device: 'cpu', dtype: 'i32' }) })).to.throw(TypeError, /for logProbs /);
      expect(run(opts, { 0: cpuT(new Int32Array(45), [5, 9]) })).to.throw(TypeError, /for logits /);
      const y = Int32Array.from(b.tokens);
      y[0] = 99;
      expect(run(opts, { 1: cpuT(y, [5]) })).to.throw(RangeError, /for tokens /);
      expect(() => api.eraLogitsBackward(i.logits.handle, i.tokens.handle, outs[4].handle, outs[3].handle, outs[0].handle, empty([5, 8], { device: 'cpu' }).handle, opts)).to.throw(RangeError, /for grad /);
      // grad in place, or apart from the logits: one row shifted would overwrite rows not yet read.
      const v = i.logits.shape[1];
      const both = cpuT(new Float32Array(6 * v), [6 * v]);
      both.view(0, [5, v]).write(i.logits.toArray() as Float32Array);
      const backward = (lg: Tensor, gr: Tensor) => () => api.eraLogitsBackward(lg.handle, i.tokens.handle, outs[4].handle, outs[3].handle, outs[0].handle, gr.handle, opts);
      expect(backward(both.view(0, [5, v]), both.view(v, [5, v]))).to.throw(RangeError, /share memory with it for grad /);
      expect(backward(both.view(0, [5, v]), both.view(0, [5, v]))).to.not.throw();
      // Outputs apart from the inputs and from each other (the TS layer always passes fresh ones).
      expect(run(opts, { 8: i.advantages })).to.throw(RangeError, /share memory with advantages for advantagesOut /);
      expect(run(opts, { 5: outs[0] })).to.throw(RangeError, /share memory with logProbs for entropy /);
      expect(run(opts, { 7: i.logits.view(v - 2, [5]) })).to.throw(RangeError, /share memory with logits for scale /);
      const g = cpuT(new Float32Array(5 * v), [5, v]);
      expect(() => api.eraLogitsBackward(i.logits.handle, i.tokens.handle, outs[4].handle, g.view(2, [5]).handle, outs[0].handle, g.handle, opts)).to.throw(RangeError, /share memory with scale for grad /);
      expect(run(opts)).to.not.throw();
      disposeAll(i, ...outs, both);
    });
  });
});

// ---- CUDA ------------------------------------------------------------------------------------------

describeCuda(`era.logits CUDA vs CPU (seed ${seed})`, () => {
  const grid: [number, number][] = [[1, 7], [3, 1000], [37, 32003], [128, 151936], [16, 262144], [16384, 64]];

  /** Ragged response lengths summing to n, with 1-token responses. */
  function raggedLengths(n: number, s: number): number[] {
    const r = rng(s);
    const out: number[] = [];
    let left = n;
    while (left > 0) {
      const len = Math.min(left, r() < 0.25 ? 1 : 1 + Math.floor(r() * Math.max(1, Math.min(64, n / 3))));
      out.push(len);
      left -= len;
    }
    return out;
  }

  /** Tokens of responses whose H_resp sits within 1e-3 of a threshold (could round either way). */
  function ambiguous(ref: Float64Array, offsets: Int32Array): Set<number> {
    const out = new Set<number>();
    for (let q = 0; q + 1 < offsets.length; q++) {
      if (Math.abs(ref[q] - 0.45) < 1e-3 || Math.abs(ref[q] - 3) < 1e-3) for (let t = offsets[q]; t < offsets[q + 1]; t++) out.add(t);
    }
    return out;
  }

  const mask = (a: ArrayLike<number>, skip: Set<number>, v = 1): Float64Array =>
    Float64Array.from(a, (x, i) => (skip.has(Math.floor(i / v)) ? 0 : x));

  for (const [n, v] of grid) {
    for (const dtype of ['f32', 'bf16'] as const) {
      for (const topK of [0, 20]) {
        it(`N ${n}, V ${v}, ${dtype}, topK ${topK}: forward and backward match the CPU`, function () {
          this.timeout(300000);
          const lengths = raggedLengths(n, seed + n + v);
          const kinds = lengths.map((_, i) => (['low', 'mid', 'high', 'random'] as Kind[])[i % 4]);
          const temperature = n % 2 ? 1 : 0.8;
          const b = makeBatch(lengths, kinds, v, seed + 31 + v, { temperature });
          const bits = dtype === 'bf16' ? Uint16Array.from(b.x, toBf16) : undefined;
          const data = bits ?? b.x;
          const opts: LogitsOptions = { topK, temperature, rescaleAdvantages: true, k: n === 3 ? 3 : 2 };
          const g = Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1));
          const hc = inputs(b, 'cpu', data, bits ? 'bf16' : undefined);
          const hd = inputs(b, 'cuda', data, bits ? 'bf16' : undefined);
          const gc = cpuT(g, [n]);
          const gd = tensor(g, [n], { device: 'cuda' });
          const rc = logits(hc.logits, hc.tokens, hc.offsets, hc.advantages, opts);
          const rd = logits(hd.logits, hd.tokens, hd.offsets, hd.advantages, opts);
          const skip = ambiguous(f64(rc.responseEntropy), b.offsets);
          expect(skip.size, 'responses on a threshold').to.be.below(n / 4 + 1);
          // f32 outputs: 1e-4 (f32 accumulation over V against float64); bf16 inputs are exact in both.
          const tol = { atol: 1e-4, rtol: 1e-4 };
          expectClose(f64(rd.entropy), f64(rc.entropy), { ...tol, what: 'entropy' });
          expectClose(f64(rd.responseEntropy), f64(rc.responseEntropy), { ...tol, what: 'responseEntropy' });
          expectClose(mask(f64(rd.logProbs), skip), mask(f64(rc.logProbs), skip), { ...tol, what: 'logProbs' });
          expectClose(mask(f64(rd.scale), skip), mask(f64(rc.scale), skip), { atol: 0, rtol: 0, what: 'scale' });
          // a / k in f32 (CUDA) against float64 then rounded (CPU): at most one f32 ulp apart.
          expectClose(mask(f64(rd.advantages), skip), mask(f64(rc.advantages), skip), { atol: 0, rtol: 2.5e-7, what: 'advantages' });
          const gradC = logitsBackward(hc.logits, hc.tokens, hc.offsets, hc.advantages, gc, { ...opts, forward: rc });
          const gradD = logitsBackward(hd.logits, hd.tokens, hd.offsets, hd.advantages, gd, { ...opts, forward: rd, inPlace: true });
          expect(gradD).to.equal(hd.logits);
          // f32: |c G| <= 2 and q carries ~1e-6 relative error (ex2.approx, f32 exponent), so
          // 1e-5 absolute. bf16 outputs have 8 significant bits: CPU and CUDA may round the same
          // gradient to neighbouring bf16 values (one step = 2^-8 = 0.4% relative), hence 1e-2.
          const gtol = dtype === 'f32' ? { atol: 1e-5, rtol: 1e-4 } : { atol: 1e-5, rtol: 1e-2 };
          expectClose(mask(gradientValues(gradD), skip, v), mask(gradientValues(gradC), skip, v), { ...gtol, what: 'gradient' });
          disposeAll(hc, hd, gc, gd, rc, rd, gradC);
        });
      }
    }
  }

  // Each thread starts its running max at −inf: a thread whose first values are all −inf or NaN
  // must neither poison the row's sums (−inf − (−inf)) nor drop its NaN when merged.
  for (const v of [4099, 151936]) {
    for (const dtype of ['f32', 'bf16'] as const) {
      it(`non-finite logits (V ${v}, ${dtype}): the documented contract, as on the CPU`, () => {
        const b = nonFiniteBatch(v, seed + 3 * v, dtype);
        const results = (['cpu', 'cuda'] as const).map((device) => {
          const h = inputs(b, device, b.data, dtype === 'bf16' ? 'bf16' : undefined);
          const res = logits(h.logits, h.tokens, h.offsets, h.advantages);
          const ones = tensor(new Float32Array(b.n).fill(1), [b.n], { device });
          const grad = logitsBackward(h.logits, h.tokens, h.offsets, h.advantages, ones, { forward: res });
          const out = { res, grad: gradientValues(grad) };
          expectNonFiniteContract(b, res, out.grad, `${device} ${dtype} V ${v}`, sumTol(dtype));
          disposeAll(h, ones, grad);
          return out;
        });
        // Both met the contract, so their NaNs sit in the same rows: compare the rest.
        const [c, d] = results;
        const zeroNaN = (a: Float64Array) => a.map((x) => (Number.isNaN(x) ? 0 : x));
        expectClose(zeroNaN(f64(d.res.logProbs)), zeroNaN(f64(c.res.logProbs)), { atol: 1e-4, rtol: 1e-4, what: 'logProbs' });
        expectClose(zeroNaN(d.grad), zeroNaN(c.grad), { atol: 1e-5, rtol: dtype === 'f32' ? 1e-4 : 1e-2, what: 'gradient' });
        disposeAll(c.res, d.res);
      });
    }
  }

  it('topK: a sampled token on a −inf logit gets log p = −inf and a finite gradient inside the set, as on the CPU', () => {
    expectMaskedTokenTopK('cuda');
  });

  // Logits that are a view at an element offset, with the gradient written to a fresh tensor:
  // the rows' 16-byte boundaries fall at different elements in the two, so the vector stores may
  // not use the logits' alignment for the output (a misaligned store on a GPU).
  for (const [dtype, v, offset] of [['f32', 32003, 1], ['f32', 1024, 2], ['bf16', 50257, 3]] as const) {
    it(`${dtype} logits viewed at element offset ${offset} (V ${v}), gradient not in place: match the CPU`, () => {
      const lengths = [3, 1, 4];
      const b = makeBatch(lengths, ['mid', 'low', 'high'], v, seed + 50 + offset);
      const bits = dtype === 'bf16' ? Uint16Array.from(b.x, toBf16) : undefined;
      const hc = inputs(b, 'cpu', bits ?? b.x, bits ? 'bf16' : undefined);
      const hd = inputs(b, 'cuda', bits ?? b.x, bits ? 'bf16' : undefined);
      const padded = bits ? new Uint16Array(offset + b.n * v) : new Float32Array(offset + b.n * v);
      padded.set(bits ?? b.x, offset);
      const parent = tensor(padded, [padded.length], { device: 'cuda', ...(bits ? { dtype: 'bf16' as const } : {}) });
      const viewed = parent.view(offset, [b.n, v]);
      const g = Float32Array.from({ length: b.n }, (_, i) => Math.cos(i + 1));
      const gc = cpuT(g, [b.n]);
      const gd = tensor(g, [b.n], { device: 'cuda' });
      const rc = logits(hc.logits, hc.tokens, hc.offsets, hc.advantages);
      const rd = logits(viewed, hd.tokens, hd.offsets, hd.advantages);
      expectClose(f64(rd.logProbs), f64(rc.logProbs), { atol: 1e-4, rtol: 1e-4, what: 'logProbs' });
      const gradC = logitsBackward(hc.logits, hc.tokens, hc.offsets, hc.advantages, gc, { forward: rc });
      const gradD = logitsBackward(viewed, hd.tokens, hd.offsets, hd.advantages, gd, { forward: rd });
      expectClose(gradientValues(gradD), gradientValues(gradC), { atol: 1e-5, rtol: dtype === 'f32' ? 1e-4 : 1e-2, what: 'gradient' });
      expect(Array.from(viewed.toArray().subarray(0, 8)), 'the logits are untouched').to.deep.equal(Array.from((bits ?? b.x).subarray(0, 8)));
      disposeAll(hc, hd, gc, gd, rc, rd, gradC, gradD, parent);
    });
  }

  // The top-k set's slots follow index order, not the order threads get there (which varies on a
  // GPU, and under ERA_SIM_ORDER=shuffle), so its sums are the same bits every run.
  it('topK 20: forward and backward give the same bits run to run (any thread order)', () => {
    // Logits ~ N(0, 3²): the top 20 differ enough that summing them in another order changes bits.
    const n = 32;
    const v = 32003;
    const drawn = normal([n * v], { seed: seed + 60, device: 'cpu', std: 3 });
    const x = drawn.toArray() as Float32Array;
    const argmax = Int32Array.from({ length: n }, (_, r) => {
      let best = 0;
      for (let i = 1; i < v; i++) if (x[r * v + i] > x[r * v + best]) best = i;
      return best; // in the top-k set, so its log-prob is not the sentinel
    });
    const d = {
      logits: tensor(x, [n, v], { device: 'cuda' }),
      tokens: tensor(argmax, [n], { device: 'cuda' }),
      offsets: tensor(Int32Array.from([0, 8, 9, 20, 32]), [5], { device: 'cuda' }),
      advantages: tensor(Float32Array.from({ length: n }, (_, i) => (i % 3) - 0.5), [n], { device: 'cuda' }),
    };
    const g = tensor(Float32Array.from({ length: n }, (_, i) => 1 - 0.1 * i), [n], { device: 'cuda' });
    const runs = [0, 1, 2].map(() => {
      const r = logits(d.logits, d.tokens, d.offsets, d.advantages, { topK: 20 });
      const grad = logitsBackward(d.logits, d.tokens, d.offsets, d.advantages, g, { topK: 20, forward: r });
      const out = { logProbs: Array.from(r.logProbs.toArray()), grad: Array.from(grad.toArray()) };
      disposeAll(r, grad);
      return out;
    });
    expect(runs[0].logProbs.every((lp) => lp > -100), 'no sentinel log-probs').to.equal(true);
    for (const r of runs.slice(1)) {
      expect(r.logProbs).to.deep.equal(runs[0].logProbs);
      expect(r.grad).to.deep.equal(runs[0].grad);
    }
    disposeAll(d, g, drawn);
  });

  it('k = 2 and general k paths agree with the CPU on the same data (k = 2.5, 1)', () => {
    const b = makeBatch([5, 3, 8], ['low', 'high', 'mid'], 1531, seed + 40);
    for (const k of [2.5, 1]) {
      const hc = inputs(b);
      const hd = inputs(b, 'cuda');
      const rc = logits(hc.logits, hc.tokens, hc.offsets, hc.advantages, { k });
      const rd = logits(hd.logits, hd.tokens, hd.offsets, hd.advantages, { k });
      expectClose(f64(rd.logProbs), f64(rc.logProbs), { atol: 1e-4, rtol: 1e-4, what: `logProbs k ${k}` });
      disposeAll(hc, hd, rc, rd);
    }
  });

  it('device mismatch is a TypeError naming the argument', () => {
    const b = makeBatch([2, 1], ['mid', 'low'], 10, seed + 41);
    const d = inputs(b, 'cuda');
    const c = inputs(b, 'cpu');
    expect(() => logits(d.logits, c.tokens, d.offsets, d.advantages)).to.throw(TypeError, /for tokens /);
    expect(() => logits(d.logits, d.tokens, c.offsets, d.advantages)).to.throw(TypeError, /for offsets /);
    expect(() => logits(d.logits, d.tokens, d.offsets, c.advantages)).to.throw(TypeError, /for advantages /);
    expect(() => logitsBackward(d.logits, d.tokens, d.offsets, d.advantages, cpuT(new Float32Array(3), [3]))).to.throw(TypeError, /for gradLogProbs /);
    const res = logits(d.logits, d.tokens, d.offsets, d.advantages);
    expect(res.logProbs.device).to.equal('cuda');
    disposeAll(d, c, res);
  });

  it('bad tokens and offsets on CUDA: RangeError before any write; validateIndices false never reads out of bounds', () => {
    const b = makeBatch([2, 3], ['mid', 'low'], 300, seed + 42);
    const y = Int32Array.from(b.tokens);
    y[4] = 300;
    const d = inputs(b, 'cuda');
    const badY = tensor(y, [5], { device: 'cuda' });
    const g = tensor(new Float32Array(5).fill(1), [5], { device: 'cuda' });
    expect(() => logits(d.logits, badY, d.offsets, d.advantages)).to.throw(RangeError, /for tokens but received 300 at index 4/);
    const res = logits(d.logits, d.tokens, d.offsets, d.advantages);
    expect(() => logitsBackward(d.logits, badY, d.offsets, d.advantages, g, { forward: res, inPlace: true })).to.throw(RangeError, /for tokens /);
    expect(Array.from(d.logits.toArray())).to.deep.equal(Array.from(b.x));
    const badO = tensor(Int32Array.of(0, 3, 2), [3], { device: 'cuda' });
    expect(() => logits(d.logits, d.tokens, badO, d.advantages)).to.throw(RangeError, /for offsets but received offsets\[2\] = 2/);
    const noCheck = logits(d.logits, badY, badO, d.advantages, { validateIndices: false }); // clamped: no crash
    disposeAll(noCheck);
    for (const topK of [0, 20]) {
      const unchecked = logits(d.logits, badY, d.offsets, d.advantages, { validateIndices: false, topK });
      expect(Number.isNaN(unchecked.logProbs.toArray()[4])).to.equal(true);
      const gu = logitsBackward(d.logits, badY, d.offsets, d.advantages, g, { validateIndices: false, topK, forward: unchecked });
      expect(Number.isNaN(gu.toArray()[4 * 300])).to.equal(true);
      disposeAll(unchecked, gu);
    }
    const ok = logits(d.logits, d.tokens, d.offsets, d.advantages);
    expectClose(f64(ok.logProbs), f64(res.logProbs), { atol: 0, rtol: 0, what: 'valid call afterwards' });
    disposeAll(d, badY, g, res, badO, ok);
  });

  it('the backward trusts the check of a forward on the same tokens tensor, and only that', () => {
    const b = makeBatch([2, 3], ['mid', 'low'], 300, seed + 43);
    const d = inputs(b, 'cuda');
    const g = tensor(new Float32Array(5).fill(1), [5], { device: 'cuda' });
    const y = Int32Array.from(b.tokens);
    y[4] = 300;
    const checked = logits(d.logits, d.tokens, d.offsets, d.advantages);
    const unchecked = logits(d.logits, d.tokens, d.offsets, d.advantages, { validateIndices: false });
    const good = logitsBackward(d.logits, d.tokens, d.offsets, d.advantages, g, { forward: checked });
    d.tokens.write(y); // changed after the checked forward
    // The checked forward's tokens tensor: no second check; the changed row is NaN, never an out-of-bounds read.
    const trusted = logitsBackward(d.logits, d.tokens, d.offsets, d.advantages, g, { forward: checked });
    const rows = trusted.toArray();
    expect(Number.isNaN(rows[4 * 300])).to.equal(true);
    expect(Array.from(rows.subarray(0, 4 * 300))).to.deep.equal(Array.from(good.toArray().subarray(0, 4 * 300)));
    // A forward that did not check, or no forward: the backward checks itself.
    expect(() => logitsBackward(d.logits, d.tokens, d.offsets, d.advantages, g, { forward: unchecked })).to.throw(RangeError, /for tokens but received 300 at index 4/);
    expect(() => logitsBackward(d.logits, d.tokens, d.offsets, d.advantages, g)).to.throw(RangeError, /for tokens but received 300 at index 4/);
    // The same tokens checked against a larger vocabulary: not trusted for a smaller one. Every
    // other token is kept below 299, so index 4 is the first out of range (the random batch
    // draws tokens in [0, 300): 299 elsewhere made this fail for about one seed in 75).
    d.tokens.write(Int32Array.from(b.tokens).map((t, i) => (i === 4 ? 299 : t % 299)));
    const wide = tensor(new Float32Array(5 * 400).map((_, i) => Math.sin(i)), [5, 400], { device: 'cuda' });
    const wideFwd = logits(wide, d.tokens, d.offsets, d.advantages);
    const narrow = tensor(new Float32Array(5 * 299).map((_, i) => Math.cos(i)), [5, 299], { device: 'cuda' });
    expect(() => logitsBackward(narrow, d.tokens, d.offsets, d.advantages, g, { forward: wideFwd })).to.throw(RangeError, /for tokens but received 299 at index 4/);
    disposeAll(wide, wideFwd, narrow);
    disposeAll(d, g, checked, unchecked, good, trusted);
  });
});

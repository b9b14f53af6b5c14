/**
 * era.gaussian / era.gaussianBackward (era-spec §1.2-1.3): a float64 reference written here, the
 * CPU kernels against it and against central finite differences (clips active included), the
 * entropy identity, bad input, and CUDA against CPU.
 */
import { expect } from 'chai';

import { EraError } from '../lib/errors.js';
import { gaussian, gaussianBackward, gaussianParams, HALF_LOG_2PI_E, type GaussianOptions } from '../lib/era/gaussian.js';
import { native } from '../lib/native.js';
import { empty, tensor, type Tensor } from '../lib/tensor.js';
import { describeCuda, expectClose, expectOneLaunchEach, expectThrowsNaming, finiteDifferences, randomArray, randomNormal64, testSeed } from './helpers.js';

const seed = testSeed();
const C = 0.5 * Math.log(2 * Math.PI * Math.E);

interface Ref {
  target: number; // H0' (delta included)
  lo: number;
  hi: number;
  clipUpper: boolean;
}

/** K = H0' − D (ℓmax + ½ ln 2πe), written independently of lib/era/gaussian.ts. */
const kOf = (d: number, r: Ref): number => r.target - d * (r.hi + C);

/** ℓpre in float64 (before the clip). */
function refPre(raw: ArrayLike<number>, b: number, d: number, r: Ref): Float64Array {
  const out = new Float64Array(b * d);
  const k = kOf(d, r);
  for (let i = 0; i < b; i++) {
    let m = -Infinity;
    for (let j = 0; j < d; j++) m = Math.max(m, raw[i * d + j]);
    let s = 0;
    for (let j = 0; j < d; j++) s += Math.exp(raw[i * d + j] - m);
    for (let j = 0; j < d; j++) out[i * d + j] = k * (Math.exp(raw[i * d + j] - m) / s) + r.hi;
  }
  return out;
}

/** log σ in float64: ℓpre clipped below (and above in 'reference' mode). */
function refForward(raw: ArrayLike<number>, b: number, d: number, r: Ref): Float64Array {
  return refPre(raw, b, d, r).map((l) => {
    let v = Math.max(l, r.lo);
    if (r.clipUpper) v = Math.min(v, r.hi);
    return v;
  });
}

const cpu = (data: Float32Array, shape: number[]): Tensor => tensor(data, shape, { device: 'cpu' });
const f64 = (t: Tensor): Float64Array => Float64Array.from(t.toArray() as Float32Array);

/** Raw rows: random normals, plus rows built so the lower clip fires (one or two large entries). */
function rawWithClips(b: number, d: number, s: number): Float32Array {
  const raw = Float32Array.from(randomNormal64(b * d, s));
  if (b >= 2 && d >= 4) {
    raw[(b - 1) * d + 3] = 6; // one dominant dim: w ≈ 1, ℓpre far below −8
    raw[(b - 2) * d + 0] = 4.5; // two large dims (w ≈ 0.43 each for D = 21)
    raw[(b - 2) * d + 1] = 4.5;
  }
  return raw;
}

/** The smallest distance of any ℓpre from an active bound (finite differences need it > h). */
function kinkDistance(pre: Float64Array, r: Ref): number {
  let m = Infinity;
  for (const l of pre) {
    m = Math.min(m, Math.abs(l - r.lo));
    if (r.clipUpper) m = Math.min(m, Math.abs(l - r.hi));
  }
  return m;
}

/**
 * Outputs that share memory with an input (zero-copy views of one block, on `device`): RangeError
 * naming options.out (and the input), before anything runs; a valid call works afterwards. Neither
 * op runs in place, so out = raw exactly is refused too.
 */
function expectAliasedOutputsRejected(device: 'cpu' | 'cuda'): void {
  const [b, d] = [2, 6];
  const block = tensor(randomArray(5 * d, seed + 950), [5, d], { device });
  const raw = block.view(0, [b, d]);
  const g = block.view(3 * d, [b, d]);
  const cases: [string, () => unknown, RegExp][] = [
    ['gaussian: out one element past raw', () => gaussian(raw, { out: block.view(1, [b, d]) }), /memory with raw /],
    ['gaussian: out = raw', () => gaussian(raw, { out: raw }), /memory with raw /],
    ['gaussianBackward: out overlapping raw', () => gaussianBackward(raw, g, { out: block.view(d, [b, d]) }), /memory with raw /],
    ['gaussianBackward: out overlapping gradLogStd', () => gaussianBackward(raw, g, { out: block.view(2 * d, [b, d]) }), /memory with gradLogStd /],
    ['gaussianBackward: out = gradLogStd', () => gaussianBackward(raw, g, { out: g }), /memory with gradLogStd /],
  ];
  const before = Float32Array.from(block.toArray() as Float32Array);
  for (const [what, fn, also] of cases) {
    expectThrowsNaming(fn, RangeError, 'options.out', { also });
    expect(Array.from(block.toArray() as Float32Array), `${what}: nothing written`).to.deep.equal(Array.from(before));
  }
  expect(f64(gaussian(raw, { out: empty([b, d], { device }) })).every(Number.isFinite)).to.equal(true);
  expect(f64(gaussianBackward(raw, g, { out: empty([b, d], { device }) })).every(Number.isFinite)).to.equal(true);
}

describe(`era.gaussian (seed ${seed}; ERA_TEST_SEED=${seed} replays)`, () => {
  const defaults: Ref = { target: 0, lo: -8, hi: 0, clipUpper: false };
  const cases: { name: string; opts: GaussianOptions; ref: (d: number) => Ref }[] = [
    { name: 'defaults (paper)', opts: {}, ref: (d) => ({ ...defaults, target: 0.25 * d }) },
    { name: 'reference mode', opts: { mode: 'reference' }, ref: (d) => ({ ...defaults, target: 0.25 * d, clipUpper: true }) },
    { name: 'entropyPerDim −0.5, delta 0.7', opts: { entropyPerDim: -0.5, delta: 0.7 }, ref: (d) => ({ ...defaults, target: -0.5 * d + 0.7 }) },
    { name: 'targetEntropy 3, logStd in [−5, 0.5]', opts: { targetEntropy: 3, logStdMin: -5, logStdMax: 0.5 }, ref: () => ({ target: 3, lo: -5, hi: 0.5, clipUpper: false }) },
    // K > 0: ℓpre ≥ ℓmax everywhere, so the modes differ: 'paper' leaves it, 'reference' caps it.
    { name: 'K > 0, paper', opts: { entropyPerDim: 2 }, ref: (d) => ({ ...defaults, target: 2 * d }) },
    { name: 'K > 0, reference', opts: { entropyPerDim: 2, mode: 'reference' }, ref: (d) => ({ ...defaults, target: 2 * d, clipUpper: true }) },
  ];

  describe('CPU forward matches the float64 reference', () => {
    for (const [ci, c] of cases.entries()) {
      for (const d of [1, 6, 21, 61]) {
        it(`${c.name}, D=${d}`, () => {
          const b = 9;
          const raw = rawWithClips(b, d, seed + 100 * ci + d);
          const out = gaussian(cpu(raw, [b, d]), c.opts);
          expect(out.device).to.equal('cpu');
          expect(out.shape).to.deep.equal([b, d]);
          expectClose(f64(out), refForward(raw, b, d, c.ref(d)), { atol: 1e-6, rtol: 1e-6, what: 'log std' });
        });
      }
    }

    it('resolves the options as documented', () => {
      const p = gaussianParams(21, {});
      expect(p.targetEntropy).to.equal(0.25 * 21);
      expect(p.k).to.be.closeTo(-1.168939 * 21, 1e-5);
      expect(HALF_LOG_2PI_E).to.be.closeTo(1.4189385, 1e-7);
      expect(gaussianParams(6, { targetEntropy: 2, delta: 0.5 }).targetEntropy).to.equal(2.5);
      // reference mode: `log_std_min or LOG_STD_MIN` turns 0 into the default.
      const q = gaussianParams(6, { mode: 'reference', logStdMin: 0 });
      expect([q.logStdMin, q.logStdMax, q.clipUpper]).to.deep.equal([-8, 0, true]);
      // era-spec §1.2: the lower clip fires when w_i > 8/|K|: 0.326 for D = 21, 0.112 for D = 61.
      expect(8 / Math.abs(gaussianParams(21).k)).to.be.closeTo(0.326, 1e-3);
      expect(8 / Math.abs(gaussianParams(61).k)).to.be.closeTo(0.112, 1e-3);
    });

    it('uniform raw gives ℓ = −1.16894 (σ ≈ 0.311) with the defaults', () => {
      const out = f64(gaussian(cpu(new Float32Array(21), [1, 21])));
      for (const v of out) expect(v).to.be.closeTo(-1.1689385, 1e-6);
      expect(Math.exp(out[0])).to.be.closeTo(0.311, 1e-3);
    });

    it('writes into options.out and returns it', () => {
      const raw = cpu(randomArray(12, seed + 7), [2, 6]);
      const out = empty([2, 6], { device: 'cpu' });
      expect(gaussian(raw, { out })).to.equal(out);
      expectClose(f64(out), refForward(raw.data as Float32Array, 2, 6, { ...defaults, target: 1.5 }), { atol: 1e-6, rtol: 1e-6 });
    });

    it('D = 1: a constant output and a zero gradient; B = 0: an empty output', () => {
      const raw = cpu(Float32Array.from([-3, 0, 7]), [3, 1]);
      const out = f64(gaussian(raw));
      for (const v of out) expect(v).to.be.closeTo(0.25 - C, 1e-6);
      const g = f64(gaussianBackward(raw, cpu(Float32Array.from([1, -2, 3]), [3, 1])));
      expect(Array.from(g).every((v) => v === 0), 'zero gradient').to.equal(true);
      expect(gaussian(cpu(new Float32Array(0), [0, 5])).shape).to.deep.equal([0, 5]);
    });

    it('propagates NaN to its row only', () => {
      const raw = new Float32Array(12);
      raw[1] = NaN;
      const out = f64(gaussian(cpu(raw, [2, 6])));
      for (let j = 0; j < 6; j++) expect(out[j]).to.be.NaN;
      for (let j = 6; j < 12; j++) expect(out[j]).to.be.closeTo(0.25 * 6 / 6 - C, 1e-6);
    });
  });

  describe('entropy identity (era-spec §1.2)', () => {
    const entropy = (l: Float64Array, i: number, d: number): number => {
      let h = 0;
      for (let j = 0; j < d; j++) h += l[i * d + j] + C;
      return h;
    };

    it('before the clip, Σ(ℓpre + ½ ln 2πe) = D·H_d (clip moved out of reach)', () => {
      for (const d of [1, 6, 21, 61]) {
        const b = 16;
        const raw = rawWithClips(b, d, seed + 300 + d);
        // logStdMin −1e4: the clip never fires, so the kernel's output is ℓpre itself.
        const l = f64(gaussian(cpu(raw, [b, d]), { logStdMin: -1e4 }));
        for (let i = 0; i < b; i++) expect(entropy(l, i, d), `D=${d} row ${i}`).to.be.closeTo(0.25 * d, 2e-5 * d);
        // And the float64 reference satisfies it to rounding.
        const pre = refPre(raw, b, d, { ...defaults, target: 0.25 * d });
        for (let i = 0; i < b; i++) expect(entropy(pre, i, d)).to.be.closeTo(0.25 * d, 1e-9 * d);
      }
    });

    it('with no clip active the output entropy equals the target (delta included); with clips active it is ≥ the target', () => {
      for (const [opts, target] of [[{}, 0.25], [{ delta: 1.5 }, 0.25 + 1.5 / 21], [{ mode: 'reference' }, 0.25]] as const) {
        const d = 21;
        const b = 32;
        const raw = rawWithClips(b, d, seed + 400);
        const l = f64(gaussian(cpu(raw, [b, d]), opts as GaussianOptions));
        const pre = refPre(raw, b, d, { ...defaults, target: target * d });
        let clipped = 0;
        for (let i = 0; i < b; i++) {
          const active = pre.slice(i * d, (i + 1) * d).some((v) => v < -8);
          if (active) {
            clipped++;
            expect(entropy(l, i, d), `clipped row ${i}`).to.be.greaterThan(target * d);
          } else {
            expect(entropy(l, i, d), `row ${i}`).to.be.closeTo(target * d, 2e-5 * d);
          }
        }
        expect(clipped, 'rows with an active clip').to.be.at.least(2);
      }
    });
  });

  describe('CPU backward matches central finite differences of the float64 reference', () => {
    for (const [ci, c] of cases.entries()) {
      for (const d of [1, 6, 21]) {
        it(`${c.name}, D=${d}${d === 21 ? ' (rows with the lower clip active)' : ''}`, () => {
          const b = 6;
          const ref = c.ref(d);
          let raw = rawWithClips(b, d, seed + 500 + 10 * ci + d);
          // Keep every ℓpre away from the clip's kink so the differences are smooth.
          for (let tries = 1; kinkDistance(refPre(raw, b, d, ref), ref) < 1e-4 && tries < 20; tries++) {
            raw = rawWithClips(b, d, seed + 500 + 10 * ci + d + 1000 * tries);
          }
          const coef = randomNormal64(b * d, seed + 600 + ci);
          const grad = gaussianBackward(cpu(raw, [b, d]), cpu(Float32Array.from(coef), [b, d]), c.opts);
          const loss = (x: Float64Array): number => refForward(x, b, d, ref).reduce((a, v, i) => a + v * Math.fround(coef[i]), 0);
          const fd = finiteDifferences(loss, Float64Array.from(raw));
          expectClose(f64(grad), fd, { atol: 2e-5, rtol: 1e-4, what: 'grad raw' });
          if (d === 21 && c.ref(d).target === 0.25 * d) {
            const pre = refPre(raw, b, d, ref);
            expect(pre.some((v) => v < -8), 'a clip is active').to.equal(true);
          }
        });
      }
    }
  });

  describe('bad input', () => {
    const good = (): Tensor => cpu(randomArray(12, seed + 900), [2, 6]);
    const works = (): void => {
      expect(gaussian(good()).shape).to.deep.equal([2, 6]);
    };
    const throwsNaming = (fn: () => unknown, cls: typeof TypeError | typeof RangeError, name: string): void => {
      expectThrowsNaming(fn, cls, name);
      works();
    };

    it('wrong dtype', () => {
      throwsNaming(() => gaussian(tensor(new Int32Array(12), [2, 6], { device: 'cpu' })), TypeError, 'raw');
      throwsNaming(() => gaussianBackward(good(), tensor(new Int32Array(12), [2, 6], { device: 'cpu' })), TypeError, 'gradLogStd');
      throwsNaming(() => gaussian(good(), { out: tensor(new Int32Array(12), [2, 6], { device: 'cpu' }) }), TypeError, 'options.out');
      throwsNaming(() => gaussian([1, 2, 3] as unknown as Tensor), TypeError, 'raw');
    });

    it('wrong rank or shape', () => {
      throwsNaming(() => gaussian(cpu(new Float32Array(6), [6])), RangeError, 'raw');
      throwsNaming(() => gaussian(cpu(new Float32Array(6), [1, 2, 3])), RangeError, 'raw');
      throwsNaming(() => gaussian(cpu(new Float32Array(0), [3, 0])), RangeError, 'raw');
      throwsNaming(() => gaussianBackward(good(), cpu(new Float32Array(12), [3, 4])), RangeError, 'gradLogStd');
      throwsNaming(() => gaussian(good(), { out: cpu(new Float32Array(12), [6, 2]) }), RangeError, 'options.out');
    });

    it('bad option values', () => {
      throwsNaming(() => gaussian(good(), { entropyPerDim: NaN }), RangeError, 'options.entropyPerDim');
      throwsNaming(() => gaussian(good(), { entropyPerDim: '1' as unknown as number }), TypeError, 'options.entropyPerDim');
      throwsNaming(() => gaussian(good(), { targetEntropy: Infinity }), RangeError, 'options.targetEntropy');
      throwsNaming(() => gaussian(good(), { entropyPerDim: 0.2, targetEntropy: 1 }), RangeError, 'options');
      throwsNaming(() => gaussian(good(), { logStdMin: 0, logStdMax: -1 }), RangeError, 'options.logStdMin');
      throwsNaming(() => gaussian(good(), { logStdMax: NaN }), RangeError, 'options.logStdMax');
      throwsNaming(() => gaussian(good(), { delta: NaN }), RangeError, 'options.delta');
      throwsNaming(() => gaussian(good(), { mode: 'reference', delta: 0.1 }), RangeError, 'options.delta');
      throwsNaming(() => gaussian(good(), { mode: 'exact' as 'paper' }), RangeError, 'options.mode');
      throwsNaming(() => gaussian(good(), 3 as unknown as GaussianOptions), TypeError, 'options');
    });

    it('disposed tensors', () => {
      const raw = good();
      raw.dispose();
      expectThrowsNaming(() => gaussian(raw), EraError, 'raw', { code: 'ERA_DISPOSED' });
      const g = good();
      g.dispose();
      expect(() => gaussianBackward(good(), g)).to.throw(EraError, /for gradLogStd /);
      works();
    });

    it('an out that shares memory with an input: RangeError naming options.out', () => {
      expectAliasedOutputsRejected('cpu');
      works();
    });

    it('the native op checks again when the TS layer is bypassed', () => {
      const n = native() as unknown as Record<string, (...a: unknown[]) => void>;
      const raw = good();
      const out = empty([2, 6], { device: 'cpu' });
      throwsNaming(() => n.eraGaussianForward(out.handle, raw.handle, NaN, -8, 0, false), RangeError, 'options.targetEntropy');
      throwsNaming(() => n.eraGaussianForward(out.handle, raw.handle, 1, 0, -1, false), RangeError, 'options.logStdMin');
      throwsNaming(() => n.eraGaussianForward(out.handle, raw.handle, 1, -8, 0, 1), TypeError, 'clipUpper');
      throwsNaming(() => n.eraGaussianForward(empty([6, 2], { device: 'cpu' }).handle, raw.handle, 1, -8, 0, false), RangeError, 'out');
      throwsNaming(() => n.eraGaussianForward(out.handle, tensor(new Float32Array(6), [6], { device: 'cpu' }).handle, 1, -8, 0, false), RangeError, 'raw');
      throwsNaming(() => n.eraGaussianForward(out.handle, {}, 1, -8, 0, false), TypeError, 'raw');
      throwsNaming(() => n.eraGaussianBackward(out.handle, raw.handle, empty([2, 5], { device: 'cpu' }).handle, 1, -8, 0, false), RangeError, 'gradLogStd');
      throwsNaming(() => n.eraGaussianBackward(out.handle, raw.handle, tensor(new Int32Array(12), [2, 6], { device: 'cpu' }).handle, 1, -8, 0, false), TypeError, 'gradLogStd');
    });
  });
});

describeCuda(`era.gaussian CUDA vs CPU (seed ${seed})`, () => {
  // Tolerances (f32): atol 1e-5, rtol 1e-4. Both sides read the same f32 inputs; the CPU works in
  // double, CUDA in f32 (expf, one sum over D), so the error is a few ulps of |K|·w ≤ |K|.
  const tol = { atol: 1e-5, rtol: 1e-4 };
  it('an out that shares memory with an input: RangeError naming options.out', () => {
    expectAliasedOutputsRejected('cuda');
  });

  const modes: GaussianOptions[] = [{}, { mode: 'reference', entropyPerDim: -0.5 }, { entropyPerDim: 2, logStdMax: 0.5, delta: -0.3 }];
  for (const b of [1, 7, 256, 4099]) {
    for (const d of [1, 6, 21, 61, 200]) {
      it(`B=${b}, D=${d}: forward and backward (three option sets; D=200 streams rows)`, () => {
        const raw = rawWithClips(b, d, seed + 7 * b + d);
        const g = Float32Array.from(randomNormal64(b * d, seed + 11 * b + d));
        const rc = cpu(raw, [b, d]);
        const gc = cpu(g, [b, d]);
        const rg = rc.to('cuda');
        const gg = gc.to('cuda');
        for (const opts of modes) {
          const outG = gaussian(rg, opts);
          expect(outG.device).to.equal('cuda');
          expectClose(f64(outG), f64(gaussian(rc, opts)), { ...tol, what: `forward ${JSON.stringify(opts)}` });
          const gradG = gaussianBackward(rg, gg, opts);
          expect(gradG.device).to.equal('cuda');
          expectClose(f64(gradG), f64(gaussianBackward(rc, gc, opts)), { ...tol, what: `backward ${JSON.stringify(opts)}` });
          outG.dispose();
          gradG.dispose();
        }
        rg.dispose();
        gg.dispose();
      });
    }
  }

  it('the forward and the backward are one kernel launch each (nodes of a recorded graph), at the SAC size B 256, D 21', () => {
    const raw = cpu(randomArray(256 * 21, seed + 90, -3, 3), [256, 21]).to('cuda');
    const grad = cpu(randomArray(256 * 21, seed + 91, -1, 1), [256, 21]).to('cuda');
    const out = empty([256, 21], { device: 'cuda' });
    const dRaw = empty([256, 21], { device: 'cuda' });
    try {
      expectOneLaunchEach([
        { what: 'forward', record: () => void gaussian(raw, { out }), out, eager: () => gaussian(raw) },
        { what: 'backward', record: () => void gaussianBackward(raw, grad, { out: dRaw }), out: dRaw, eager: () => gaussianBackward(raw, grad) },
      ]);
    } finally {
      for (const t of [raw, grad, out, dRaw]) t.dispose();
    }
  });

  it('writes into a cuda options.out; NaN stays in its row', () => {
    const raw = new Float32Array(2 * 21);
    raw[5] = NaN;
    const out = empty([2, 21], { device: 'cuda' });
    gaussian(cpu(raw, [2, 21]).to('cuda'), { out });
    const v = f64(out);
    expect(v.slice(0, 21).every(Number.isNaN)).to.equal(true);
    for (const x of v.slice(21)) expect(x).to.be.closeTo(0.25 - C, 1e-6);
  });

  it('device mix and disposed cuda tensors are rejected, naming the argument', () => {
    const rc = cpu(randomArray(12, seed), [2, 6]);
    const rg = rc.to('cuda');
    expect(() => gaussianBackward(rg, rc)).to.throw(TypeError, /for gradLogStd /);
    expect(() => gaussianBackward(rc, rg)).to.throw(TypeError, /for gradLogStd /);
    expect(() => gaussian(rg, { out: empty([2, 6], { device: 'cpu' }) })).to.throw(TypeError, /for options\.out /);
    const n = native() as unknown as Record<string, (...a: unknown[]) => void>;
    expect(() => n.eraGaussianForward(empty([2, 6], { device: 'cpu' }).handle, rg.handle, 1, -8, 0, false)).to.throw(TypeError, /for out /);
    const dead = rc.to('cuda');
    dead.dispose();
    expect(() => gaussian(dead)).to.throw(EraError, /for raw /);
    expect(gaussian(rg).device).to.equal('cuda');
  });
});

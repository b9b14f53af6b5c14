/**
 * era.softmax / era.softmaxBackward / era.softmaxCrossEntropy (era-spec §3.2-3.3): a float64
 * reference written here, the CPU kernels against it and against central finite differences, the
 * §3.3 reference vector, the entropy floor and other invariants, bad input, and CUDA against CPU.
 */
import { expect } from 'chai';

import { EraError } from '../lib/errors.js';
import { entropyFloor, softmax, softmaxBackward, softmaxCrossEntropy, visionParams, type CrossEntropyOptions, type VisionOptions } from '../lib/era/vision.js';
import { captureGraph } from '../lib/graph.js';
import { native } from '../lib/native.js';
import { empty, tensor, type Tensor } from '../lib/tensor.js';
import { describeCuda, expectClose, expectOneLaunchEach, expectThrowsNaming, finiteDifferences, randomNormal64, rng, testSeed } from './helpers.js';

const seed = testSeed();

interface Opt {
  minEntropy?: number;
  tau?: number;
}

/** z' (unshifted) and out = z' − min z' per row, in float64, following the reference line by line. */
function refForward(x: ArrayLike<number>, b: number, n: number, o: Opt = {}): { z: Float64Array; out: Float64Array } {
  const tau = o.tau ?? 4;
  const hMin = o.minEntropy ?? 0.6;
  const ub = Math.log(tau) / tau;
  const ch = Math.exp(hMin - 1);
  const slope = (ub - ch / n) / (1 - 1 / n); // written as the reference writes it
  const icpt = (ch - slope) / n;
  const z = new Float64Array(b * n);
  const out = new Float64Array(b * n);
  for (let i = 0; i < b; i++) {
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, x[i * n + j]);
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(x[i * n + j] - m);
    let zmin = Infinity;
    for (let j = 0; j < n; j++) {
      const p = Math.exp(x[i * n + j] - m) / s;
      const u = -1 - Math.log(slope * p + icpt);
      const v = -1 - Math.sqrt(2 * u) - 0.75 * u;
      z[i * n + j] = v;
      zmin = Math.min(zmin, v);
    }
    for (let j = 0; j < n; j++) out[i * n + j] = z[i * n + j] - zmin;
  }
  return { z, out };
}

/** Mean label-smoothed cross entropy of softmax(out) in float64. */
function refCrossEntropy(x: ArrayLike<number>, y: ArrayLike<number>, b: number, n: number, eps: number, o: Opt = {}): number {
  const { out } = refForward(x, b, n, o);
  let total = 0;
  for (let i = 0; i < b; i++) {
    const row = out.subarray(i * n, (i + 1) * n);
    const m = Math.max(...row);
    const lse = Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0)) + m;
    for (let j = 0; j < n; j++) total += (lse - row[j]) * (eps / n + (j === y[i] ? 1 - eps : 0));
  }
  return total / b;
}

function softmaxEntropy(row: ArrayLike<number>): { h: number; sum: number } {
  const m = Math.max(...Array.from(row));
  let z = 0;
  for (const v of Array.from(row)) z += Math.exp(v - m);
  let h = 0;
  let sum = 0;
  for (const v of Array.from(row)) {
    const q = Math.exp(v - m) / z;
    sum += q;
    if (q > 0) h -= q * Math.log(q);
  }
  return { h, sum };
}

const cpu = (data: Float32Array | Int32Array, shape: number[]): Tensor => tensor(data, shape, { device: 'cpu' });
const f64 = (t: Tensor): Float64Array => Float64Array.from(t.toArray() as Float32Array);
const logitsOf = (b: number, n: number, s: number, scale = 3): Float32Array => Float32Array.from(randomNormal64(b * n, s, scale));
function labelsOf(b: number, n: number, s: number): Int32Array {
  const r = rng(s);
  return Int32Array.from({ length: b }, () => Math.floor(r() * n));
}

/**
 * Outputs that share memory with an input (zero-copy views of one block, on `device`): RangeError
 * naming options.out (and the input), before anything runs; a valid call works afterwards. None of
 * the three ops runs in place, so out = logits exactly is refused too.
 */
function expectAliasedOutputsRejected(device: 'cpu' | 'cuda'): void {
  const [b, n] = [2, 10];
  const block = tensor(logitsOf(5, n, seed + 95), [5, n], { device });
  const x = block.view(0, [b, n]);
  const g = block.view(2 * n, [b, n]);
  const y = tensor(Int32Array.from([1, 9]), [b], { device });
  const half = n / 2;
  const cases: [string, () => unknown, RegExp][] = [
    ['softmax: out half a row past logits', () => softmax(x, { out: block.view(half, [b, n]) }), /memory with logits /],
    ['softmax: out = logits', () => softmax(x, { out: x }), /memory with logits /],
    ['softmaxBackward: out overlapping logits', () => softmaxBackward(x, g, { out: block.view(half, [b, n]) }), /memory with logits /],
    ['softmaxBackward: out overlapping gradOut', () => softmaxBackward(x, g, { out: block.view(2 * n + half, [b, n]) }), /memory with gradOut /],
    ['softmaxBackward: out = gradOut', () => softmaxBackward(x, g, { out: g }), /memory with gradOut /],
    ['softmaxCrossEntropy: out overlapping logits', () => softmaxCrossEntropy(x, y, { out: block.view(half, [b, n]) }), /memory with logits /],
  ];
  const before = Float32Array.from(block.toArray() as Float32Array);
  for (const [what, fn, also] of cases) {
    expectThrowsNaming(fn, RangeError, 'options.out', { also });
    expect(Array.from(block.toArray() as Float32Array), `${what}: nothing written`).to.deep.equal(Array.from(before));
  }
  const r = softmaxCrossEntropy(x, y, { out: empty([b, n], { device }) });
  expect(r.loss).to.be.greaterThan(0);
  expect(f64(softmax(x)).every(Number.isFinite)).to.equal(true);
}

const SPEC_X = [3, 1, 0.5, 0, 0, -0.5, -1, -2, -3, -4];
const SPEC_OUT = [2.812964, 0.761252, 0.50694, 0.32705, 0.32705, 0.205299, 0.125757, 0.043434, 0.011822, 0];
const SPEC_GRAD = [-0.276263, 0.102783, 0.060332, 0.035847, 0.035847, 0.021463, 0.012914, 0.004713, 0.001729, 0.000635];

describe(`era.softmax (seed ${seed}; ERA_TEST_SEED=${seed} replays)`, () => {
  describe('the era-spec §3.3 reference vector (n=10, H_min=0.6, label 0)', () => {
    it('out, CE 0.542270, H 1.586 and ∂CE/∂x', () => {
      const x = cpu(Float32Array.from(SPEC_X), [1, 10]);
      const out = f64(softmax(x));
      expectClose(out, SPEC_OUT, { atol: 1e-5, rtol: 0, what: 'out' });
      expect(softmaxEntropy(out).h).to.be.closeTo(1.586, 5e-4);
      const { loss, gradLogits } = softmaxCrossEntropy(x, cpu(Int32Array.from([0]), [1]));
      expect(loss).to.be.closeTo(0.54227, 1e-5);
      expectClose(f64(gradLogits), SPEC_GRAD, { atol: 1e-5, rtol: 0, what: 'grad' });
      // The same gradient through softmaxBackward with g = softmax(out) − onehot.
      const m = Math.max(...out);
      const z = out.reduce((a, v) => a + Math.exp(v - m), 0);
      const g = Float32Array.from(out, (v, i) => Math.exp(v - m) / z - (i === 0 ? 1 : 0));
      expectClose(f64(softmaxBackward(x, cpu(g, [1, 10]))), SPEC_GRAD, { atol: 1e-5, rtol: 0, what: 'softmaxBackward' });
    });
  });

  describe('CPU forward matches the float64 reference', () => {
    const opts: Opt[] = [{}, { minEntropy: 0.3 }, { minEntropy: 1.0, tau: 6 }, { minEntropy: -0.05 }];
    for (const [oi, o] of opts.entries()) {
      for (const n of [2, 3, 10, 100, 1000, 1003]) {
        // minEntropy 1 is above the bound 1 + ln(C ln τ/τ) for C = 2 and 3 (tested as an error below).
        if (o.minEntropy !== undefined && Math.exp(o.minEntropy - 1) >= n * Math.log(o.tau ?? 4) / (o.tau ?? 4)) continue;
        it(`C=${n}, ${JSON.stringify(o)}`, () => {
          const b = 13;
          const x = logitsOf(b, n, seed + 10 * oi + n);
          const out = softmax(cpu(x, [b, n]), o);
          expect(out.device).to.equal('cpu');
          expectClose(f64(out), refForward(x, b, n, o).out, { atol: 1e-6, rtol: 1e-6, what: 'out' });
        });
      }
    }

    it('writes into options.out; B = 0 gives an empty output', () => {
      const x = cpu(logitsOf(3, 10, seed + 1), [3, 10]);
      const out = empty([3, 10], { device: 'cpu' });
      expect(softmax(x, { out })).to.equal(out);
      expectClose(f64(out), refForward(x.data as Float32Array, 3, 10).out, { atol: 1e-6, rtol: 1e-6 });
      expect(softmax(cpu(new Float32Array(0), [0, 10])).shape).to.deep.equal([0, 10]);
      expect(softmaxBackward(cpu(new Float32Array(0), [0, 10]), cpu(new Float32Array(0), [0, 10])).shape).to.deep.equal([0, 10]);
    });

    it("'paper' and 'reference' agree (the README's max(·, 0) is inert)", () => {
      const x = cpu(logitsOf(5, 10, seed + 2), [5, 10]);
      expect(Array.from(softmax(x, { mode: 'reference' }).data)).to.deep.equal(Array.from(softmax(x, { mode: 'paper' }).data));
      const { b } = visionParams(10);
      expect(b).to.be.greaterThan(0);
    });

    it('propagates NaN to its row only', () => {
      const x = logitsOf(2, 10, seed + 3);
      x[4] = NaN;
      const out = f64(softmax(cpu(x, [2, 10])));
      expect(out.slice(0, 10).every(Number.isNaN)).to.equal(true);
      expect(out.slice(10).some(Number.isNaN)).to.equal(false);
    });
  });

  describe('invariants on random inputs', () => {
    it('the floor at a one-hot input matches the era-spec §3.2 table', () => {
      expect(entropyFloor(10)).to.be.closeTo(0.983, 1e-3);
      expect(entropyFloor(100)).to.be.closeTo(1.199, 1e-3);
      expect(entropyFloor(1000)).to.be.closeTo(1.464, 1e-3);
      expect(entropyFloor(10, { minEntropy: 0.3 })).to.be.closeTo(0.536, 1e-3);
      expect(entropyFloor(1000, { minEntropy: 0.3 })).to.be.closeTo(0.788, 1e-3);
      expect(entropyFloor(10, { minEntropy: 1 })).to.be.closeTo(1.536, 1e-3);
      expect(entropyFloor(1000, { minEntropy: 1 })).to.be.closeTo(2.423, 1e-3);
      // A (nearly) one-hot row through the kernel reaches it.
      const x = new Float32Array(10).fill(-60);
      x[3] = 60;
      expect(softmaxEntropy(f64(softmax(cpu(x, [1, 10])))).h).to.be.closeTo(entropyFloor(10), 1e-5);
      // At τ = e, s + b may round past 1/e (u < 0 by an ulp): the floor clamps u at 0, as the kernels do.
      for (const c of [10, 1000, 4099]) {
        const hot = new Float32Array(c).fill(-60);
        hot[0] = 60;
        const floor = entropyFloor(c, { tau: Math.E });
        expect(floor, `C = ${c}, tau = e`).to.be.a('number').and.not.NaN;
        expect(softmaxEntropy(f64(softmax(cpu(hot, [1, c]), { tau: Math.E }))).h).to.be.closeTo(floor, 1e-5);
      }
    });

    for (const [n, scale] of [[10, 1], [10, 8], [10, 40], [1000, 3], [1000, 30], [2, 10]] as const) {
      for (const o of [{}, { minEntropy: 0.3 }, { minEntropy: 1.0 }] as VisionOptions[]) {
        if (n === 2 && o.minEntropy === 1.0) continue; // above the C = 2 bound
        it(`C=${n}, logits scale ${scale}, ${JSON.stringify(o)}: entropy ≥ floor, Σq = 1, out ≥ 0 with min 0, argmax kept`, () => {
          const b = n === 1000 ? 64 : 500;
          const x = logitsOf(b, n, seed + n + scale, scale);
          const out = f64(softmax(cpu(x, [b, n]), o));
          const floor = entropyFloor(n, o);
          expect(floor).to.be.greaterThan(o.minEntropy ?? 0.6);
          for (let i = 0; i < b; i++) {
            const row = out.subarray(i * n, (i + 1) * n);
            const xr = x.subarray(i * n, (i + 1) * n);
            const { h, sum } = softmaxEntropy(row);
            expect(h, `row ${i} entropy`).to.be.at.least(floor - 1e-5);
            expect(sum).to.be.closeTo(1, 1e-12);
            expect(Math.min(...row), `row ${i} min`).to.equal(0);
            let ax = 0;
            for (let j = 1; j < n; j++) if (xr[j] > xr[ax]) ax = j;
            expect(row[ax], `row ${i}: out at argmax x`).to.equal(Math.max(...row));
          }
        });
      }
    }
  });

  describe('CPU backward matches central finite differences of the float64 reference', () => {
    for (const n of [2, 10, 37]) {
      for (const o of [{}, { minEntropy: 0.3, tau: 3 }] as Opt[]) {
        it(`softmaxBackward, C=${n}, ${JSON.stringify(o)}`, () => {
          const b = 4;
          const x = logitsOf(b, n, seed + 40 + n);
          const g = randomNormal64(b * n, seed + 41 + n);
          const grad = softmaxBackward(cpu(x, [b, n]), cpu(Float32Array.from(g), [b, n]), o);
          // The min shift is detached, so the gradient is that of Σ g·z' (z' unshifted).
          const loss = (v: Float64Array): number => refForward(v, b, n, o).z.reduce((a, z, i) => a + z * Math.fround(g[i]), 0);
          expectClose(f64(grad), finiteDifferences(loss, Float64Array.from(x)), { atol: 1e-6, rtol: 1e-4, what: 'grad logits' });
        });
      }
      for (const eps of [0, 0.1]) {
        it(`softmaxCrossEntropy, C=${n}, labelSmoothing ${eps}`, () => {
          const b = 5;
          const x = logitsOf(b, n, seed + 50 + n);
          const y = labelsOf(b, n, seed + 51 + n);
          const { loss, gradLogits } = softmaxCrossEntropy(cpu(x, [b, n]), cpu(y, [b]), { labelSmoothing: eps });
          expect(loss).to.be.closeTo(refCrossEntropy(x, y, b, n, eps), 1e-10);
          const fd = finiteDifferences((v) => refCrossEntropy(v, y, b, n, eps), Float64Array.from(x));
          expectClose(f64(gradLogits), fd, { atol: 1e-7, rtol: 1e-4, what: 'grad logits' });
        });
      }
    }

    it('softmaxCrossEntropy writes its gradient into options.out', () => {
      const x = cpu(logitsOf(3, 10, seed + 60), [3, 10]);
      const y = cpu(labelsOf(3, 10, seed + 61), [3]);
      const out = empty([3, 10], { device: 'cpu' });
      const r = softmaxCrossEntropy(x, y, { out, labelSmoothing: 0.1 });
      expect(r.gradLogits).to.equal(out);
      expect(Array.from(out.data)).to.deep.equal(Array.from(softmaxCrossEntropy(x, y, { labelSmoothing: 0.1 }).gradLogits.data));
    });

    it('softmaxCrossEntropy with options.lossOut returns the loss as that tensor', () => {
      const x = cpu(logitsOf(5, 12, seed + 62), [5, 12]);
      const y = cpu(labelsOf(5, 12, seed + 63), [5]);
      const lossOut = empty([1], { device: 'cpu' });
      const r = softmaxCrossEntropy(x, y, { lossOut, labelSmoothing: 0.1 });
      const plain = softmaxCrossEntropy(x, y, { labelSmoothing: 0.1 });
      expect(r.loss).to.equal(lossOut);
      expect(lossOut.data[0]).to.equal(Math.fround(plain.loss));
      expect(Array.from(r.gradLogits.data)).to.deep.equal(Array.from(plain.gradLogits.data));
    });
  });

  describe('bad input', () => {
    const x = (): Tensor => cpu(logitsOf(2, 10, seed + 90), [2, 10]);
    const y = (): Tensor => cpu(Int32Array.from([1, 9]), [2]);
    const works = (): void => {
      expect(softmaxCrossEntropy(x(), y()).loss).to.be.a('number').and.greaterThan(0);
    };
    const throwsNaming = (fn: () => unknown, cls: typeof TypeError | typeof RangeError, name: string, also?: RegExp): void => {
      expectThrowsNaming(fn, cls, name, { also });
      works();
    };

    it('wrong dtype', () => {
      throwsNaming(() => softmax(cpu(new Int32Array(20), [2, 10])), TypeError, 'logits');
      throwsNaming(() => softmaxBackward(x(), cpu(new Int32Array(20), [2, 10])), TypeError, 'gradOut');
      throwsNaming(() => softmaxCrossEntropy(x(), cpu(Float32Array.from([1, 2]), [2])), TypeError, 'labels');
      throwsNaming(() => softmaxCrossEntropy(x(), y(), { out: cpu(new Int32Array(20), [2, 10]) }), TypeError, 'options.out');
      throwsNaming(() => softmax('logits' as unknown as Tensor), TypeError, 'logits');
    });

    it('wrong rank, shape or class count (C = 1 makes the slope undefined)', () => {
      throwsNaming(() => softmax(cpu(new Float32Array(10), [10])), RangeError, 'logits');
      throwsNaming(() => softmax(cpu(new Float32Array(4), [4, 1])), RangeError, 'logits', /C >= 2/);
      throwsNaming(() => softmaxBackward(x(), cpu(new Float32Array(20), [10, 2])), RangeError, 'gradOut');
      throwsNaming(() => softmaxCrossEntropy(x(), cpu(Int32Array.from([1, 2, 3]), [3])), RangeError, 'labels');
      throwsNaming(() => softmaxCrossEntropy(x(), cpu(Int32Array.from([1, 2]), [1, 2])), RangeError, 'labels');
      throwsNaming(() => softmaxCrossEntropy(cpu(new Float32Array(0), [0, 10]), cpu(new Int32Array(0), [0])), RangeError, 'logits');
      throwsNaming(() => softmax(x(), { out: cpu(new Float32Array(20), [1, 20]) }), RangeError, 'options.out');
    });

    it('labels out of range', () => {
      throwsNaming(() => softmaxCrossEntropy(x(), cpu(Int32Array.from([1, 10]), [2])), RangeError, 'labels', /10 at row 1/);
      throwsNaming(() => softmaxCrossEntropy(x(), cpu(Int32Array.from([-1, 0]), [2])), RangeError, 'labels', /-1 at row 0/);
    });

    it('bad option values', () => {
      throwsNaming(() => softmax(x(), { minEntropy: NaN }), RangeError, 'options.minEntropy');
      throwsNaming(() => softmax(x(), { tau: -4 }), RangeError, 'options.tau');
      throwsNaming(() => softmax(x(), { tau: 1 }), RangeError, 'options.tau');
      throwsNaming(() => softmax(x(), { tau: NaN }), RangeError, 'options.tau');
      throwsNaming(() => softmax(x(), { tau: '4' as unknown as number }), TypeError, 'options.tau');
      // The reference's assert: minEntropy ≥ 1 + ln(ln 4 / 4) = −0.05966010 (era-spec §3.2 rounds
      // it to −0.0597; its "0.0596637" for −1 − ln u_b is off in the 6th digit).
      throwsNaming(() => softmax(x(), { minEntropy: -0.06 }), RangeError, 'options.minEntropy', /-0\.05966010/);
      expect(softmax(x(), { minEntropy: -0.0596 }).shape).to.deep.equal([2, 10]);
      // Above 1 + ln(C ln τ/τ) the slope would turn negative.
      throwsNaming(() => softmax(x(), { minEntropy: 2.25 }), RangeError, 'options.minEntropy');
      throwsNaming(() => softmax(cpu(new Float32Array(4), [2, 2]), { minEntropy: 0.7 }), RangeError, 'options.minEntropy');
      throwsNaming(() => softmax(x(), { mode: 'reference', tau: 3 }), RangeError, 'options.tau');
      // At the reference's own bound b = 0: h = s·p then reaches 0 (ln 0) when a probability
      // underflows in f32, so it is refused; past τ = 1e30, ln τ/τ is too small for f32.
      throwsNaming(() => softmax(x(), { tau: 1.5, minEntropy: 1 + Math.log(Math.log(1.5) / 1.5) }), RangeError, 'options.minEntropy', /2\^-126/);
      throwsNaming(() => softmax(x(), { tau: 1e31 }), RangeError, 'options.tau', /1e\+30/);
      throwsNaming(() => softmax(x(), { mode: 'exact' as 'paper' }), RangeError, 'options.mode');
      throwsNaming(() => softmaxCrossEntropy(x(), y(), { labelSmoothing: 1 }), RangeError, 'options.labelSmoothing');
      throwsNaming(() => softmaxCrossEntropy(x(), y(), { labelSmoothing: -0.1 }), RangeError, 'options.labelSmoothing');
      throwsNaming(() => softmaxCrossEntropy(x(), y(), { labelSmoothing: NaN }), RangeError, 'options.labelSmoothing');
      throwsNaming(() => softmax(x(), null as unknown as VisionOptions), TypeError, 'options');
    });

    it('disposed tensors', () => {
      for (const [fn, name] of [
        [(d: Tensor) => softmax(d), 'logits'],
        [(d: Tensor) => softmaxBackward(x(), d), 'gradOut'],
        [(d: Tensor) => softmaxCrossEntropy(d, y()), 'logits'],
      ] as const) {
        const dead = x();
        dead.dispose();
        expectThrowsNaming(() => fn(dead), EraError, name, { code: 'ERA_DISPOSED' });
        works();
      }
      const deadY = y();
      deadY.dispose();
      expect(() => softmaxCrossEntropy(x(), deadY)).to.throw(EraError, /for labels /);
      works();
    });

    it('an out that shares memory with an input: RangeError naming options.out', () => {
      expectAliasedOutputsRejected('cpu');
      // CPU tensors wrap the caller's buffer: labels over the gradient's bytes alias it too.
      const buf = new Float32Array(20);
      const out = cpu(buf, [2, 10]);
      const labels = cpu(new Int32Array(buf.buffer, 4, 2), [2]);
      throwsNaming(() => softmaxCrossEntropy(x(), labels, { out }), RangeError, 'options.out', /memory with labels /);
    });

    it('a bad options.lossOut: TypeError/RangeError naming it', () => {
      throwsNaming(() => softmaxCrossEntropy(x(), y(), { lossOut: empty([2], { device: 'cpu' }) }), RangeError, 'options.lossOut');
      throwsNaming(() => softmaxCrossEntropy(x(), y(), { lossOut: cpu(new Int32Array(1), [1]) }), TypeError, 'options.lossOut');
      throwsNaming(() => softmaxCrossEntropy(x(), y(), { lossOut: 0.5 as unknown as Tensor }), TypeError, 'options.lossOut');
      const out = empty([2, 10], { device: 'cpu' });
      throwsNaming(() => softmaxCrossEntropy(x(), y(), { out, lossOut: out.view(3, [1]) }), RangeError, 'options.lossOut', /memory with options\.out /);
      const n = native() as unknown as Record<string, (...a: unknown[]) => unknown>;
      throwsNaming(() => n.eraSoftmaxCrossEntropy(out.handle, x().handle, y().handle, 0.6, 4, 0, empty([3], { device: 'cpu' }).handle), RangeError, 'options.lossOut');
      throwsNaming(() => n.eraSoftmaxCrossEntropy(out.handle, x().handle, y().handle, 0.6, 4, 0, 7), TypeError, 'options.lossOut');
    });

    it('the native op checks again when the TS layer is bypassed', () => {
      const n = native() as unknown as Record<string, (...a: unknown[]) => unknown>;
      const out = empty([2, 10], { device: 'cpu' });
      throwsNaming(() => n.eraSoftmaxCrossEntropy(out.handle, x().handle, cpu(Int32Array.from([0, 11]), [2]).handle, 0.6, 4, 0), RangeError, 'labels', /11 at row 1/);
      throwsNaming(() => n.eraSoftmaxCrossEntropy(out.handle, x().handle, y().handle, 0.6, 4, 1), RangeError, 'options.labelSmoothing');
      throwsNaming(() => n.eraSoftmaxCrossEntropy(out.handle, x().handle, y().handle, 0.6, 4), TypeError, 'options.labelSmoothing');
      throwsNaming(() => n.eraSoftmaxForward(out.handle, x().handle, -1, 4), RangeError, 'options.minEntropy');
      throwsNaming(() => n.eraSoftmaxForward(out.handle, x().handle, 0.6, 0.5), RangeError, 'options.tau');
      throwsNaming(() => n.eraSoftmaxForward(out.handle, x().handle, 0.6, NaN), RangeError, 'options.tau');
      throwsNaming(() => n.eraSoftmaxForward(out.handle, x().handle, 0.6, 1e31), RangeError, 'options.tau');
      throwsNaming(() => n.eraSoftmaxForward(out.handle, x().handle, 1 + Math.log(Math.log(1.5) / 1.5), 1.5), RangeError, 'options.minEntropy', /2\^-126/);
      throwsNaming(() => n.eraSoftmaxForward(out.handle, cpu(new Float32Array(2), [2, 1]).handle, 0.6, 4), RangeError, 'logits');
      throwsNaming(() => n.eraSoftmaxForward(empty([2, 9], { device: 'cpu' }).handle, x().handle, 0.6, 4), RangeError, 'out');
      throwsNaming(() => n.eraSoftmaxBackward(out.handle, x().handle, empty([2, 9], { device: 'cpu' }).handle, 0.6, 4), RangeError, 'gradOut');
      throwsNaming(() => n.eraSoftmaxCrossEntropy(out.handle, x().handle, x().handle, 0.6, 4, 0), TypeError, 'labels');
    });
  });
});

describeCuda(`era.softmax CUDA vs CPU (seed ${seed})`, () => {
  // Tolerances (f32): atol 1e-5, rtol 1e-4 for out and softmaxBackward. The CE gradient carries a
  // factor 1/B, so it is compared scaled by B (the per-row gradient) at the same tolerance; the
  // mean loss at rtol 1e-5. The CPU works in double from the same f32 inputs; CUDA in f32.
  const tol = { atol: 1e-5, rtol: 1e-4 };
  const scaled = (t: Tensor, b: number): Float64Array => f64(t).map((v) => v * b);
  // C covers every row layout of the kernels (native/cuda/era_vision.cu, with_row_layout):
  // scalar rows in 1, 4, 8 or 32 registers per lane (2, 10 / 37 / 203 / 1003) or streamed (4099),
  // 16-byte rows in 1, 2 or 8 float4 per lane (4, 100 / 256 / 1000) or streamed (4096).
  const grid: [number, number][] = [];
  for (const n of [2, 4, 10, 37, 100, 203, 256, 1000, 1003, 4096, 4099]) {
    for (const b of [1, 7, 256, 4099]) if (!(n >= 4096 && b === 4099)) grid.push([b, n]);
  }
  grid.push([65536, 10]);

  for (const [b, n] of grid) {
    it(`B=${b}, C=${n}: forward, backward, cross entropy (labelSmoothing 0 and 0.1)`, () => {
      const x = logitsOf(b, n, seed + 3 * b + n, 4);
      const g = Float32Array.from(randomNormal64(b * n, seed + 5 * b + n));
      const y = labelsOf(b, n, seed + 7 * b + n);
      const xc = cpu(x, [b, n]);
      const gc = cpu(g, [b, n]);
      const yc = cpu(y, [b]);
      const xg = xc.to('cuda');
      const gg = gc.to('cuda');
      const yg = yc.to('cuda');
      const o: VisionOptions = n === 2 ? {} : { minEntropy: 0.9 };
      const out = softmax(xg, o);
      expect(out.device).to.equal('cuda');
      expectClose(f64(out), f64(softmax(xc, o)), { ...tol, what: 'out' });
      const grad = softmaxBackward(xg, gg, o);
      expect(grad.device).to.equal('cuda');
      expectClose(f64(grad), f64(softmaxBackward(xc, gc, o)), { ...tol, what: 'softmaxBackward' });
      for (const eps of [0, 0.1]) {
        const co: CrossEntropyOptions = { ...o, labelSmoothing: eps };
        const rg = softmaxCrossEntropy(xg, yg, co);
        const rc = softmaxCrossEntropy(xc, yc, co);
        expect(rg.gradLogits.device).to.equal('cuda');
        expect(rg.loss).to.be.closeTo(rc.loss, 1e-5 * Math.abs(rc.loss) + 1e-6);
        expectClose(scaled(rg.gradLogits, b), scaled(rc.gradLogits, b), { ...tol, what: `CE grad (x B), eps ${eps}` });
        rg.gradLogits.dispose();
      }
      for (const t of [out, grad, xg, gg, yg]) t.dispose();
    });
  }

  it('the §3.3 reference vector on CUDA', () => {
    const x = cpu(Float32Array.from(SPEC_X), [1, 10]).to('cuda');
    expectClose(f64(softmax(x)), SPEC_OUT, { atol: 1e-5, rtol: 0 });
    const r = softmaxCrossEntropy(x, cpu(Int32Array.from([0]), [1]).to('cuda'));
    expect(r.loss).to.be.closeTo(0.54227, 1e-5);
    expectClose(f64(r.gradLogits), SPEC_GRAD, { atol: 1e-5, rtol: 0 });
  });

  it('softmax and softmaxBackward are one kernel launch each (nodes of a recorded graph)', () => {
    const r = rng(seed + 77);
    const x = cpu(Float32Array.from({ length: 64 * 1000 }, () => 6 * r() - 3), [64, 1000]).to('cuda');
    const g = cpu(Float32Array.from({ length: 64 * 1000 }, () => 2 * r() - 1), [64, 1000]).to('cuda');
    const out = empty([64, 1000], { device: 'cuda' });
    const dx = empty([64, 1000], { device: 'cuda' });
    try {
      expectOneLaunchEach([
        { what: 'softmax', record: () => void softmax(x, { out }), out, eager: () => softmax(x) },
        { what: 'softmaxBackward', record: () => void softmaxBackward(x, g, { out: dx }), out: dx, eager: () => softmaxBackward(x, g) },
      ]);
    } finally {
      for (const t of [x, g, out, dx]) t.dispose();
    }
  });

  it('cross entropy is deterministic: the same inputs give the same loss and gradient bits', () => {
    const b = 65536;
    const n = 1000;
    const x = cpu(logitsOf(b, n, seed + 77), [b, n]).to('cuda');
    const y = cpu(labelsOf(b, n, seed + 78), [b]).to('cuda');
    const a = softmaxCrossEntropy(x, y, { labelSmoothing: 0.1 });
    const c = softmaxCrossEntropy(x, y, { labelSmoothing: 0.1 });
    expect(Object.is(a.loss, c.loss)).to.equal(true);
    expect(Buffer.compare(Buffer.from((a.gradLogits.toArray() as Float32Array).buffer), Buffer.from((c.gradLogits.toArray() as Float32Array).buffer))).to.equal(0);
    for (const t of [x, y, a.gradLogits, c.gradLogits]) t.dispose();
  });

  it('an entropy floor holds on CUDA (C=1000, large logits)', () => {
    const b = 256;
    const n = 1000;
    const out = f64(softmax(cpu(logitsOf(b, n, seed + 80, 40), [b, n]).to('cuda')));
    const floor = entropyFloor(n);
    for (let i = 0; i < b; i++) expect(softmaxEntropy(out.subarray(i * n, (i + 1) * n)).h).to.be.at.least(floor - 1e-5);
  });

  it('bad labels on CUDA: RangeError naming labels (value and row), then a valid call works', () => {
    const x = cpu(logitsOf(300, 10, seed + 90), [300, 10]).to('cuda');
    const yBad = labelsOf(300, 10, seed + 91);
    yBad[123] = 10;
    yBad[200] = -5;
    expect(() => softmaxCrossEntropy(x, cpu(yBad, [300]).to('cuda'))).to.throw(RangeError, /for labels but received 10 at row 123/);
    const n = native() as unknown as Record<string, (...a: unknown[]) => unknown>;
    expect(() => n.eraSoftmaxCrossEntropy(empty([300, 10], { device: 'cuda' }).handle, x.handle, cpu(yBad, [300]).to('cuda').handle, 0.6, 4, 0)).to.throw(RangeError, /for labels /);
    expect(softmaxCrossEntropy(x, cpu(labelsOf(300, 10, seed + 92), [300]).to('cuda')).loss).to.be.greaterThan(0);
  });

  it('an out that shares memory with an input: RangeError naming options.out', () => {
    expectAliasedOutputsRejected('cuda');
  });

  it('options.lossOut keeps the loss on the device: the CPU value, recordable in a graph, NaN for a bad label', () => {
    const b = 300;
    const n = 10;
    const xs = logitsOf(b, n, seed + 93);
    const ys = labelsOf(b, n, seed + 94);
    const want = softmaxCrossEntropy(cpu(xs, [b, n]), cpu(ys, [b]), { labelSmoothing: 0.1 }).loss;
    const x = cpu(xs, [b, n]).to('cuda');
    const y = cpu(ys, [b]).to('cuda');
    const lossOut = empty([1], { device: 'cuda' });
    const out = empty([b, n], { device: 'cuda' });
    const eager = softmaxCrossEntropy(x, y, { out, lossOut, labelSmoothing: 0.1 });
    expect(eager.loss).to.equal(lossOut);
    expect(lossOut.toArray()[0]).to.be.closeTo(want, 1e-5 * want);
    // No read-back: the whole step can be recorded (the plain form's read is refused while recording).
    const graph = captureGraph(() => void softmaxCrossEntropy(x, y, { out, lossOut, labelSmoothing: 0.1 }), { device: 'cuda' });
    lossOut.fill(0);
    graph.replay();
    expect(lossOut.toArray()[0]).to.be.closeTo(want, 1e-5 * want);
    graph.dispose();
    const yBad = Int32Array.from(ys);
    yBad[17] = n;
    const bad = cpu(yBad, [b]).to('cuda');
    expect(softmaxCrossEntropy(x, bad, { out, lossOut }).loss.toArray()[0]).to.be.NaN;
    for (const t of [x, y, lossOut, out, bad]) t.dispose();
  });

  it('device mix and disposed cuda tensors are rejected, naming the argument', () => {
    const xc = cpu(logitsOf(2, 10, seed), [2, 10]);
    const xg = xc.to('cuda');
    const yc = cpu(Int32Array.from([0, 1]), [2]);
    expect(() => softmaxBackward(xg, xc)).to.throw(TypeError, /for gradOut /);
    expect(() => softmaxCrossEntropy(xg, yc)).to.throw(TypeError, /for labels /);
    expect(() => softmax(xg, { out: empty([2, 10], { device: 'cpu' }) })).to.throw(TypeError, /for options\.out /);
    const n = native() as unknown as Record<string, (...a: unknown[]) => unknown>;
    expect(() => n.eraSoftmaxCrossEntropy(empty([2, 10], { device: 'cuda' }).handle, xg.handle, yc.handle, 0.6, 4, 0)).to.throw(TypeError, /for labels /);
    const dead = xc.to('cuda');
    dead.dispose();
    expect(() => softmax(dead)).to.throw(EraError, /for logits /);
    expect(softmaxCrossEntropy(xg, yc.to('cuda')).gradLogits.device).to.equal('cuda');
  });
});

/**
 * lib/rl/env rewards.ts and rng.ts: DMC's tolerance() against values worked out by hand from its
 * documented definition, its argument checks, and the environments' seeded PRNG.
 */
import { expect } from 'chai';

import { Rng } from '../lib/rl/env/rng.js';
import { SIGMOIDS, smallControl, tolerance, type Sigmoid } from '../lib/rl/env/rewards.js';
import { expectThrowsNaming as throwsNaming } from './helpers.js';


describe('rl env: tolerance (DMC rewards)', () => {
  it('is 1 inside the bounds and at both bounds, for every sigmoid', () => {
    for (const s of SIGMOIDS) {
      for (const x of [-0.5, 0, 0.3, 1]) expect(tolerance(x, [-0.5, 1], 2, s), `${s} at ${x}`).to.equal(1);
    }
    expect(tolerance(1e9, [1, Infinity], 1, 'linear', 0)).to.equal(1);
    expect(tolerance(-1e9, [-Infinity, 0])).to.equal(1);
  });

  it('takes valueAtMargin at one margin from the nearest bound, on both sides', () => {
    for (const s of SIGMOIDS) {
      for (const v of [0.1, 0.5]) {
        expect(tolerance(3.5, [1, 2], 1.5, s, v), `${s} above, v=${v}`).to.be.closeTo(v, 1e-12);
        expect(tolerance(-0.5, [1, 2], 1.5, s, v), `${s} below, v=${v}`).to.be.closeTo(v, 1e-12);
      }
    }
    for (const s of ['linear', 'quadratic', 'cosine'] as Sigmoid[]) {
      expect(tolerance(1, [0, 0], 1, s, 0), s).to.equal(0);
    }
  });

  it('matches hand-computed values of each sigmoid (v = 0.1 unless stated)', () => {
    // gaussian: exp(-½ (d·√(-2 ln v))²) = v^(d²)
    expect(tolerance(0.5, [0, 0], 1, 'gaussian')).to.be.closeTo(0.1 ** 0.25, 1e-12);
    // long_tail: 1 / ((d·√(1/v − 1))² + 1) = 1 / (9d² + 1)
    expect(tolerance(2, [0, 0], 1, 'long_tail')).to.be.closeTo(1 / 37, 1e-12);
    // reciprocal: 1 / (|d|·(1/v − 1) + 1)
    expect(tolerance(-2, [0, 0], 1, 'reciprocal')).to.be.closeTo(1 / 19, 1e-12);
    // hyperbolic: 1 / cosh(d · acosh(10)) at d = 2: cosh(2a) = 2·cosh²(a) − 1 = 199
    expect(tolerance(2, [0, 0], 1, 'hyperbolic')).to.be.closeTo(1 / 199, 1e-12);
    // linear v = 0.5: 1 − d/2 while d < 2, then 0
    expect(tolerance(1.5, [0, 0], 1, 'linear', 0.5)).to.be.closeTo(0.25, 1e-12);
    expect(tolerance(2, [0, 0], 1, 'linear', 0.5)).to.equal(0);
    expect(tolerance(7, [0, 0], 1, 'linear', 0.5)).to.equal(0);
    // quadratic v = 0: 1 − d² while d < 1
    expect(tolerance(0.5, [0, 0], 1, 'quadratic', 0)).to.be.closeTo(0.75, 1e-12);
    expect(tolerance(1.2, [0, 0], 1, 'quadratic', 0)).to.equal(0);
    // cosine v = 0: (1 + cos(π d)) / 2 while d < 1
    expect(tolerance(0.5, [0, 0], 1, 'cosine', 0)).to.be.closeTo(0.5, 1e-12);
    // tanh_squared: 1 − tanh(d · atanh(√(1 − v)))², at d = 2 with t = √0.9: tanh(2a) = 2t / (1 + t²)
    const t = Math.sqrt(0.9);
    expect(tolerance(2, [0, 0], 1, 'tanh_squared')).to.be.closeTo(1 - (2 * t / (1 + t * t)) ** 2, 1e-12);
    // the margin scales the distance: d = 3 / 6
    expect(tolerance(5, [0, 2], 6, 'gaussian')).to.be.closeTo(0.1 ** 0.25, 1e-12);
  });

  it('falls monotonically with the distance and stays in [0, 1]', () => {
    for (const s of SIGMOIDS) {
      let prev = 1;
      for (let d = 0; d <= 5; d += 0.05) {
        const v = tolerance(1 + d, [-1, 1], 1, s);
        expect(v, `${s} at d=${d}`).to.be.at.most(prev + 1e-15).and.at.least(0);
        prev = v;
      }
      expect(prev, `${s} far away`).to.be.below(0.1);
    }
  });

  it('is the indicator of the bounds when the margin is 0', () => {
    expect(tolerance(0.2, [0, 0.1])).to.equal(0);
    expect(tolerance(0.1, [0, 0.1])).to.equal(1);
    expect(tolerance(-1e-9, [0, 0.1], 0, 'linear', 0)).to.equal(0);
  });

  it('rejects bad arguments naming them', () => {
    throwsNaming(() => tolerance(0, [1, 0]), RangeError, 'bounds');
    throwsNaming(() => tolerance(0, [0, 0], -1), RangeError, 'margin');
    throwsNaming(() => tolerance(0, [0, 0], NaN), RangeError, 'margin');
    throwsNaming(() => tolerance(0, [0, 0], 1, 'sigmoidal' as Sigmoid), RangeError, 'sigmoid');
    throwsNaming(() => tolerance(0, [0, 0], 1, 'gaussian', 0), RangeError, 'valueAtMargin');
    throwsNaming(() => tolerance(0, [0, 0], 1, 'linear', 1), RangeError, 'valueAtMargin');
    throwsNaming(() => tolerance(0, [0, 0], 1, 'linear', NaN), RangeError, 'valueAtMargin');
  });

  it('propagates NaN', () => {
    expect(tolerance(NaN, [0, 1], 1)).to.be.NaN;
  });

  it('smallControl is the mean quadratic tolerance of the controls', () => {
    const u = [-1.5, -1, -0.7, 0, 0.2, 0.99, 1, 3];
    const want = u.reduce((s, x) => s + tolerance(x, [0, 0], 1, 'quadratic', 0), 0) / u.length;
    expect(smallControl(u)).to.be.closeTo(want, 1e-15);
    expect(smallControl(new Float64Array(5))).to.equal(1);
    expect(smallControl([1, -1])).to.equal(0);
  });
});

describe('rl env: Rng', () => {
  it('repeats its stream for a seed and differs between seeds (high bits included)', () => {
    const draw = (seed: number) => {
      const r = new Rng(seed);
      return Array.from({ length: 16 }, () => r.nextUint32());
    };
    expect(draw(42)).to.deep.equal(draw(42));
    expect(draw(42)).to.not.deep.equal(draw(43));
    expect(draw(0)).to.not.deep.equal(draw(2 ** 32));
    const r = new Rng(5);
    const first = r.random();
    r.random();
    r.seed(5);
    expect(r.random()).to.equal(first);
  });

  it('gives uniforms in [0, 1) and standard normals with the right moments', () => {
    const r = new Rng(123);
    const n = 100_000;
    let s = 0;
    let s2 = 0;
    let lo = 1;
    let hi = 0;
    for (let i = 0; i < n; i++) {
      const u = r.random();
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
      s += u;
      s2 += u * u;
    }
    expect(lo).to.be.at.least(0);
    expect(hi).to.be.below(1);
    // 6 standard errors: sd(mean) = √(1/12n) ≈ 0.0009, sd(var) ≈ √(1/180n) ≈ 0.00024
    expect(s / n).to.be.closeTo(0.5, 0.0055);
    expect(s2 / n - (s / n) ** 2).to.be.closeTo(1 / 12, 0.0015);
    let m = 0;
    let m2 = 0;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      m += z;
      m2 += z * z;
    }
    // sd(mean) = 1/√n ≈ 0.0032, sd(E z²) = √(2/n) ≈ 0.0045
    expect(m / n).to.be.closeTo(0, 0.02);
    expect(m2 / n).to.be.closeTo(1, 0.027);
    const u = new Rng(9).uniform(-3, -2);
    expect(u).to.be.within(-3, -2);
  });

  it('rejects seeds that are not non-negative safe integers, naming seed', () => {
    throwsNaming(() => new Rng(-1), RangeError, 'seed');
    throwsNaming(() => new Rng(1.5), RangeError, 'seed');
    throwsNaming(() => new Rng(NaN), RangeError, 'seed');
    throwsNaming(() => new Rng('1' as unknown as number), TypeError, 'seed');
  });
});

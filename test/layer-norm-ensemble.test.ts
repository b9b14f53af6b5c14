/**
 * LayerNorm for ensembles: x [E, ..., d] with weight and bias [E, d], member e's rows normalised
 * with row e; the backward gives dWeight and dBias [E, d]. Through the native op (the functional
 * TS wrapper still accepts [d] weights only): the forward against a float64 reference, every
 * gradient against float64 finite differences (atol 2e-5 + rtol 1e-4), accumulation, the op's
 * argument checks; and on a CUDA host the kernels against the CPU on odd and large shapes.
 */
import { expect } from 'chai';

import era, { type Tensor } from '../lib/index.js';
import { denseApi } from '../lib/nn/functional.js';
import { describeCuda, expectClose, expectThrowsNaming, finiteDifferences, randomArray, testSeed } from './helpers.js';

const seed = testSeed();
const FD = { atol: 2e-5, rtol: 1e-4 };
const EPS = 1e-5;

/** y of x [E, rows, d] with weight, bias [E, d] (float64). */
function ln64(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, E: number, rows: number, d: number): Float64Array {
  const y = new Float64Array(E * rows * d);
  for (let e = 0; e < E; e++) {
    for (let r = 0; r < rows; r++) {
      const o = (e * rows + r) * d;
      let mu = 0;
      for (let j = 0; j < d; j++) mu += x[o + j];
      mu /= d;
      let v = 0;
      for (let j = 0; j < d; j++) v += (x[o + j] - mu) ** 2;
      const rs = 1 / Math.sqrt(v / d + EPS);
      for (let j = 0; j < d; j++) y[o + j] = (x[o + j] - mu) * rs * w[e * d + j] + b[e * d + j];
    }
  }
  return y;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

interface Run {
  y: Tensor;
  mean: Tensor;
  rstd: Tensor;
  dx: Tensor;
  dw: Tensor;
  db: Tensor;
}

/** Forward and backward through the native op on `device`. */
function run(device: 'cpu' | 'cuda', xShape: number[], x: Float32Array, w: Float32Array, b: Float32Array, g: Float32Array): Run {
  const [E, d] = [xShape[0], xShape[xShape.length - 1]];
  const rows = x.length / d;
  const t = (a: Float32Array, s: number[]) => era.tensor(a, s, { device });
  const xt = t(x, xShape);
  const wt = t(w, [E, d]);
  const y = era.empty(xShape, { device });
  const mean = era.empty([rows], { device });
  const rstd = era.empty([rows], { device });
  denseApi().layerNorm(y.handle, mean.handle, rstd.handle, xt.handle, wt.handle, t(b, [E, d]).handle, EPS);
  const dx = era.empty(xShape, { device });
  const dw = era.empty([E, d], { device });
  const db = era.empty([E, d], { device });
  denseApi().layerNormBackward(dx.handle, dw.handle, db.handle, t(g, xShape).handle, xt.handle, wt.handle, mean.handle, rstd.handle, false);
  return { y, mean, rstd, dx, dw, db };
}

describe(`LayerNorm with per-member parameters [E, d] on the CPU (seed ${seed})`, () => {
  for (const shape of [[3, 4, 5], [2, 2, 3, 6], [4, 1, 1], [1, 7, 8]]) {
    it(`x ${JSON.stringify(shape)}: y against float64; dx, dWeight, dBias against finite differences`, () => {
      era.scope(() => {
        const [E, d] = [shape[0], shape[shape.length - 1]];
        const n = shape.reduce((a, b) => a * b, 1);
        const rows = n / d / E;
        const x = randomArray(n, seed, -2, 2);
        const w = randomArray(E * d, seed + 1, 0.5, 1.5);
        const b = randomArray(E * d, seed + 2);
        const G = randomArray(n, seed + 3);
        const r = run('cpu', shape, x, w, b, G);
        expectClose(r.y.toArray(), ln64(x, w, b, E, rows, d), { atol: 1e-5, rtol: 1e-5, what: 'y' });
        const L = (xx: ArrayLike<number>, ww: ArrayLike<number>, bb: ArrayLike<number>) => dot(G, ln64(xx, ww, bb, E, rows, d));
        const f64 = (a: Float32Array) => Float64Array.from(a);
        expectClose(r.dx.toArray(), finiteDifferences((xx) => L(xx, w, b), f64(x)), { ...FD, what: 'dx' });
        expectClose(r.dw.toArray(), finiteDifferences((ww) => L(x, ww, b), f64(w)), { ...FD, what: 'dWeight' });
        expectClose(r.db.toArray(), finiteDifferences((bb) => L(x, w, bb), f64(b)), { ...FD, what: 'dBias' });
      });
    });
  }

  it('member e uses row e: the same as E separate LayerNorms with [d] parameters (bit for bit)', () => {
    era.scope(() => {
      const [E, rows, d] = [3, 5, 7];
      const x = randomArray(E * rows * d, seed + 10, -3, 3);
      const w = randomArray(E * d, seed + 11);
      const b = randomArray(E * d, seed + 12);
      const G = randomArray(E * rows * d, seed + 13);
      const all = run('cpu', [E, rows, d], x, w, b, G);
      for (let e = 0; e < E; e++) {
        const one = run('cpu', [1, rows, d], x.subarray(e * rows * d, (e + 1) * rows * d), w.subarray(e * d, (e + 1) * d), b.subarray(e * d, (e + 1) * d), G.subarray(e * rows * d, (e + 1) * rows * d));
        expect(Array.from(one.y.toArray())).to.deep.equal(Array.from(all.y.toArray().subarray(e * rows * d, (e + 1) * rows * d)));
        expect(Array.from(one.dw.toArray())).to.deep.equal(Array.from(all.dw.toArray().subarray(e * d, (e + 1) * d)));
        expect(Array.from(one.db.toArray())).to.deep.equal(Array.from(all.db.toArray().subarray(e * d, (e + 1) * d)));
      }
    });
  });

  it('accumulate adds into dWeight and dBias [E, d]', () => {
    era.scope(() => {
      const [E, rows, d] = [2, 3, 4];
      const x = randomArray(E * rows * d, seed + 20);
      const w = randomArray(E * d, seed + 21);
      const b = randomArray(E * d, seed + 22);
      const G = randomArray(E * rows * d, seed + 23);
      const r = run('cpu', [E, rows, d], x, w, b, G);
      const dw = era.full([E, d], 1, { device: 'cpu' });
      const db = era.full([E, d], 2, { device: 'cpu' });
      const c = (a: Float32Array, s: number[]) => era.tensor(a, s, { device: 'cpu' });
      denseApi().layerNormBackward(null, dw.handle, db.handle, c(G, [E, rows, d]).handle, c(x, [E, rows, d]).handle, c(w, [E, d]).handle, r.mean.handle, r.rstd.handle, true);
      expectClose(dw.toArray(), Array.from(r.dw.toArray(), (v) => v + 1), { atol: 1e-6, what: 'dWeight' });
      expectClose(db.toArray(), Array.from(r.db.toArray(), (v) => v + 2), { atol: 1e-6, what: 'dBias' });
    });
  });

  it('the op names mismatched parameters and gradients', () => {
    era.scope(() => {
      const z = (s: number[]) => era.zeros(s, { device: 'cpu' }).handle;
      const api = denseApi();
      // weight [E', d] whose E' is not the first dim of x
      expectThrowsNaming(() => api.layerNorm(z([3, 2, 4]), z([6]), z([6]), z([3, 2, 4]), z([2, 4]), z([2, 4]), 1e-5), RangeError, 'weight', { also: /\[3, 4\]/ });
      // bias of another shape than weight
      expectThrowsNaming(() => api.layerNorm(z([3, 2, 4]), z([6]), z([6]), z([3, 2, 4]), z([3, 4]), z([4]), 1e-5), RangeError, 'bias');
      // a 1-D x has no member dim
      expectThrowsNaming(() => api.layerNorm(z([4]), z([1]), z([1]), z([4]), z([1, 4]), z([1, 4]), 1e-5), RangeError, 'weight');
      // gradients shaped [d] for [E, d] parameters
      expectThrowsNaming(() => api.layerNormBackward(null, z([4]), null, z([3, 2, 4]), z([3, 2, 4]), z([3, 4]), z([6]), z([6]), false), RangeError, 'options.dWeight');
      expectThrowsNaming(() => api.layerNormBackward(null, null, z([2, 4]), z([3, 2, 4]), z([3, 2, 4]), z([3, 4]), z([6]), z([6]), false), RangeError, 'options.dBias');
      // dWeight and dBias in one buffer
      const both = era.zeros([3, 4], { device: 'cpu' });
      expectThrowsNaming(() => api.layerNormBackward(null, both.handle, both.handle, z([3, 2, 4]), z([3, 2, 4]), z([3, 4]), z([6]), z([6]), false), RangeError, 'options.dBias');
    });
  });
});

describeCuda(`LayerNorm with per-member parameters on CUDA against the CPU (seed ${seed})`, () => {
  for (const shape of [[3, 257, 129], [7, 1, 1000], [2, 256, 512], [5, 3, 31, 33], [1, 1, 1]]) {
    it(`x ${JSON.stringify(shape)}: y, mean, rstd (atol 1e-5), dx (atol 1e-4) and dWeight, dBias (1e-3 relative to their size)`, () => {
      era.scope(() => {
        const [E, d] = [shape[0], shape[shape.length - 1]];
        const n = shape.reduce((a, b) => a * b, 1);
        const x = randomArray(n, seed, -3, 3);
        const w = randomArray(E * d, seed + 1, 0.5, 1.5);
        const b = randomArray(E * d, seed + 2);
        const G = randomArray(n, seed + 3);
        const want = run('cpu', shape, x, w, b, G);
        const got = run('cuda', shape, x, w, b, G);
        expectClose(got.y.toArray(), want.y.toArray(), { atol: 1e-5, rtol: 1e-4, what: 'y' });
        expectClose(got.mean.toArray(), want.mean.toArray(), { atol: 1e-6, rtol: 1e-5, what: 'mean' });
        expectClose(got.rstd.toArray(), want.rstd.toArray(), { atol: 1e-6, rtol: 1e-4, what: 'rstd' });
        expectClose(got.dx.toArray(), want.dx.toArray(), { atol: 1e-4, rtol: 1e-3, what: 'dx' });
        const rows = n / d / E;
        const sum = 1e-4 * Math.sqrt(rows); // column sums of `rows` terms of size ~1
        expectClose(got.dw.toArray(), want.dw.toArray(), { atol: Math.max(1e-4, sum), rtol: 1e-3, what: 'dWeight' });
        expectClose(got.db.toArray(), want.db.toArray(), { atol: Math.max(1e-4, sum), rtol: 1e-3, what: 'dBias' });
        // deterministic: a second run gives the same bits
        const again = run('cuda', shape, x, w, b, G);
        expect(Buffer.from(again.dw.toArray().buffer).equals(Buffer.from(got.dw.toArray().buffer))).to.equal(true);
      });
    });
  }
});

describe('functional.layerNorm with per-member weights [E, d]', () => {
  it('equals a LayerNorm per member with that member\'s row, forward and backward, and names bad shapes', () => {
    const { layerNorm, layerNormBackward } = era.nn.functional;
    const E = 3;
    const rows = 4;
    const d = 5;
    const x = era.tensor(randomArray(E * rows * d, 41), [E, rows, d], { device: 'cpu' });
    const w = era.tensor(randomArray(E * d, 42), [E, d], { device: 'cpu' });
    const b = era.tensor(randomArray(E * d, 43), [E, d], { device: 'cpu' });
    const dy = era.tensor(randomArray(E * rows * d, 44), [E, rows, d], { device: 'cpu' });
    const all = layerNorm(x, w, b, { eps: 1e-6 });
    const grads = layerNormBackward(dy, x, w, all.mean, all.rstd);
    expect(grads.dWeight.shape).to.deep.equal([E, d]);
    for (let e = 0; e < E; e++) {
      const xe = x.slice(e, e + 1).reshape([rows, d]);
      const one = layerNorm(xe, w.slice(e, e + 1).reshape([d]), b.slice(e, e + 1).reshape([d]), { eps: 1e-6 });
      expect(Array.from(one.y.toArray())).to.deep.equal(Array.from(all.y.slice(e, e + 1).toArray()));
      const g = layerNormBackward(dy.slice(e, e + 1).reshape([rows, d]), xe, w.slice(e, e + 1).reshape([d]), one.mean, one.rstd);
      expectClose(g.dWeight.toArray(), grads.dWeight.slice(e, e + 1).toArray(), { atol: 1e-6, rtol: 1e-5 });
      expectClose(g.dx!.toArray(), grads.dx!.slice(e, e + 1).toArray(), { atol: 1e-6, rtol: 1e-5 });
    }
    expectThrowsNaming(() => layerNorm(x, era.zeros([2, d], { device: 'cpu' }), era.zeros([2, d], { device: 'cpu' })), RangeError, 'weight');
    expectThrowsNaming(() => layerNorm(x, w, era.zeros([d], { device: 'cpu' })), RangeError, 'bias');
  });
});

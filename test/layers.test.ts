/**
 * The dense layers: every forward against a float64 reference and every backward against central
 * finite differences of that reference (CPU), gradient accumulation, in-place activations, bad
 * inputs named; and (on a CUDA host) every CUDA kernel against the CPU on odd shapes, with the
 * reductions bitwise reproducible.
 *
 * Finite differences: for a layer y = f(x) and a fixed random upstream gradient G, the scalar
 * L(x) = Σ G ⊙ f(x) is differentiated numerically in float64 (h = 1e-6; error ~1e-10), and the
 * native backward's dL/dx (f32) must match to atol 2e-5 + rtol 1e-4.
 */
import { expect } from 'chai';

import era, { type Tensor } from '../lib/index.js';
import { native } from '../lib/native.js';
import {
  activation, activationBackward, concat, elu, eluBackward, layerNorm, layerNormBackward, linear, linearBackward, matmul,
  mean, meanBackward, mseLoss, mseLossBackward, relu, reluBackward, split, sum, sumBackward, tanh, tanhBackward,
  type Activation,
} from '../lib/nn/functional.js';
import { describeCuda, expectClose, expectThrowsNaming, finiteDifferences, randomArray, testSeed } from './helpers.js';

const seed = testSeed();
const FD = { atol: 2e-5, rtol: 1e-4 };

const cpu = (data: ArrayLike<number>, shape: number[]) => era.tensor(Float32Array.from(data), shape, { device: 'cpu' });
const f64 = (a: ArrayLike<number>) => Float64Array.from(a);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
/** Values away from 0 (the kinks of relu/elu) by at least 0.05. */
function awayFromZero(n: number, s: number): Float32Array {
  return randomArray(n, s, -1, 1).map((v) => (v >= 0 ? v + 0.05 : v - 0.05));
}

// ---------------------------------------------------------------------------------------------
// float64 references

function linear64(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null, rows: number, nIn: number, nOut: number): Float64Array {
  const y = new Float64Array(rows * nOut);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < nOut; j++) {
      let s = b ? b[j] : 0;
      for (let q = 0; q < nIn; q++) s += x[r * nIn + q] * w[q * nOut + j];
      y[r * nOut + j] = s;
    }
  }
  return y;
}

function act64(x: number, a: Activation): number {
  if (a === 'relu') return x > 0 ? x : 0;
  if (a === 'elu') return x > 0 ? x : Math.expm1(x);
  if (a === 'tanh') return Math.tanh(x);
  return x;
}

function layerNorm64(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, rows: number, d: number, eps = 1e-5) {
  const y = new Float64Array(rows * d);
  const mu = new Float64Array(rows);
  const rs = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[r * d + j];
    const m = s / d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (x[r * d + j] - m) ** 2;
    const rstd = 1 / Math.sqrt(v / d + eps);
    mu[r] = m;
    rs[r] = rstd;
    for (let j = 0; j < d; j++) y[r * d + j] = (x[r * d + j] - m) * rstd * w[j] + b[j];
  }
  return { y, mu, rs };
}

// ---------------------------------------------------------------------------------------------

describe(`dense layers on the CPU: forward vs float64, backward vs finite differences (seed ${seed})`, () => {
  it('linear: y = x·W + b; dx = dy·Wᵀ, dW = xᵀ·dy, db = Σ dy', () => {
    era.scope(() => {
      const [rows, nIn, nOut] = [5, 7, 4];
      const x = randomArray(rows * nIn, seed);
      const w = randomArray(nIn * nOut, seed + 1);
      const b = randomArray(nOut, seed + 2);
      const G = randomArray(rows * nOut, seed + 3);
      const y = linear(cpu(x, [rows, nIn]), cpu(w, [nIn, nOut]), cpu(b, [nOut]));
      expectClose(y.toArray(), linear64(x, w, b, rows, nIn, nOut), { atol: 1e-6, rtol: 1e-6, what: 'y' });
      const g = linearBackward(cpu(G, [rows, nOut]), cpu(x, [rows, nIn]), cpu(w, [nIn, nOut]));
      expectClose(g.dx!.toArray(), finiteDifferences((xx) => dot(G, linear64(xx, w, b, rows, nIn, nOut)), f64(x)), { ...FD, what: 'dx' });
      expectClose(g.dWeight.toArray(), finiteDifferences((ww) => dot(G, linear64(x, ww, b, rows, nIn, nOut)), f64(w)), { ...FD, what: 'dW' });
      expectClose(g.dBias!.toArray(), finiteDifferences((bb) => dot(G, linear64(x, w, bb, rows, nIn, nOut)), f64(b)), { ...FD, what: 'db' });
    });
  });

  for (const act of ['relu', 'elu', 'tanh'] as const) {
    it(`linear with a fused ${act}: the matmul epilogue, ${act}Backward from the output, then linearBackward`, () => {
      era.scope(() => {
        const [rows, nIn, nOut] = [6, 5, 8];
        const x = randomArray(rows * nIn, seed + 10);
        const w = randomArray(nIn * nOut, seed + 11);
        const b = randomArray(nOut, seed + 12);
        const G = randomArray(rows * nOut, seed + 13);
        const f = (xx: ArrayLike<number>, ww: ArrayLike<number>, bb: ArrayLike<number>) => linear64(xx, ww, bb, rows, nIn, nOut).map((v) => act64(v, act));
        const z = linear64(x, w, b, rows, nIn, nOut);
        // keep the pre-activations off relu's kink so finite differences are meaningful
        for (let i = 0; i < z.length; i++) if (Math.abs(z[i]) < 1e-3) b[i % nOut] += 0.01;
        const y = linear(cpu(x, [rows, nIn]), cpu(w, [nIn, nOut]), cpu(b, [nOut]), { activation: act });
        expectClose(y.toArray(), f(x, w, b), { atol: 1e-6, rtol: 1e-6, what: 'y' });
        const dz = activationBackward(cpu(G, [rows, nOut]), y, act);
        const g = linearBackward(dz, cpu(x, [rows, nIn]), cpu(w, [nIn, nOut]));
        expectClose(g.dx!.toArray(), finiteDifferences((xx) => dot(G, f(xx, w, b)), f64(x)), { ...FD, what: 'dx' });
        expectClose(g.dWeight.toArray(), finiteDifferences((ww) => dot(G, f(x, ww, b)), f64(w)), { ...FD, what: 'dW' });
        expectClose(g.dBias!.toArray(), finiteDifferences((bb) => dot(G, f(x, w, bb)), f64(b)), { ...FD, what: 'db' });
      });
    });
  }

  for (const [act, fwd, bwd] of [['relu', relu, reluBackward], ['elu', elu, eluBackward], ['tanh', tanh, tanhBackward]] as const) {
    it(`${act}: forward and backward (from the output)`, () => {
      era.scope(() => {
        const n = 40;
        const x = awayFromZero(n, seed + 20);
        x[0] = -30; // elu's tail, tanh's saturation
        x[1] = 25;
        const G = randomArray(n, seed + 21);
        const y = fwd(cpu(x, [5, 8]));
        expectClose(y.toArray(), Array.from(x, (v) => act64(v, act)), { atol: 1e-7, rtol: 1e-6, what: 'y' });
        const dx = bwd(cpu(G, [5, 8]), y);
        expectClose(dx.toArray(), finiteDifferences((xx) => dot(G, xx.map((v) => act64(v, act))), f64(x)), { ...FD, what: 'dx' });
      });
    });
  }

  it('activations run in place (out = x) and write into dy for the backward', () => {
    era.scope(() => {
      const x = cpu([-1, 0.5, 2, -3], [4]);
      expect(activation(x, 'relu', { out: x })).to.equal(x);
      expect(Array.from(x.toArray())).to.deep.equal([0, 0.5, 2, 0]);
      const dy = cpu([1, 1, 1, 1], [4]);
      reluBackward(dy, x, { out: dy });
      expect(Array.from(dy.toArray())).to.deep.equal([0, 1, 1, 0]);
      expect(Array.from(activation(cpu([-1, 2], [2]), 'none').toArray())).to.deep.equal([-1, 2]);
    });
  });

  for (const shape of [[6, 9], [2, 3, 5], [1, 1], [4, 64]]) {
    it(`layerNorm ${JSON.stringify(shape)}: y, mean, rstd; dx, dWeight, dBias`, () => {
      era.scope(() => {
        const d = shape[shape.length - 1];
        const rows = shape.reduce((a, b) => a * b, 1) / d;
        const x = randomArray(rows * d, seed + 30, -2, 2);
        const w = randomArray(d, seed + 31, 0.5, 1.5);
        const b = randomArray(d, seed + 32);
        const G = randomArray(rows * d, seed + 33);
        const ref = layerNorm64(x, w, b, rows, d);
        const r = layerNorm(cpu(x, shape), cpu(w, [d]), cpu(b, [d]));
        expect(r.mean.shape).to.deep.equal(shape.slice(0, -1));
        expectClose(r.y.toArray(), ref.y, { atol: 1e-5, rtol: 1e-5, what: 'y' });
        expectClose(r.mean.toArray(), ref.mu, { atol: 1e-6, rtol: 1e-6, what: 'mean' });
        expectClose(r.rstd.toArray(), ref.rs, { atol: 1e-6, rtol: 1e-5, what: 'rstd' });
        const g = layerNormBackward(cpu(G, shape), cpu(x, shape), cpu(w, [d]), r.mean, r.rstd);
        const L = (xx: ArrayLike<number>, ww: ArrayLike<number>, bb: ArrayLike<number>) => dot(G, layerNorm64(xx, ww, bb, rows, d).y);
        // d = 1: y = b exactly, dx = 0 (and the differences agree)
        expectClose(g.dx!.toArray(), finiteDifferences((xx) => L(xx, w, b), f64(x)), { ...FD, what: 'dx' });
        expectClose(g.dWeight.toArray(), finiteDifferences((ww) => L(x, ww, b), f64(w)), { ...FD, what: 'dWeight' });
        expectClose(g.dBias.toArray(), finiteDifferences((bb) => L(x, w, bb), f64(b)), { ...FD, what: 'dBias' });
      });
    });
  }

  it('concat along the last dim, and split (its backward)', () => {
    era.scope(() => {
      const a = randomArray(3 * 2, seed + 40);
      const b = randomArray(3 * 5, seed + 41);
      const c = randomArray(3 * 1, seed + 42);
      const out = concat([cpu(a, [3, 2]), cpu(b, [3, 5]), cpu(c, [3, 1])]);
      expect(out.shape).to.deep.equal([3, 8]);
      const want: number[] = [];
      for (let r = 0; r < 3; r++) want.push(...a.slice(2 * r, 2 * r + 2), ...b.slice(5 * r, 5 * r + 5), c[r]);
      expect(Array.from(out.toArray())).to.deep.equal(Array.from(Float32Array.from(want)));
      const G = randomArray(3 * 8, seed + 43);
      const cat64 = (aa: ArrayLike<number>, bb: ArrayLike<number>) => {
        const o: number[] = [];
        for (let r = 0; r < 3; r++) o.push(aa[2 * r], aa[2 * r + 1], ...Array.from(bb).slice(5 * r, 5 * r + 5), c[r]);
        return o;
      };
      const parts = split(cpu(G, [3, 8]), [2, 5, 1]);
      expect(parts.map((p) => p.shape)).to.deep.equal([[3, 2], [3, 5], [3, 1]]);
      expectClose(parts[0].toArray(), finiteDifferences((aa) => dot(G, cat64(aa, b)), f64(a)), { ...FD, what: 'da' });
      expectClose(parts[1].toArray(), finiteDifferences((bb) => dot(G, cat64(a, bb)), f64(b)), { ...FD, what: 'db' });
      // 3-D and zero-width parts
      const x3 = concat([cpu([1, 2, 3, 4], [2, 1, 2]), era.zeros([2, 1, 0], { device: 'cpu' }), cpu([5, 6], [2, 1, 1])]);
      expect(Array.from(x3.toArray())).to.deep.equal([1, 2, 5, 3, 4, 6]);
      const [p, q, r] = split(x3, [1, 0, 2]);
      expect(Array.from(p.toArray())).to.deep.equal([1, 3]);
      expect(q.shape).to.deep.equal([2, 1, 0]);
      expect(Array.from(r.toArray())).to.deep.equal([2, 5, 4, 6]);
    });
  });

  it('mseLoss (mean) and its gradient, scaled by the upstream gradient', () => {
    era.scope(() => {
      const n = 23;
      const p = randomArray(n, seed + 50);
      const t = randomArray(n, seed + 51);
      const mse64 = (pp: ArrayLike<number>) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += (pp[i] - t[i]) ** 2;
        return s / n;
      };
      const loss = mseLoss(cpu(p, [n]), cpu(t, [n]));
      expect(loss.shape).to.deep.equal([]);
      expectClose(loss.toArray(), [mse64(p)], { atol: 1e-7, rtol: 1e-6, what: 'loss' });
      const g = mseLossBackward(cpu(p, [n]), cpu(t, [n]), { scale: 0.5 });
      expectClose(g.toArray(), finiteDifferences((pp) => 0.5 * mse64(pp), f64(p)), { ...FD, what: 'dpred' });
    });
  });

  for (const [title, dim, shape] of [['all elements', undefined, [4, 6]], ['the last dim', -1, [4, 6]], ['the first dim', 0, [4, 6]], ['the last dim of a 3-D tensor', 2, [2, 3, 5]], ['the first dim of a 3-D tensor', 0, [2, 3, 5]]] as const) {
    it(`sum and mean over ${title}, and their backward`, () => {
      era.scope(() => {
        const n = shape.reduce((a, b) => a * b, 1);
        const x = randomArray(n, seed + 60);
        const last = shape[shape.length - 1];
        const ref = (xx: ArrayLike<number>, isMean: boolean) => {
          if (dim === undefined) {
            const s = Array.from(xx).reduce((a, b) => a + b, 0);
            return [isMean ? s / n : s];
          }
          if (dim === 0) {
            const d = n / shape[0];
            const o = new Array(d).fill(0);
            for (let i = 0; i < n; i++) o[i % d] += xx[i] / (isMean ? shape[0] : 1);
            return o;
          }
          const o = new Array(n / last).fill(0);
          for (let i = 0; i < n; i++) o[Math.floor(i / last)] += xx[i] / (isMean ? last : 1);
          return o;
        };
        for (const isMean of [false, true]) {
          const fn = isMean ? mean : sum;
          const y = fn(cpu(x, [...shape]), { dim });
          expectClose(y.toArray(), ref(x, isMean), { atol: 1e-6, rtol: 1e-6, what: isMean ? 'mean' : 'sum' });
          const G = randomArray(y.size, seed + 61);
          const dx = (isMean ? meanBackward : sumBackward)(era.tensor(G, y.shape.slice(), { device: 'cpu' }), [...shape], { dim });
          expectClose(dx.toArray(), finiteDifferences((xx) => dot(G, ref(xx, isMean)), f64(x)), { ...FD, what: 'dx' });
        }
      });
    });
  }

  it('accumulate adds into gradients instead of overwriting them', () => {
    era.scope(() => {
      const x = cpu(randomArray(12, seed + 70), [3, 4]);
      const w = cpu(randomArray(8, seed + 71), [4, 2]);
      const dy = cpu(randomArray(6, seed + 72), [3, 2]);
      const once = linearBackward(dy, x, w);
      const dWeight = era.full([4, 2], 1, { device: 'cpu' });
      const dBias = era.full([2], 1, { device: 'cpu' });
      linearBackward(dy, x, w, { dWeight, dBias, accumulate: true, inputGrad: false });
      expectClose(dWeight.toArray(), Array.from(once.dWeight.toArray(), (v) => v + 1), { atol: 1e-6, what: 'dW' });
      expectClose(dBias.toArray(), Array.from(once.dBias!.toArray(), (v) => v + 1), { atol: 1e-6, what: 'db' });

      const lw = cpu([1, 2, 3, 4], [4]);
      const ln = layerNorm(x, lw, cpu([0, 0, 0, 0], [4]));
      const g1 = layerNormBackward(x, x, lw, ln.mean, ln.rstd);
      const dW2 = era.full([4], 2, { device: 'cpu' });
      const dB2 = era.full([4], 2, { device: 'cpu' });
      const g2 = layerNormBackward(x, x, lw, ln.mean, ln.rstd, { dWeight: dW2, dBias: dB2, accumulate: true, inputGrad: false });
      expect(g2.dx).to.equal(null);
      expectClose(dW2.toArray(), Array.from(g1.dWeight.toArray(), (v) => v + 2), { atol: 1e-6, what: 'dWeight' });
      expectClose(dB2.toArray(), Array.from(g1.dBias.toArray(), (v) => v + 2), { atol: 1e-6, what: 'dBias' });

      const s = era.full([], 10, { device: 'cpu' });
      sum(cpu([1, 2, 3], [3]), { out: s, accumulate: true });
      expect(s.toArray()[0]).to.equal(16);
    });
  });
});

// ---------------------------------------------------------------------------------------------

interface Bad {
  title: string;
  call: () => unknown;
  error: typeof TypeError | typeof RangeError;
  names: string;
}

const c = (shape: number[]) => era.zeros(shape, { device: 'cpu' });
/** An addon function, called without the TS checks. */
const raw = (name: string, ...args: unknown[]) => (native() as unknown as Record<string, (...a: unknown[]) => void>)[name](...args);
/** Two CPU tensors over overlapping parts of one buffer (CPU tensors wrap without copying). */
function overlapping(): [Tensor, Tensor] {
  const buf = new Float32Array(8);
  return [era.tensor(buf.subarray(0, 4), [4], { device: 'cpu' }), era.tensor(buf.subarray(2, 6), [4], { device: 'cpu' })];
}

const BAD: Bad[] = [
  { title: 'linear: weight of the wrong inner dim', call: () => linear(c([2, 3]), c([4, 5])), error: RangeError, names: 'b' },
  { title: 'linearBackward: dy of the wrong width', call: () => linearBackward(c([2, 4]), c([2, 3]), c([3, 5])), error: RangeError, names: 'weight' },
  { title: 'linearBackward: x with other rows', call: () => linearBackward(c([2, 5]), c([3, 3]), c([3, 5])), error: RangeError, names: 'x' },
  { title: 'linearBackward: accumulate without dWeight', call: () => linearBackward(c([2, 5]), c([2, 3]), c([3, 5]), { accumulate: true }), error: RangeError, names: 'options.accumulate' },
  { title: 'activation: an unknown kind', call: () => activation(c([3]), 'gelu' as never), error: RangeError, names: 'activation' },
  { title: 'activation: an i32 input', call: () => relu(era.tensor(new Int32Array(3), [3], { device: 'cpu' })), error: TypeError, names: 'x' },
  { title: 'activation: out of another shape', call: () => relu(c([3]), { out: c([4]) }), error: RangeError, names: 'options.out' },
  { title: 'activationBackward: y of another shape', call: () => reluBackward(c([3]), c([4])), error: RangeError, names: 'y' },
  { title: 'layerNorm: weight of the wrong length', call: () => layerNorm(c([2, 4]), c([3]), c([4])), error: RangeError, names: 'weight' },
  { title: 'layerNorm: bias that is not a tensor', call: () => layerNorm(c([2, 4]), c([4]), [0, 0, 0, 0] as never), error: TypeError, names: 'bias' },
  { title: 'layerNorm: eps of 0', call: () => layerNorm(c([2, 4]), c([4]), c([4]), { eps: 0 }), error: RangeError, names: 'options.eps' },
  { title: 'layerNorm: a 0-d input', call: () => layerNorm(c([]), c([1]), c([1])), error: RangeError, names: 'x' },
  { title: 'layerNorm: mean of the wrong shape', call: () => layerNorm(c([2, 4]), c([4]), c([4]), { mean: c([4]) }), error: RangeError, names: 'options.mean' },
  { title: 'layerNormBackward: rstd of the wrong size', call: () => layerNormBackward(c([2, 4]), c([2, 4]), c([4]), c([2]), c([3])), error: RangeError, names: 'rstd' },
  { title: 'concat: an empty list', call: () => concat([]), error: RangeError, names: 'inputs' },
  { title: 'concat: leading dims that differ', call: () => concat([c([2, 3]), c([3, 3])]), error: RangeError, names: 'inputs[1]' },
  { title: 'concat: out of the wrong width', call: () => concat([c([2, 3]), c([2, 3])], { out: c([2, 5]) }), error: RangeError, names: 'options.out' },
  { title: 'split: sizes that do not add up', call: () => split(c([2, 5]), [2, 2]), error: RangeError, names: 'sizes' },
  { title: 'split: a fractional size', call: () => split(c([2, 5]), [2.5, 2.5]), error: RangeError, names: 'sizes' },
  { title: 'mseLoss: target of another shape', call: () => mseLoss(c([3]), c([4])), error: RangeError, names: 'target' },
  { title: 'mseLoss: an empty prediction', call: () => mseLoss(c([0]), c([0])), error: RangeError, names: 'pred' },
  { title: 'mseLossBackward: a NaN scale', call: () => mseLossBackward(c([3]), c([3]), { scale: NaN }), error: RangeError, names: 'options.scale' },
  { title: 'sum: a middle dim', call: () => sum(c([2, 3, 4]), { dim: 1 }), error: RangeError, names: 'options.dim' },
  { title: 'sum: out of the wrong shape', call: () => sum(c([2, 3]), { dim: -1, out: c([3]) }), error: RangeError, names: 'options.out' },
  { title: 'mean: over an empty dim', call: () => mean(c([2, 0]), { dim: -1 }), error: RangeError, names: 'x' },
  { title: 'sumBackward: dy of the wrong shape', call: () => sumBackward(c([3]), [2, 3], { dim: -1 }), error: RangeError, names: 'dy' },
  { title: 'matmul from linear: bias of the wrong length', call: () => linear(c([2, 3]), c([3, 4]), c([5])), error: RangeError, names: 'options.bias' },
  { title: 'activation: out overlapping x', call: () => { const [x, o] = overlapping(); return relu(x, { out: o }); }, error: RangeError, names: 'options.out' },
  { title: 'matmul: bias overlapping out', call: () => { const [b, o] = overlapping(); return matmul(c([1, 3]), c([3, 4]), { bias: b, out: era.tensor(o.data as Float32Array, [1, 4], { device: 'cpu' }) }); }, error: RangeError, names: 'options.out' },
  // the native op layer checks again when the TS layer is bypassed
  { title: 'native: layerNorm weight of the wrong length', call: () => raw('layerNorm', c([2, 4]).handle, c([2]).handle, c([2]).handle, c([2, 4]).handle, c([3]).handle, c([4]).handle, 1e-5), error: RangeError, names: 'weight' },
  { title: 'native: layerNorm eps that is not a number', call: () => raw('layerNorm', c([2, 4]).handle, c([2]).handle, c([2]).handle, c([2, 4]).handle, c([4]).handle, c([4]).handle, 'x'), error: TypeError, names: 'options.eps' },
  { title: 'native: an unknown reduction dim code', call: () => raw('reduceSum', c([]).handle, c([3]).handle, 5, false, false), error: RangeError, names: 'options.dim' },
  { title: 'native: concat inputs that are not an array', call: () => raw('concat', c([2, 3]).handle, c([2, 3]).handle), error: TypeError, names: 'inputs' },
  { title: 'native: concat parts that do not fill out', call: () => raw('concat', c([2, 4]).handle, [c([2, 3]).handle]), error: RangeError, names: 'options.out' },
  { title: 'native: mseLoss out that is not a scalar', call: () => raw('mseLoss', c([2]).handle, c([2]).handle, c([2]).handle), error: RangeError, names: 'options.out' },
  { title: 'native: activation code 7', call: () => raw('activation', c([2]).handle, c([2]).handle, 7), error: RangeError, names: 'activation' },
];

describe('dense layers reject bad input, naming the argument', () => {
  for (const b of BAD) {
    it(b.title, () => {
      era.scope(() => {
        const thrown = expectThrowsNaming(() => b.call(), b.error, b.names);
        expect(thrown.message).to.match(/^Expected .+ for .+ but received .+/s);
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------

/** Runs fn on cpu and cuda copies of the same inputs; returns both outputs as host arrays. */
function both(inputs: { data: Float32Array; shape: number[] }[], fn: (xs: Tensor[]) => Tensor | Tensor[]): { cpu: Float32Array[]; cuda: Float32Array[] } {
  const go = (device: 'cpu' | 'cuda') => era.scope(() => {
    const xs = inputs.map((i) => era.tensor(Float32Array.from(i.data), i.shape, { device }));
    const r = fn(xs);
    return (Array.isArray(r) ? r : [r]).map((t) => t.toArray() as Float32Array);
  });
  return { cpu: go('cpu'), cuda: go('cuda') };
}

function expectBoth(r: { cpu: Float32Array[]; cuda: Float32Array[] }, tol: { atol: number; rtol: number }, what: string): void {
  r.cpu.forEach((c0, i) => expectClose(r.cuda[i], c0, { ...tol, what: `${what} [${i}]` }));
}

const inp = (shape: number[], s: number, lo = -1, hi = 1) => ({ data: randomArray(shape.reduce((a, b) => a * b, 1), s, lo, hi), shape });

describeCuda(`dense layers on CUDA against the CPU (seed ${seed})`, () => {
  for (const [rows, nIn, nOut] of [[37, 29, 65], [256, 88, 512], [256, 67, 512], [1, 1, 1]]) {
    it(`linear ${rows}x${nIn} -> ${nOut} forward (every activation) and backward`, () => {
      for (const act of ['none', 'relu', 'elu', 'tanh'] as const) {
        const r = both([inp([rows, nIn], seed), inp([nIn, nOut], seed + 1), inp([nOut], seed + 2), inp([rows, nOut], seed + 3)], ([x, w, b, dy]) => {
          const y = linear(x, w, b, { activation: act });
          const dz = activationBackward(dy, y, act);
          const g = linearBackward(dz, x, w);
          return [y, g.dx!, g.dWeight, g.dBias!];
        });
        expectBoth(r, { atol: 2e-5 * Math.sqrt(Math.max(nIn, rows)), rtol: 1e-5 }, `linear ${act}`);
      }
    });
  }

  it('activations and their backward on 100003 elements', () => {
    for (const act of ['relu', 'elu', 'tanh'] as const) {
      const r = both([inp([100003], seed + 5, -6, 6), inp([100003], seed + 6)], ([x, dy]) => {
        const y = activation(x, act);
        return [y, activationBackward(dy, y, act)];
      });
      expectBoth(r, { atol: 1e-6, rtol: 1e-6 }, act);
    }
  });

  for (const [rows, d] of [[1, 1], [37, 129], [256, 512], [1000, 33], [3, 4097]]) {
    it(`layerNorm ${rows}x${d} forward and backward`, () => {
      const r = both([inp([rows, d], seed + 7, -3, 3), inp([d], seed + 8, 0.5, 1.5), inp([d], seed + 9), inp([rows, d], seed + 10)], ([x, w, b, dy]) => {
        const f = layerNorm(x, w, b);
        const g = layerNormBackward(dy, x, w, f.mean, f.rstd);
        return [f.y, f.mean, f.rstd, g.dx!, g.dWeight, g.dBias];
      });
      expectBoth(r, { atol: 2e-5 * Math.sqrt(rows), rtol: 1e-4 }, 'layerNorm');
    });
  }

  it('concat and split of odd widths', () => {
    const r = both([inp([77, 67], seed + 11), inp([77, 21], seed + 12), inp([77, 1], seed + 13)], ([a, b, cc]) => {
      const cat = concat([a, b, cc]);
      return [cat, ...split(cat, [1, 88])];
    });
    expectBoth(r, { atol: 0, rtol: 0 }, 'concat/split');
  });

  it('concat and split of 11 parts, two of no columns (one launch per 8 parts on CUDA)', () => {
    const widths = [3, 0, 1, 5, 2, 0, 7, 1, 1, 4, 2];
    const r = both(widths.map((w, i) => inp([3, 11, w], seed + 30 + i)), (parts) => {
      const cat = concat(parts);
      return [cat, ...split(cat, widths)];
    });
    expectBoth(r, { atol: 0, rtol: 0 }, 'concat/split');
    // split undoes concat on each device, bit for bit
    const total = widths.reduce((a, b) => a + b, 0);
    expect(r.cpu[0].length).to.equal(33 * total);
    for (const got of [r.cpu, r.cuda]) {
      widths.forEach((w, i) => expect(Array.from(got[1 + i]), `part ${i}`).to.deep.equal(Array.from(inp([3, 11, w], seed + 30 + i).data)));
    }
  });

  it('mseLoss and its gradient', () => {
    const r = both([inp([256, 1], seed + 14), inp([256, 1], seed + 15)], ([p, t]) => [mseLoss(p, t), mseLossBackward(p, t, { scale: 0.5 })]);
    expectBoth(r, { atol: 1e-7, rtol: 1e-6 }, 'mse');
    const big = both([inp([1 << 20], seed + 16), inp([1 << 20], seed + 17)], ([p, t]) => mseLoss(p, t));
    expectBoth(big, { atol: 0, rtol: 1e-6 }, 'mse 2^20');
  });

  it('sum and mean over all, last and first dims, and their backward', () => {
    for (const shape of [[3000001], [333, 129], [7, 5, 1000]]) {
      for (const dim of [undefined, -1, 0]) {
        const r = both([inp(shape, seed + 18)], ([x]) => {
          const s = sum(x, { dim });
          const m = mean(x, { dim });
          return [s, m, sumBackward(s, shape, { dim }), meanBackward(m, shape, { dim })];
        });
        const n = shape.reduce((a, b) => a * b, 1);
        expectBoth(r, { atol: 1e-6 * Math.sqrt(n), rtol: 1e-5 }, `reduce ${JSON.stringify(shape)} dim ${dim}`);
      }
    }
  });

  it('reductions and layerNorm parameter grads are bitwise reproducible', () => {
    era.scope(() => {
      const x = era.tensor(randomArray(1 << 22, seed + 19), [1 << 12, 1 << 10], { device: 'cuda' });
      const w = era.ones([1 << 10], { device: 'cuda' });
      const b = era.zeros([1 << 10], { device: 'cuda' });
      const once = () => {
        const f = layerNorm(x, w, b);
        const g = layerNormBackward(x, x, w, f.mean, f.rstd);
        return [sum(x), mean(x, { dim: 0 }), g.dWeight, g.dBias, mseLoss(x, f.y)].map((t) => Buffer.from((t.toArray() as Float32Array).buffer));
      };
      const a = once();
      const c2 = once();
      a.forEach((buf, i) => expect(buf.equals(c2[i]), `output ${i}`).to.equal(true));
    });
  });
});

/**
 * nn.MLP: every parameter gradient and the input gradient against float64 finite differences of a
 * float64 reference network (CPU; each activation, with and without LayerNorm, ensembles with
 * shared, grouped and per-member inputs, heads), the initialisers (orthogonal really orthogonal,
 * deterministic by seed), ensemble members equal to standalone models, a fit of sin(x) with Adam,
 * save → load → continue training bit for bit, bad inputs named, and a fixed-shape training step
 * that allocates nothing. On a CUDA host: CUDA against the CPU on odd and large shapes, and the
 * CUDA loss curve against the CPU's.
 *
 * Finite differences: L(θ, x) = Σ G ⊙ net(θ, x) for a fixed random G, differentiated numerically
 * in float64 (h = 1e-6) at the model's own f32 parameters; the native backward (f32) must match
 * to atol 2e-5 + rtol 1e-4.
 */
import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import era, { EraError, type Tensor } from '../lib/index.js';
import { native } from '../lib/native.js';
import { mseLoss, mseLossBackward } from '../lib/nn/functional.js';
import { InitRandom } from '../lib/nn/init.js';
import { MLP, type MLPOptions } from '../lib/nn/mlp.js';
import { Adam, AdamW, SGD } from '../lib/nn/optim.js';
import { readSafetensors, writeSafetensors } from '../lib/nn/safetensors.js';
import { describeCuda, expectClose, expectThrowsNaming, finiteDifferences, randomArray, testSeed } from './helpers.js';

const seed = testSeed();
const FD = { atol: 2e-5, rtol: 1e-4 };
const cpu = (data: ArrayLike<number>, shape: number[]) => era.tensor(Float32Array.from(data), shape, { device: 'cpu' });

// ---------------------------------------------------------------------------------------------
// The float64 reference network

interface Ref {
  y: Float64Array;
  /** Smallest |pre-activation| of a ReLU (finite differences need it away from the kink). */
  margin: number;
}

function act64(v: number, a: string): number {
  if (a === 'relu') return v > 0 ? v : 0;
  if (a === 'elu') return v > 0 ? v : Math.expm1(v);
  if (a === 'tanh') return Math.tanh(v);
  return v;
}

/** y [E, B, out] of the network with parameters `p` (E · P values, the model's layout). */
function reference(m: MLP, p: ArrayLike<number>, x: ArrayLike<number>, groups: number, batch: number): Ref {
  const o = m.options;
  const E = o.ensemble;
  const P = m.numParameters;
  const per = E / groups;
  const sizes = [o.inputSize, ...o.hiddenSizes, o.outputSize];
  const off = new Map(m.parameters().map((q) => [q.name, q.offset]));
  const y = new Float64Array(E * batch * o.outputSize);
  let margin = Infinity;
  for (let e = 0; e < E; e++) {
    const g = Math.floor(e / per);
    let a = Float64Array.from({ length: batch * o.inputSize }, (_, i) => x[g * batch * o.inputSize + i]);
    for (let l = 0; l + 1 < sizes.length; l++) {
      const [k, n] = [sizes[l], sizes[l + 1]];
      const hidden = l + 2 < sizes.length;
      const w = e * P + off.get(`layers.${l}.weight`)!;
      const b = e * P + off.get(`layers.${l}.bias`)!;
      const z = new Float64Array(batch * n);
      for (let r = 0; r < batch; r++) {
        for (let j = 0; j < n; j++) {
          let s = p[b + j];
          for (let q = 0; q < k; q++) s += a[r * k + q] * p[w + q * n + j];
          z[r * n + j] = s;
        }
      }
      if (hidden && o.layerNorm) {
        const gw = e * P + off.get(`norms.${l}.weight`)!;
        const gb = e * P + off.get(`norms.${l}.bias`)!;
        for (let r = 0; r < batch; r++) {
          let mu = 0;
          for (let j = 0; j < n; j++) mu += z[r * n + j];
          mu /= n;
          let v = 0;
          for (let j = 0; j < n; j++) v += (z[r * n + j] - mu) ** 2;
          const rs = 1 / Math.sqrt(v / n + 1e-6);
          for (let j = 0; j < n; j++) z[r * n + j] = (z[r * n + j] - mu) * rs * p[gw + j] + p[gb + j];
        }
      }
      const act = hidden ? o.activation : o.outputActivation;
      if (act === 'relu') for (const v of z) margin = Math.min(margin, Math.abs(v));
      a = z.map((v) => act64(v, act));
    }
    y.set(a, e * batch * o.outputSize);
  }
  return { y, margin };
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/** Indices of real parameters (not alignment padding) in the flat block. */
function parameterIndices(m: MLP): number[] {
  const out: number[] = [];
  for (let e = 0; e < m.ensemble; e++) {
    for (const p of m.parameters()) {
      const n = p.shape.reduce((a, b) => a * b, 1);
      for (let i = 0; i < n; i++) out.push(e * m.numParameters + p.offset + i);
    }
  }
  return out;
}

interface GradCase {
  title: string;
  options: Omit<MLPOptions, 'device' | 'seed'>;
  /** Leading dim of x: 0 for a 2-D x shared by every member. */
  groups: number;
  batch: number;
}

const GRAD_CASES: GradCase[] = [
  ...(['relu', 'elu', 'tanh'] as const).flatMap((activation) => [false, true].map((layerNorm) => ({
    title: `${activation}${layerNorm ? ' + LayerNorm' : ''}, ensemble of 4 in 2 input groups`,
    options: { inputSize: 3, hiddenSizes: [5, 4], outputSize: 2, activation, layerNorm, ensemble: 4 },
    groups: 2,
    batch: 3,
  }))),
  { title: 'one input shared by an ensemble of 3 (elu + LayerNorm)', options: { inputSize: 4, hiddenSizes: [6], outputSize: 3, activation: 'elu', layerNorm: true, ensemble: 3 }, groups: 0, batch: 2 },
  { title: 'one input per member, tanh output', options: { inputSize: 2, hiddenSizes: [3, 3], outputSize: 2, activation: 'tanh', outputActivation: 'tanh', ensemble: 2 }, groups: 2, batch: 4 },
  { title: 'a single model with orthogonal heads (the SAC actor)', options: { inputSize: 5, hiddenSizes: [7, 6], outputSize: 4, activation: 'elu', init: 'orthogonal', heads: [{ size: 2, gain: Math.SQRT2 }, { size: 2, gain: 1 }] }, groups: 0, batch: 3 },
  { title: 'no hidden layer (a linear model), relu output', options: { inputSize: 3, hiddenSizes: [], outputSize: 2, outputActivation: 'relu', ensemble: 2 }, groups: 1, batch: 5 },
];

// ---------------------------------------------------------------------------------------------

describe(`nn.MLP on the CPU: gradients vs float64 finite differences (seed ${seed})`, () => {
  for (const [ci, c] of GRAD_CASES.entries()) {
    it(`${c.title}: every parameter and the input`, () => {
      era.scope(() => {
        // ReLU: draw until no pre-activation sits within 1e-3 of the kink.
        for (let attempt = 0; ; attempt++) {
          const s = seed + 100 * ci + attempt;
          using m = new MLP({ ...c.options, device: 'cpu', seed: s });
          const o = m.options;
          const groups = c.groups || 1;
          const xShape = c.groups ? [c.groups, c.batch, o.inputSize] : [c.batch, o.inputSize];
          const x = randomArray(groups * c.batch * o.inputSize, s + 1, -1.5, 1.5);
          const params = Float64Array.from(m.params.toArray());
          const r0 = reference(m, params, x, groups, c.batch);
          if (r0.margin < 1e-3 && attempt < 20) continue;
          const y = m.forward(cpu(x, xShape));
          expectClose(y.toArray(), r0.y, { atol: 1e-5, rtol: 1e-5, what: 'y' });
          const G = randomArray(y.size, s + 2);
          const dx = m.backward(cpu(G, y.shape.slice()), { inputGrad: true })!;
          expect(dx.shape).to.deep.equal(xShape);
          const idx = parameterIndices(m);
          const analytic = m.grads.toArray();
          const numeric = finiteDifferences((sub) => {
            const p = Float64Array.from(params);
            idx.forEach((k, i) => (p[k] = sub[i]));
            return dot(G, reference(m, p, x, groups, c.batch).y);
          }, Float64Array.from(idx, (k) => params[k]));
          expectClose(idx.map((k) => analytic[k]), numeric, { ...FD, what: 'dL/dparams' });
          // padding never receives gradient
          const real = new Set(idx);
          for (let k = 0; k < analytic.length; k++) if (!real.has(k)) expect(analytic[k], `padding ${k}`).to.equal(0);
          const numericX = finiteDifferences((xx) => dot(G, reference(m, params, xx, groups, c.batch).y), Float64Array.from(x));
          expectClose(dx.toArray(), numericX, { ...FD, what: 'dL/dx' });
          return;
        }
      });
    });
  }

  it('gradients accumulate across backward calls; paramGrads: false leaves them alone', () => {
    era.scope(() => {
      using m = new MLP({ inputSize: 3, hiddenSizes: [4], outputSize: 2, layerNorm: true, activation: 'elu', ensemble: 2, device: 'cpu', seed });
      const x = cpu(randomArray(6, seed + 1), [2, 3]);
      const y = m.forward(x);
      const dy = cpu(randomArray(y.size, seed + 2), y.shape.slice());
      m.backward(dy);
      const once = m.grads.toArray();
      expect(once.some((v) => v !== 0)).to.equal(true);
      const dx1 = m.backward(dy, { inputGrad: true })!.toArray();
      expectClose(m.grads.toArray(), once.map((v) => 2 * v), { atol: 1e-6, rtol: 1e-6, what: 'grads after two backward calls' });
      const dx2 = m.backward(dy, { inputGrad: true, paramGrads: false })!.toArray();
      expectClose(m.grads.toArray(), once.map((v) => 2 * v), { atol: 1e-6, rtol: 1e-6, what: 'grads untouched' });
      expect(Array.from(dx2)).to.deep.equal(Array.from(dx1));
      expect(m.backward(dy)).to.equal(null);
      m.zeroGrad();
      expect(m.grads.toArray().every((v) => v === 0)).to.equal(true);
    });
  });

  it('accumulate: false overwrites stale gradients: bit for bit zeroGrad() then backward()', () => {
    for (const c of OVERWRITE_CASES) expectOverwriteMatches('cpu', c.options, c.xShape);
    expectThrowsNaming(() => era.scope(() => {
      using m = new MLP({ inputSize: 2, hiddenSizes: [], outputSize: 1, device: 'cpu', seed });
      const y = m.forward(cpu([1, 2], [1, 2]));
      m.backward(era.ones(y.shape.slice(), { device: 'cpu' }), { accumulate: 'no' as never });
    }), TypeError, 'options.accumulate');
  });
});

const OVERWRITE_CASES: { options: Omit<MLPOptions, 'device' | 'seed'>; xShape: number[] }[] = [
  { options: { inputSize: 5, hiddenSizes: [9, 7], outputSize: 3, layerNorm: true, activation: 'elu', ensemble: 4 }, xShape: [2, 6, 5] },
  { options: { inputSize: 4, hiddenSizes: [8], outputSize: 2, activation: 'tanh', outputActivation: 'tanh', ensemble: 2 }, xShape: [3, 4] },
  { options: { inputSize: 3, hiddenSizes: [], outputSize: 2, ensemble: 3 }, xShape: [3, 5, 3] },
];

/** backward({ accumulate: false }) over stale grads equals zeroGrad() + backward(), bit for bit. */
function expectOverwriteMatches(device: 'cpu' | 'cuda', options: Omit<MLPOptions, 'device' | 'seed'>, xShape: number[]): void {
  era.scope(() => {
    using a = new MLP({ ...options, device, seed });
    using b = new MLP({ ...a.options, device });
    const n = xShape.reduce((p, q) => p * q, 1);
    const x = era.tensor(randomArray(n, seed + 5, -2, 2), xShape, { device });
    const dy = era.tensor(randomArray(a.forward(x).size, seed + 6), a.forward(x).shape.slice(), { device });
    a.zeroGrad();
    a.backward(dy);
    b.forward(x);
    b.grads.fill(7); // stale
    b.backward(dy, { accumulate: false });
    const want = a.grads.toArray(), got = b.grads.toArray();
    // Padding between parameters is never written: compare the real parameters only.
    const idx = parameterIndices(a);
    expect(idx.some((i) => want[i] !== 0)).to.equal(true);
    expect(idx.map((i) => got[i]), JSON.stringify(options)).to.deep.equal(idx.map((i) => want[i]));
  });
}

// ---------------------------------------------------------------------------------------------

/** Member e's tensor `name` as a row-major [rows, cols] Float64Array. */
function weightOf(m: MLP, flat: ArrayLike<number>, e: number, name: string): { w: Float64Array; rows: number; cols: number } {
  const p = m.parameters().find((q) => q.name === name)!;
  const [rows, cols] = p.shape.length === 2 ? p.shape : [1, p.shape[0]];
  const base = e * m.numParameters + p.offset;
  return { w: Float64Array.from({ length: rows * cols }, (_, i) => flat[base + i]), rows, cols };
}

/** max |AᵀA − gain²·I| over the smaller side's Gram matrix (columns when rows ≥ cols). */
function orthogonalityError(w: Float64Array, rows: number, cols: number, col0: number, ncols: number, gain: number): number {
  const tall = rows >= ncols;
  const n = tall ? ncols : rows;
  let worst = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      if (tall) for (let r = 0; r < rows; r++) s += w[r * cols + col0 + i] * w[r * cols + col0 + j];
      else for (let c = 0; c < ncols; c++) s += w[i * cols + col0 + c] * w[j * cols + col0 + c];
      worst = Math.max(worst, Math.abs(s - (i === j ? gain * gain : 0)));
    }
  }
  return worst;
}

describe('nn.MLP initialisation', () => {
  it('seeds: every bit of a seed up to 2^53 counts, and seeds below 2^32 give the streams they always gave', () => {
    const first = (s: number) => { const r = new InitRandom(s); return [r.nextU32(), r.nextU32(), r.nextU32(), r.nextU32()]; };
    // Recorded from the generator before the high bits got a word of their own.
    expect(first(0)).to.deep.equal([3809008728, 1133695204, 53579671, 2891528803]);
    expect(first(12345)).to.deep.equal([518667457, 440444462, 4232892992, 3757857622]);
    // 2^32 + 0x9e3779b9 once folded onto seed 0: identical parameters.
    expect(first(2 ** 32 + 0x9e3779b9)).to.not.deep.equal(first(0));
    expect(first(2 ** 40 + 7)).to.not.deep.equal(first(7));
    const opts = { inputSize: 3, hiddenSizes: [4], outputSize: 2, device: 'cpu' as const };
    using a = new MLP({ ...opts, seed: 0 });
    using b = new MLP({ ...opts, seed: 2 ** 32 + 0x9e3779b9 });
    expect(Array.from(a.params.toArray())).to.not.deep.equal(Array.from(b.params.toArray()));
  });

  it("orthogonal: WᵀW = gain²·I for tall weights, WWᵀ for wide ones; heads with their own gains; zero biases; LayerNorm 1 and 0", () => {
    using m = new MLP({ inputSize: 9, hiddenSizes: [16, 6], outputSize: 8, layerNorm: true, init: 'orthogonal', gain: 1.7, heads: [{ size: 3, gain: 0.5 }, { size: 5, gain: 2 }], ensemble: 2, device: 'cpu', seed });
    const flat = m.params.toArray();
    for (let e = 0; e < 2; e++) {
      const w0 = weightOf(m, flat, e, 'layers.0.weight'); // 9 x 16: wide, WWᵀ = gain²·I_9
      expect(orthogonalityError(w0.w, 9, 16, 0, 16, 1.7)).to.be.below(1e-5);
      const w1 = weightOf(m, flat, e, 'layers.1.weight'); // 16 x 6: tall
      expect(orthogonalityError(w1.w, 16, 6, 0, 6, 1.7)).to.be.below(1e-5);
      const w2 = weightOf(m, flat, e, 'layers.2.weight'); // 6 x 8: heads 6x3 (tall) and 6x5 (tall)
      expect(orthogonalityError(w2.w, 6, 8, 0, 3, 0.5)).to.be.below(1e-5);
      expect(orthogonalityError(w2.w, 6, 8, 3, 5, 2)).to.be.below(1e-5);
      // the whole 6x8 layer is not one orthogonal matrix of either gain: the heads really differ
      expect(orthogonalityError(w2.w, 6, 8, 0, 8, 2)).to.be.above(0.1);
      for (const name of ['layers.0.bias', 'layers.1.bias', 'layers.2.bias', 'norms.0.bias', 'norms.1.bias']) {
        expect(Array.from(weightOf(m, flat, e, name).w).every((v) => v === 0), name).to.equal(true);
      }
      for (const name of ['norms.0.weight', 'norms.1.weight']) expect(Array.from(weightOf(m, flat, e, name).w).every((v) => v === 1), name).to.equal(true);
    }
    // members are initialised independently
    expect(weightOf(m, flat, 0, 'layers.1.weight').w[0]).to.not.equal(weightOf(m, flat, 1, 'layers.1.weight').w[0]);
  });

  it("default: PyTorch nn.Linear's U(±1/sqrt(fan_in)) for weights and biases", () => {
    using m = new MLP({ inputSize: 25, hiddenSizes: [64], outputSize: 16, device: 'cpu', seed });
    const flat = m.params.toArray();
    for (const [name, fanIn] of [['layers.0.weight', 25], ['layers.0.bias', 25], ['layers.1.weight', 64], ['layers.1.bias', 64]] as const) {
      const v = Array.from(weightOf(m, flat, 0, name).w);
      const bound = 1 / Math.sqrt(fanIn);
      expect(Math.max(...v.map(Math.abs)), name).to.be.at.most(bound);
      // spread over the range: the extremes come within 20% of the bound
      if (v.length > 60) expect(Math.max(...v.map(Math.abs)), name).to.be.above(0.8 * bound);
      expect(new Set(v).size, name).to.be.above(v.length * 0.9);
    }
  });

  it('is deterministic by seed (bit for bit), and different seeds differ', () => {
    const opts = { inputSize: 7, hiddenSizes: [12, 12], outputSize: 3, init: 'orthogonal' as const, ensemble: 3, device: 'cpu' as const };
    using a = new MLP({ ...opts, seed: 42 });
    using b = new MLP({ ...opts, seed: 42 });
    using c = new MLP({ ...opts, seed: 43 });
    using d = new MLP({ ...a.options });
    expect(Buffer.from(a.params.toArray().buffer).equals(Buffer.from(b.params.toArray().buffer))).to.equal(true);
    expect(Buffer.from(a.params.toArray().buffer).equals(Buffer.from(d.params.toArray().buffer))).to.equal(true);
    expect(Buffer.from(a.params.toArray().buffer).equals(Buffer.from(c.params.toArray().buffer))).to.equal(false);
    // a random seed is recorded so the model can be rebuilt
    using e = new MLP({ inputSize: 2, hiddenSizes: [3], outputSize: 1, device: 'cpu' });
    expect(Number.isSafeInteger(e.options.seed)).to.equal(true);
  });
});

// ---------------------------------------------------------------------------------------------

describe('nn.MLP ensembles', () => {
  it('member e of an ensemble with grouped inputs equals a standalone MLP with member e\'s parameters (bit for bit on the CPU)', () => {
    era.scope(() => {
      const arch = { inputSize: 4, hiddenSizes: [8, 5], outputSize: 3, activation: 'elu' as const, layerNorm: true, device: 'cpu' as const };
      using ens = new MLP({ ...arch, ensemble: 6, seed });
      const [G, B] = [3, 5];
      const x = randomArray(G * B * 4, seed + 1);
      const y = ens.forward(cpu(x, [G, B, 4])).toArray();
      const dy = randomArray(y.length, seed + 2);
      ens.backward(cpu(dy, [6, B, 3]));
      const grads = ens.grads.toArray();
      const P = ens.numParameters;
      for (let e = 0; e < 6; e++) {
        using one = new MLP({ ...arch, seed: seed + 10 });
        expect(one.numParameters).to.equal(P);
        era.copy(one.params, ens.params.view(e * P, [P]));
        const g = Math.floor(e / 2);
        const ye = one.forward(cpu(x.subarray(g * B * 4, (g + 1) * B * 4), [B, 4])).toArray();
        expect(Array.from(ye), `member ${e} output`).to.deep.equal(Array.from(y.subarray(e * B * 3, (e + 1) * B * 3)));
        one.backward(cpu(dy.subarray(e * B * 3, (e + 1) * B * 3), [B, 3]));
        expect(Array.from(one.grads.toArray()), `member ${e} grads`).to.deep.equal(Array.from(grads.subarray(e * P, (e + 1) * P)));
      }
    });
  });

  it('the input gradient of a group is the sum over its members', () => {
    era.scope(() => {
      using m = new MLP({ inputSize: 3, hiddenSizes: [4], outputSize: 2, ensemble: 4, device: 'cpu', seed });
      const x = randomArray(2 * 3 * 3, seed + 1);
      const y = m.forward(cpu(x, [2, 3, 3]));
      const dy = randomArray(y.size, seed + 2);
      const dx = m.backward(cpu(dy, [4, 3, 2]), { inputGrad: true, paramGrads: false })!.toArray();
      // each member alone (zero dy elsewhere) gives its part
      const parts = [0, 1, 2, 3].map((e) => {
        const only = dy.map((v, i) => (Math.floor(i / 6) === e ? v : 0));
        return Array.from(m.backward(cpu(only, [4, 3, 2]), { inputGrad: true, paramGrads: false })!.toArray());
      });
      const want = Array.from(dx, (_, i) => (i < 9 ? parts[0][i] + parts[1][i] : parts[2][i] + parts[3][i]));
      expectClose(dx, want, { atol: 1e-6, rtol: 1e-5, what: 'dx' });
      expect(parts[0].slice(9).every((v) => v === 0)).to.equal(true); // member 0 only feeds group 0
    });
  });

  it('copyFrom copies parameters between same-architecture models (target networks)', () => {
    using a = new MLP({ inputSize: 3, hiddenSizes: [4], outputSize: 1, ensemble: 2, device: 'cpu', seed: 1 });
    using b = new MLP({ ...a.options, seed: 2, init: 'orthogonal' });
    expect(Array.from(b.params.toArray())).to.not.deep.equal(Array.from(a.params.toArray()));
    b.copyFrom(a);
    expect(Array.from(b.params.toArray())).to.deep.equal(Array.from(a.params.toArray()));
  });
});

// ---------------------------------------------------------------------------------------------

interface FitRun {
  losses: number[];
  params: Float32Array;
}

/** Fits sin(x) on [-π, π] (64 fixed points) with Adam; returns the loss of every step. */
function fitSin(device: 'cpu' | 'cuda', steps: number, precision: 'f32' | 'tf32' | 'bf16' = 'f32'): FitRun {
  return era.scope(() => {
    using m = new MLP({ inputSize: 1, hiddenSizes: [32, 32], outputSize: 1, activation: 'tanh', device, seed: 7, precision });
    const B = 64;
    const xs = Float32Array.from({ length: B }, (_, i) => -Math.PI + (2 * Math.PI * i) / (B - 1));
    const x = era.tensor(xs, [B, 1], { device });
    const target = era.tensor(xs.map(Math.sin), [B, 1], { device });
    const loss = era.empty([], { device });
    const grad = era.empty([B, 1], { device });
    using opt = new Adam(m.params, { lr: 1e-2 });
    const losses: number[] = [];
    for (let s = 0; s < steps; s++) {
      const y = m.forward(x);
      mseLoss(y, target, { out: loss });
      losses.push(loss.toArray()[0]);
      mseLossBackward(y, target, { out: grad });
      m.zeroGrad();
      m.backward(grad);
      opt.step(m.grads);
    }
    return { losses, params: m.params.toArray() as Float32Array };
  });
}

describe('nn.MLP training', () => {
  it('fits sin(x) with Adam: the loss falls by more than 100x in 300 steps', () => {
    const { losses } = fitSin('cpu', 300);
    const last = Math.min(...losses.slice(-10));
    expect(losses[0]).to.be.above(0.1);
    expect(last).to.be.below(losses[0] / 100);
  });

  it('a fixed-shape training step allocates nothing: era.memory() is stable and forward hands back the same view', () => {
    era.scope(() => {
      using m = new MLP({ inputSize: 6, hiddenSizes: [16, 16], outputSize: 2, layerNorm: true, activation: 'elu', ensemble: 2, device: 'cpu', seed });
      const x = cpu(randomArray(3 * 6, seed), [3, 6]);
      const dy = cpu(randomArray(2 * 3 * 2, seed + 1), [2, 3, 2]);
      using opt = new Adam(m.params, { lr: 1e-3 });
      const step = () => {
        const y = m.forward(x);
        m.zeroGrad();
        const dx = m.backward(dy, { inputGrad: true });
        opt.step(m.grads);
        return [y, dx];
      };
      const [y0, dx0] = step();
      const before = era.memory().cpu;
      for (let i = 0; i < 200; i++) {
        const [y, dx] = step();
        expect(y).to.equal(y0);
        expect(dx).to.equal(dx0);
      }
      expect(era.memory().cpu).to.deep.equal(before);
    });
  });

  it('the workspace grows only for a larger batch; outputs of the old workspace then throw the disposed error', () => {
    using m = new MLP({ inputSize: 2, hiddenSizes: [3], outputSize: 1, device: 'cpu', seed });
    const [x4, x2, x8] = [4, 2, 8].map((b) => cpu(randomArray(2 * b, seed), [b, 2]));
    const y4 = m.forward(x4);
    const bytes4 = era.memory().cpu.bytes;
    const y2 = m.forward(x2);
    expect(y2.shape).to.deep.equal([2, 1]);
    expect(era.memory().cpu.bytes).to.equal(bytes4); // smaller batch: same workspace
    expect(y4.disposed).to.equal(false);
    m.forward(x8);
    expect(era.memory().cpu.bytes).to.be.above(bytes4);
    expect(y4.disposed).to.equal(true);
    expectThrowsNaming(() => era.scale(y4, 2), EraError, 'x', { code: 'ERA_DISPOSED' });
  });

  it('outputs are lent: dispose() on them does nothing, and a scope does not take them', () => {
    using m = new MLP({ inputSize: 2, hiddenSizes: [3], outputSize: 1, device: 'cpu', seed });
    const x = cpu([1, 2], [1, 2]);
    const y = era.scope(() => m.forward(x));
    y.dispose();
    expect(y.disposed).to.equal(false);
    era.scope(() => m.forward(x));
    expect(y.disposed).to.equal(false);
    expect(m.params.disposed).to.equal(false);
    // the model itself survives the scope it was created in
    const inner = era.scope(() => new MLP({ inputSize: 2, hiddenSizes: [], outputSize: 1, device: 'cpu', seed }));
    expect(inner.params.disposed).to.equal(false);
    inner.dispose();
    expect(inner.params.disposed).to.equal(true);
    inner.dispose(); // twice is harmless
  });
});

// ---------------------------------------------------------------------------------------------

describe('nn.MLP checkpoints', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'era-mlp-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** SGD with momentum on a fixed regression problem; the momentum buffer is saved with the model. */
  async function train(m: MLP, opt: { step(grads: Tensor): void }, steps: number): Promise<void> {
    era.scope(() => {
      const x = cpu(randomArray(5 * 3, 11), [5, 3]);
      const t = cpu(randomArray(2 * 5 * 2, 12), [2, 5, 2]);
      const grad = era.empty([2, 5, 2], { device: 'cpu' });
      for (let s = 0; s < steps; s++) {
        const y = m.forward(x);
        mseLossBackward(y, t, { out: grad });
        m.zeroGrad();
        m.backward(grad);
        opt.step(m.grads);
      }
    });
  }

  it('save → load → continue training gives bit for bit the parameters of training straight through', async () => {
    const opts = { inputSize: 3, hiddenSizes: [8, 8], outputSize: 2, layerNorm: true, activation: 'elu' as const, ensemble: 2, init: 'orthogonal' as const, device: 'cpu' as const, seed };
    using straight = new MLP(opts);
    using sgd = new SGD(straight.params, { lr: 0.05, momentum: 0.9 });
    await train(straight, sgd, 20);

    using first = new MLP(opts);
    using sgd1 = new SGD(first.params, { lr: 0.05, momentum: 0.9 });
    await train(first, sgd1, 10);
    const file = path.join(dir, 'model.safetensors');
    await first.save(file, { step: '10' });
    await writeSafetensors(path.join(dir, 'optim.safetensors'), { momentum: { data: sgd1.buffers[0].toArray() as Float32Array } });

    using resumed = await MLP.load(file, { device: 'cpu' });
    expect(resumed.options).to.deep.equal(first.options);
    using sgd2 = new SGD(resumed.params, { lr: 0.05, momentum: 0.9 });
    sgd2.buffers[0].write((await readSafetensors(path.join(dir, 'optim.safetensors'))).tensors.get('momentum')!.data as Float32Array);
    await train(resumed, sgd2, 10);
    await train(first, sgd1, 10); // and the model that was saved, continued in memory
    const want = Buffer.from(straight.params.toArray().buffer);
    expect(Buffer.from(resumed.params.toArray().buffer).equals(want)).to.equal(true);
    expect(Buffer.from(first.params.toArray().buffer).equals(want)).to.equal(true);
    // training really moved the parameters
    using fresh = new MLP(opts);
    expect(Buffer.from(fresh.params.toArray().buffer).equals(want)).to.equal(false);
  });

  it('with AdamW: moments and step count saved and restored, the resumed run matches bit for bit', async () => {
    const opts = { inputSize: 3, hiddenSizes: [8], outputSize: 2, layerNorm: true, activation: 'elu' as const, ensemble: 2, init: 'orthogonal' as const, device: 'cpu' as const, seed };
    using straight = new MLP(opts);
    using a0 = new AdamW(straight.params, { lr: 1e-2 });
    await train(straight, a0, 16);
    using first = new MLP(opts);
    using a1 = new AdamW(first.params, { lr: 1e-2 });
    await train(first, a1, 8);
    const file = path.join(dir, 'adam-model.safetensors');
    await first.save(file);
    await writeSafetensors(path.join(dir, 'adam.safetensors'), { m: { data: a1.m[0].toArray() as Float32Array }, v: { data: a1.v[0].toArray() as Float32Array } }, { step: String(a1.stepCount) });
    using resumed = await MLP.load(file, { device: 'cpu' });
    using a2 = new AdamW(resumed.params, { lr: 1e-2 });
    const st = await readSafetensors(path.join(dir, 'adam.safetensors'));
    a2.m[0].write(st.tensors.get('m')!.data as Float32Array);
    a2.v[0].write(st.tensors.get('v')!.data as Float32Array);
    a2.restoreStepCount(Number(st.metadata.step));
    await train(resumed, a2, 8);
    expect(Buffer.from(resumed.params.toArray().buffer).equals(Buffer.from(straight.params.toArray().buffer))).to.equal(true);
  });

  it('writes one tensor per parameter ([E, ...shape]) and the architecture in the metadata; loadState fills a same-shaped model', async () => {
    using m = new MLP({ inputSize: 3, hiddenSizes: [4], outputSize: 2, ensemble: 3, device: 'cpu', seed });
    const file = path.join(dir, 'e3.safetensors');
    await m.save(file, { note: 'hello' });
    const f = await readSafetensors(file);
    expect([...f.tensors.keys()].sort()).to.deep.equal(['layers.0.bias', 'layers.0.weight', 'layers.1.bias', 'layers.1.weight']);
    expect(f.tensors.get('layers.0.weight')!.shape).to.deep.equal([3, 3, 4]);
    expect(f.metadata.note).to.equal('hello');
    expect(f.metadata['era.format']).to.equal('era-cuda.mlp/1');
    const w = f.tensors.get('layers.1.weight')!.data;
    const p = m.parameters().find((q) => q.name === 'layers.1.weight')!;
    const flat = m.params.toArray();
    expect(w[8 + 3]).to.equal(flat[m.numParameters + p.offset + 3]); // member 1, element 3

    using other = new MLP({ ...m.options, seed: seed + 1 });
    await other.loadState(file);
    expect(Array.from(other.params.toArray())).to.deep.equal(Array.from(flat));
    // no temp files were left beside the checkpoints
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('rejects checkpoints that are not MLPs or do not fit, naming the path', async () => {
    using m = new MLP({ inputSize: 3, hiddenSizes: [4], outputSize: 2, device: 'cpu', seed });
    const plain = path.join(dir, 'plain.safetensors');
    await writeSafetensors(plain, { a: { data: new Float32Array(3) } });
    let err: unknown = await MLP.load(plain).catch((e: Error) => e);
    expect(err).to.be.instanceOf(RangeError);
    expect((err as Error).message).to.include('for path').and.include(plain);
    const big = path.join(dir, 'big.safetensors');
    using n = new MLP({ inputSize: 3, hiddenSizes: [5], outputSize: 2, device: 'cpu', seed });
    await n.save(big);
    err = await m.loadState(big).catch((e: Error) => e);
    expect(err).to.be.instanceOf(RangeError);
    expect((err as Error).message).to.include('for path').and.include('hiddenSizes');
    err = await m.save(path.join(dir, 'x.safetensors'), { 'era.format': 'x' }).catch((e: Error) => e);
    expect((err as Error).message).to.include('for metadata');
    // a tensor the model does not have: refused, not ignored
    const good = path.join(dir, 'good.safetensors');
    await m.save(good);
    const f = await readSafetensors(good);
    const extra = path.join(dir, 'extra.safetensors');
    const withExtra: Record<string, { data: Float32Array | Int32Array | Uint16Array; shape: number[] }> = Object.fromEntries([...f.tensors].map(([k, t]) => [k, { data: t.data, shape: t.shape }]));
    withExtra['layers.9.weight'] = { data: new Float32Array(2), shape: [2] };
    await writeSafetensors(extra, withExtra, f.metadata);
    for (const load of [() => MLP.load(extra), () => m.loadState(extra)]) {
      err = await load().catch((e: Error) => e);
      expect(err).to.be.instanceOf(RangeError);
      expect((err as Error).message).to.include('for path').and.include("'layers.9.weight'").and.include(extra);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('nn.MLP bad inputs', () => {
  const base = { inputSize: 3, hiddenSizes: [4], outputSize: 2, device: 'cpu' as const, seed: 1 };
  const OPTION_CASES: [string, Record<string, unknown>, typeof TypeError | typeof RangeError, string][] = [
    ['inputSize 0', { inputSize: 0 }, RangeError, 'options.inputSize'],
    ['a fractional outputSize', { outputSize: 1.5 }, RangeError, 'options.outputSize'],
    ['hiddenSizes not an array', { hiddenSizes: 4 }, TypeError, 'options.hiddenSizes'],
    ['a negative hidden size', { hiddenSizes: [4, -1] }, RangeError, 'options.hiddenSizes[1]'],
    ["activation 'gelu'", { activation: 'gelu' }, RangeError, 'options.activation'],
    ['layerNorm a string', { layerNorm: 'yes' }, TypeError, 'options.layerNorm'],
    ["outputActivation 'softmax'", { outputActivation: 'softmax' }, RangeError, 'options.outputActivation'],
    ['ensemble 0', { ensemble: 0 }, RangeError, 'options.ensemble'],
    ["init 'xavier'", { init: 'xavier' }, RangeError, 'options.init'],
    ['a negative gain', { gain: -1 }, RangeError, 'options.gain'],
    ['heads that do not add up', { init: 'orthogonal', heads: [{ size: 1, gain: 1 }] }, RangeError, 'options.heads'],
    ['heads with the default init', { heads: [{ size: 2, gain: 1 }] }, RangeError, 'options.heads'],
    ['a head gain of NaN', { init: 'orthogonal', heads: [{ size: 2, gain: NaN }] }, RangeError, 'options.heads[0].gain'],
    ["precision 'fp16'", { precision: 'fp16' }, RangeError, 'options.precision'],
    ["device 'tpu'", { device: 'tpu' }, RangeError, 'options.device'],
    ['a negative seed', { seed: -1 }, RangeError, 'options.seed'],
    ['an unknown option', { hidden: [4] }, TypeError, 'options'],
  ];
  for (const [title, patch, cls, name] of OPTION_CASES) {
    it(`constructor: ${title} names ${name}`, () => {
      expectThrowsNaming(() => new MLP({ ...base, ...patch } as MLPOptions), cls, name);
    });
  }

  it('forward and backward name x, dy and the options', () => {
    era.scope(() => {
      using m = new MLP({ ...base, ensemble: 4 });
      expectThrowsNaming(() => m.forward(cpu([1, 2], [1, 2])), RangeError, 'x');
      expectThrowsNaming(() => m.forward(cpu(new Float32Array(9), [3, 1, 3])), RangeError, 'x'); // 3 groups for 4 members
      expectThrowsNaming(() => m.forward(cpu(new Float32Array(0), [0, 3])), RangeError, 'x');
      expectThrowsNaming(() => m.forward(era.tensor(new Int32Array(3), [1, 3], { device: 'cpu' })), TypeError, 'x');
      expectThrowsNaming(() => m.forward([1, 2, 3] as never), TypeError, 'x');
      const gone = cpu([1, 2, 3], [1, 3]);
      gone.dispose();
      expectThrowsNaming(() => m.forward(gone), EraError, 'x', { code: 'ERA_DISPOSED' });
      expectThrowsNaming(() => m.backward(cpu(new Float32Array(8), [4, 1, 2])), RangeError, 'dy'); // before any forward
      m.forward(cpu([1, 2, 3], [1, 3]));
      expectThrowsNaming(() => m.backward(cpu(new Float32Array(2), [1, 2])), RangeError, 'dy');
      expectThrowsNaming(() => m.backward(cpu(new Float32Array(8), [4, 1, 2]), { inputGrad: 1 } as never), TypeError, 'options.inputGrad');
      expectThrowsNaming(() => m.backward(cpu(new Float32Array(8), [4, 1, 2]), { paramGrads: 'no' } as never), TypeError, 'options.paramGrads');
      expectThrowsNaming(() => m.copyFrom({} as never), TypeError, 'other');
      using n = new MLP({ ...base, hiddenSizes: [5] });
      expectThrowsNaming(() => m.copyFrom(n), RangeError, 'other');
    });
  });

  it('a disposed model throws ERA_DISPOSED naming this (and other)', async () => {
    const m = new MLP(base);
    const live = new MLP(base);
    m.dispose();
    expect(m.disposed).to.equal(true);
    const x = cpu([1, 2, 3], [1, 3]);
    for (const fn of [() => m.forward(x), () => m.backward(x), () => m.zeroGrad(), () => m.copyFrom(live)]) {
      expectThrowsNaming(fn, EraError, 'this', { code: 'ERA_DISPOSED' });
    }
    const err = await m.save(path.join(os.tmpdir(), 'never.safetensors')).catch((e: Error) => e);
    expect(err).to.be.instanceOf(EraError);
    expect((err as EraError).code).to.equal('ERA_DISPOSED');
    expectThrowsNaming(() => live.copyFrom(m), EraError, 'other', { code: 'ERA_DISPOSED' });
    // parameters disposed behind the model's back: the native side names them
    live.params.dispose();
    expectThrowsNaming(() => live.forward(x), EraError, 'params', { code: 'ERA_DISPOSED' });
    live.dispose();
    x.dispose();
  });

  it('the native model checks its arguments again when the TS layer is bypassed', () => era.scope(() => {
    const Native = (native() as unknown as { NativeMlp: new (c: object) => Record<string, (...a: unknown[]) => unknown> }).NativeMlp;
    const cfg = { inputSize: 3, hiddenSizes: [4], outputSize: 2, activation: 1, outputActivation: 0, layerNorm: false, eps: 1e-6, ensemble: 2, precision: 0 };
    expectThrowsNaming(() => new Native({ ...cfg, inputSize: 0 }), RangeError, 'options.inputSize');
    expectThrowsNaming(() => new Native({ ...cfg, activation: 7 }), RangeError, 'options.activation');
    expectThrowsNaming(() => new Native({ ...cfg, hiddenSizes: ['a'] }), TypeError, 'options.hiddenSizes[0]');
    const n = new Native(cfg);
    const P = (n.info() as { numParameters: number }).numParameters;
    expectThrowsNaming(() => n.setBlocks(era.zeros([P], { device: 'cpu' }).handle, era.zeros([2 * P], { device: 'cpu' }).handle), RangeError, 'params');
    const buf = era.zeros([2 * P], { device: 'cpu' });
    expectThrowsNaming(() => n.setBlocks(buf.handle, buf.handle), RangeError, 'params'); // one block for both
    n.setBlocks(era.zeros([2 * P], { device: 'cpu' }).handle, era.zeros([2 * P], { device: 'cpu' }).handle);
    expectThrowsNaming(() => n.forward(era.zeros([1, 3], { device: 'cpu' }).handle), RangeError, 'workspace');
    const layout = n.workspaceLayout(2) as { size: number };
    expectThrowsNaming(() => n.setWorkspace(era.zeros([layout.size - 1], { device: 'cpu' }).handle, 2), RangeError, 'workspace');
    n.setWorkspace(era.zeros([layout.size], { device: 'cpu' }).handle, 2);
    expectThrowsNaming(() => n.forward(era.zeros([3, 3], { device: 'cpu' }).handle), RangeError, 'x'); // above capacity
    expectThrowsNaming(() => n.backward(era.zeros([2, 1, 2], { device: 'cpu' }).handle, true, true), RangeError, 'backward');
    n.forward(era.zeros([2, 3], { device: 'cpu' }).handle);
    expectThrowsNaming(() => n.backward(era.zeros([2, 1, 2], { device: 'cpu' }).handle, true, true), RangeError, 'dy');
    n.dispose();
    expectThrowsNaming(() => n.info(), EraError, 'this', { code: 'ERA_DISPOSED' });
  }));
});

// ---------------------------------------------------------------------------------------------

/** The same model on both devices: outputs, parameter gradients and input gradients. */
function compareDevices(options: Omit<MLPOptions, 'device' | 'seed'>, xShape: number[], tol: { atol: number; rtol: number }): void {
  era.scope(() => {
    using a = new MLP({ ...options, device: 'cpu', seed });
    using b = new MLP({ ...a.options, device: 'cuda' });
    expect(Buffer.from(b.params.toArray().buffer).equals(Buffer.from(a.params.toArray().buffer)), 'same initial bits').to.equal(true);
    const n = xShape.reduce((p, q) => p * q, 1);
    const x = randomArray(n, seed + 1, -2, 2);
    const ya = a.forward(era.tensor(x, xShape, { device: 'cpu' }));
    const yb = b.forward(era.tensor(x, xShape, { device: 'cuda' }));
    expect(yb.shape).to.deep.equal(ya.shape);
    expectClose(yb.toArray(), ya.toArray(), { ...tol, what: 'y' });
    const dy = randomArray(ya.size, seed + 2);
    const dxa = a.backward(era.tensor(dy, ya.shape.slice(), { device: 'cpu' }), { inputGrad: true })!;
    const dxb = b.backward(era.tensor(dy, ya.shape.slice(), { device: 'cuda' }), { inputGrad: true })!;
    expectClose(dxb.toArray(), dxa.toArray(), { ...tol, what: 'dx' });
    // gradient sums over the batch grow with it: compare relative to the largest gradient
    const ga = a.grads.toArray();
    let scale = 0;  // a loop, not Math.max(...): spreading ~1M gradients overflows the stack
    for (const v of ga) scale = Math.max(scale, Math.abs(v));
    expectClose(b.grads.toArray(), ga, { atol: tol.atol * Math.max(1, scale), rtol: tol.rtol, what: 'grads' });
  });
}

describeCuda(`nn.MLP on CUDA against the CPU (seed ${seed})`, () => {
  const CASES: [string, Omit<MLPOptions, 'device' | 'seed'>, number[], { atol: number; rtol: number }][] = [
    ['odd sizes, LayerNorm + elu, 6 members in 3 groups', { inputSize: 37, hiddenSizes: [129, 65], outputSize: 7, layerNorm: true, activation: 'elu', ensemble: 6 }, [3, 257, 37], { atol: 1e-4, rtol: 1e-3 }],
    ['the SAC critic shape (ensemble 2, 88 -> 512 x2 -> 1, LN, elu), batch 256', { inputSize: 88, hiddenSizes: [512, 512], outputSize: 1, layerNorm: true, activation: 'elu', ensemble: 2, init: 'orthogonal' }, [256, 88], { atol: 1e-4, rtol: 1e-3 }],
    ['the SAC actor shape with heads, 5 members with their own inputs', { inputSize: 67, hiddenSizes: [512, 512], outputSize: 42, activation: 'elu', ensemble: 5, init: 'orthogonal', heads: [{ size: 21, gain: Math.SQRT2 }, { size: 21, gain: 1 }] }, [5, 33, 67], { atol: 1e-4, rtol: 1e-3 }],
    ['LayerNorm + tanh, 3 members in 3 groups, ragged batch', { inputSize: 9, hiddenSizes: [33, 70], outputSize: 5, layerNorm: true, activation: 'tanh', ensemble: 3 }, [3, 77, 9], { atol: 1e-4, rtol: 1e-3 }],
    ['relu, tanh output, one member, batch 1', { inputSize: 3, hiddenSizes: [1000], outputSize: 2, outputActivation: 'tanh' }, [1, 3], { atol: 1e-5, rtol: 1e-4 }],
    ['tf32 GEMMs (the CPU rounds operands the same way)', { inputSize: 64, hiddenSizes: [256], outputSize: 16, layerNorm: true, activation: 'relu', ensemble: 4, precision: 'tf32' }, [4, 100, 64], { atol: 2e-3, rtol: 2e-2 }],
    ['bf16 GEMMs', { inputSize: 64, hiddenSizes: [256], outputSize: 16, activation: 'tanh', ensemble: 2, precision: 'bf16' }, [128, 64], { atol: 5e-3, rtol: 5e-2 }],
  ];
  for (const [title, options, xShape, tol] of CASES) {
    it(`${title}: forward, dx and every gradient (atol ${tol.atol}, rtol ${tol.rtol})`, () => compareDevices(options, xShape, tol));
  }

  // On the CPU, perturbing every gradient by a relative 1e-5 each step moves this curve by under
  // 1e-8 at any step: the fit is stable, so summation-order differences stay far inside this bound.
  it('accumulate: false overwrites stale gradients on CUDA: bit for bit zeroGrad() then backward()', () => {
    for (const c of OVERWRITE_CASES) expectOverwriteMatches('cuda', c.options, c.xShape);
  });

  it('the CUDA loss curve of the sin fit follows the CPU one (each step within 1e-6 + 1% of the CPU loss for 300 steps)', () => {
    const a = fitSin('cpu', 300);
    const b = fitSin('cuda', 300);
    for (let s = 0; s < 300; s++) {
      expect(Math.abs(b.losses[s] - a.losses[s]), `step ${s}: cuda ${b.losses[s]} vs cpu ${a.losses[s]}`).to.be.at.most(1e-6 + 0.01 * a.losses[s]);
    }
    expect(Math.min(...b.losses.slice(-10))).to.be.below(b.losses[0] / 100);
  });

  it('save -> load -> continue training on CUDA matches training straight through bit for bit', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'era-mlp-cuda-'));
    try {
      const opts = { inputSize: 5, hiddenSizes: [64], outputSize: 3, layerNorm: true, activation: 'elu' as const, ensemble: 2, device: 'cuda' as const, seed };
      const run = (m: MLP, opt: SGD, steps: number) => era.scope(() => {
        const x = era.tensor(randomArray(2 * 9 * 5, 3), [2, 9, 5], { device: 'cuda' });
        const t = era.tensor(randomArray(2 * 9 * 3, 4), [2, 9, 3], { device: 'cuda' });
        const grad = era.empty([2, 9, 3], { device: 'cuda' });
        for (let s = 0; s < steps; s++) {
          mseLossBackward(m.forward(x), t, { out: grad });
          m.zeroGrad();
          m.backward(grad);
          opt.step(m.grads);
        }
      });
      using straight = new MLP(opts);
      using o1 = new SGD(straight.params, { lr: 0.02, momentum: 0.9 });
      run(straight, o1, 16);
      using half = new MLP(opts);
      using o2 = new SGD(half.params, { lr: 0.02, momentum: 0.9 });
      run(half, o2, 8);
      await half.save(path.join(dir, 'm.safetensors'));
      using resumed = await MLP.load(path.join(dir, 'm.safetensors'), { device: 'cuda' });
      using o3 = new SGD(resumed.params, { lr: 0.02, momentum: 0.9 });
      era.copy(o3.buffers[0], o2.buffers[0]);
      run(resumed, o3, 8);
      expect(Buffer.from(resumed.params.toArray().buffer).equals(Buffer.from(straight.params.toArray().buffer))).to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a fixed-shape CUDA training step allocates nothing (era.memory() stable over 100 steps)', () => {
    era.scope(() => {
      using m = new MLP({ inputSize: 88, hiddenSizes: [256, 256], outputSize: 1, layerNorm: true, activation: 'elu', ensemble: 2, device: 'cuda', seed });
      const x = era.uniform([2, 64, 88], { device: 'cuda', seed: 1 });
      const dy = era.uniform([2, 64, 1], { device: 'cuda', seed: 2 });
      using opt = new Adam(m.params, { lr: 1e-3 });
      const step = () => {
        m.forward(x);
        m.zeroGrad();
        m.backward(dy, { inputGrad: true });
        opt.step(m.grads);
      };
      step();
      const before = era.memory().cuda;
      for (let i = 0; i < 100; i++) step();
      era.synchronize();
      const after = era.memory().cuda;
      expect(after.tensors).to.equal(before.tensors);
      expect(after.bytes).to.equal(before.bytes);
      expect(after.deviceAllocations).to.equal(before.deviceAllocations);
    });
  });
});

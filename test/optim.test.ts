/**
 * Optimizers over flat f32 blocks: Adam, AdamW (decoupled weight decay, optax semantics), SGD
 * with momentum and Nesterov against float64 references over several steps (bias corrections
 * included); clipping by global norm; Polyak averaging; bad inputs named; and (on a CUDA host)
 * every kernel against the CPU, with the clipping reduction bitwise reproducible.
 */
import { expect } from 'chai';

import era, { type Tensor } from '../lib/index.js';
import { native } from '../lib/native.js';
import { Adam, AdamW, SGD, adamStep, clipGradNorm, polyakUpdate, sgdStep } from '../lib/nn/optim.js';
import { describeCuda, expectClose, expectThrowsNaming, randomArray, testSeed } from './helpers.js';

const seed = testSeed();
const TOL = { atol: 1e-6, rtol: 1e-5 };

// float64 references ---------------------------------------------------------------------------

interface AdamRef {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  wd: number;
}

function adamRef(p0: ArrayLike<number>, grads: ArrayLike<number>[], h: AdamRef): Float64Array {
  const p = Float64Array.from(p0);
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  grads.forEach((g, s) => {
    const t = s + 1;
    for (let i = 0; i < p.length; i++) {
      m[i] = h.beta1 * m[i] + (1 - h.beta1) * g[i];
      v[i] = h.beta2 * v[i] + (1 - h.beta2) * g[i] * g[i];
      const mhat = m[i] / (1 - h.beta1 ** t);
      const vhat = v[i] / (1 - h.beta2 ** t);
      p[i] -= h.lr * (mhat / (Math.sqrt(vhat) + h.eps) + h.wd * p[i]);
    }
  });
  return p;
}

function sgdRef(p0: ArrayLike<number>, grads: ArrayLike<number>[], lr: number, momentum: number, nesterov: boolean, wd: number): Float64Array {
  const p = Float64Array.from(p0);
  const buf = new Float64Array(p.length);
  for (const g of grads) {
    for (let i = 0; i < p.length; i++) {
      const gi = g[i] + wd * p[i];
      let u = gi;
      if (momentum > 0) {
        buf[i] = momentum * buf[i] + gi;
        u = nesterov ? gi + momentum * buf[i] : buf[i];
      }
      p[i] -= lr * u;
    }
  }
  return p;
}

const cpu = (a: ArrayLike<number>, shape?: number[]) => era.tensor(Float32Array.from(a), shape ?? [a.length], { device: 'cpu' });

describe(`optimizers on the CPU against float64 references (seed ${seed})`, () => {
  const n = 301;
  const steps = 6;
  const p0 = randomArray(n, seed);
  const grads = Array.from({ length: steps }, (_, s) => randomArray(n, seed + 1 + s, -2, 2));

  it('Adam: 6 steps with bias correction', () => {
    era.scope(() => {
      const p = cpu(p0, [7, 43]);
      const opt = new Adam(p, { lr: 1e-2 });
      for (const g of grads) opt.step(cpu(g, [7, 43]));
      expect(opt.stepCount).to.equal(steps);
      expectClose(p.toArray(), adamRef(p0, grads, { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0 }), { ...TOL, what: 'params' });
      opt.dispose();
      opt.dispose();
    });
  });

  it('AdamW: decoupled weight decay p -= lr·wd·p (default wd 1e-4, and a large one)', () => {
    era.scope(() => {
      for (const wd of [undefined, 0.1]) {
        const p = cpu(p0);
        const opt = new AdamW(p, { lr: 3e-3, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: wd });
        expect(opt.weightDecay).to.equal(wd ?? 1e-4);
        for (const g of grads) opt.step(cpu(g));
        expectClose(p.toArray(), adamRef(p0, grads, { lr: 3e-3, beta1: 0.8, beta2: 0.95, eps: 1e-6, wd: wd ?? 1e-4 }), { ...TOL, what: `wd ${wd}` });
        opt.dispose();
      }
    });
  });

  it('Adam over several blocks, and the functional adamStep agrees with the class', () => {
    era.scope(() => {
      const a = cpu(p0.subarray(0, 100));
      const b = cpu(p0.subarray(100));
      const opt = new Adam([a, b], { lr: 1e-3 });
      const fp = cpu(p0);
      const m = era.zeros([n], { device: 'cpu' });
      const v = era.zeros([n], { device: 'cpu' });
      grads.forEach((g, s) => {
        opt.step([cpu(g.subarray(0, 100)), cpu(g.subarray(100))]);
        adamStep(fp, cpu(g), m, v, { lr: 1e-3, step: s + 1 });
      });
      const joined = new Float32Array(n);
      joined.set(a.toArray() as Float32Array, 0);
      joined.set(b.toArray() as Float32Array, 100);
      expect(Array.from(joined)).to.deep.equal(Array.from(fp.toArray()));
      expectClose(joined, adamRef(p0, grads, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0 }), { ...TOL, what: 'params' });
      opt.reset();
      expect(opt.stepCount).to.equal(0);
      expect(Array.from(opt.m[0].toArray()).every((x) => x === 0)).to.equal(true);
      opt.dispose();
    });
  });

  for (const [title, momentum, nesterov, wd] of [['plain SGD', 0, false, 0], ['momentum 0.9', 0.9, false, 0], ['Nesterov 0.9', 0.9, true, 0], ['momentum with weight decay', 0.5, false, 0.01]] as const) {
    it(`SGD: ${title}, 6 steps`, () => {
      era.scope(() => {
        const p = cpu(p0);
        const opt = new SGD(p, { lr: 0.05, momentum, nesterov, weightDecay: wd });
        for (const g of grads) opt.step(cpu(g));
        expectClose(p.toArray(), sgdRef(p0, grads, 0.05, momentum, nesterov, wd), { ...TOL, what: 'params' });
        // the functional form
        const q = cpu(p0);
        const buf = momentum > 0 ? era.zeros([n], { device: 'cpu' }) : null;
        for (const g of grads) sgdStep(q, cpu(g), buf, { lr: 0.05, momentum, nesterov, weightDecay: wd });
        expect(Array.from(q.toArray())).to.deep.equal(Array.from(p.toArray()));
        opt.dispose();
      });
    });
  }

  it('clipGradNorm scales every block by maxNorm / norm when the global norm exceeds it', () => {
    era.scope(() => {
      const g1 = randomArray(50, seed + 20, -3, 3);
      const g2 = randomArray(77, seed + 21, -3, 3);
      let ss = 0;
      for (const v of [...g1, ...g2]) ss += v * v;
      const norm = Math.sqrt(ss);
      const a = cpu(g1);
      const b = cpu(g2, [7, 11]);
      const out = clipGradNorm([a, b], 1.5);
      expect(out.shape).to.deep.equal([]);
      expectClose(out.toArray(), [norm], { atol: 0, rtol: 1e-6, what: 'norm' });
      const s = 1.5 / norm;
      expectClose(a.toArray(), Array.from(g1, (v) => v * s), { ...TOL, what: 'grads[0]' });
      expectClose(b.toArray(), Array.from(g2, (v) => v * s), { ...TOL, what: 'grads[1]' });
      // the clipped global norm is maxNorm
      const again = clipGradNorm([a, b], 1.5);
      expectClose(again.toArray(), [1.5], { atol: 0, rtol: 1e-5, what: 'norm after clipping' });
    });
  });

  it('clipGradNorm leaves gradients alone below maxNorm (and writes the norm into options.out)', () => {
    era.scope(() => {
      const g = randomArray(64, seed + 22, -0.01, 0.01);
      const t = cpu(g);
      const out = era.zeros([1], { device: 'cpu' });
      expect(clipGradNorm(t, 10, { out })).to.equal(out);
      expect(Array.from(t.toArray())).to.deep.equal(Array.from(g));
      expectClose(out.toArray(), [Math.hypot(...g)], { atol: 0, rtol: 1e-6 });
      // all-zero gradients: norm 0, nothing changes
      const z = era.zeros([5], { device: 'cpu' });
      expect(clipGradNorm(z, 1).toArray()[0]).to.equal(0);
    });
  });

  it('polyakUpdate: target = (1 − τ)·target + τ·online, over blocks', () => {
    era.scope(() => {
      const t0 = randomArray(40, seed + 30);
      const o = randomArray(40, seed + 31);
      const target = cpu(t0);
      const target2 = cpu(t0);
      polyakUpdate(target, cpu(o), 0.005);
      expectClose(target.toArray(), Array.from(t0, (v, i) => 0.995 * v + 0.005 * o[i]), { ...TOL, what: 'target' });
      polyakUpdate([target2], [cpu(o)], 1);
      expect(Array.from(target2.toArray())).to.deep.equal(Array.from(o));
      polyakUpdate(target2, cpu(t0), 0);
      expect(Array.from(target2.toArray())).to.deep.equal(Array.from(o));
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

const z = (n: number) => era.zeros([n], { device: 'cpu' });
const raw = (name: string, ...args: unknown[]) => (native() as unknown as Record<string, (...a: unknown[]) => void>)[name](...args);

const BAD: Bad[] = [
  { title: 'Adam: params that are not tensors', call: () => new Adam([1, 2] as never), error: TypeError, names: 'params[0]' },
  { title: 'Adam: an empty parameter list', call: () => new Adam([]), error: RangeError, names: 'params' },
  { title: 'Adam: beta1 of 1', call: () => new Adam(z(3), { beta1: 1 }), error: RangeError, names: 'options.beta1' },
  { title: 'Adam: a negative learning rate', call: () => new Adam(z(3), { lr: -1 }), error: RangeError, names: 'options.lr' },
  { title: 'Adam: a string eps', call: () => new Adam(z(3), { eps: '1e-8' as never }), error: TypeError, names: 'options.eps' },
  { title: 'Adam.step: grads of another size', call: () => new Adam(z(3)).step(z(4)), error: RangeError, names: 'grads' },
  { title: 'Adam.step: the wrong number of blocks', call: () => new Adam([z(3), z(2)]).step([z(3)]), error: RangeError, names: 'grads' },
  { title: 'Adam.step: an i32 gradient', call: () => new Adam(z(3)).step(era.tensor(new Int32Array(3), [3], { device: 'cpu' })), error: TypeError, names: 'grads' },
  { title: 'Adam: the same parameter block twice', call: () => { const p = z(3); return new Adam([z(2), p, p.view(1, [2])]); }, error: RangeError, names: 'params[2]' },
  { title: "Adam.step: a gradient block that is the optimizer's own moment", call: () => { const o = new Adam([z(3), z(2)]); o.step([z(3), o.m[1]]); }, error: RangeError, names: 'grads[1]' },
  { title: 'SGD.step: a gradient block that is another parameter block', call: () => { const p = [z(3), z(3)]; new SGD(p, { momentum: 0.9 }).step([z(3), p[0]]); }, error: RangeError, names: 'grads[1]' },
  { title: 'adamStep: step 0', call: () => adamStep(z(3), z(3), z(3), z(3), { step: 0 }), error: RangeError, names: 'options.step' },
  { title: 'adamStep: no step', call: () => adamStep(z(3), z(3), z(3), z(3), {} as never), error: TypeError, names: 'options.step' },
  { title: 'adamStep: m of another size', call: () => adamStep(z(3), z(3), z(2), z(3), { step: 1 }), error: RangeError, names: 'm' },
  { title: 'SGD: Nesterov without momentum', call: () => new SGD(z(3), { nesterov: true }), error: RangeError, names: 'options.momentum' },
  { title: 'SGD: a negative momentum', call: () => new SGD(z(3), { momentum: -0.5 }), error: RangeError, names: 'options.momentum' },
  { title: 'sgdStep: momentum without a buffer', call: () => sgdStep(z(3), z(3), null, { momentum: 0.9 }), error: TypeError, names: 'buf' },
  { title: 'clipGradNorm: maxNorm of 0', call: () => clipGradNorm(z(3), 0), error: RangeError, names: 'maxNorm' },
  { title: 'clipGradNorm: maxNorm that is not a number', call: () => clipGradNorm(z(3), '1' as never), error: TypeError, names: 'maxNorm' },
  { title: 'clipGradNorm: out with two elements', call: () => clipGradNorm(z(3), 1, { out: z(2) }), error: RangeError, names: 'options.out' },
  { title: 'polyakUpdate: tau above 1', call: () => polyakUpdate(z(3), z(3), 1.5), error: RangeError, names: 'tau' },
  { title: 'polyakUpdate: online of another size', call: () => polyakUpdate(z(3), z(4), 0.5), error: RangeError, names: 'online' },
  // the native op layer checks again when the TS layer is bypassed
  { title: 'native: adamStep with grads aliasing params', call: () => { const p = z(3); return raw('adamStep', p.handle, p.handle, z(3).handle, z(3).handle, 1e-3, 0.9, 0.999, 1e-8, 0, 1); }, error: RangeError, names: 'grads' },
  { title: 'native: adamStep with a fractional step', call: () => raw('adamStep', z(3).handle, z(3).handle, z(3).handle, z(3).handle, 1e-3, 0.9, 0.999, 1e-8, 0, 1.5), error: RangeError, names: 'step' },
  { title: 'native: adamStep with NaN lr', call: () => raw('adamStep', z(3).handle, z(3).handle, z(3).handle, z(3).handle, NaN, 0.9, 0.999, 1e-8, 0, 1), error: RangeError, names: 'options.lr' },
  { title: 'native: sgdStep with v of another size', call: () => raw('sgdStep', z(3).handle, z(3).handle, z(2).handle, 0.1, 0.9, false, 0), error: RangeError, names: 'buf' },
  { title: 'native: clipGradNorm with grads that are not an array', call: () => raw('clipGradNorm', z(3).handle, 1, z(1).handle), error: TypeError, names: 'grads' },
  { title: 'native: clipGradNorm with the same block twice', call: () => { const g = z(3); return raw('clipGradNorm', [g.handle, g.handle], 1, z(1).handle); }, error: RangeError, names: 'grads[1]' },
  { title: 'native: polyakUpdate with tau -1', call: () => raw('polyakUpdate', z(3).handle, z(3).handle, -1), error: RangeError, names: 'tau' },
];

describe('optimizers reject bad input, naming the argument', () => {
  for (const b of BAD) {
    it(b.title, () => {
      era.scope(() => {
        const thrown = expectThrowsNaming(() => b.call(), b.error, b.names);
        expect(thrown.message).to.match(/^Expected .+ for .+ but received .+/s);
      });
    });
  }

  it('a step refused for its last block leaves every block, the moments and the step count as they were', () => {
    era.scope(() => {
      const p0 = randomArray(5, seed + 60);
      const params = [cpu(p0), cpu(p0)];
      const opt = new Adam(params, { lr: 0.1 });
      const g = cpu(randomArray(5, seed + 61));
      expectThrowsNaming(() => opt.step([g, params[1]]), RangeError, 'grads[1]');
      expect(Array.from(params[0].toArray())).to.deep.equal(Array.from(p0));
      expect(Array.from(opt.m[0].toArray())).to.deep.equal([0, 0, 0, 0, 0]);
      expect(opt.stepCount).to.equal(0);
      opt.step([g, g]); // one gradient for both blocks is fine: it is only read
      expect(opt.stepCount).to.equal(1);
      expect(Array.from(params[0].toArray())).to.deep.equal(Array.from(params[1].toArray()));
      expect(Array.from(params[0].toArray())).to.not.deep.equal(Array.from(p0));
    });
  });
});

// ---------------------------------------------------------------------------------------------

describeCuda(`optimizers on CUDA against the CPU (seed ${seed})`, () => {
  const n = 100003;
  const p0 = randomArray(n, seed + 50);
  const grads = Array.from({ length: 5 }, (_, s) => randomArray(n, seed + 51 + s, -2, 2));

  function onBoth(fn: (device: 'cpu' | 'cuda') => Tensor[]): { cpu: Float32Array[]; cuda: Float32Array[] } {
    const go = (device: 'cpu' | 'cuda') => era.scope(() => fn(device).map((t) => t.toArray() as Float32Array));
    return { cpu: go('cpu'), cuda: go('cuda') };
  }

  for (const [title, make] of [
    ['Adam', (p: Tensor) => new Adam(p, { lr: 1e-3 })],
    ['AdamW', (p: Tensor) => new AdamW(p, { lr: 1e-3, weightDecay: 0.05 })],
    ['SGD', (p: Tensor) => new SGD(p, { lr: 0.01 })],
    ['SGD momentum', (p: Tensor) => new SGD(p, { lr: 0.01, momentum: 0.9, weightDecay: 1e-3 })],
    ['SGD Nesterov', (p: Tensor) => new SGD(p, { lr: 0.01, momentum: 0.9, nesterov: true })],
  ] as const) {
    it(`${title}: 5 steps on ${n} parameters`, () => {
      const r = onBoth((device) => {
        const p = era.tensor(Float32Array.from(p0), [n], { device });
        const opt = make(p);
        for (const g of grads) opt.step(era.tensor(g, [n], { device }));
        opt.dispose();
        return [p];
      });
      expectClose(r.cuda[0], r.cpu[0], { atol: 1e-6, rtol: 1e-5, what: title });
    });
  }

  it('clipGradNorm over blocks of odd sizes, on the device, reproducibly', () => {
    const sizes = [1, 4097, 300001, 0, 77];
    const gs = sizes.map((s, i) => randomArray(s, seed + 60 + i, -1, 1));
    const r = onBoth((device) => {
      const ts = gs.map((g, i) => era.tensor(Float32Array.from(g), [sizes[i]], { device }));
      const norm = clipGradNorm(ts, 5);
      return [norm, ...ts];
    });
    r.cpu.forEach((c, i) => expectClose(r.cuda[i], c, { atol: 1e-7, rtol: 1e-6, what: `output ${i}` }));
    const twice = era.scope(() => {
      const t = era.tensor(randomArray(1 << 22, seed + 70), [1 << 22], { device: 'cuda' });
      const a = clipGradNorm(t, 1e9).toArray()[0];
      const b = clipGradNorm(t, 1e9).toArray()[0];
      return [a, b];
    });
    expect(twice[0]).to.equal(twice[1]);
  });

  it('polyakUpdate', () => {
    const o = randomArray(n, seed + 80);
    const r = onBoth((device) => {
      const t = era.tensor(Float32Array.from(p0), [n], { device });
      polyakUpdate(t, era.tensor(o, [n], { device }), 0.005);
      return [t];
    });
    expectClose(r.cuda[0], r.cpu[0], { atol: 1e-7, rtol: 1e-6 });
  });

  it('mixing devices is a TypeError naming the argument', () => {
    era.scope(() => {
      const p = era.zeros([3], { device: 'cuda' });
      expect(() => polyakUpdate(p, era.zeros([3], { device: 'cpu' }), 0.5)).to.throw(TypeError, / for online /);
      expect(() => new Adam(p).step(era.zeros([3], { device: 'cpu' }))).to.throw(TypeError, / for grads /);
    });
  });
});

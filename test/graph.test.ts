/**
 * CUDA graph capture (era.captureGraph) and the capturable Adam whose step count lives on the
 * device. On the CPU a "graph" replays by calling the function again, so the same code runs on
 * both backends; on a CUDA host the recorded work must equal eager execution, host transfers must be
 * refused while recording (leaving the process usable), and memory freed while recording must stay
 * reserved for the graph.
 */
import { expect } from 'chai';

import era, { type CudaGraph, type Tensor } from '../lib/index.js';
import { Adam, AdamW } from '../lib/nn/optim.js';
import { describeCuda, expectClose, expectThrowsNaming, randomArray, testSeed } from './helpers.js';

const seed = testSeed();

describe(`captureGraph on the CPU (seed ${seed})`, () => {
  it('runs the warm-up eagerly and replays by calling the function again', () => {
    let calls = 0;
    const x = era.tensor(new Float32Array([1, 2, 3]), [3], { device: 'cpu' });
    const g = era.captureGraph(() => {
      calls++;
      era.scale(x, 2, { out: x });
    }, { device: 'cpu', warmup: 2 });
    expect(calls).to.equal(2);
    expect(g.captured).to.equal(false);
    expect(g.nodes).to.equal(0);
    g.replay();
    expect(calls).to.equal(3);
    expect(Array.from(x.toArray())).to.deep.equal([8, 16, 24]);
    g.dispose();
    g.dispose(); // harmless
    expectThrowsNaming(() => g.replay(), TypeError, 'this');
    x.dispose();
  });

  it('rejects a non-function, an async function and bad options, naming them', () => {
    expectThrowsNaming(() => era.captureGraph(42 as unknown as () => void), TypeError, 'fn');
    expectThrowsNaming(() => era.captureGraph((async () => {}) as unknown as () => void, { device: 'cpu' }), TypeError, 'fn');
    expectThrowsNaming(() => era.captureGraph(() => {}, { warmup: -1 }), RangeError, 'options.warmup');
    expectThrowsNaming(() => era.captureGraph(() => {}, { device: 'gpu' as 'cpu' }), RangeError, 'options.device');
  });
});

function adamRun(device: 'cpu' | 'cuda', capturable: boolean, steps: number, wd: number): { params: Float32Array; stepCount: number } {
  return era.scope(() => {
    const n = 1031;
    const p = era.tensor(randomArray(n, seed), [n], { device });
    const opt = wd > 0 ? new AdamW(p, { lr: 1e-2, weightDecay: wd, capturable }) : new Adam(p, { lr: 1e-2, capturable });
    for (let s = 0; s < steps; s++) {
      const g = era.tensor(randomArray(n, seed + 1 + s), [n], { device });
      opt.step(g);
    }
    const out = { params: p.toArray() as Float32Array, stepCount: opt.stepCount };
    opt.dispose();
    return out;
  });
}

describe(`capturable Adam (step count on the device) on the CPU (seed ${seed})`, () => {
  for (const wd of [0, 1e-2]) {
    it(`matches the host-counted optimizer bit for bit over 7 steps (weight decay ${wd})`, () => {
      const host = adamRun('cpu', false, 7, wd);
      const dev = adamRun('cpu', true, 7, wd);
      expect(dev.stepCount).to.equal(7);
      expect(Array.from(dev.params)).to.deep.equal(Array.from(host.params));
    });
  }

  it('reset and restoreStepCount set the device counter', () => {
    const p = era.zeros([4], { device: 'cpu' });
    const opt = new Adam(p, { capturable: true });
    opt.step(era.ones([4], { device: 'cpu' }));
    expect(opt.stepCount).to.equal(1);
    opt.restoreStepCount(41);
    expect(opt.stepCount).to.equal(41);
    expect(Array.from(opt.stepCounter!.toArray())).to.deep.equal([41]);
    opt.reset();
    expect(opt.stepCount).to.equal(0);
    opt.dispose();
    p.dispose();
  });

  it('refuses several blocks and a non-boolean capturable, naming them', () => {
    const a = era.zeros([2], { device: 'cpu' });
    const b = era.zeros([3], { device: 'cpu' });
    expectThrowsNaming(() => new Adam([a, b], { capturable: true }), RangeError, 'params');
    expectThrowsNaming(() => new Adam(a, { capturable: 1 as unknown as boolean }), TypeError, 'options.capturable');
    a.dispose();
    b.dispose();
  });
});

describeCuda(`captureGraph on CUDA (seed ${seed})`, () => {
  it('a recorded sequence of ops equals eager execution over several replays', () => {
    const n = 100_003;
    const x0 = randomArray(n, seed);
    const eager = era.tensor(x0, [n], { device: 'cuda' });
    const xg = era.tensor(x0, [n], { device: 'cuda' });
    const step = (x: Tensor) =>
      era.scope(() => {
        const y = era.scale(x, 0.5);
        era.add(x, y, { alpha: -0.25, out: x }); // x ← x − ¼·(½x) = 0.875 x
        era.nn.functional.activation(x, 'tanh', { out: x });
      });
    const g = era.captureGraph(() => step(xg), { device: 'cuda' }); // the warm-up runs once
    step(eager);
    expect(g.captured).to.equal(true);
    expect(g.nodes).to.be.greaterThan(2);
    for (let i = 0; i < 5; i++) {
      g.replay();
      step(eager);
    }
    expect(Array.from(xg.toArray())).to.deep.equal(Array.from(eager.toArray()));
    g.dispose();
    eager.dispose();
    xg.dispose();
  });

  it('random draws on CUDA are refused while recording (a replay would repeat their numbers); CPU draws are not', () => {
    const gen = new era.Generator(seed);
    const mu = era.zeros([4, 3], { device: 'cuda' });
    const logStd = era.zeros([4, 3], { device: 'cuda' });
    const draws: [string, () => unknown][] = [
      ['uniform', () => era.uniform([8], { device: 'cuda', generator: gen })],
      ['normal', () => era.normal([8], { device: 'cuda', generator: gen })],
      ['randomIndices', () => era.rl.randomIndices(8, 100, { device: 'cuda', generator: gen })],
      ['truncatedNormalSample', () => era.rl.truncatedNormalSample(mu, logStd, { generator: gen })],
      ['tanhGaussianSample', () => era.rl.tanhGaussianSample(mu, logStd, { generator: gen })],
    ];
    const live = era.memory().cuda.tensors;
    for (const [op, draw] of draws) {
      expectThrowsNaming(() => era.captureGraph(() => { draw(); }, { device: 'cuda', warmup: 0 }), TypeError, op);
      expect(gen.offset, `${op}: the generator did not move`).to.equal(0);
      expect(era.memory().cuda.tensors, `${op}: no output left behind`).to.equal(live);
    }
    let cpuDraw: Tensor | null = null;
    const g = era.captureGraph(() => {
      cpuDraw = era.uniform([8], { device: 'cpu', generator: gen });
    }, { device: 'cuda', warmup: 0 });
    expect(cpuDraw!.toArray().every((v) => v > 0 && v < 1)).to.equal(true);
    const eager = era.uniform([8], { device: 'cuda', generator: gen }); // usable again after recording
    for (const t of [eager, cpuDraw!, mu, logStd]) t.dispose();
    g.dispose();
  });

  it('memory freed while recording is not handed out again until the graph is disposed', () => {
    const n = 4096;
    const out = era.zeros([n], { device: 'cuda' });
    const src = era.tensor(randomArray(n, seed), [n], { device: 'cuda' });
    const g = era.captureGraph(() => {
      era.scope(() => {
        const tmp = era.scale(src, 3); // freed at the end of the scope, inside the recording
        era.copy(out, tmp);
      });
    }, { device: 'cuda', warmup: 0 });
    // A new tensor of the same size must not land on the graph's temporary.
    const other = era.full([n], 7, { device: 'cuda' });
    g.replay();
    expect(Array.from(other.toArray()).every((v) => v === 7)).to.equal(true);
    expectClose(out.toArray(), Array.from(randomArray(n, seed), (v) => 3 * v));
    g.dispose();
    for (const t of [out, src, other]) t.dispose();
  });

  it('a tensor allocated while recording and disposed afterwards stays reserved for the graph', () => {
    const n = 2048;
    const src = era.tensor(randomArray(n, seed + 1), [n], { device: 'cuda' });
    let kept: Tensor | null = null;
    const g = era.captureGraph(() => {
      kept?.dispose();
      kept = era.scale(src, 2); // allocated during the recording, outlives it
    }, { device: 'cuda', warmup: 0 });
    kept!.dispose();
    const other = era.full([n], 7, { device: 'cuda' });
    g.replay();
    expect(Array.from(other.toArray()).every((v) => v === 7)).to.equal(true);
    g.dispose();
    other.dispose();
    src.dispose();
  });

  /**
   * Two graphs sharing one block of n floats: allocated while recording g1 (and live afterwards),
   * then freed while recording g2; `insideG2` runs in g2's recording after that.
   */
  function twoGraphsOnOneBlock(n: number, s: number, insideG2: (g1: CudaGraph) => void = () => {}) {
    const src = era.tensor(randomArray(n, s), [n], { device: 'cuda' });
    let kept: Tensor | null = null;
    const g1 = era.captureGraph(() => {
      kept = era.scale(src, 2);
    }, { device: 'cuda', warmup: 0 });
    const g2 = era.captureGraph(() => {
      era.scale(kept!, 0.5, { out: kept! });
      kept!.dispose();
      insideG2(g1);
    }, { device: 'cuda', warmup: 0 });
    return { src, g1, g2 };
  }

  // That block stays reserved until both graphs are disposed, in either order.
  for (const first of ['the later graph', 'the earlier graph'] as const) {
    it(`a block two graphs recorded with stays reserved when ${first} is disposed first`, () => {
      const n = 3072;
      const { src, g1, g2 } = twoGraphsOnOneBlock(n, seed + 2);
      const survivor = first === 'the later graph' ? g1 : g2;
      const cached = () => era.memory().cuda.cachedBytes;
      const c0 = cached();
      (first === 'the later graph' ? g2 : g1).dispose();
      expect(cached() - c0, 'bytes given back by the first dispose').to.equal(0);
      // The block is still written by the surviving graph, so a new tensor must not land on it.
      const other = era.full([n], 7, { device: 'cuda' });
      survivor.replay();
      expect(Array.from(other.toArray()).every((v) => v === 7)).to.equal(true);
      // With both graphs gone the block (n floats) is back in the cache.
      const c1 = cached();
      survivor.dispose();
      expect(cached() - c1, 'bytes given back by the second dispose').to.equal(4 * n);
      other.dispose();
      src.dispose();
    });
  }

  it('a graph disposed while another records does not free a block the recording used', () => {
    const n = 2560;
    // g1 goes while g2 still records, after the shared block was freed in that recording.
    const { src, g2 } = twoGraphsOnOneBlock(n, seed + 6, (g1) => g1.dispose());
    const other = era.full([n], 7, { device: 'cuda' });
    g2.replay();
    expect(Array.from(other.toArray()).every((v) => v === 7)).to.equal(true);
    const c0 = era.memory().cuda.cachedBytes;
    g2.dispose();
    expect(era.memory().cuda.cachedBytes - c0, 'bytes given back with g2').to.equal(4 * n);
    other.dispose();
    src.dispose();
  });

  it('overlapping copies between views of one tensor behave as memmove (as on the CPU)', () => {
    const host = Float32Array.from({ length: 10 }, (_, i) => i);
    const want = Float32Array.from(host);
    want.copyWithin(2, 0, 6);
    const t = era.tensor(host, [10], { device: 'cuda' });
    era.copy(t.slice(2, 8), t.slice(0, 6));
    expect(Array.from(t.toArray())).to.deep.equal(Array.from(want));
    const c = era.tensor(Float32Array.from(host), [10], { device: 'cpu' });
    era.copy(c.slice(2, 8), c.slice(0, 6));
    expect(Array.from(c.toArray())).to.deep.equal(Array.from(want));
    t.dispose();
    c.dispose();
  });

  it('host transfers are refused while recording, and the process stays usable', () => {
    const x = era.ones([8], { device: 'cuda' });
    let err: Error | undefined;
    try {
      era.captureGraph(() => {
        era.scale(x, 2, { out: x });
        x.toArray();
      }, { device: 'cuda', warmup: 0 });
    } catch (e) {
      err = e as Error;
    }
    expect(err, 'an error').to.be.instanceOf(Error);
    expect(err!.message).to.match(/captur/);
    expect(era.isCapturing()).to.equal(false);
    era.scale(x, 3, { out: x });
    expect(Array.from(x.toArray())).to.deep.equal(new Array(8).fill(3)); // the recorded scale never ran
    x.dispose();
  });

  it('an MLP whose forward a graph recorded keeps that workspace when a larger batch replaces it', () => {
    const mlp = new era.nn.MLP({ inputSize: 5, hiddenSizes: [7], outputSize: 3, device: 'cuda', seed: 3 });
    const x4 = era.tensor(randomArray(4 * 5, seed + 3), [4, 5], { device: 'cuda' });
    let y4: Tensor | null = null;
    const g = era.captureGraph(() => {
      y4 = mlp.forward(x4);
    }, { device: 'cuda' });
    const x8 = era.tensor(randomArray(8 * 5, seed + 4), [8, 5], { device: 'cuda' });
    mlp.forward(x8); // grows the workspace
    const fresh = randomArray(4 * 5, seed + 5);
    x4.write(fresh);
    g.replay(); // writes the recorded (first) workspace, which must still be allocated and ours
    const replayed = Array.from(y4!.toArray());
    const xFresh = era.tensor(fresh, [4, 5], { device: 'cuda' });
    expect(replayed).to.deep.equal(Array.from(mlp.forward(xFresh).toArray()));
    g.dispose();
    for (const d of [mlp, x4, x8, xFresh]) d.dispose();
  });

  it('an MLP refuses to grow its workspace while recording (naming x), and trains eagerly afterwards as on the CPU', () => {
    // A workspace made inside the recording would have its ones (the output layer's bias
    // gradient) filled only by the first replay: an eager backward before it read garbage.
    const opts = { inputSize: 5, hiddenSizes: [7], outputSize: 3, seed: 4 } as const;
    const mlp = new era.nn.MLP({ ...opts, device: 'cuda' });
    const host = randomArray(4 * 5, seed + 8);
    const x = era.tensor(host, [4, 5], { device: 'cuda' });
    expectThrowsNaming(() => era.captureGraph(() => { mlp.forward(x); }, { device: 'cuda', warmup: 0 }), RangeError, 'x', { also: /recording/ });
    expect(era.isCapturing()).to.equal(false);
    const cpu = new era.nn.MLP({ ...opts, device: 'cpu' });
    const dy = randomArray(4 * 3, seed + 9);
    for (const [m, dev] of [[mlp, 'cuda'], [cpu, 'cpu']] as const) {
      era.scope(() => {
        m.forward(dev === 'cuda' ? x : era.tensor(host, [4, 5], { device: 'cpu' }));
        m.backward(era.tensor(dy, [4, 3], { device: dev }), { accumulate: false });
      });
    }
    expectClose(mlp.grads.toArray(), cpu.grads.toArray(), { atol: 1e-5, rtol: 1e-5, what: 'gradients after the refused recording' });
    // Sized by a run outside the recording (the default warm-up), the same forward records.
    const g = era.captureGraph(() => { mlp.forward(x); }, { device: 'cuda' });
    g.dispose();
    for (const d of [mlp, cpu, x]) d.dispose();
  });

  it('refuses to record a step of an Adam that counts its steps on the host, naming it', () => {
    const p = era.ones([16], { device: 'cuda' });
    const g = era.full([16], 0.5, { device: 'cuda' });
    const opt = new Adam(p, { lr: 0.1 });
    expectThrowsNaming(() => era.captureGraph(() => opt.step(g), { device: 'cuda', warmup: 0 }), TypeError, 'this');
    expect(era.isCapturing()).to.equal(false);
    opt.step(g); // eagerly it works, and it is the first step: Adam moves each parameter by lr
    expectClose(p.toArray(), new Array(16).fill(0.9), { atol: 1e-6 });
    for (const d of [opt, p, g]) d.dispose();
  });

  it('capturable Adam recorded in a graph equals eager Adam step for step', () => {
    const n = 5003;
    const pe = era.tensor(randomArray(n, seed), [n], { device: 'cuda' });
    const pg = era.tensor(randomArray(n, seed), [n], { device: 'cuda' });
    const grad = era.tensor(randomArray(n, seed + 9), [n], { device: 'cuda' });
    const eager = new AdamW(pe, { lr: 1e-2, capturable: false });
    const graphed = new AdamW(pg, { lr: 1e-2, capturable: true });
    const g = era.captureGraph(() => graphed.step(grad), { device: 'cuda' });
    eager.step(grad);
    for (let i = 0; i < 6; i++) {
      era.scale(grad, -0.9, { out: grad }); // new gradients, written outside the graph
      g.replay();
      eager.step(grad);
    }
    expect(graphed.stepCount).to.equal(7);
    expectClose(pg.toArray(), pe.toArray(), { atol: 1e-7, rtol: 1e-6 });
    g.dispose();
    for (const t of [pe, pg, grad]) t.dispose();
    eager.dispose();
    graphed.dispose();
  });

  it('CUDA capturable Adam matches the CPU', () => {
    const cpu = adamRun('cpu', true, 5, 1e-2);
    const gpu = adamRun('cuda', true, 5, 1e-2);
    expect(gpu.stepCount).to.equal(5);
    expectClose(gpu.params, cpu.params, { atol: 1e-6, rtol: 1e-5 });
  });
});

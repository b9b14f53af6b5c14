/**
 * The CPU backend's worker threads and GEMM micro-kernels (lib/cpu.ts, native/cpu/parallel.cc,
 * native/cpu/gemm_kernels.h): every result is bitwise the same for every thread count (each output
 * element has one owner and a fixed summation order); the settings are validated, reported by
 * era.info() and read from ERA_NUM_THREADS / ERA_CPU_GEMM; ELU's branch-free expm1 is within an
 * ulp. The kernels' accuracy against float64 is in gemm.test.ts, which runs its CPU grid once
 * per kernel.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import era, { type Tensor } from '../lib/index.js';
import { MAX_THREADS, cpuInfo, setCpuGemmKernel } from '../lib/cpu.js';
import { native } from '../lib/native.js';
import { activation, activationBackward, layerNorm, layerNormBackward, matmul, sum, type Activation } from '../lib/nn/functional.js';
import { adamStep, clipGradNorm } from '../lib/nn/optim.js';
import { tanhGaussianBackward, tanhGaussianSample, truncatedNormalBackward, truncatedNormalLogProb, truncatedNormalSample } from '../lib/rl/ops-policy.js';
import { expectThrowsNaming, libModule, randomArray, runNode, testSeed } from './helpers.js';

const seed = testSeed();
const DEFAULT = cpuInfo();
const THREAD_COUNTS = [1, 2, 3, 7]; // more threads than CPUs is allowed and must not change a bit

function restoreDefaults(): void {
  era.setNumThreads(DEFAULT.threads);
  setCpuGemmKernel(DEFAULT.gemmKernel);
}

/** fn() run at each thread count; every result must equal the single-thread one bit for bit. */
function expectSameForEveryThreadCount(what: string, fn: () => Float32Array[]): void {
  era.setNumThreads(1);
  const want = fn().map((a) => new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)));
  for (const threads of THREAD_COUNTS.slice(1)) {
    era.setNumThreads(threads);
    const got = fn();
    got.forEach((g, i) => {
      const bits = new Uint32Array(g.buffer.slice(g.byteOffset, g.byteOffset + g.byteLength));
      let first = -1;
      for (let j = 0; j < bits.length && first < 0; j++) if (bits[j] !== want[i][j]) first = j;
      expect(first, `${what}, output ${i}, ${threads} threads: first differing element`).to.equal(-1);
    });
  }
}

const cpu = { device: 'cpu' as const };
const rand = (shape: number[], s: number) => era.tensor(randomArray(shape.reduce((x, y) => x * y, 1), s, -2, 2), shape, cpu);

describe(`CPU threads: settings (seed ${seed})`, () => {
  afterEach(restoreDefaults);

  it('era.info().cpu reports threads, CPUs and the GEMM kernels', () => {
    const c = era.info().cpu;
    expect(c.threads).to.be.a('number').and.to.be.at.least(1);
    expect(Number.isInteger(c.threads)).to.equal(true);
    expect(c.cores).to.be.at.least(1);
    expect(c.gemmKernels).to.include('portable');
    expect(c.gemmKernels).to.include(c.gemmKernel);
    // The fastest kernel is the default (unless ERA_CPU_GEMM chose another).
    if (!process.env.ERA_CPU_GEMM) expect(c.gemmKernel).to.equal(c.gemmKernels[0]);
  });

  it('finds AVX-512 and AVX2+FMA (GEMM, vector build) where /proc/cpuinfo lists them', function () {
    let flags = '';
    try {
      flags = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags')) ?? '';
    } catch {
      this.skip();
    }
    if (process.arch !== 'x64' || !flags) this.skip();
    const has = / avx2( |$)/.test(flags) && / fma( |$)/.test(flags);
    expect(era.info().cpu.gemmKernels.includes('avx2-fma')).to.equal(has);
    expect(era.info().cpu.gemmKernels.includes('avx512')).to.equal(/ avx512f( |$)/.test(flags));
    // The element-wise math takes the widest build the flags allow.
    const widest = / avx512f( |$)/.test(flags) ? 'avx512' : / avx2( |$)/.test(flags) ? 'avx2' : 'baseline';
    expect(era.info().cpu.vectorBuild).to.equal(widest);
  });

  it('setNumThreads / getNumThreads', () => {
    era.setNumThreads(3);
    expect(era.getNumThreads()).to.equal(3);
    era.setNumThreads(1);
    expect(era.getNumThreads()).to.equal(1);
    expect(era.info().cpu.threads).to.equal(1);
  });

  for (const [value, error] of [[0, RangeError], [MAX_THREADS + 1, RangeError], [2.5, RangeError], [NaN, RangeError], ['4', TypeError], [undefined, TypeError]] as const) {
    it(`setNumThreads(${String(value)}) is a ${error.name} naming threads`, () => {
      expectThrowsNaming(() => era.setNumThreads(value as number), error, 'threads');
      expect(era.getNumThreads()).to.equal(DEFAULT.threads);
    });
  }

  it('the addon checks again when the TS layer is bypassed', () => {
    expectThrowsNaming(() => native().setCpuThreads(0), RangeError, 'threads');
    expectThrowsNaming(() => native().setCpuThreads('x' as never), TypeError, 'threads');
    expectThrowsNaming(() => native().setCpuGemmKernel('sse9'), RangeError, 'kernel');
    expectThrowsNaming(() => native().setCpuGemmKernel(3 as never), TypeError, 'kernel');
  });

  it('setCpuGemmKernel rejects a kernel this CPU lacks, naming it', () => {
    expectThrowsNaming(() => setCpuGemmKernel('avx1024'), RangeError, 'name');
    expect(cpuInfo().gemmKernel).to.equal(DEFAULT.gemmKernel);
  });

  describe('environment variables (a child process runs `era info --json`)', () => {
    const run = (env: Record<string, string>) => runNode([libModule('cli/era'), 'info', '--json'], { env: { ...process.env, ...env } });

    it('ERA_NUM_THREADS and ERA_CPU_GEMM set the threads and the kernel', () => {
      const r = run({ ERA_NUM_THREADS: '3', ERA_CPU_GEMM: 'portable' });
      expect(r.status, r.stderr).to.equal(0);
      const c = JSON.parse(r.stdout).cpu;
      expect(c.threads).to.equal(3);
      expect(c.gemmKernel).to.equal('portable');
    });

    for (const [name, value] of [['ERA_NUM_THREADS', 'two'], ['ERA_NUM_THREADS', '0'], ['ERA_NUM_THREADS', '1.5'], ['ERA_CPU_GEMM', 'sse9']]) {
      it(`${name}=${value} is an error naming the variable`, () => {
        const r = run({ [name]: value });
        expect(r.status).to.not.equal(0);
        expect(r.stderr).to.include(`for the environment variable ${name} but received '${value}'`);
      });
    }
  });
});

describe(`CPU threads: results do not depend on the thread count (seed ${seed})`, () => {
  afterEach(restoreDefaults);

  interface Mm {
    m: number;
    k: number;
    n: number;
    batch?: number;
    transA?: boolean;
    transB?: boolean;
    bias?: boolean;
    act?: Activation;
    accumulate?: boolean;
  }
  // Shapes big enough to be split over threads, with ragged tiles and panels at every edge.
  const PROBLEMS: Mm[] = [
    { m: 203, k: 300, n: 389, transA: true, transB: true, bias: true, act: 'elu' },
    { m: 97, k: 130, n: 150, batch: 3, bias: true, act: 'relu' },
    { m: 1, k: 4096, n: 700 },
    { m: 700, k: 64, n: 3, transB: true, act: 'tanh' },
    { m: 150, k: 257, n: 190, accumulate: true },
    // skinny products (native/cpu/gemm_skinny.cc), split into several chunks of lines
    { m: 2000, k: 129, n: 1, batch: 3, transA: true, bias: true, act: 'elu' },
    { m: 3, k: 129, n: 2100, transB: true, accumulate: true },
  ];

  for (const kernel of DEFAULT.gemmKernels) {
    for (const [i, p] of PROBLEMS.entries()) {
      const title = `matmul ${p.batch ? `${p.batch}x ` : ''}${p.m}x${p.k}x${p.n}${p.transA ? ' transA' : ''}${p.transB ? ' transB' : ''}` +
        `${p.bias ? ' bias' : ''}${p.act ? ` ${p.act}` : ''}${p.accumulate ? ' accumulate' : ''} (${kernel})`;
      it(title, () => {
        setCpuGemmKernel(kernel);
        const lead = p.batch ? [p.batch] : [];
        expectSameForEveryThreadCount(title, () => era.scope(() => {
          const s = seed + 31 * i;
          const a = rand([...lead, ...(p.transA ? [p.k, p.m] : [p.m, p.k])], s);
          const b = rand([...lead, ...(p.transB ? [p.n, p.k] : [p.k, p.n])], s + 1);
          const bias = p.bias ? rand(p.batch ? [p.batch, p.n] : [p.n], s + 2) : undefined;
          const out = p.accumulate ? rand([...lead, p.m, p.n], s + 3) : undefined;
          const r = matmul(a, b, { transA: p.transA, transB: p.transB, bias, activation: p.act, out, accumulate: p.accumulate });
          return [r.toArray() as Float32Array];
        }));
      });
    }
  }

  // The AVX-512 kernel is the AVX2 one at twice the width: each output sees the same FMA chain.
  it('the avx512 and avx2-fma kernels give bit-identical products (where the CPU has both)', function () {
    if (!DEFAULT.gemmKernels.includes('avx512') || !DEFAULT.gemmKernels.includes('avx2-fma')) this.skip();
    for (const [i, p] of PROBLEMS.entries()) {
      const lead = p.batch ? [p.batch] : [];
      const product = (kernel: string) => era.scope(() => {
        setCpuGemmKernel(kernel);
        const s = seed + 57 * i;
        const a = rand([...lead, ...(p.transA ? [p.k, p.m] : [p.m, p.k])], s);
        const b = rand([...lead, ...(p.transB ? [p.n, p.k] : [p.k, p.n])], s + 1);
        const bias = p.bias ? rand(p.batch ? [p.batch, p.n] : [p.n], s + 2) : undefined;
        return matmul(a, b, { transA: p.transA, transB: p.transB, bias, activation: p.act }).toArray() as Float32Array;
      });
      const want = product('avx2-fma');
      const got = product('avx512');
      let differ = 0;
      for (let j = 0; j < want.length; j++) if (Object.is(want[j], got[j]) === false) differ++;
      expect(differ, `problem ${i}: ${differ} of ${want.length} elements differ`).to.equal(0);
    }
  });

  it('the pool survives resizing between calls (workers stopped, restarted, more than CPUs)', () => {
    const counts = [4, 1, 8, 2, 2, 6, 1, 3, 8, 5, 1, 7];
    const product = () => era.scope(() => matmul(rand([130, 211], seed + 40), rand([211, 170], seed + 41), { activation: 'elu' }).toArray() as Float32Array);
    era.setNumThreads(1);
    const want = product();
    for (const [i, threads] of counts.entries()) {
      era.setNumThreads(threads);
      for (let r = 0; r < 3; r++) expect(product(), `call ${r} after setNumThreads(${threads}) (#${i})`).to.deep.equal(want);
    }
  });

  it('ELU forward and backward, and the first-dim sum', () => {
    expectSameForEveryThreadCount('elu', () => era.scope(() => {
      const x = rand([300, 701], seed + 1);
      const y = activation(x, 'elu');
      const dx = activationBackward(rand([300, 701], seed + 2), y, 'elu');
      return [y.toArray(), dx.toArray(), sum(x, { dim: 0 }).toArray()] as Float32Array[];
    }));
  });

  it('layer norm forward and backward (one affine per ensemble member)', () => {
    expectSameForEveryThreadCount('layer norm', () => era.scope(() => {
      const x = rand([3, 100, 701], seed + 3);
      const w = rand([3, 701], seed + 4);
      const b = rand([3, 701], seed + 5);
      const f = layerNorm(x, w, b);
      const g = layerNormBackward(rand([3, 100, 701], seed + 6), x, w, f.mean, f.rstd);
      const grads = [g.dx, g.dWeight, g.dBias].filter((t): t is Tensor => t !== null);
      return [f.y, ...grads].map((t) => t.toArray() as Float32Array);
    }));
  });

  it('Adam step', () => {
    expectSameForEveryThreadCount('adam', () => era.scope(() => {
      const n = 100_003;
      const p = rand([n], seed + 7);
      const m = rand([n], seed + 8);
      const v = era.tensor(randomArray(n, seed + 9, 0, 1), [n], cpu);
      adamStep(p, rand([n], seed + 10), m, v, { lr: 1e-3, step: 3, weightDecay: 0.01 });
      return [p.toArray(), m.toArray(), v.toArray()] as Float32Array[];
    }));
  });

  it('gradient clipping by global norm (the norm, and the scaled grads)', () => {
    expectSameForEveryThreadCount('clipGradNorm', () => era.scope(() => {
      const grads = [rand([100_003], seed + 11), rand([70_001], seed + 12), rand([5], seed + 13)];
      const norm = clipGradNorm(grads, 1.5);
      return [norm.toArray(), ...grads.map((g) => g.toArray())] as Float32Array[];
    }));
  });

  it('the policy samplers: truncated normal and tanh-Gaussian, sample, backward and log-prob', () => {
    expectSameForEveryThreadCount('policy', () => era.scope(() => {
      const mu = rand([3, 700, 21], seed + 14);
      const logStd = rand([3, 700, 21], seed + 15);
      const gradAction = rand([3, 700, 21], seed + 16);
      const t = truncatedNormalSample(mu, logStd, { temperature: 0.7, seed: seed + 17 });
      const tg = truncatedNormalBackward(mu, logStd, t.noise, gradAction, { temperature: 0.7 });
      const tlp = truncatedNormalLogProb(t.action, mu, logStd, { temperature: 0.7 });
      const h = tanhGaussianSample(mu, logStd, { seed: seed + 18 });
      const hg = tanhGaussianBackward(mu, logStd, h.noise, gradAction, rand([3, 700], seed + 19));
      return [t.action, t.noise, tg.gradMu, tg.gradLogStd, tlp, h.action, h.logProb, hg.gradMu, hg.gradLogStd].map((x) => x.toArray() as Float32Array);
    }));
  });
});

// Native self-tests, built by the CMake build next to the addon (the node-gyp build and the GPU
// bundle lack them, and skip).
const SELF_TESTS = [
  // exceptions from tasks, nested calls, two OS threads at once (native/cpu/parallel_selftest.cc)
  { name: 'era_parallel_selftest', what: 'the worker pool' },
  // every AVX build of ELU bitwise equal to the baseline, and within an ulp of long double
  // expm1 on 18 million floats (native/cpu/vector_math_selftest.cc)
  { name: 'era_vector_math_selftest', what: 'the vectorised math' },
];

describe('CPU: native self-tests', () => {
  for (const t of SELF_TESTS) {
    it(`${t.what} (${t.name}) passes`, function () {
      const exe = path.join(path.dirname(era.info().addon.path), t.name);
      if (!existsSync(exe)) this.skip();
      const r = spawnSync(exe, { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^[1-9]\d* passed, 0 failed$/m);
    });
  }
});

describe('CPU ELU: the branch-free expm1 is within an ulp', () => {
  /** Distance in units in the last place between two floats of the same sign. */
  function ulps(a: number, b: number): number {
    const f = new Float32Array([a, b]);
    const i = new Int32Array(f.buffer);
    const key = (v: number) => (v < 0 ? -(v & 0x7fffffff) : v);
    return Math.abs(key(i[0]) - key(i[1]));
  }

  it('matches float64 expm1 rounded to float on 40,000 negative inputs across every exponent', () => {
    const xs: number[] = [];
    for (let e = -40; e <= 7; e++) {
      for (let j = 0; j < 850; j++) xs.push(Math.fround(-(2 ** e) * (1 + j / 850)));
    }
    const x = Float32Array.from(xs);
    const y = era.scope(() => activation(era.tensor(x, [x.length], cpu), 'elu').toArray() as Float32Array);
    let worst = 0;
    let at = 0;
    for (let i = 0; i < x.length; i++) {
      const d = ulps(y[i], Math.fround(Math.expm1(x[i])));
      if (d > worst) [worst, at] = [d, x[i]];
    }
    // Math.expm1 is itself within an ulp of float64, far below a float ulp. The float expm1 of
    // native/core/expm1.h is within one float ulp (0.3% of inputs are not the nearest float):
    // anything more is a defect.
    expect(worst, `worst at x = ${at}`).to.be.at.most(1);
  });

  it('keeps the special values', () => {
    const x = new Float32Array([NaN, -0, 0, -Infinity, Infinity, -1e-30, -200, 3.5, -1e-45]);
    const y = era.scope(() => activation(era.tensor(x, [x.length], cpu), 'elu').toArray() as Float32Array);
    expect(Number.isNaN(y[0])).to.equal(true);
    expect(Object.is(y[1], -0)).to.equal(true);
    expect(Object.is(y[2], 0)).to.equal(true);
    expect(y[3]).to.equal(-1);
    expect(y[4]).to.equal(Infinity);
    expect(y[5]).to.equal(Math.fround(-1e-30));
    expect(y[6]).to.equal(-1);
    expect(y[7]).to.equal(3.5);
    expect(y[8]).to.equal(Math.fround(-1e-45));
  });
});

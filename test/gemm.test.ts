/**
 * matmul: the CPU GEMM against a float64 reference on odd shapes, every transpose form, bias and
 * every activation, accumulation, batches, bf16 inputs and the tf32/bf16 operand rounding; bad
 * inputs named; and (on a CUDA host) every CUDA kernel (exact f32, tf32 and bf16 tensor cores,
 * each tile configuration, vectorised and element-wise loads) against the CPU.
 *
 * Tolerances. An f32 dot product of length k has error at most about k·2⁻²⁴·Σ|a||b|, so
 * elements are compared with atol = 4·k·2⁻²⁴·Σ|a·b| (the row's absolute product sum) plus a
 * 2⁻²³ relative term for the final rounding and the activation; this catches any wrong index
 * (errors of order Σ|a·b|) without flaking on cancellation. tf32 and bf16 products are checked
 * twice: against the CPU with the same operand rounding (the same bound: only the summation order
 * differs) and against the exact float64 product by relative error norm (tf32 ≤ 1e-3,
 * bf16 ≤ 1e-2: the unit roundoffs are 2⁻¹¹ and 2⁻⁸).
 */
import { expect } from 'chai';

import era, { type Tensor } from '../lib/index.js';
import { cpuInfo, setCpuGemmKernel } from '../lib/cpu.js';
import { native } from '../lib/native.js';
import { bf16ToF32, f32ToBf16 } from '../lib/nn/bf16.js';
import * as nnApi from '../lib/nn/index.js';
import { matmul, matmulKernel, type Activation, type Precision } from '../lib/nn/functional.js';
import {
  cudaSimulated, describeCuda, envWithoutCuda, evalInChild, expectThrowsNaming, libModule, randomArray, relativeError, runNode, skipOnSimulator, testSeed,
} from './helpers.js';

const seed = testSeed();

// ---------------------------------------------------------------------------------------------
// float64 reference

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** f32 rounded to tf32 (10 mantissa bits, ties away from zero), as cvt.rna.tf32.f32. */
function roundTf32(x: number): number {
  f32[0] = x;
  const u = u32[0];
  if ((u & 0x7f800000) === 0x7f800000) return f32[0];
  u32[0] = ((u + 0x1000) & 0xffffe000) >>> 0;
  return f32[0];
}

function roundOperand(values: Float32Array, precision: Precision): Float32Array {
  if (precision === 'f32') return values;
  if (precision === 'bf16') return bf16ToF32(f32ToBf16(values));
  return values.map(roundTf32);
}

function act64(x: number, a: Activation): number {
  if (a === 'relu') return x > 0 ? x : 0;
  if (a === 'elu') return x > 0 ? x : Math.expm1(x);
  if (a === 'tanh') return Math.tanh(x);
  return x;
}

interface Problem {
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  batch?: number;
  /** a 2-D b shared across the batch */
  sharedB?: boolean;
  bias?: 'none' | 'shared' | 'batch';
  activation?: Activation;
  accumulate?: boolean;
}

interface Inputs {
  a: Float32Array;
  b: Float32Array;
  bias?: Float32Array;
  init?: Float32Array;
  aShape: number[];
  bShape: number[];
  outShape: number[];
  biasShape?: number[];
}

function makeInputs(p: Problem, s: number): Inputs {
  const batch = p.batch ?? 1;
  const batched = p.batch !== undefined;
  const aMat = p.transA ? [p.k, p.m] : [p.m, p.k];
  const bMat = p.transB ? [p.n, p.k] : [p.k, p.n];
  const aShape = batched ? [batch, ...aMat] : aMat;
  const bShape = batched && !p.sharedB ? [batch, ...bMat] : bMat;
  const outShape = batched ? [batch, p.m, p.n] : [p.m, p.n];
  const size = (sh: number[]) => sh.reduce((x, y) => x * y, 1);
  const inp: Inputs = {
    a: randomArray(size(aShape), s, -1, 1),
    b: randomArray(size(bShape), s + 1, -1, 1),
    aShape, bShape, outShape,
  };
  if (p.bias && p.bias !== 'none') {
    inp.biasShape = p.bias === 'batch' ? [batch, p.n] : [p.n];
    inp.bias = randomArray(size(inp.biasShape), s + 2, -1, 1);
  }
  if (p.accumulate) inp.init = randomArray(size(outShape), s + 3, -1, 1);
  return inp;
}

/** The float64 product and, per element, Σ|a·b| + |bias| + |init| (the error scale). */
function reference(p: Problem, inp: Inputs, precision: Precision = 'f32'): { out: Float64Array; scale: Float64Array } {
  const batch = p.batch ?? 1;
  const { m, n, k } = p;
  const a = roundOperand(inp.a, precision);
  const b = roundOperand(inp.b, precision);
  const out = new Float64Array(batch * m * n);
  const scale = new Float64Array(batch * m * n);
  const aStride = inp.aShape.length === 3 ? m * k : 0;
  const bStride = inp.bShape.length === 3 ? k * n : 0;
  const biasStride = inp.biasShape?.length === 2 ? n : 0;
  for (let z = 0; z < batch; z++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        let sa = 0;
        for (let q = 0; q < k; q++) {
          const av = a[z * aStride + (p.transA ? q * m + i : i * k + q)];
          const bv = b[z * bStride + (p.transB ? j * k + q : q * n + j)];
          s += av * bv;
          sa += Math.abs(av * bv);
        }
        const o = z * m * n + i * n + j;
        if (inp.init) {
          s += inp.init[o];
          sa += Math.abs(inp.init[o]);
        }
        if (inp.bias) {
          s += inp.bias[z * biasStride + j];
          sa += Math.abs(inp.bias[z * biasStride + j]);
        }
        out[o] = act64(s, p.activation ?? 'none');
        scale[o] = sa;
      }
    }
  }
  return { out, scale };
}

/** |got − want| ≤ c·k·2⁻²⁴·scale + 2⁻²³·|want| + 1e-30, reporting the worst element. */
function expectGemmClose(got: ArrayLike<number>, want: ArrayLike<number>, scale: ArrayLike<number>, k: number, what: string, c = 4): void {
  expect(got.length, `${what}: length`).to.equal(want.length);
  const eps = 2 ** -24;
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < want.length; i++) {
    const tol = c * Math.max(k, 1) * eps * scale[i] + 2 * eps * Math.abs(want[i]) + 1e-30;
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= tol)) {
      const r = Number.isNaN(err) ? Infinity : err / tol;
      if (worst < 0 || r > worstRatio) {
        worst = i;
        worstRatio = r;
      }
    }
  }
  if (worst >= 0) {
    expect.fail(`${what}: element ${worst} is ${got[worst]}, expected ${want[worst]} (${worstRatio.toFixed(1)}x the tolerance; k ${k}, scale ${scale[worst]})`);
  }
}

function run(p: Problem, inp: Inputs, device: 'cpu' | 'cuda', opts: { dtype?: 'f32' | 'bf16'; precision?: Precision } = {}): Float32Array {
  return era.scope(() => {
    const dtype = opts.dtype ?? 'f32';
    const mk = (data: Float32Array, shape: number[]) => (dtype === 'bf16'
      ? era.tensor(f32ToBf16(data), shape, { device, dtype: 'bf16' })
      : era.tensor(data, shape, { device }));
    const a = mk(inp.a, inp.aShape);
    const b = mk(inp.b, inp.bShape);
    const bias = inp.bias ? era.tensor(inp.bias, inp.biasShape!, { device }) : undefined;
    const out = inp.init ? era.tensor(Float32Array.from(inp.init), inp.outShape, { device }) : undefined;
    const r = matmul(a, b, {
      transA: p.transA, transB: p.transB, bias, activation: p.activation, out, accumulate: p.accumulate, precision: opts.precision,
    });
    expect(r.shape).to.deep.equal(inp.outShape);
    return r.toArray() as Float32Array;
  });
}

const label = (p: Problem) => `${p.batch !== undefined ? `${p.batch}x ` : ''}${p.m}x${p.k}x${p.n}` +
  `${p.transA ? ' transA' : ''}${p.transB ? ' transB' : ''}${p.sharedB ? ' sharedB' : ''}` +
  `${p.bias && p.bias !== 'none' ? ` bias(${p.bias})` : ''}${p.activation && p.activation !== 'none' ? ` ${p.activation}` : ''}` +
  `${p.accumulate ? ' accumulate' : ''}`;

const LAYOUTS = [
  { transA: false, transB: false },
  { transA: false, transB: true },
  { transA: true, transB: false },
  { transA: true, transB: true },
];

// Shapes are m x k x n.
const CPU_PROBLEMS: Problem[] = [
  { m: 1, k: 1, n: 1 },
  { m: 3, k: 5, n: 7 },
  ...LAYOUTS.map((l) => ({ m: 37, k: 129, n: 65, ...l })),
  { m: 256, k: 67, n: 512 },
  { m: 256, k: 67, n: 512, transB: true, bias: 'shared', activation: 'elu' },
  { m: 64, k: 300, n: 70, bias: 'shared', activation: 'relu' },
  { m: 33, k: 17, n: 9, transA: true, bias: 'shared', activation: 'tanh' },
  { m: 20, k: 30, n: 40, accumulate: true },
  { m: 20, k: 30, n: 40, accumulate: true, bias: 'shared', activation: 'elu', transA: true },
  { m: 5, k: 0, n: 6, bias: 'shared', activation: 'tanh' },
  { m: 5, k: 0, n: 6, accumulate: true },
  { m: 70, k: 600, n: 520 }, // several KC blocks, split over threads
  { m: 203, k: 300, n: 389, transA: true, transB: true, bias: 'shared', activation: 'elu' }, // ragged tiles
  { m: 1, k: 1000, n: 700, bias: 'shared' }, // one row: the threads split the columns
  { m: 100, k: 90000, n: 50 }, // packed operands over 16 MiB: two row slabs and two column slabs
  { m: 4, k: 9, n: 11, batch: 3 },
  { m: 4, k: 9, n: 11, batch: 3, sharedB: true, transB: true, bias: 'batch', activation: 'relu' },
  { m: 4, k: 9, n: 11, batch: 2, transA: true, bias: 'shared' },
  // Skinny products (at most 4 rows or 4 columns: native/cpu/gemm_skinny.cc), in every layout,
  // long enough on the other side to be cut into several chunks of lines.
  ...LAYOUTS.map((l) => ({ m: 1500, k: 257, n: 1, ...l, bias: 'shared', activation: 'elu' }) as Problem),
  ...LAYOUTS.map((l) => ({ m: 3, k: 129, n: 2100, ...l, accumulate: true, bias: 'shared', activation: 'tanh' }) as Problem),
  ...LAYOUTS.map((l) => ({ m: 700, k: 70, n: 4, ...l, batch: 3, sharedB: true, bias: 'batch', activation: 'relu' }) as Problem),
  ...LAYOUTS.map((l) => ({ m: 2, k: 33, n: 3, ...l, batch: 2, accumulate: true }) as Problem),
  { m: 4, k: 0, n: 300, bias: 'shared', activation: 'elu' },
  { m: 300, k: 0, n: 2, accumulate: true },
];

// Inputs and float64 references of CPU_PROBLEMS, made once for all kernels (the largest takes seconds).
const cpuCases = new Map<number, { inp: Inputs; ref: ReturnType<typeof reference> }>();
function cpuCase(i: number): { inp: Inputs; ref: ReturnType<typeof reference> } {
  let c = cpuCases.get(i);
  if (!c) {
    const inp = makeInputs(CPU_PROBLEMS[i], seed + 17 * i);
    c = { inp, ref: reference(CPU_PROBLEMS[i], inp) };
    cpuCases.set(i, c);
  }
  return c;
}

// The CPU grid runs once per micro-kernel this CPU has ('avx2-fma', 'portable'; lib/cpu.ts).
for (const kernel of cpuInfo().gemmKernels) describe(`matmul on the CPU, ${kernel} kernel, against float64 (seed ${seed})`, () => {
  const initial = cpuInfo().gemmKernel;
  before(() => setCpuGemmKernel(kernel));
  after(() => setCpuGemmKernel(initial));

  for (const [i, p] of CPU_PROBLEMS.entries()) {
    it(label(p), () => {
      const { inp, ref } = cpuCase(i);
      expectGemmClose(run(p, inp, 'cpu'), ref.out, ref.scale, p.k, label(p));
    });
  }

  for (const precision of ['tf32', 'bf16'] as const) {
    it(`precision '${precision}' rounds the operands (and only them) the way the tensor cores do`, () => {
      const p: Problem = { m: 29, k: 75, n: 31, transB: true, bias: 'shared', activation: 'elu' };
      const inp = makeInputs(p, seed + 5);
      const rounded = reference(p, inp, precision);
      const got = run(p, inp, 'cpu', { precision });
      expectGemmClose(got, rounded.out, rounded.scale, p.k, `${precision} vs rounded operands`);
      const exact = reference(p, inp, 'f32');
      const rel = relativeError(got, exact.out);
      expect(rel).to.be.above(0); // rounding did happen
      expect(rel).to.be.below(precision === 'tf32' ? 1e-3 : 1e-2);
    });
  }

  it('bf16 inputs are widened exactly (f32 output)', () => {
    const p: Problem = { m: 19, k: 40, n: 23, transA: true, bias: 'shared', activation: 'tanh' };
    const inp = makeInputs(p, seed + 6);
    const ref = reference(p, inp, 'bf16');
    expectGemmClose(run(p, inp, 'cpu', { dtype: 'bf16' }), ref.out, ref.scale, p.k, 'bf16 inputs');
  });

  it('writes into options.out and returns it', () => {
    era.scope(() => {
      const a = era.tensor(new Float32Array([1, 2, 3, 4]), [2, 2], { device: 'cpu' });
      const b = era.tensor(new Float32Array([5, 6, 7, 8]), [2, 2], { device: 'cpu' });
      const out = era.full([2, 2], 100, { device: 'cpu' });
      expect(matmul(a, b, { out })).to.equal(out);
      expect(Array.from(out.toArray())).to.deep.equal([19, 22, 43, 50]);
      matmul(a, b, { out, accumulate: true, bias: era.tensor([1, -1], [2], { device: 'cpu' }), activation: 'relu' });
      expect(Array.from(out.toArray())).to.deep.equal([39, 43, 87, 99]);
    });
  });

  it('NaN in an operand propagates to the affected outputs only', () => {
    era.scope(() => {
      const a = era.tensor([1, NaN, 3, 4], [2, 2], { device: 'cpu' });
      const b = era.tensor([1, 0, 0, 1], [2, 2], { device: 'cpu' });
      const out = Array.from(matmul(a, b).toArray());
      expect(Number.isNaN(out[0]) && Number.isNaN(out[1])).to.equal(true);
      expect(out.slice(2)).to.deep.equal([3, 4]);
    });
  });

  it('reports the CPU kernel', () => {
    expect(matmulKernel({ m: 4, n: 4, k: 4 })).to.equal(`cpu ${kernel}`);
  });
});

// ---------------------------------------------------------------------------------------------
// Bad inputs

/** The addon's matmul, bypassing the TS checks. */
const rawMatmul = (...args: unknown[]) => (native() as unknown as { matmul: (...x: unknown[]) => void }).matmul(...args);

interface Bad {
  title: string;
  call: (t: Record<string, Tensor>) => unknown;
  error: typeof TypeError | typeof RangeError;
  names: string;
}

const BAD: Bad[] = [
  { title: 'a is not a tensor', call: ({ b }) => matmul([1, 2] as never, b), error: TypeError, names: 'a' },
  { title: 'an i32 operand', call: ({ i, b }) => matmul(i, b), error: TypeError, names: 'a' },
  { title: 'b of another dtype', call: ({ a, bb }) => matmul(a, bb), error: TypeError, names: 'b' },
  { title: 'a 1-D operand', call: ({ v, b }) => matmul(v, b), error: RangeError, names: 'a' },
  { title: 'inner dims that differ', call: ({ a }) => matmul(a, a), error: RangeError, names: 'b' },
  { title: 'transB makes the inner dims differ', call: ({ a, b }) => matmul(a, b, { transB: true }), error: RangeError, names: 'b' },
  { title: 'out of the wrong shape', call: ({ a, b }) => matmul(a, b, { out: era.zeros([2, 3], { device: 'cpu' }) }), error: RangeError, names: 'options.out' },
  { title: 'out of dtype bf16', call: ({ a, b, bb }) => matmul(a, b, { out: bb }), error: TypeError, names: 'options.out' },
  { title: 'bias of the wrong length', call: ({ a, b }) => matmul(a, b, { bias: era.zeros([3], { device: 'cpu' }) }), error: RangeError, names: 'options.bias' },
  { title: 'an unknown activation', call: ({ a, b }) => matmul(a, b, { activation: 'gelu' as never }), error: RangeError, names: 'options.activation' },
  { title: 'an unknown precision', call: ({ a, b }) => matmul(a, b, { precision: 'fp8' as never }), error: RangeError, names: 'options.precision' },
  { title: "bf16 inputs with precision 'f32'", call: ({ ab, bb2 }) => matmul(ab, bb2, { precision: 'f32' }), error: RangeError, names: 'options.precision' },
  { title: 'transA that is not a boolean', call: ({ a, b }) => matmul(a, b, { transA: 1 as never }), error: TypeError, names: 'options.transA' },
  { title: 'accumulate without out', call: ({ a, b }) => matmul(a, b, { accumulate: true }), error: RangeError, names: 'options.accumulate' },
  { title: 'batches that differ', call: () => matmul(era.zeros([2, 3, 4], { device: 'cpu' }), era.zeros([3, 4, 5], { device: 'cpu' })), error: RangeError, names: 'b' },
  { title: 'out aliasing a', call: ({ sq }) => matmul(sq, sq, { out: sq }), error: RangeError, names: 'options.out' },
  // the native op layer checks again
  { title: 'native: inner dims that differ', call: ({ a, out }) => rawMatmul(out.handle, a.handle, a.handle, null, false, false, 0, false, 0), error: RangeError, names: 'b' },
  { title: 'native: an out-of-range activation code', call: ({ a, b, out }) => rawMatmul(out.handle, a.handle, b.handle, null, false, false, 9, false, 0), error: RangeError, names: 'options.activation' },
  { title: 'native: transA as a number', call: ({ a, b, out }) => rawMatmul(out.handle, a.handle, b.handle, null, 0, false, 0, false, 0), error: TypeError, names: 'options.transA' },
  { title: 'native: out aliasing b', call: ({ sq }) => rawMatmul(sq.handle, sq.handle, sq.handle, null, false, false, 0, false, 0), error: RangeError, names: 'options.out' },
  { title: 'native: a plain object for a', call: ({ out, b }) => rawMatmul(out.handle, {}, b.handle, null, false, false, 0, false, 0), error: TypeError, names: 'a' },
];

describe('matmul rejects bad input, naming the argument', () => {
  for (const c of BAD) {
    it(c.title, () => {
      era.scope(() => {
        const t = {
          a: era.zeros([2, 4], { device: 'cpu' }),
          b: era.zeros([4, 5], { device: 'cpu' }),
          out: era.zeros([2, 5], { device: 'cpu' }),
          sq: era.zeros([3, 3], { device: 'cpu' }),
          v: era.zeros([4], { device: 'cpu' }),
          i: era.tensor(new Int32Array(8), [2, 4], { device: 'cpu' }),
          bb: era.tensor(new Uint16Array(20), [4, 5], { device: 'cpu', dtype: 'bf16' }),
          ab: era.tensor(new Uint16Array(8), [2, 4], { device: 'cpu', dtype: 'bf16' }),
          bb2: era.tensor(new Uint16Array(20), [4, 5], { device: 'cpu', dtype: 'bf16' }),
        };
        let thrown: unknown;
        try {
          c.call(t);
        } catch (err) {
          thrown = err;
        }
        expect(thrown, 'it must throw').to.be.instanceOf(c.error);
        expect((thrown as Error).message).to.match(/^Expected .+ for .+ but received .+/s);
        expect((thrown as Error).message).to.include(` for ${c.names} `);
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------
// CUDA against the CPU

/** Shapes m x k x n covering every tile configuration, ragged edges, k = 0 and the SAC sizes. */
const GPU_SHAPES: Problem[] = [
  { m: 1, k: 1, n: 1 },
  { m: 3, k: 5, n: 7 },
  { m: 37, k: 129, n: 65 },
  { m: 256, k: 512, n: 512 },            // SAC hidden layer
  { m: 256, k: 88, n: 512 },             // SAC critic input (obs 67 + act 21)
  { m: 256, k: 67, n: 512 },             // SAC actor input (ragged k: element-wise loads)
  { m: 256, k: 512, n: 21 },             // SAC actor head
  { m: 768, k: 72, n: 768 },             // 64 x 64 tiles
  { m: 1536, k: 40, n: 1536 },           // 128 x 128 tiles
  { m: 2048, k: 24, n: 2304 },           // 128 x 256 tiles
  { m: 130, k: 33, n: 66 },
  { m: 64, k: 1000, n: 8 },
];

const GPU_PRECISIONS: { dtype: 'f32' | 'bf16'; precision: Precision }[] = [
  { dtype: 'f32', precision: 'f32' },
  { dtype: 'f32', precision: 'tf32' },
  { dtype: 'f32', precision: 'bf16' },
  { dtype: 'bf16', precision: 'bf16' },
];

describeCuda(`matmul on CUDA against the CPU (seed ${seed})`, () => {
  for (const prec of GPU_PRECISIONS) {
    const tag = prec.dtype === 'bf16' ? 'bf16 inputs' : `f32 inputs, precision '${prec.precision}'`;
    describe(tag, () => {
      const kernels = new Set<string>();
      after(() => console.log(`      kernels used (${tag}): ${[...kernels].sort().join('; ')}`));
      for (const [si, shape] of GPU_SHAPES.entries()) {
        for (const layout of LAYOUTS) {
          const p: Problem = { ...shape, ...layout };
          it(label(p), () => {
            kernels.add(matmulKernel(p, { ...layout, dtype: prec.dtype, precision: prec.precision, device: 'cuda' }));
            const inp = makeInputs(p, seed + 31 * si);
            // The CPU with the same operand rounding: only the summation order differs.
            const cpu = run(p, inp, 'cpu', prec);
            const gpu = run(p, inp, 'cuda', prec);
            const rounded = reference(p, inp, prec.dtype === 'bf16' ? 'bf16' : prec.precision);
            expectGemmClose(gpu, rounded.out, rounded.scale, p.k, `cuda vs float64 of the rounded operands`);
            expectGemmClose(gpu, cpu, rounded.scale, p.k, `cuda vs cpu`, 8);
            if (p.k > 0 && prec.precision !== 'f32') {
              const exact = reference(p, inp, 'f32');
              expect(relativeError(gpu, exact.out), 'relative error norm vs the exact product').to.be.below(prec.precision === 'tf32' ? 1e-3 : 1e-2);
            } else if (p.k > 0) {
              expect(relativeError(gpu, cpu), 'exact f32: relative error norm vs the CPU').to.be.below(1e-5);
            }
          });
        }
      }

      const epilogues: Problem[] = [
        { m: 70, k: 45, n: 33, bias: 'shared', activation: 'relu' },
        { m: 256, k: 88, n: 512, bias: 'shared', activation: 'elu' },
        { m: 129, k: 64, n: 96, transB: true, bias: 'shared', activation: 'tanh' },
        { m: 40, k: 256, n: 24, transA: true, accumulate: true },
        { m: 33, k: 64, n: 40, accumulate: true, bias: 'shared', activation: 'elu' },
        { m: 9, k: 0, n: 13, bias: 'shared', activation: 'tanh', accumulate: true },
        { m: 17, k: 48, n: 40, batch: 5, bias: 'batch', activation: 'relu' },
        { m: 17, k: 48, n: 40, batch: 4, sharedB: true, transB: true, bias: 'shared' },
        { m: 130, k: 72, n: 264, batch: 9 }, // the batch fills the SMs: large tiles
      ];
      for (const [ei, p] of epilogues.entries()) {
        it(`epilogue and batches: ${label(p)}`, () => {
          kernels.add(matmulKernel(p, { transA: p.transA, transB: p.transB, dtype: prec.dtype, precision: prec.precision, device: 'cuda' }));
          const inp = makeInputs(p, seed + 1000 + ei);
          const rounded = reference(p, inp, prec.dtype === 'bf16' ? 'bf16' : prec.precision);
          const gpu = run(p, inp, 'cuda', prec);
          expectGemmClose(gpu, rounded.out, rounded.scale, p.k, 'cuda vs float64 of the rounded operands');
          expectGemmClose(gpu, run(p, inp, 'cpu', prec), rounded.scale, p.k, 'cuda vs cpu', 8);
        });
      }
    });
  }

  it('is deterministic: the same inputs give the same bits', () => {
    const p: Problem = { m: 300, k: 257, n: 190, bias: 'shared', activation: 'elu' };
    const inp = makeInputs(p, seed + 77);
    for (const precision of ['f32', 'tf32', 'bf16'] as const) {
      const x = run(p, inp, 'cuda', { precision });
      const y = run(p, inp, 'cuda', { precision });
      expect(Buffer.from(x.buffer).equals(Buffer.from(y.buffer)), precision).to.equal(true);
    }
  });

  it('refuses a depth past its 32-bit tile arithmetic, naming a (a 4 GiB operand, never filled)', () => {
    // k = 2^31 - 1000: one tile of k past 2^31 - 1 would wrap the kernel's tile count to a
    // negative number and skip the whole product. a·aᵀ keeps it to one [1, k] bf16 operand.
    const k = 2 ** 31 - 1000;
    const a = era.empty([1, k], { device: 'cuda', dtype: 'bf16' });
    try {
      expectThrowsNaming(() => matmul(a, a, { transB: true }), RangeError, 'a', { also: /2\^31 - 1024/ });
    } finally {
      a.dispose();
    }
    const ok = era.ones([2, 3], { device: 'cuda' });
    expect(Array.from(matmul(ok, ok, { transB: true }).toArray())).to.deep.equal([3, 3, 3, 3]);
    ok.dispose();
  });

  it('NaN propagates on the tensor-core and FMA paths', () => {
    const inp = makeInputs({ m: 40, k: 40, n: 40 }, seed + 78);
    inp.a[5] = NaN; // row 0
    for (const precision of ['f32', 'tf32', 'bf16'] as const) {
      const out = run({ m: 40, k: 40, n: 40 }, inp, 'cuda', { precision });
      expect(Number.isNaN(out[0]), precision).to.equal(true);
      expect(Number.isFinite(out[40 * 40 - 1]), precision).to.equal(true);
    }
  });

  it('a 4096 x 4096 x 4096 bf16 product agrees with the CPU on sampled rows', function () {
    skipOnSimulator(this);  // 2^36 multiply-adds: hours for the CPU simulator
    this.timeout(300000);
    const n = 4096;
    era.scope(() => {
      const a32 = randomArray(n * n, seed + 90);
      const b32 = randomArray(n * n, seed + 91);
      const a = era.tensor(f32ToBf16(a32), [n, n], { device: 'cuda', dtype: 'bf16' });
      const b = era.tensor(f32ToBf16(b32), [n, n], { device: 'cuda', dtype: 'bf16' });
      const out = matmul(a, b).toArray();
      const ar = bf16ToF32(f32ToBf16(a32));
      const br = bf16ToF32(f32ToBf16(b32));
      for (const row of [0, 1, 127, 128, 2049, 4095]) {
        for (const col of [0, 7, 255, 256, 3000, 4095]) {
          let s = 0;
          let sa = 0;
          for (let q = 0; q < n; q++) {
            s += ar[row * n + q] * br[q * n + col];
            sa += Math.abs(ar[row * n + q] * br[q * n + col]);
          }
          expectGemmClose([out[row * n + col]], [s], [sa], n, `out[${row}, ${col}]`);
        }
      }
    });
  });

  it('cuda tensors of other devices are rejected, naming the argument', () => {
    era.scope(() => {
      const a = era.zeros([2, 3], { device: 'cuda' });
      const b = era.zeros([3, 4], { device: 'cpu' });
      expect(() => matmul(a, b)).to.throw(TypeError, / for b /);
      expect(() => matmul(a, era.zeros([3, 4], { device: 'cuda' }), { out: era.zeros([2, 4], { device: 'cpu' }) })).to.throw(TypeError, / for options.out /);
    });
  });
});

// A child process runs `era info --json` with ERA_CUDA_GEMM set.
const infoWith = (value: string) => runNode([libModule('cli/era'), 'info', '--json'], { env: { ...process.env, ERA_CUDA_GEMM: value } });

// Run in a child that sees no device (CUDA_VISIBLE_DEVICES empty), so GPU hosts test this too.
describe('the CUDA GEMM kernel choice without a CUDA device', () => {
  it('cudaGemmKernels and setCudaGemmKernel throw ERA_NO_DEVICE, naming the call', () => {
    const thrown = evalInChild('nn/index', `(nn) => [() => nn.cudaGemmKernels(), () => nn.setCudaGemmKernel('mma')].map((call) => {
      try { call(); return null; } catch (e) { return { name: e.constructor.name, code: e.code, message: e.message }; }
    })`, envWithoutCuda()) as ({ name: string; code: string; message: string } | null)[];
    for (const [i, name] of ['cudaGemmKernels', 'setCudaGemmKernel'].entries()) {
      expect(thrown[i], name).to.not.equal(null);
      expect(thrown[i]).to.include({ name: 'EraError', code: 'ERA_NO_DEVICE' });
      expect(thrown[i]?.message).to.include(name);
    }
  });

  it('ERA_CUDA_GEMM is an error naming the variable', () => {
    const r = runNode([libModule('cli/era'), 'info', '--json'], { env: envWithoutCuda({ ERA_CUDA_GEMM: 'mma' }) });
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.include('ERA_CUDA_GEMM (mma) needs a CUDA device');
  });
});

/**
 * Whether this build holds the sm_90a wgmma code: its CUDA architectures name 90, or "native",
 * "all" or "all-major", for which CMakeLists.txt compiles gemm_wgmma.cu for sm_90a too.
 */
function hopperBuild(): boolean {
  return era.info().build.cudaArchitectures.split(/[;,]/).some((a) => a.startsWith('90') || ['native', 'all', 'all-major'].includes(a));
}

/** Where the wgmma code must run and pass its probe: the simulator, or a 9.0 GPU with a build for sm_90a. */
function wgmmaExpected(): boolean {
  return cudaSimulated || (era.info().cuda.computeCapability === '9.0' && hopperBuild());
}

// The Hopper kernel (native/cuda/gemm_wgmma.cu), forced onto small and ragged problems so that every
// layout, edge and epilogue goes through it; and the mma.sync kernel forced onto the shapes 'auto'
// now sends to wgmma. It runs where cudaGemmKernels() offers 'wgmma': an H100 or H200 with the
// sm_90a build, and the CUDA simulator, where it must be offered.
describeCuda(`matmul's bf16 kernel choice on CUDA against float64 (seed ${seed})`, () => {
  let available = false;
  before(function () {
    available = nnApi.cudaGemmKernels().kernels.includes('wgmma');
    if (wgmmaExpected()) expect(available, 'wgmma offered on the simulator and on a 9.0 GPU by a build for sm_90a').to.equal(true);
    if (!available) this.skip();
  });
  afterEach(() => nnApi.setCudaGemmKernel('auto'));

  const check = (p: Problem, s: number, choice: 'wgmma' | 'mma', expectKernel: RegExp) => {
    nnApi.setCudaGemmKernel(choice);
    const layout = { transA: p.transA, transB: p.transB };
    expect(matmulKernel(p, { ...layout, dtype: 'bf16', precision: 'bf16', device: 'cuda' })).to.match(expectKernel);
    const inp = makeInputs(p, s);
    const rounded = reference(p, inp, 'bf16');
    const gpu = run(p, inp, 'cuda', { dtype: 'bf16' });
    expectGemmClose(gpu, rounded.out, rounded.scale, p.k, `${choice} vs float64 of the rounded operands`);
  };

  // m, n, k multiples of 8 (the 16-byte copies wgmma needs), around its 128 x 256 x 64 tile.
  const WGMMA_SHAPES: Problem[] = [
    { m: 8, k: 8, n: 8 },
    { m: 128, k: 64, n: 256 },                   // one whole tile
    { m: 136, k: 72, n: 264 },                   // one past it on every side
    { m: 256, k: 200, n: 64 },                   // a k tail of 8 in the last stage
    { m: 72, k: 640, n: 520 },                   // ten k tiles: every stage reused
  ];
  for (const [si, shape] of WGMMA_SHAPES.entries()) {
    for (const layout of LAYOUTS) {
      const p: Problem = { ...shape, ...layout };
      it(`wgmma: ${label(p)}`, () => check(p, seed + 2000 + si, 'wgmma', /^wgmma-bf16 128x256/));
    }
  }
  const WGMMA_EPILOGUES: Problem[] = [
    { m: 136, k: 24, n: 40, bias: 'shared', activation: 'elu' },
    { m: 40, k: 96, n: 264, transB: true, bias: 'shared', activation: 'tanh', accumulate: true },
    { m: 24, k: 16, n: 16, transA: true, accumulate: true, bias: 'shared', activation: 'relu' },
    { m: 16, k: 0, n: 24, bias: 'shared', activation: 'tanh', accumulate: true },
    { m: 24, k: 40, n: 32, batch: 3, bias: 'batch', activation: 'relu' },
    { m: 24, k: 40, n: 32, batch: 3, sharedB: true, transB: true, bias: 'shared' },
  ];
  for (const [ei, p] of WGMMA_EPILOGUES.entries()) {
    it(`wgmma epilogue and batches: ${label(p)}`, () => check(p, seed + 2100 + ei, 'wgmma', /^wgmma-bf16/));
  }

  it("'wgmma' leaves to mma.sync what it cannot take (a leading dimension not a multiple of 8)", () => {
    check({ m: 37, k: 20, n: 33 }, seed + 2200, 'wgmma', /^tc-bf16 .* scalar$/);
  });

  // Rows enough for 128 x 256 tiles over n = 1024 to fill the SMs: what 'auto' sends to wgmma.
  const fillingRows = () => 128 * Math.max(1, Math.ceil((era.info().cuda.smCount ?? 0) / 4));

  it("'mma' keeps on mma.sync the products 'auto' sends to wgmma", () => {
    for (const layout of LAYOUTS) check({ m: fillingRows() + 8, k: 24, n: 1032, ...layout }, seed + 2300, 'mma', /^tc-bf16 /);
  });

  it("'auto' takes wgmma for a product that fills the GPU, and is the default", () => {
    expect(nnApi.cudaGemmKernels().kernel).to.equal('auto');
    expect(matmulKernel({ m: fillingRows(), k: 64, n: 1024 }, { dtype: 'bf16', device: 'cuda' })).to.match(/^wgmma/);
    expect(matmulKernel({ m: 128, k: 64, n: 256 }, { dtype: 'bf16', device: 'cuda' }), 'one tile: fewer than the SMs').to.match(/^tc-bf16/);
  });

  it('ERA_CUDA_GEMM sets the choice for a process; a name not offered is an error naming the variable', () => {
    const r = infoWith('mma');
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout).cuda.gemm.kernel).to.equal('mma');
    const bad = infoWith('cublas');
    expect(bad.status).to.not.equal(0);
    expect(bad.stderr).to.include("for the environment variable ERA_CUDA_GEMM but received 'cublas'");
  });

  it('setCudaGemmKernel refuses a name it does not know, naming it', () => {
    expectThrowsNaming(() => nnApi.setCudaGemmKernel('cublas' as never), RangeError, 'name');
    expectThrowsNaming(() => nnApi.setCudaGemmKernel(3 as never), TypeError, 'name');
    expect(nnApi.cudaGemmKernels().kernel).to.equal('auto');
  });
});

// The wgmma probe (gemm_wgmma.cu, wgmma_available): before 'auto' or 'wgmma' may use the kernel,
// one ragged batched product per layout through it must match a reference kernel. Each case runs
// in a child process, as the probe runs once a process. The test hook ERA_CUDA_WGMMA_PROBE_CORRUPT
// ("1": every layout, or one layout's name) spoils the kernel's probe output: the probe must then
// refuse the kernel, say why on stderr, and leave bf16 products right through mma.sync.
interface ProbeChild {
  kernels: string[];
  /** The kernel of a product that fills the GPU, which 'auto' sends to wgmma where it is used. */
  fillingKernel: string;
  wgmmaRefused: boolean;
  /** era.info().cuda.gemm.wgmmaUnavailable: why 'wgmma' is not offered. */
  unavailable?: string;
  /** Per layout (NN, NT, TN, TT): the largest |CUDA - CPU| of a 136 x 72 x 264 bf16 product. */
  worst?: number[];
}

function probeInChild(corrupt: string | null, compute: boolean): { result: ProbeChild; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.ERA_CUDA_GEMM;
  delete env.ERA_CUDA_WGMMA_PROBE_CORRUPT;
  if (corrupt !== null) env.ERA_CUDA_WGMMA_PROBE_CORRUPT = corrupt;
  // Operands of multiples of 1/8 in [-1, 1]: exact in bf16, and every sum exact in f32, so the
  // CUDA and CPU products agree to the bit whatever their summation order.
  const body = `async (era, fn) => {
    const nn = era.nn;
    const kernels = nn.cudaGemmKernels().kernels;
    const rows = 128 * Math.max(1, Math.ceil(era.info().cuda.smCount / 4));
    const fillingKernel = fn.matmulKernel({ m: rows, k: 64, n: 1024 }, { dtype: 'bf16', device: 'cuda' });
    let wgmmaRefused = false;
    try { nn.setCudaGemmKernel('wgmma'); nn.setCudaGemmKernel('auto'); } catch (e) { wgmmaRefused = e instanceof RangeError; }
    const unavailable = era.info().cuda.gemm.wgmmaUnavailable;
    if (!${compute}) return { kernels, fillingKernel, wgmmaRefused, unavailable };
    const [m, k, n] = [136, 72, 264];
    const values = (count, salt) => Float32Array.from({ length: count }, (_, i) => ((((i + salt) * 7919) % 17) - 8) / 8);
    const a = nn.f32ToBf16(values(m * k, 1)), b = nn.f32ToBf16(values(k * n, 2));
    const worst = [[false, false], [false, true], [true, false], [true, true]].map(([transA, transB]) => {
      const product = (device) => era.scope(() => nn.matmul(
        era.tensor(a, transA ? [k, m] : [m, k], { device, dtype: 'bf16' }),
        era.tensor(b, transB ? [n, k] : [k, n], { device, dtype: 'bf16' }), { transA, transB }).toArray());
      const gpu = product('cuda'), cpu = product('cpu');
      let w = 0;
      for (let i = 0; i < cpu.length; i++) w = Math.max(w, Number.isNaN(gpu[i]) ? Infinity : Math.abs(gpu[i] - cpu[i]));
      return w;
    });
    return { kernels, fillingKernel, wgmmaRefused, unavailable, worst };
  }`;
  const script = `Promise.all([import(${JSON.stringify(libModule('index'))}), import(${JSON.stringify(libModule('nn/functional'))})])` +
    `.then(async ([m, fn]) => { const f = ${body}; console.log(JSON.stringify(await f(m.default, fn))); })`;
  const r = runNode(['-e', script], { env });
  if (r.status !== 0) throw new Error(`the child exited with ${r.status}: ${r.stderr}`);
  return { result: JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as ProbeChild, stderr: r.stderr };
}

describeCuda('the wgmma probe checks the kernel\'s results before it is used', () => {
  before(function () {
    if (!wgmmaExpected()) this.skip();
  });

  it('passes without the test hook: wgmma is offered, \'auto\' takes it, and nothing is said', () => {
    const { result, stderr } = probeInChild(null, false);
    expect(result.kernels).to.include('wgmma');
    expect(result.wgmmaRefused).to.equal(false);
    expect(result.fillingKernel).to.match(/^wgmma-bf16 /);
    expect(result.unavailable).to.equal(undefined);
    expect(stderr).to.not.include('wgmma disabled');
  });

  it('ERA_CUDA_WGMMA_PROBE_CORRUPT=1: refused, naming the first layout and element; bf16 products stay right on mma.sync', () => {
    const { result, stderr } = probeInChild('1', true);
    expect(result.kernels).to.deep.equal(['auto', 'mma']);
    expect(result.wgmmaRefused, "setCudaGemmKernel('wgmma') refused").to.equal(true);
    expect(result.fillingKernel).to.match(/^tc-bf16 /);
    expect(stderr).to.match(/era-cuda: wgmma disabled: result check failed for layout NN \(136 x 264 x 72, batch 2\): 1 wrong element\(s\), first out\[1\]\[135\]\[263\] = 3\.39\d*e\+38, expected /);
    expect(stderr).to.include('bf16 matmuls use mma.sync');
    expect(result.unavailable).to.match(/^result check failed for layout NN \(136 x 264 x 72, batch 2\)/);
    expect(result.worst).to.have.lengthOf(4);
    for (const [i, w] of (result.worst ?? []).entries()) expect(w, `layout ${['NN', 'NT', 'TN', 'TT'][i]}: |CUDA - CPU|`).to.equal(0);
  });

  it('checks every layout: ERA_CUDA_WGMMA_PROBE_CORRUPT=TT (the last one checked) alone refuses the kernel', () => {
    const { result, stderr } = probeInChild('TT', false);
    expect(result.kernels).to.not.include('wgmma');
    expect(stderr).to.match(/wgmma disabled: result check failed for layout TT /);
    expect(result.unavailable).to.match(/^result check failed for layout TT /);
  });
});

/**
 * GEMM: matmul at 4096³ (bf16 inputs, exact f32, tf32) and at the SAC layer sizes (256×512→512
 * hidden, 256×88→512 critic input, and the two backward products of the hidden layer), each in the
 * three precisions. flops = 2·m·n·k. Case names read `matmul MxKxN <precision>[ layout]` and match
 * bench/baselines/gemm.py one for one (there: torch.matmul with allow_tf32 off for 'f32', on for
 * 'tf32', and bf16 tensors for 'bf16'; PyTorch's bf16 product writes bf16, ours f32).
 *
 * Inputs are uniform in [-1, 1) and rotated through enough sets to span twice the cache, so the
 * small SAC products do not run from L2 (the PyTorch twin rotates the same way). check() compares
 * sampled output elements against float64 dot products of the (rounded) operands.
 *
 * On the CPU backend the 4096³ cases shrink to 1024³ (the names say so, and have no twin). On CUDA,
 * `matmul 4096x4096x4096 bf16 mma.sync` runs the bf16 product on the mma.sync kernel where the
 * default ('auto') takes the Hopper wgmma kernel, so the two are compared in one run.
 */
import era, { type Tensor } from '../lib/index.js';
import { bf16ToF32, f32ToBf16 } from '../lib/nn/bf16.js';
import { matmul, matmulKernel, setCudaGemmKernel, type Precision } from '../lib/nn/functional.js';
import { rotationCount, type BenchCase, type BenchContext, type BenchRun } from './harness.js';

type Label = 'bf16' | 'f32' | 'tf32';
type Layout = 'NN' | 'NT' | 'TN';

interface GemmCase {
  m: number;
  k: number;
  n: number;
  label: Label;
  layout: Layout;
  /** 4096³ on CUDA, 1024³ on the CPU */
  big?: boolean;
  /** CUDA only: the bf16 kernel choice for this case (era.nn.setCudaGemmKernel), named in the case */
  kernel?: 'mma';
}

const dims = (c: GemmCase, device: string) => (c.big && device !== 'cuda' ? { m: 1024, k: 1024, n: 1024 } : { m: c.m, k: c.k, n: c.n });

export function gemmCaseName(c: GemmCase, device: string): string {
  const d = dims(c, device);
  return `matmul ${d.m}x${d.k}x${d.n} ${c.label}${c.layout === 'NN' ? '' : ` ${c.layout}`}${c.kernel ? ' mma.sync' : ''}`;
}

/** mulberry32 values in [-1, 1). */
function hostRandom(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

const roundTf32 = (() => {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  return (x: number) => {
    f[0] = x;
    if ((u[0] & 0x7f800000) !== 0x7f800000) u[0] = ((u[0] + 0x1000) & 0xffffe000) >>> 0;
    return f[0];
  };
})();

function setup(c: GemmCase, ctx: BenchContext): BenchRun {
  const { m, k, n } = dims(c, ctx.device);
  const transA = c.layout === 'TN';
  const transB = c.layout === 'NT';
  const bf16 = c.label === 'bf16';
  const precision: Precision = c.label;
  const esize = bf16 ? 2 : 4;
  const sets = rotationCount(ctx, (m * k + k * n) * esize, 16);
  let host: { a: Float32Array; b: Float32Array } | undefined; // set 0, for check()
  const a: Tensor[] = [];
  const b: Tensor[] = [];
  const aShape = transA ? [k, m] : [m, k];
  const bShape = transB ? [n, k] : [k, n];
  try {
    for (let s = 0; s < sets; s++) {
      const ha = hostRandom(m * k, 0x6e0 + 2 * s);
      const hb = hostRandom(k * n, 0x6e1 + 2 * s);
      if (bf16) {
        const ba = f32ToBf16(ha);
        const bb = f32ToBf16(hb);
        a.push(era.tensor(ba, aShape, { device: ctx.device, dtype: 'bf16' }));
        b.push(era.tensor(bb, bShape, { device: ctx.device, dtype: 'bf16' }));
        if (s === 0) host = { a: bf16ToF32(ba), b: bf16ToF32(bb) };
      } else {
        a.push(era.tensor(ha, aShape, { device: ctx.device }));
        b.push(era.tensor(hb, bShape, { device: ctx.device }));
        if (s === 0) host = c.label === 'tf32' ? { a: ha.map(roundTf32), b: hb.map(roundTf32) } : { a: ha, b: hb };
      }
    }
  } catch (err) {
    for (const t of [...a, ...b]) t.dispose();
    throw err;
  }
  const out = era.empty([m, n], { device: ctx.device });
  if (c.kernel) setCudaGemmKernel(c.kernel);  // until dispose(); cases run one at a time
  const kernel = matmulKernel({ m, n, k }, { transA, transB, dtype: bf16 ? 'bf16' : 'f32', precision, device: ctx.device });
  return {
    run(i) {
      const s = i % sets;
      matmul(a[s], b[s], { out, transA, transB, precision });
    },
    flops: 2 * m * n * k,
    note: `${kernel}${sets > 1 ? `; ${sets} input sets rotated` : ''}`,
    check() {
      matmul(a[0], b[0], { out, transA, transB, precision });
      const got = out.toArray() as Float32Array;
      const { a: ha, b: hb } = host!;
      // f32 accumulation of k products: within ~k·2⁻²⁴·Σ|ab| of the float64 sum
      for (let s = 0; s < 64; s++) {
        const i = (s * 7919) % m;
        const j = (s * 104729) % n;
        let want = 0;
        let scale = 0;
        for (let q = 0; q < k; q++) {
          const x = ha[transA ? q * m + i : i * k + q] * hb[transB ? j * k + q : q * n + j];
          want += x;
          scale += Math.abs(x);
        }
        const err = Math.abs(got[i * n + j] - want);
        if (!(err <= 8 * k * 2 ** -24 * scale + 1e-6)) throw new Error(`out[${i}, ${j}] = ${got[i * n + j]}, expected ${want} (error ${err}, scale ${scale})`);
      }
    },
    dispose() {
      for (const t of [...a, ...b, out]) t.dispose();
      if (c.kernel) setCudaGemmKernel('auto');
    },
  };
}

const CASES: GemmCase[] = [];
for (const label of ['bf16', 'f32', 'tf32'] as const) CASES.push({ m: 4096, k: 4096, n: 4096, label, layout: 'NN', big: true });
// The mma.sync kernel on the product 'auto' gives to wgmma on an H100/H200 (no PyTorch twin).
if (era.defaultDevice() === 'cuda') CASES.push({ m: 4096, k: 4096, n: 4096, label: 'bf16', layout: 'NN', big: true, kernel: 'mma' });
for (const label of ['f32', 'tf32', 'bf16'] as const) {
  CASES.push({ m: 256, k: 512, n: 512, label, layout: 'NN' });   // hidden layer forward
  CASES.push({ m: 256, k: 88, n: 512, label, layout: 'NN' });    // critic input layer (obs 67 + act 21)
  CASES.push({ m: 256, k: 512, n: 512, label, layout: 'NT' });   // dx = dy · Wᵀ
  CASES.push({ m: 512, k: 256, n: 512, label, layout: 'TN' });   // dW = xᵀ · dy
}

export const benches: BenchCase[] = CASES.map((c) => ({
  get name() {
    return gemmCaseName(c, era.defaultDevice());
  },
  // 4096³ in f32 on the CPU backend (1024³ there) takes ~0.1 s a run
  repeats: c.big ? 10 : undefined,
  setup: (ctx: BenchContext) => setup(c, ctx),
}));

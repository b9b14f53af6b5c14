/**
 * The continuous-control ERA (era.gaussian, era-spec §1.2-1.3) at SAC-ERA's size: B = 256 states,
 * D = 21 action dims (DMC humanoid). One run = the forward (log σ from the raw head) and then the
 * backward (the gradient for raw given a gradient for log σ): one launch each on CUDA.
 *
 * The work is launch-bound (B·D·4 = 21 KiB per tensor), so the figure is mostly launch cost; the
 * PyTorch twin is bench/baselines/era_gaussian.py (the JAX code of §1.2 in torch ops).
 */
import era, { type Tensor } from '../lib/index.js';
import { HALF_LOG_2PI_E } from '../lib/era/gaussian.js';
import { assertClose, maxAbs } from './era-common.js';
import { assertNonZero, rotationCount, type BenchCase, type BenchContext, type BenchRun } from './harness.js';

const B = 256;
const D = 21;
/** raw ~ U(−6, 6): wide enough that some rows put w_i > 8/|K| = 0.326 and the lower clip fires. */
const RAW_RANGE = 6;
const ENTROPY_PER_DIM = 0.25;
const LOG_STD_MIN = -8;
const LOG_STD_MAX = 0;

/** log σ in float64 (era-spec §1.2 with the defaults; the paper and reference modes agree for K < 0). */
function refForward(raw: ArrayLike<number>, rows: number, d: number): Float64Array {
  const k = d * ENTROPY_PER_DIM - d * (LOG_STD_MAX + HALF_LOG_2PI_E);
  const out = new Float64Array(rows * d);
  for (let i = 0; i < rows; i++) {
    let m = -Infinity;
    for (let j = 0; j < d; j++) m = Math.max(m, raw[i * d + j]);
    let s = 0;
    for (let j = 0; j < d; j++) s += Math.exp(raw[i * d + j] - m);
    for (let j = 0; j < d; j++) {
      const pre = k * (Math.exp(raw[i * d + j] - m) / s) + LOG_STD_MAX;
      out[i * d + j] = Math.min(Math.max(pre, LOG_STD_MIN), LOG_STD_MAX);
    }
  }
  return out;
}

/** ∂L/∂raw in float64 (era-spec §1.3): K w_j (gp_j − Σ w_i gp_i), gp = g where the clip is inactive. */
function refBackward(raw: ArrayLike<number>, g: ArrayLike<number>, rows: number, d: number): Float64Array {
  const k = d * ENTROPY_PER_DIM - d * (LOG_STD_MAX + HALF_LOG_2PI_E);
  const out = new Float64Array(rows * d);
  const w = new Float64Array(d);
  const gp = new Float64Array(d);
  for (let i = 0; i < rows; i++) {
    let m = -Infinity;
    for (let j = 0; j < d; j++) m = Math.max(m, raw[i * d + j]);
    let s = 0;
    for (let j = 0; j < d; j++) s += (w[j] = Math.exp(raw[i * d + j] - m));
    let dot = 0;
    for (let j = 0; j < d; j++) {
      w[j] /= s;
      const pre = k * w[j] + LOG_STD_MAX;
      gp[j] = pre > LOG_STD_MIN && pre < LOG_STD_MAX ? g[i * d + j] : 0;
      dot += w[j] * gp[j];
    }
    for (let j = 0; j < d; j++) out[i * d + j] = k * w[j] * (gp[j] - dot);
  }
  return out;
}

/** The nodes `fn` records in a CUDA graph (after one eager call, as captureGraph's warm-up); the graph is freed. */
function graphNodesOf(fn: () => void): number {
  const graph = era.captureGraph(fn, { warmup: 1 });
  try {
    return graph.nodes;
  } finally {
    graph.dispose();
  }
}

function setup(ctx: BenchContext): BenchRun {
  const elems = B * D;
  // raw, gradLogStd (read), log σ, gradRaw (written): keep every set's working set out of reach of the cache.
  const sets = rotationCount(ctx, 4 * elems * 4);
  const raw: Tensor[] = [];
  const grad: Tensor[] = [];
  const logStd: Tensor[] = [];
  const gradRaw: Tensor[] = [];
  const all = () => [...raw, ...grad, ...logStd, ...gradRaw];
  let lastSet = -1; // the highest input set run() reached (short CPU runs may not reach them all)
  try {
    for (let i = 0; i < sets; i++) {
      raw.push(era.uniform([B, D], { device: ctx.device, seed: 0x9a55 + i, low: -RAW_RANGE, high: RAW_RANGE }));
      grad.push(era.uniform([B, D], { device: ctx.device, seed: 0x6a4d + i, low: -1, high: 1 }));
      logStd.push(era.empty([B, D], { device: ctx.device }));
      gradRaw.push(era.empty([B, D], { device: ctx.device }));
    }
  } catch (err) {
    for (const t of all()) t.dispose();
    throw err;
  }
  // "One launch each" (issue 3), counted: on CUDA the forward and the backward are each recorded
  // alone in a CUDA graph, whose node count is the launches they make. The warm-up call before each
  // recording runs on set 0 (the same values the timed runs write there); the recordings run nothing.
  // A failed recording costs the counts (the reason goes into the note), not the timing.
  let graphNodes: Record<string, number> | undefined;
  let graphNote = '';
  if (ctx.device === 'cuda') {
    try {
      graphNodes = {
        forward: graphNodesOf(() => void era.gaussian(raw[0], { out: logStd[0] })),
        backward: graphNodesOf(() => void era.gaussianBackward(raw[0], grad[0], { out: gradRaw[0] })),
      };
      graphNote = ` CUDA graph nodes, each recorded alone: forward ${graphNodes.forward}, backward ${graphNodes.backward}.`;
    } catch (err) {
      graphNote = ` Recording a CUDA graph to count the launches failed: ${(err as Error).message.split('\n')[0]}.`;
    }
  }
  return {
    run(iteration) {
      const i = iteration % sets;
      lastSet = Math.max(lastSet, i);
      era.gaussian(raw[i], { out: logStd[i] });
      era.gaussianBackward(raw[i], grad[i], { out: gradRaw[i] });
    },
    // forward: read raw, write log σ; backward: read raw and the gradient, write the gradient.
    bytes: 5 * elems * 4,
    note:
      `${sets} input set(s) rotated${sets * 4 * elems * 4 < 2 * ctx.cacheBytes ? ' (together still cache-resident)' : ''}; ` +
      'outputs written into preallocated tensors (options.out); ' +
      `raw ~ U(−${RAW_RANGE}, ${RAW_RANGE}) so the lower clip fires on some rows; defaults (entropyPerDim 0.25, clip [−8, 0]). ` +
      `Launch-bound: two launches per run on CUDA.${graphNote}`,
    graphNodes,
    check() {
      if (lastSet < 0) throw new Error('run() never ran');
      for (const i of new Set([0, lastSet])) {
        const r = raw[i].toArray() as Float32Array;
        const g = grad[i].toArray() as Float32Array;
        const ls = logStd[i].toArray() as Float32Array;
        const gr = gradRaw[i].toArray() as Float32Array;
        assertNonZero(ls, 'log σ');
        assertNonZero(gr, 'gradient for raw');
        const want = refForward(r, B, D);
        assertClose(ls, want, `log σ (set ${i})`, 2e-5, 1e-5);
        const wantGrad = refBackward(r, g, B, D);
        assertClose(gr, wantGrad, `gradient for raw (set ${i})`, 1e-5 * maxAbs(wantGrad), 1e-4);
        let clipped = 0;
        for (let j = 0; j < want.length; j++) if (want[j] === LOG_STD_MIN) clipped++;
        if (i === 0 && clipped === 0) throw new Error('no clipped entries: the inputs do not exercise the clip');
      }
    },
    dispose() {
      for (const t of all()) t.dispose();
    },
  };
}

export const benches: BenchCase[] = [{ name: `era.gaussian fwd+bwd B=${B} D=${D}`, setup }];

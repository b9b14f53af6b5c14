/**
 * nn.MLP at the SAC critic shape: an ensemble of 2 (twin critics), 88 inputs (observation +
 * action), two hidden layers of 512 with LayerNorm and ELU, one output, batch 256.
 *
 * - `mlp critic step ... <precision>`: forward + zeroGrad + backward + AdamW step, i.e. one critic
 *   update without the loss (dy is given), in each GEMM precision.
 * - `mlp critic input grad ...`: forward + backward to the input without parameter gradients (the
 *   actor's loss backpropagating through the critic to its action input).
 *
 * FLOPs count the GEMMs only: forward 2·E·B·Σ in·out; parameter gradients the same again; input
 * gradients 2·E·B·Σ in·out over the layers that propagate (all but the first, or all of them for
 * the input gradient). Inputs rotate through 4 sets. check() compares one step on a fresh CUDA
 * model with the same step on its CPU twin (same seed, same initial bits), or (CPU runs) checks
 * that the step moved the parameters and kept them finite.
 */
import era, { type Tensor } from '../lib/index.js';
import { MLP } from '../lib/nn/mlp.js';
import { AdamW } from '../lib/nn/optim.js';
import type { Precision } from '../lib/nn/functional.js';
import type { BenchCase, BenchContext, BenchRun } from './harness.js';

const E = 2;
const IN = 88;
const H = 512;
const B = 256;
const SETS = 4;
const LAYERS: [number, number][] = [[IN, H], [H, H], [H, 1]];

const gemmFlops = (layers: [number, number][]) => layers.reduce((s, [i, o]) => s + 2 * E * B * i * o, 0);

function critic(device: 'cpu' | 'cuda', precision: Precision): MLP {
  return new MLP({ inputSize: IN, hiddenSizes: [H, H], outputSize: 1, layerNorm: true, activation: 'elu', ensemble: E, init: 'orthogonal', precision, device, seed: 1 });
}

/** max |a − b| / (atol + rtol |b|) must stay ≤ 1. */
function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number, what: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]))) throw new Error(`${what}: element ${i} is ${a[i]}, expected ${b[i]}`);
  }
}

function inputs(ctx: BenchContext): { xs: Tensor[]; dys: Tensor[] } {
  return {
    xs: Array.from({ length: SETS }, (_, s) => era.uniform([B, IN], { device: ctx.device, seed: 0x100 + s, low: -1, high: 1 })),
    dys: Array.from({ length: SETS }, (_, s) => era.uniform([E, B, 1], { device: ctx.device, seed: 0x200 + s, low: -1e-2, high: 1e-2 })),
  };
}

function trainStep(precision: Precision) {
  return (ctx: BenchContext): BenchRun => {
    const m = critic(ctx.device, precision);
    const opt = new AdamW(m.params, { lr: 3e-4 });
    const { xs, dys } = inputs(ctx);
    const step = (model: MLP, o: AdamW, x: Tensor, dy: Tensor) => {
      model.forward(x);
      model.zeroGrad();
      model.backward(dy);
      o.step(model.grads);
    };
    const tol = precision === 'f32' ? { atol: 1e-6, rtol: 1e-4 } : { atol: 1e-5, rtol: 1e-3 };
    return {
      run: (i) => step(m, opt, xs[i % SETS], dys[i % SETS]),
      flops: 2 * gemmFlops(LAYERS) + gemmFlops(LAYERS.slice(1)),
      note: `forward, zeroGrad, backward (parameter gradients) and one fused AdamW step over ${2 * m.numParameters} parameters; ${precision} GEMMs, one N-API call per pass`,
      check() {
        // One step from the same initial bits on a fresh model (the timed one has trained).
        const fresh = critic(ctx.device, precision);
        const freshOpt = new AdamW(fresh.params, { lr: 3e-4 });
        const before = fresh.params.toArray();
        try {
          step(fresh, freshOpt, xs[0], dys[0]);
          const after = fresh.params.toArray();
          if (!after.every(Number.isFinite)) throw new Error('parameters are not finite after a step');
          if (after.every((v, i) => v === before[i])) throw new Error('a step left the parameters unchanged');
          if (ctx.device !== 'cuda') return;
          const twin = critic('cpu', precision);
          const twinOpt = new AdamW(twin.params, { lr: 3e-4 });
          try {
            era.scope(() => step(twin, twinOpt, xs[0].to('cpu'), dys[0].to('cpu')));
            assertClose(after, twin.params.toArray(), tol.atol, tol.rtol, 'parameters after one step vs the CPU');
          } finally {
            twinOpt.dispose();
            twin.dispose();
          }
        } finally {
          freshOpt.dispose();
          fresh.dispose();
        }
      },
      dispose() {
        opt.dispose();
        m.dispose();
        for (const t of [...xs, ...dys]) t.dispose();
      },
    };
  };
}

function inputGrad(ctx: BenchContext): BenchRun {
  const m = critic(ctx.device, 'f32');
  const { xs, dys } = inputs(ctx);
  let dx: Tensor | null = null;
  return {
    run: (i) => {
      m.forward(xs[i % SETS]);
      dx = m.backward(dys[i % SETS], { inputGrad: true, paramGrads: false });
    },
    flops: gemmFlops(LAYERS) + gemmFlops(LAYERS),
    note: 'forward, then backward to the input only (summed over the two critics); no parameter gradients',
    check() {
      m.forward(xs[0]);
      const got = m.backward(dys[0], { inputGrad: true, paramGrads: false })!.toArray();
      if (!got.every(Number.isFinite) || got.every((v) => v === 0)) throw new Error('input gradient is not finite or all zero');
      if (!dx) throw new Error('no input gradient was produced');
      if (ctx.device !== 'cuda') return;
      const twin = critic('cpu', 'f32');
      try {
        era.scope(() => {
          twin.forward(xs[0].to('cpu'));
          const want = twin.backward(dys[0].to('cpu'), { inputGrad: true, paramGrads: false })!.toArray();
          assertClose(got, want, 1e-6, 1e-3, 'dx vs the CPU');
        });
      } finally {
        twin.dispose();
      }
    },
    dispose() {
      m.dispose();
      for (const t of [...xs, ...dys]) t.dispose();
    },
  };
}

const shape = `E${E} ${IN}-${H}x2-1 LN elu B${B}`;
export const benches: BenchCase[] = [
  { name: `mlp critic step ${shape} f32`, setup: trainStep('f32') },
  { name: `mlp critic step ${shape} tf32`, setup: trainStep('tf32') },
  { name: `mlp critic step ${shape} bf16`, setup: trainStep('bf16') },
  { name: `mlp critic input grad ${shape} f32`, setup: inputGrad },
];

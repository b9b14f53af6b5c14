/**
 * Dense layers and optimizers at the SAC sizes (batch 256, hidden 512, f32): a fused
 * linear + bias + ELU forward, the linear backward (dx, dW, db), LayerNorm forward and backward,
 * the ELU backward, and the fused optimizer steps over a 2^20-parameter block (AdamW, clipping by
 * global norm, Polyak averaging). Case names match bench/baselines/layers.py one for one.
 *
 * FLOPs are counted for the GEMM cases, bytes (reads + writes, once each) for the memory-bound
 * ones. Inputs are rotated through enough sets to span twice the cache where the working set is
 * small. check() compares against the CPU backend's result for the same inputs (CUDA runs), or
 * against invariants (CPU runs).
 */
import era, { type Tensor } from '../lib/index.js';
import { activationBackward, layerNorm, layerNormBackward, linear, linearBackward } from '../lib/nn/functional.js';
import { AdamW, clipGradNorm, polyakUpdate } from '../lib/nn/optim.js';
import { rotationCount, type BenchCase, type BenchContext, type BenchRun } from './harness.js';

const B = 256;
const H = 512;
const P = 1 << 20;

function rand(ctx: BenchContext, shape: number[], seed: number, low = -1, high = 1): Tensor {
  return era.uniform(shape, { device: ctx.device, seed, low, high });
}

/** Max |a − b| / (atol + rtol |b|) over all elements must be ≤ 1. */
function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: length ${a.length} vs ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i] - b[i]);
    if (!(err <= atol + rtol * Math.abs(b[i]))) throw new Error(`${what}: element ${i} is ${a[i]}, expected ${b[i]}`);
  }
}

/** The same computation on CPU copies of the inputs (for check() on CUDA runs). */
function onCpu(inputs: Tensor[], fn: (xs: Tensor[]) => Tensor[]): Float32Array[] {
  return era.scope(() => fn(inputs.map((t) => t.to('cpu'))).map((t) => t.toArray() as Float32Array));
}

function disposeAll(ts: (Tensor | null | undefined)[]): void {
  for (const t of ts) t?.dispose();
}

function linearForward(ctx: BenchContext): BenchRun {
  const sets = rotationCount(ctx, (B * H + H * H + H) * 4, 16);
  const xs = Array.from({ length: sets }, (_, s) => rand(ctx, [B, H], 0x100 + s));
  const w = Array.from({ length: sets }, (_, s) => rand(ctx, [H, H], 0x200 + s, -0.05, 0.05));
  const b = Array.from({ length: sets }, (_, s) => rand(ctx, [H], 0x300 + s));
  const y = era.empty([B, H], { device: ctx.device });
  return {
    run: (i) => linear(xs[i % sets], w[i % sets], b[i % sets], { activation: 'elu', out: y }),
    flops: 2 * B * H * H,
    note: `f32 (exact) matmul with the bias and ELU in its epilogue${sets > 1 ? `; ${sets} input sets rotated` : ''}`,
    check() {
      linear(xs[0], w[0], b[0], { activation: 'elu', out: y });
      if (ctx.device === 'cuda') {
        const [want] = onCpu([xs[0], w[0], b[0]], ([x, ww, bb]) => [linear(x, ww, bb, { activation: 'elu' })]);
        assertClose(y.toArray(), want, 1e-4, 1e-5, 'y');
      } else if (!(y.toArray() as Float32Array).every((v) => v >= -1 && Number.isFinite(v))) {
        throw new Error('ELU output below -1 or not finite');
      }
    },
    dispose: () => disposeAll([...xs, ...w, ...b, y]),
  };
}

function linearBwd(ctx: BenchContext): BenchRun {
  const sets = rotationCount(ctx, (2 * B * H + H * H) * 4, 16);
  const xs = Array.from({ length: sets }, (_, s) => rand(ctx, [B, H], 0x400 + s));
  const dys = Array.from({ length: sets }, (_, s) => rand(ctx, [B, H], 0x500 + s));
  const w = Array.from({ length: sets }, (_, s) => rand(ctx, [H, H], 0x600 + s, -0.05, 0.05));
  const dx = era.empty([B, H], { device: ctx.device });
  const dW = era.empty([H, H], { device: ctx.device });
  const db = era.empty([H], { device: ctx.device });
  return {
    run: (i) => linearBackward(dys[i % sets], xs[i % sets], w[i % sets], { dx, dWeight: dW, dBias: db }),
    flops: 2 * (2 * B * H * H) + B * H,
    note: `dx = dy·Wᵀ (NT), dW = xᵀ·dy (TN), db = Σ dy; exact f32${sets > 1 ? `; ${sets} input sets rotated` : ''}`,
    check() {
      linearBackward(dys[0], xs[0], w[0], { dx, dWeight: dW, dBias: db });
      if (ctx.device !== 'cuda') return;
      const want = onCpu([dys[0], xs[0], w[0]], ([d, x, ww]) => {
        const g = linearBackward(d, x, ww);
        return [g.dx!, g.dWeight, g.dBias!];
      });
      assertClose(dx.toArray(), want[0], 1e-4, 1e-5, 'dx');
      assertClose(dW.toArray(), want[1], 1e-3, 1e-5, 'dW');
      assertClose(db.toArray(), want[2], 1e-3, 1e-5, 'db');
    },
    dispose: () => disposeAll([...xs, ...dys, ...w, dx, dW, db]),
  };
}

function layerNormFwd(ctx: BenchContext): BenchRun {
  const sets = rotationCount(ctx, B * H * 4, 64);
  const xs = Array.from({ length: sets }, (_, s) => rand(ctx, [B, H], 0x700 + s, -3, 3));
  const w = rand(ctx, [H], 0x7f0, 0.5, 1.5);
  const b = rand(ctx, [H], 0x7f1);
  const y = era.empty([B, H], { device: ctx.device });
  const mean = era.empty([B], { device: ctx.device });
  const rstd = era.empty([B], { device: ctx.device });
  return {
    run: (i) => layerNorm(xs[i % sets], w, b, { out: y, mean, rstd }),
    bytes: (2 * B * H + 2 * H + 2 * B) * 4,
    note: sets > 1 ? `${sets} input sets rotated` : undefined,
    check() {
      layerNorm(xs[0], w, b, { out: y, mean, rstd });
      if (ctx.device !== 'cuda') return;
      const want = onCpu([xs[0], w, b], ([x, ww, bb]) => {
        const r = layerNorm(x, ww, bb);
        return [r.y, r.mean, r.rstd];
      });
      assertClose(y.toArray(), want[0], 1e-5, 1e-4, 'y');
      assertClose(rstd.toArray(), want[2], 1e-6, 1e-5, 'rstd');
    },
    dispose: () => disposeAll([...xs, w, b, y, mean, rstd]),
  };
}

function layerNormBwd(ctx: BenchContext): BenchRun {
  const sets = rotationCount(ctx, 2 * B * H * 4, 64);
  const xs = Array.from({ length: sets }, (_, s) => rand(ctx, [B, H], 0x800 + s, -3, 3));
  const dys = Array.from({ length: sets }, (_, s) => rand(ctx, [B, H], 0x900 + s));
  const w = rand(ctx, [H], 0x8f0, 0.5, 1.5);
  const b = rand(ctx, [H], 0x8f1);
  const stats = xs.map((x) => {
    const r = layerNorm(x, w, b);
    r.y.dispose();
    return r;
  });
  const dx = era.empty([B, H], { device: ctx.device });
  const dW = era.empty([H], { device: ctx.device });
  const dB = era.empty([H], { device: ctx.device });
  return {
    run: (i) => layerNormBackward(dys[i % sets], xs[i % sets], w, stats[i % sets].mean, stats[i % sets].rstd, { dx, dWeight: dW, dBias: dB }),
    bytes: (3 * B * H + 3 * H + 2 * B) * 4,
    note: sets > 1 ? `${sets} input sets rotated` : undefined,
    check() {
      layerNormBackward(dys[0], xs[0], w, stats[0].mean, stats[0].rstd, { dx, dWeight: dW, dBias: dB });
      if (ctx.device !== 'cuda') return;
      const want = onCpu([dys[0], xs[0], w, stats[0].mean, stats[0].rstd], ([d, x, ww, m, r]) => {
        const g = layerNormBackward(d, x, ww, m, r);
        return [g.dx!, g.dWeight, g.dBias];
      });
      assertClose(dx.toArray(), want[0], 1e-4, 1e-4, 'dx');
      assertClose(dW.toArray(), want[1], 1e-3, 1e-4, 'dWeight');
      assertClose(dB.toArray(), want[2], 1e-3, 1e-4, 'dBias');
    },
    dispose: () => disposeAll([...xs, ...dys, w, b, ...stats.flatMap((s) => [s.mean, s.rstd]), dx, dW, dB]),
  };
}

function eluBwd(ctx: BenchContext): BenchRun {
  const sets = rotationCount(ctx, 2 * B * H * 4, 64);
  const ys = Array.from({ length: sets }, (_, s) => rand(ctx, [B, H], 0xa00 + s, -0.9, 3));
  const dys = Array.from({ length: sets }, (_, s) => rand(ctx, [B, H], 0xb00 + s));
  const dx = era.empty([B, H], { device: ctx.device });
  return {
    run: (i) => activationBackward(dys[i % sets], ys[i % sets], 'elu', { out: dx }),
    bytes: 3 * B * H * 4,
    note: sets > 1 ? `${sets} input sets rotated` : undefined,
    check() {
      activationBackward(dys[0], ys[0], 'elu', { out: dx });
      const got = dx.toArray();
      const y = ys[0].toArray();
      const dy = dys[0].toArray();
      for (let i = 0; i < got.length; i += 97) {
        const want = y[i] > 0 ? dy[i] : dy[i] * (y[i] + 1);
        if (Math.abs(got[i] - want) > 1e-6) throw new Error(`dx[${i}] = ${got[i]}, expected ${want}`);
      }
    },
    dispose: () => disposeAll([...ys, ...dys, dx]),
  };
}

function adamw(ctx: BenchContext): BenchRun {
  const p = rand(ctx, [P], 0xc00);
  const g = rand(ctx, [P], 0xc01);
  const p0 = p.toArray() as Float32Array;
  const opt = new AdamW(p, { lr: 1e-4, weightDecay: 1e-4 });
  return {
    run: () => opt.step(g),
    bytes: 7 * P * 4, // read p, g, m, v; write p, m, v
    note: 'one fused kernel over a 2^20-parameter block (the working set, 16 MiB, fits the H100 L2)',
    check() {
      const now = p.toArray();
      // |Δp| per step is at most about lr · (1 + wd |p|): bounded by steps · 1.1e-4
      const bound = opt.stepCount * 1.1e-4 + 1e-6;
      for (let i = 0; i < now.length; i += 101) {
        if (!(Math.abs(now[i] - p0[i]) <= bound)) throw new Error(`p[${i}] moved by ${now[i] - p0[i]} over ${opt.stepCount} steps`);
      }
    },
    dispose() {
      opt.dispose();
      disposeAll([p, g]);
    },
  };
}

function clip(ctx: BenchContext): BenchRun {
  const g = rand(ctx, [P], 0xd00);
  const norm = era.empty([], { device: ctx.device });
  return {
    // maxNorm above the norm (~591): measures the reduction plus the no-op scale, every repeat the same
    run: () => clipGradNorm(g, 1e6, { out: norm }),
    bytes: P * 4,
    note: 'deterministic two-pass norm on the device; maxNorm above the norm (nothing to scale)',
    check() {
      const x = g.toArray();
      let s = 0;
      for (let i = 0; i < x.length; i++) s += x[i] * x[i];
      const want = Math.sqrt(s);
      if (Math.abs(norm.toArray()[0] - want) > 1e-5 * want) throw new Error(`norm ${norm.toArray()[0]}, expected ${want}`);
    },
    dispose: () => disposeAll([g, norm]),
  };
}

function polyak(ctx: BenchContext): BenchRun {
  const t = rand(ctx, [P], 0xe00);
  const o = rand(ctx, [P], 0xe01);
  return {
    run: () => polyakUpdate(t, o, 0.005),
    bytes: 3 * P * 4,
    note: 'target = 0.995 target + 0.005 online over a 2^20-parameter block',
    check() {
      const tv = t.toArray();
      for (let i = 0; i < tv.length; i += 101) if (!(Math.abs(tv[i]) <= 1)) throw new Error(`target[${i}] = ${tv[i]} left [-1, 1]`);
    },
    dispose: () => disposeAll([t, o]),
  };
}

export const benches: BenchCase[] = [
  { name: `linear ${B}x${H}->${H} f32 elu`, setup: linearForward },
  { name: `linear backward ${B}x${H}->${H} f32`, setup: linearBwd },
  { name: `layerNorm ${B}x${H}`, setup: layerNormFwd },
  { name: `layerNorm backward ${B}x${H}`, setup: layerNormBwd },
  { name: `elu backward ${B}x${H}`, setup: eluBwd },
  { name: 'adamw 1048576', setup: adamw },
  { name: 'clipGradNorm 1048576', setup: clip },
  { name: 'polyak 1048576', setup: polyak },
];

/**
 * The SAC ops (lib/rl/ops.ts) at SAC-ERA's sizes (era-spec §1.7): S = 5 seeds, B = 256 states,
 * D = 21 action dims (DMC humanoid), a replay buffer of 10⁶ rows per seed on CUDA (10⁵ on the
 * CPU) with F = 2·67 + 21 + 2 = 157 floats per row (observation, action, reward, next
 * observation, mask; 67 = DMC humanoid's observation size).
 *
 * - policy: truncatedNormalSample + truncatedNormalBackward + truncatedNormalLogProb (3 launches)
 *   and tanhGaussianSample + tanhGaussianBackward (2 launches), outputs preallocated.
 * - replay: randomIndices + gatherRows (unchecked: 2 launches, no synchronisation).
 * - losses: sacTarget (with α·logπ') + sacCriticLoss + sacActorLoss (with the temperature loss).
 *
 * Everything here is launch-bound on a GPU (a few hundred KiB per op); the figures are mostly
 * launch cost. Outputs are checked against the float64 references of test/rl-ops-ref.ts (and, for
 * the gradients on CUDA, against the CPU ops, which the tests check against finite differences).
 */
import era, { type Tensor } from '../lib/index.js';
import {
  gatherRows, randomIndices, sacActorLoss, sacCriticLoss, sacTarget, tanhGaussianBackward, tanhGaussianSample, truncatedNormalBackward,
  truncatedNormalLogProb, truncatedNormalSample,
} from '../lib/rl/ops.js';
import { actorLossRef, criticLossRef, tanhLogProbDirect, targetRef, truncLogProbRef, truncSampleRef } from '../test/rl-ops-ref.js';
import { assertClose, maxAbs } from './era-common.js';
import { assertNonZero, rotationCount, type BenchCase, type BenchContext, type BenchRun } from './harness.js';

const S = 5;
const B = 256;
const D = 21;
const OBS = 67;
const F = 2 * OBS + D + 2;
const N_ELEMS = S * B * D;
const SHAPE = [S, B, D];

const host = (t: Tensor): Float32Array => t.toArray() as Float32Array;

/** Gradients on CUDA against the CPU op on the same inputs; on the CPU only sanity checks. */
function checkGradients(ctx: BenchContext, got: Tensor[], cpuRef: () => Tensor[], what: string): void {
  for (const [i, t] of got.entries()) {
    const g = host(t);
    assertNonZero(g, `${what}[${i}]`);
    if (!g.every(Number.isFinite)) throw new Error(`${what}[${i}]: non-finite values`);
  }
  if (ctx.device !== 'cuda') return;
  for (const [i, r] of cpuRef().entries()) {
    const want = host(r);
    assertClose(host(got[i]), want, `${what}[${i}] vs CPU`, 1e-5 * maxAbs(want), 2e-5);
    r.dispose();
  }
}

interface PolicySet {
  mu: Tensor;
  logStd: Tensor;
  gradAction: Tensor;
  gradLogProb: Tensor;
  outs: Tensor[];
}

function policySets(ctx: BenchContext, count: number, rowsOut: number): PolicySet[] {
  const sets: PolicySet[] = [];
  try {
    for (let i = 0; i < count; i++) {
      sets.push({
        mu: era.uniform(SHAPE, { device: ctx.device, seed: 0x51c0 + i, low: -2.5, high: 2.5 }),
        logStd: era.uniform(SHAPE, { device: ctx.device, seed: 0x51d0 + i, low: -4, high: 0 }),
        gradAction: era.uniform(SHAPE, { device: ctx.device, seed: 0x51e0 + i, low: -1, high: 1 }),
        gradLogProb: era.uniform([S, B], { device: ctx.device, seed: 0x51f0 + i, low: -1, high: 1 }),
        outs: [...Array(4)].map(() => era.empty(SHAPE, { device: ctx.device })).concat(
          [...Array(rowsOut)].map(() => era.empty([S, B], { device: ctx.device }))),
      });
    }
  } catch (err) {
    disposeSets(sets);
    throw err;
  }
  return sets;
}

function disposeSets(sets: PolicySet[]): void {
  for (const s of sets) for (const t of [s.mu, s.logStd, s.gradAction, s.gradLogProb, ...s.outs]) t.dispose();
}

function truncatedNormalCase(ctx: BenchContext): BenchRun {
  // mu, logStd, gradAction (read), action, noise, gradMu, gradLogStd (written), log-prob rows.
  const sets = policySets(ctx, rotationCount(ctx, 7 * N_ELEMS * 4), 1);
  const g = new era.Generator(0x7e4a);
  let lastSet = -1;
  return {
    run(iteration) {
      const i = iteration % sets.length;
      lastSet = Math.max(lastSet, i);
      const s = sets[i];
      const [action, noise, gradMu, gradLogStd, logProb] = s.outs;
      truncatedNormalSample(s.mu, s.logStd, { generator: g, out: action, noise });
      truncatedNormalBackward(s.mu, s.logStd, noise, s.gradAction, { gradMu, gradLogStd });
      truncatedNormalLogProb(action, s.mu, s.logStd, { out: logProb });
    },
    // sample: read μ, ℓ, write x, ũ; backward: read μ, ℓ, ũ, g, write two; log-prob: read x, μ, ℓ, write rows.
    bytes: (4 + 6 + 3) * N_ELEMS * 4 + S * B * 4,
    note: `${sets.length} input set(s) rotated; SAC-ERA policy at T = 1 (μ ~ U(−2.5, 2.5), log σ ~ U(−4, 0)); three launches per run on CUDA; math in double.`,
    check() {
      if (lastSet < 0) throw new Error('run() never ran');
      for (const i of new Set([0, lastSet])) {
        const s = sets[i];
        const [mu, ls, x, u, lp] = [host(s.mu), host(s.logStd), host(s.outs[0]), host(s.outs[1]), host(s.outs[4])];
        const want = Array.from(u, (ui, j) => truncSampleRef(mu[j], ls[j], 1, ui).x);
        assertClose(x, want, `action (set ${i})`, 2e-7, 1e-6);
        const wantLp = new Float64Array(S * B);
        for (let j = 0; j < N_ELEMS; j++) wantLp[Math.floor(j / D)] += truncLogProbRef(x[j], mu[j], ls[j], 1);
        assertClose(lp, wantLp, `log-prob (set ${i})`, 1e-4, 1e-5);
        checkGradients(ctx, [s.outs[2], s.outs[3]], () => {
          const c = truncatedNormalBackward(s.mu.to('cpu'), s.logStd.to('cpu'), s.outs[1].to('cpu'), s.gradAction.to('cpu'));
          return [c.gradMu, c.gradLogStd];
        }, `truncated-normal gradients (set ${i})`);
      }
    },
    dispose() {
      disposeSets(sets);
    },
  };
}

function tanhGaussianCase(ctx: BenchContext): BenchRun {
  const sets = policySets(ctx, rotationCount(ctx, 7 * N_ELEMS * 4), 1);
  const g = new era.Generator(0x7a4b);
  let lastSet = -1;
  return {
    run(iteration) {
      const i = iteration % sets.length;
      lastSet = Math.max(lastSet, i);
      const s = sets[i];
      const [action, noise, gradMu, gradLogStd, logProb] = s.outs;
      tanhGaussianSample(s.mu, s.logStd, { generator: g, out: action, noise, logProb });
      tanhGaussianBackward(s.mu, s.logStd, noise, s.gradAction, s.gradLogProb, { gradMu, gradLogStd });
    },
    // sample: read μ, ℓ, write action, ε, rows; backward: read μ, ℓ, ε, g (+ rows), write two.
    bytes: (4 + 6) * N_ELEMS * 4 + 2 * S * B * 4,
    note: `${sets.length} input set(s) rotated; classic SAC policy (μ ~ U(−2.5, 2.5), log σ ~ U(−4, 0)); two launches per run on CUDA.`,
    check() {
      if (lastSet < 0) throw new Error('run() never ran');
      for (const i of new Set([0, lastSet])) {
        const s = sets[i];
        const [mu, ls, a, e, lp] = [host(s.mu), host(s.logStd), host(s.outs[0]), host(s.outs[1]), host(s.outs[4])];
        assertClose(a, Array.from(e, (ej, j) => Math.tanh(mu[j] + Math.exp(ls[j]) * ej)), `action (set ${i})`, 1e-7, 1e-6);
        const wantLp = new Float64Array(S * B);
        for (let j = 0; j < N_ELEMS; j++) wantLp[Math.floor(j / D)] += tanhLogProbDirect(mu[j], ls[j], e[j]);
        assertClose(lp, wantLp, `log-prob (set ${i})`, 1e-4, 1e-5);
        checkGradients(ctx, [s.outs[2], s.outs[3]], () => {
          const c = tanhGaussianBackward(s.mu.to('cpu'), s.logStd.to('cpu'), s.outs[1].to('cpu'), s.gradAction.to('cpu'), s.gradLogProb.to('cpu'));
          return [c.gradMu, c.gradLogStd];
        }, `tanh-Gaussian gradients (set ${i})`);
      }
    },
    dispose() {
      disposeSets(sets);
    },
  };
}

function replayCase(ctx: BenchContext): BenchRun {
  const n = ctx.device === 'cuda' ? 1_000_000 : 100_000;
  const storage = era.uniform([S, n, F], { device: ctx.device, seed: 0x4e91, low: -1, high: 1 });
  const indices = era.empty([B], { device: ctx.device, dtype: 'i32' });
  const batch = era.empty([S, B, F], { device: ctx.device });
  const g = new era.Generator(0x4e92);
  return {
    run() {
      randomIndices(B, n, { generator: g, out: indices });
      gatherRows(storage, indices, { out: batch, checkIndices: false });
    },
    // indices written and read, the gathered rows read and written (random rows: no reuse across runs).
    bytes: 2 * B * 4 + 2 * S * B * F * 4,
    note: `buffer [${S}, ${n}, ${F}] f32 (${((S * n * F * 4) / 2 ** 30).toFixed(2)} GiB); fresh indices every run; two launches, no synchronisation.`,
    check() {
      const idx = indices.toArray() as Int32Array;
      const all = host(storage);
      const got = host(batch);
      for (let s = 0; s < S; s++) {
        for (let b = 0; b < B; b++) {
          if (!(idx[b] >= 0 && idx[b] < n)) throw new Error(`index ${b} = ${idx[b]} outside [0, ${n})`);
          for (let f = 0; f < F; f++) {
            if (got[(s * B + b) * F + f] !== all[(s * n + idx[b]) * F + f]) throw new Error(`row (${s}, ${b}) element ${f} differs`);
          }
        }
      }
    },
    dispose() {
      for (const t of [storage, indices, batch]) t.dispose();
    },
  };
}

function lossCase(ctx: BenchContext): BenchRun {
  const dev = { device: ctx.device };
  const qNext = era.uniform([2 * S, B, 1], { ...dev, seed: 0x1055, low: -50, high: 50 });
  const q = era.uniform([2 * S, B, 1], { ...dev, seed: 0x1056, low: -50, high: 50 });
  const qPi = era.uniform([2 * S, B, 1], { ...dev, seed: 0x1057, low: -50, high: 50 });
  const reward = era.uniform([S, B], { ...dev, seed: 0x1058, low: -1, high: 1 });
  const mask = era.ones([S, B], dev);
  const logProb = era.uniform([S, B], { ...dev, seed: 0x1059, low: -30, high: 5 });
  const alpha = era.uniform([S], { ...dev, seed: 0x105a, low: 0.01, high: 1 });
  const y = era.empty([S, B], dev);
  const critic = { loss: era.empty([S], dev), gradQ: era.empty([2 * S, B, 1], dev) };
  const actor = { loss: era.empty([S], dev), gradQ: era.empty([2 * S, B, 1], dev), gradLogProb: era.empty([S, B], dev), alphaLoss: era.empty([S], dev), gradLogAlpha: era.empty([S], dev) };
  const all = [qNext, q, qPi, reward, mask, logProb, alpha, y, ...Object.values(critic), ...Object.values(actor)];
  return {
    run() {
      sacTarget(qNext, reward, mask, 0.99, { logProb, alpha, out: y });
      sacCriticLoss(q, y, critic);
      sacActorLoss(qPi, { logProb, alpha, targetEntropy: -D, ...actor });
    },
    // target: read 2SB + 3SB, write SB; critic: read 3SB, write 2SB; actor: read 3SB, write 3SB (+ [S] outputs).
    bytes: (6 + 5 + 6) * S * B * 4,
    note: 'classic-SAC form (α·logπ terms and the temperature loss); one launch per op; no synchronisation.',
    check() {
      const rows = (t: Tensor) => {
        const a = host(t);
        return (s: number, b: number) => a[s * B + b];
      };
      const wantY = targetRef(host(qNext), S, B, rows(reward), rows(mask), 0.99, rows(logProb), host(alpha));
      assertClose(host(y), wantY, 'y', 1e-4, 1e-6);
      assertClose(host(critic.loss), criticLossRef(host(q), S, B, rows(y)), 'critic loss', 1e-3, 1e-5);
      const ref = actorLossRef(host(qPi), S, B, rows(logProb), host(alpha), -D);
      assertClose(host(actor.loss), ref.loss, 'actor loss', 1e-4, 1e-5);
      assertClose(host(actor.alphaLoss), ref.alphaLoss, 'alpha loss', 1e-4, 1e-5);
      assertNonZero(host(critic.gradQ), 'critic gradQ');
      assertNonZero(host(actor.gradQ), 'actor gradQ');
    },
    dispose() {
      for (const t of all) t.dispose();
    },
  };
}

export const benches: BenchCase[] = [
  { name: `rl.truncatedNormal sample+bwd+logProb [${S}, ${B}, ${D}]`, setup: truncatedNormalCase },
  { name: `rl.tanhGaussian sample+bwd [${S}, ${B}, ${D}]`, setup: tanhGaussianCase },
  { name: `rl.replay randomIndices+gatherRows S=${S} B=${B} F=${F}`, setup: replayCase },
  { name: `rl.sac target+critic+actor losses S=${S} B=${B}`, setup: lossCase },
];

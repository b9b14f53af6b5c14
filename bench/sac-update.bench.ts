/**
 * One full SAC-ERA update at the reference shapes (era-spec §1.5-1.6): twin critics
 * concat(obs 67, act 21) → 512 → LN → ELU → 512 → LN → ELU → 1, an ELU actor 67 → 512 → 512 →
 * [μ | r] (21 + 21), batch 256, AdamW critic, Adam actor, Polyak τ = 0.005 — including the replay
 * sample (Philox indices and one gather from a 100k-transition device buffer) and the policy noise.
 * The PyTorch twin is bench/baselines/sac_update.py (same case names; its batches are pre-drawn).
 *
 * Cases: eager in f32 and tf32, and (CUDA) the same update recorded once in a CUDA graph and
 * replayed. updates/s = 1000 / median ms. FLOPs count the GEMMs of one update (forward and backward
 * of every layer that runs), for the TFLOP/s column.
 */
import era from '../lib/index.js';
import type { Precision } from '../lib/nn/functional.js';
import { ReplayBuffer } from '../lib/rl/replay.js';
import { SacAgent } from '../lib/rl/sac/agent.js';
import type { BenchCase, BenchContext, BenchRun } from './harness.js';

const B = 256;
const OBS = 67;
const ACT = 21;
const H = 512;
const CAPACITY = 100_000;

/** GEMM FLOPs of one update: 2·B·in·out per layer pass (forward, input grad, weight grad). */
function updateFlops(): number {
  const critic = [[OBS + ACT, H], [H, H], [H, 1]];
  const actor = [[OBS, H], [H, H], [H, 2 * ACT]];
  const pass = (layers: number[][], members: number) => layers.reduce((s, [i, o]) => s + 2 * members * B * i * o, 0);
  const targetQ = pass(critic, 2) + pass(actor, 1); // a' ~ π(s'), Qᵗ(s', a')
  const criticStep = 3 * pass(critic, 2) - pass(critic.slice(0, 1), 2); // forward + weight grads + input grads past layer 1
  const actorStep = pass(actor, 1) + pass(critic, 2) + pass(critic, 2) /* critic input grads */ + 2 * pass(actor, 1) - pass(actor.slice(0, 1), 1);
  return targetQ + criticStep + actorStep;
}

function sacUpdate(precision: Precision, graph: boolean) {
  return (ctx: BenchContext): BenchRun => {
    const useGraph = graph && ctx.device === 'cuda';
    const agent = new SacAgent({ observationSize: OBS, actionSize: ACT, seeds: 1, hidden: H, batchSize: B, precision, graph: useGraph, device: ctx.device, seed: 1 });
    const buffer = new ReplayBuffer({ seeds: 1, capacity: CAPACITY, observationSize: OBS, actionSize: ACT, device: ctx.device, stagingRows: 10_000 });
    // Random transitions (never zeros): observations ~ N(0,1), actions and rewards uniform.
    const n = ctx.quick ? 5_000 : CAPACITY;
    const r = era.uniform([n * (2 * OBS + ACT + 2)], { seed: 7, device: 'cpu', low: -1, high: 1 }).toArray() as Float32Array;
    for (let i = 0; i < n; i++) {
      const row = r.subarray(i * (2 * OBS + ACT + 2));
      buffer.add(row.subarray(0, OBS), row.subarray(OBS, OBS + ACT), [row[OBS + ACT]], row.subarray(OBS + ACT + 1, 2 * OBS + ACT + 1), [1]);
    }
    buffer.flush();
    const before = agent.actor.params.toArray();
    return {
      run: () => agent.update(buffer.sample(B, agent.generator)),
      flops: updateFlops(),
      compareToCopy: false,
      note: `one SAC-ERA update incl. replay sampling; ${precision} GEMMs; ${useGraph ? 'recorded once in a CUDA graph, replayed (+2 noise launches, +2 sampling launches)' : 'eager'}${graph && !useGraph ? ' (graphs need CUDA: ran eagerly)' : ''}`,
      check() {
        const m = agent.metrics();
        if (!m) throw new Error('no update ran');
        for (const v of [...m.criticLoss, ...m.actorLoss, ...m.entropy]) if (!Number.isFinite(v)) throw new Error(`a loss or the entropy is not finite: ${JSON.stringify(m)}`);
        const after = agent.actor.params.toArray();
        if (!after.every(Number.isFinite)) throw new Error('actor parameters are not finite');
        if (after.every((v, i) => v === before[i])) throw new Error('the updates left the actor unchanged');
      },
      dispose() {
        buffer.dispose();
        agent.dispose();
      },
    };
  };
}

const shape = `B=${B} obs=${OBS} act=${ACT}`;
export const benches: BenchCase[] = [
  { name: `sac update ${shape} f32`, setup: sacUpdate('f32', false) },
  { name: `sac update ${shape} tf32`, setup: sacUpdate('tf32', false) },
  { name: `sac update ${shape} f32 graph`, setup: sacUpdate('f32', true) },
  { name: `sac update ${shape} tf32 graph`, setup: sacUpdate('tf32', true) },
];

/**
 * lib/rl/env VecEnv: n environments stepped together into reused flat arrays, bit-identical to
 * the single environments with the same seeds, auto-reset with the final observations kept,
 * caller-provided buffers, argument errors naming the argument, disposal.
 */
import { expect } from 'chai';

import { makeEnv, makeVecEnv, VecEnv } from '../lib/rl/env/index.js';
import { expectThrowsNaming as throwsNaming } from './helpers.js';


function actionsFor(step: number, n: number, dim: number): Float32Array {
  // Deterministic, varied per environment and step, some beyond ±1.
  return Float32Array.from({ length: n * dim }, (_, j) => 1.3 * Math.sin(0.7 * step + 1.9 * j + 0.3));
}

describe('rl env: VecEnv', () => {
  it('matches n single environments seeded seed + i, bit for bit, in reused arrays', async () => {
    const n = 3;
    using vec = await makeVecEnv('hopper-stand', n, { seed: 40 });
    const singles = await Promise.all([0, 1, 2].map((i) => makeEnv('hopper-stand', { seed: 40 + i })));
    try {
      expect(vec.numEnvs).to.equal(n);
      expect(vec.observationSpec.shape).to.deep.equal([15]);
      expect(vec.actionSpec.shape).to.deep.equal([4]);
      const obs = vec.reset();
      expect(obs).to.equal(vec.observations);
      expect(obs).to.have.length(n * 15);
      singles.forEach((e, i) => expect(Array.from(obs.subarray(15 * i, 15 * i + 15))).to.deep.equal(Array.from(e.reset())));
      for (let t = 0; t < 25; t++) {
        const a = actionsFor(t, n, 4);
        const r = vec.step(a);
        expect(r.observations).to.equal(vec.observations); // the same arrays every step
        expect(r.rewards).to.equal(vec.rewards);
        singles.forEach((e, i) => {
          const s = e.step(a.subarray(4 * i, 4 * i + 4));
          expect(Array.from(r.observations.subarray(15 * i, 15 * i + 15)), `step ${t} env ${i}`).to.deep.equal(Array.from(s.observation));
          expect(r.rewards[i]).to.equal(Math.fround(s.reward));
          expect(r.terminated[i]).to.equal(0);
          expect(r.truncated[i]).to.equal(0);
        });
      }
    } finally {
      for (const e of singles) e.dispose();
    }
  });

  it('reset(seeds) takes a base seed or one seed per environment', async () => {
    using vec = await makeVecEnv('walker-walk', 2, { seed: 1 });
    using single = await makeEnv('walker-walk', { seed: 1 });
    const base = Float32Array.from(vec.reset(500));
    expect(Array.from(base.subarray(24, 48))).to.deep.equal(Array.from(single.reset(501)));
    const each = vec.reset([7, 3]);
    expect(Array.from(each.subarray(0, 24))).to.deep.equal(Array.from(single.reset(7)));
    expect(Array.from(each.subarray(24, 48))).to.deep.equal(Array.from(single.reset(3)));
    throwsNaming(() => vec.reset([1, 2, 3]), RangeError, 'seeds');
    throwsNaming(() => vec.reset([1, -2]), RangeError, 'seeds[1]');
    // A bad seed leaves every environment as it was (none half-reset): the episodes go on.
    vec.step(new Float32Array(2 * vec.actionSpec.shape[0]));
    const before = vec.envs.map((e) => e.episodeStep);
    throwsNaming(() => vec.reset([4, 2.5]), RangeError, 'seeds[1]');
    expect(vec.envs.map((e) => e.episodeStep)).to.deep.equal(before);
    expect(before).to.deep.equal([1, 1]);
  });

  it('auto-resets an ended environment, keeping its last observation in finalObservations', async () => {
    const n = 2;
    using vec = await makeVecEnv('cartpole-swingup', n, { seed: 9, maxEpisodeSteps: 4 });
    using ref = await makeEnv('cartpole-swingup', { seed: 9, maxEpisodeSteps: 4 });
    vec.reset();
    ref.reset();
    let last: Float32Array = new Float32Array(0);
    for (let t = 0; t < 4; t++) {
      const a = actionsFor(t, n, 1);
      const r = vec.step(a);
      last = ref.step(a.subarray(0, 1)).observation;
      expect(Array.from(r.truncated)).to.deep.equal(t === 3 ? [1, 1] : [0, 0]);
    }
    // Row 0 now holds the next episode's first observation; the ended one is kept aside.
    expect(Array.from(vec.finalObservations.subarray(0, 5))).to.deep.equal(Array.from(last));
    expect(Array.from(vec.observations.subarray(0, 5))).to.deep.equal(Array.from(ref.reset()));
    const r = vec.step(actionsFor(4, n, 1)); // steps on without an explicit reset
    expect(Array.from(r.truncated)).to.deep.equal([0, 0]);
  });

  it('without auto-reset an ended environment must be reset', async () => {
    using vec = await makeVecEnv('pendulum-swingup', 2, { seed: 1, maxEpisodeSteps: 2, autoReset: false });
    vec.reset();
    vec.step(new Float32Array(2));
    expect(Array.from(vec.step(new Float32Array(2)).truncated)).to.deep.equal([1, 1]);
    expect(() => vec.step(new Float32Array(2))).to.throw(Error, /reset/);
    vec.reset();
    expect(Array.from(vec.step(new Float32Array(2)).truncated)).to.deep.equal([0, 0]);
  });

  it('writes into caller-provided arrays', async () => {
    using vec = await makeVecEnv('reacher-easy', 2, { seed: 3 });
    const obs = new Float32Array(12);
    const rewards = new Float32Array(2);
    const truncated = new Uint8Array(2);
    expect(vec.reset(undefined, obs)).to.equal(obs);
    const r = vec.step(new Float32Array(4), { observations: obs, rewards, truncated });
    expect(r.observations).to.equal(obs);
    expect(r.rewards).to.equal(rewards);
    expect(r.truncated).to.equal(truncated);
    expect(r.terminated).to.equal(vec.terminated);
    expect(obs.some((v) => v !== 0)).to.equal(true);
    throwsNaming(() => vec.step(new Float32Array(4), { observations: new Float32Array(11) }), RangeError, 'observations');
    throwsNaming(() => vec.step(new Float32Array(4), { truncated: new Float32Array(2) as unknown as Uint8Array }), TypeError, 'truncated');
    throwsNaming(() => vec.reset(undefined, new Float32Array(3)), RangeError, 'out');
  });

  it('validates actions as a whole before stepping any environment, naming actions', async () => {
    using vec = await makeVecEnv('cheetah-run', 2, { seed: 5 });
    vec.reset();
    const before = Float32Array.from(vec.observations);
    throwsNaming(() => vec.step(new Float32Array(11)), RangeError, 'actions');
    const bad = new Float32Array(12);
    bad[9] = NaN;
    const err = throwsNaming(() => vec.step(bad), RangeError, 'actions');
    expect(err.message).to.include('element 9');
    throwsNaming(() => vec.step('x' as unknown as Float32Array), TypeError, 'actions');
    // Nothing moved: the next good step matches a fresh VecEnv's first step.
    using fresh = await makeVecEnv('cheetah-run', 2, { seed: 5 });
    expect(Array.from(fresh.reset())).to.deep.equal(Array.from(before));
    const a = actionsFor(0, 2, 6);
    expect(Array.from(vec.step(a).observations)).to.deep.equal(Array.from(fresh.step(a).observations));
  });

  it('rejects bad construction arguments, naming them', async () => {
    for (const [args, cls, name] of [
      [['cheetah-run', 0], RangeError, 'n'],
      [['cheetah-run', 1.5], RangeError, 'n'],
      [['cheetah-run', 2, { autoReset: 'yes' }], TypeError, 'autoReset'],
      [['cheetah-sprint', 2], RangeError, 'task'],
    ] as const) {
      let err: unknown;
      try {
        await VecEnv.create(...(args as unknown as [string, number]));
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(args)).to.be.instanceOf(cls);
      expect((err as Error).message).to.include(`for ${name} `);
    }
  });

  it('dispose frees every environment, is idempotent, and a disposed VecEnv throws', async () => {
    const vec = await makeVecEnv('pendulum-swingup', 3, { seed: 1 });
    vec.reset();
    vec.dispose();
    vec.dispose();
    expect(vec.envs.every((e) => e.disposed)).to.equal(true);
    expect(() => vec.step(new Float32Array(3))).to.throw(Error, /disposed/);
    expect(() => vec.reset()).to.throw(Error, /disposed/);
  });
});

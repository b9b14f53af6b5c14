/**
 * lib/rl/env: the MuJoCo environments. Determinism per seed, energy conservation of the free
 * pendulum, reward ranges under random actions, spec shapes, truncation, action validation,
 * disposal, the registry's errors, and one physical sanity check per task (a pose that earns the
 * reward against one that does not). The humanoid suites skip, saying why, when Debian's
 * libmujoco-samples is not installed.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { HUMANOID_PATH_ENV, humanoidModelPath, listTasks, makeEnv, MujocoEnv, tolerance } from '../lib/rl/env/index.js';
import { expectThrowsNaming as throwsNaming, rng } from './helpers.js';

const HUMANOID_PRESENT = existsSync(humanoidModelPath());
const HUMANOID_REASON = `${humanoidModelPath()} is absent (apt-get install libmujoco-samples, or set ${HUMANOID_PATH_ENV})`;
const BASIC_TASKS = ['pendulum-swingup', 'cartpole-swingup', 'cartpole-balance', 'reacher-easy', 'cheetah-run', 'walker-walk', 'hopper-stand'];
const HUMANOID_TASKS = ['humanoid-stand', 'humanoid-walk', 'humanoid-run'];

/** Observation and action sizes as DMC defines them (humanoid: on Debian's 21-motor model). */
const SIZES: Record<string, [number, number]> = {
  'pendulum-swingup': [3, 1],
  'cartpole-swingup': [5, 1],
  'cartpole-balance': [5, 1],
  'reacher-easy': [6, 2],
  'cheetah-run': [17, 6],
  'walker-walk': [24, 6],
  'hopper-stand': [15, 4],
  'humanoid-stand': [67, 21],
  'humanoid-walk': [67, 21],
  'humanoid-run': [67, 21],
};


function randomActions(steps: number, dim: number, seed: number, scale = 1): Float32Array[] {
  const r = rng(seed);
  return Array.from({ length: steps }, () => Float32Array.from({ length: dim }, () => scale * (2 * r() - 1)));
}


async function rejects(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  expect.fail('expected a rejection');
}

interface Rollout {
  observations: Float32Array[];
  rewards: number[];
}

function rollout(env: MujocoEnv, seed: number, actions: Float32Array[]): Rollout {
  const observations = [env.reset(seed)];
  const rewards: number[] = [];
  for (const a of actions) {
    const r = env.step(a);
    observations.push(r.observation);
    rewards.push(r.reward);
  }
  return { observations, rewards };
}

function bits(x: Rollout): string {
  // Float32 and float64 bit patterns: equal strings mean bit-identical trajectories.
  const parts = x.observations.map((o) => Buffer.from(o.buffer, o.byteOffset, o.byteLength).toString('hex'));
  parts.push(Buffer.from(Float64Array.from(x.rewards).buffer).toString('hex'));
  return parts.join('|');
}

/** Runs `body` for one task, skipping (with the reason) humanoid tasks without the model. */
function forTask(task: string, title: string, body: (this: Mocha.Context) => Promise<void>): void {
  const humanoid = task.startsWith('humanoid');
  it(`${task}: ${title}${humanoid && !HUMANOID_PRESENT ? ` (skipped: ${HUMANOID_REASON})` : ''}`, async function () {
    if (humanoid && !HUMANOID_PRESENT) this.skip();
    await body.call(this);
  });
}

describe('rl env: registry', () => {
  it('lists the DMC tasks', () => {
    expect(listTasks()).to.deep.equal([...BASIC_TASKS, ...HUMANOID_TASKS]);
  });

  it('rejects an unknown task with a RangeError listing the known ones', async () => {
    const err = await rejects(makeEnv('pendulum-balance'));
    expect(err).to.be.instanceOf(RangeError);
    expect(err.message).to.include('for task ');
    expect(err.message).to.include("'pendulum-balance'");
    for (const t of listTasks()) expect(err.message).to.include(t);
    expect(await rejects(makeEnv(42 as unknown as string))).to.be.instanceOf(TypeError);
  });

  it('rejects bad options naming them', async () => {
    for (const [opts, cls, name] of [
      [{ actionRepeat: 0 }, RangeError, 'actionRepeat'],
      [{ actionRepeat: 1.5 }, RangeError, 'actionRepeat'],
      [{ maxEpisodeSteps: -3 }, RangeError, 'maxEpisodeSteps'],
      [{ seed: -1 }, RangeError, 'seed'],
      [{ modelPath: 3 }, TypeError, 'modelPath'],
      [{ actionrepeat: 2 }, TypeError, 'options'], // a misspelt key (did you mean 'actionRepeat'?)
    ] as const) {
      const err = await rejects(makeEnv('pendulum-swingup', opts as never));
      expect(err, JSON.stringify(opts)).to.be.instanceOf(cls);
      expect(err.message).to.include(`for ${name} `);
    }
  });

  it('reports a model file MuJoCo cannot compile, and stays usable afterwards', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'era-rl-env-'));
    try {
      const notMjcf = join(dir, 'notes.txt');
      writeFileSync(notMjcf, 'not a model');
      expect((await rejects(makeEnv('humanoid-walk', { modelPath: notMjcf }))).message).to.include('not an MJCF model');
      const broken = join(dir, 'broken.xml');
      writeFileSync(broken, '<mujoco><worldbody><body name="torso"><geom type="sphere" size="-1"/></body></worldbody></mujoco>');
      const err = await rejects(makeEnv('humanoid-walk', { modelPath: broken }));
      expect(err.message).to.include('MuJoCo could not compile the model of humanoid-walk');
      using env = await makeEnv('pendulum-swingup', { seed: 1 });
      env.reset();
      expect(env.step([0]).observation).to.have.length(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names libmujoco-samples and the modelPath option when the humanoid model is missing', async () => {
    const err = await rejects(makeEnv('humanoid-stand', { modelPath: '/nonexistent/humanoid.xml' }));
    expect(err.message).to.include('libmujoco-samples');
    expect(err.message).to.include('modelPath');
    expect(err.message).to.include('/nonexistent/humanoid.xml');
  });

  it(`reads the humanoid model from $${HUMANOID_PATH_ENV} when no modelPath is given`, async () => {
    const saved = process.env[HUMANOID_PATH_ENV];
    const dir = mkdtempSync(join(tmpdir(), 'era-rl-env-'));
    try {
      process.env[HUMANOID_PATH_ENV] = join(dir, 'absent.xml');
      const err = await rejects(makeEnv('humanoid-run'));
      expect(err.message).to.include(join(dir, 'absent.xml'));
      expect(err.message).to.include(HUMANOID_PATH_ENV);
      // A file there is what the task loads: a model that is not MJCF fails as that file.
      writeFileSync(join(dir, 'absent.xml'), 'not a model');
      expect((await rejects(makeEnv('humanoid-run'))).message).to.include(`${join(dir, 'absent.xml')} is not an MJCF model`);
      // modelPath still wins over the variable.
      expect((await rejects(makeEnv('humanoid-run', { modelPath: '/nonexistent/h.xml' }))).message).to.include('/nonexistent/h.xml');
    } finally {
      if (saved === undefined) delete process.env[HUMANOID_PATH_ENV];
      else process.env[HUMANOID_PATH_ENV] = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('rl env: specs', () => {
  for (const task of [...BASIC_TASKS, ...HUMANOID_TASKS]) {
    forTask(task, 'observation and action specs, float32 observations', async () => {
      using env = await makeEnv(task, { seed: 1 });
      const [obsDim, actDim] = SIZES[task];
      expect(env.name).to.equal(task);
      expect(env.observationSpec.shape).to.deep.equal([obsDim]);
      expect(env.observationSpec.low).to.be.instanceOf(Float32Array).with.length(obsDim);
      expect(Array.from(env.observationSpec.low).every((v) => v === -Infinity)).to.equal(true);
      expect(Array.from(env.observationSpec.high).every((v) => v === Infinity)).to.equal(true);
      expect(env.actionSpec.shape).to.deep.equal([actDim]);
      expect(Array.from(env.actionSpec.low)).to.deep.equal(new Array(actDim).fill(-1));
      expect(Array.from(env.actionSpec.high)).to.deep.equal(new Array(actDim).fill(1));
      expect(env.maxEpisodeSteps).to.equal(1000);
      const obs = env.reset();
      expect(obs).to.be.instanceOf(Float32Array).with.length(obsDim);
      const r = env.step(new Float32Array(actDim));
      expect(r.observation).to.be.instanceOf(Float32Array).with.length(obsDim);
      expect(r.observation).to.not.equal(obs);
      expect(Array.from(r.observation).every(Number.isFinite)).to.equal(true);
      expect(r.terminated).to.equal(false);
      expect(r.truncated).to.equal(false);
    });
  }

  it('control rates follow DMC (physics steps per control step)', async () => {
    const want: Record<string, number> = {
      'pendulum-swingup': 1, 'cartpole-swingup': 1, 'cartpole-balance': 1, 'reacher-easy': 1, 'cheetah-run': 1, 'walker-walk': 10, 'hopper-stand': 4,
    };
    for (const task of BASIC_TASKS) {
      using env = await makeEnv(task, { seed: 1 });
      expect(env.physicsStepsPerControl, task).to.equal(want[task]);
    }
  });
});

describe('rl env: determinism', () => {
  for (const task of [...BASIC_TASKS, ...HUMANOID_TASKS]) {
    forTask(task, 'same seed and actions give a bit-identical trajectory; other seeds differ', async () => {
      const steps = task.startsWith('humanoid') ? 40 : 100;
      using a = await makeEnv(task, { seed: 11 });
      using b = await makeEnv(task, { seed: 99 });
      const actions = randomActions(steps, a.actionSpec.shape[0], 5);
      const first = rollout(a, 123, actions);
      const again = rollout(b, 123, actions); // another env, same reset seed
      expect(bits(again)).to.equal(bits(first));
      const replay = rollout(a, 123, actions); // the same env after an episode
      expect(bits(replay)).to.equal(bits(first));
      const other = rollout(a, 124, actions);
      expect(Buffer.compare(Buffer.from(other.observations[0].buffer), Buffer.from(first.observations[0].buffer))).to.not.equal(0);
      expect(bits(other)).to.not.equal(bits(first));
    });
  }

  it('the options seed gives the stream reset(seed) gives; reset() continues it', async () => {
    using a = await makeEnv('walker-walk', { seed: 77 });
    using b = await makeEnv('walker-walk', { seed: 5 });
    const o1 = a.reset();
    expect(Array.from(b.reset(77))).to.deep.equal(Array.from(o1));
    const o2 = a.reset();
    expect(Array.from(b.reset())).to.deep.equal(Array.from(o2));
    expect(Array.from(o2)).to.not.deep.equal(Array.from(o1));
  });

  it('survives wasm heap growth between steps (cached views are refreshed)', async () => {
    const actions = randomActions(60, 6, 8);
    using ref = await makeEnv('cheetah-run', { seed: 1 });
    const want = rollout(ref, 3, actions);
    using env = await makeEnv('cheetah-run', { seed: 1 });
    const observations = [env.reset(3)];
    const rewards: number[] = [];
    const extra: MujocoEnv[] = [];
    for (let i = 0; i < actions.length; i++) {
      if (i % 10 === 0) extra.push(await makeEnv('walker-walk', { seed: i })); // grows the heap
      const r = env.step(actions[i]);
      observations.push(r.observation);
      rewards.push(r.reward);
    }
    for (const e of extra) e.dispose();
    expect(bits({ observations, rewards })).to.equal(bits(want));
  });
});

describe('rl env: pendulum energy', () => {
  it('a free pendulum (no damping, no control) keeps its energy within the integrator error over 1000 steps', async () => {
    using env = await makeEnv('pendulum-swingup', { seed: 3 });
    const p = env.physics;
    p.modelArray('dof_damping')[0] = 0;
    const dt = p.timestep;
    const pole = p.id('body', 'pole');
    const m = p.modelArray('body_mass')[pole];
    const ipos = p.modelArray('body_ipos');
    const d = Math.hypot(ipos[3 * pole], ipos[3 * pole + 2]); // hinge (body origin) to centre of mass
    // Inertia about the hinge (y axis): the bob's own (principal, a sphere) + m d² + armature.
    const I = p.modelArray('body_inertia')[3 * pole + 1] + m * d * d + p.modelArray('dof_armature')[0];
    const mgd = m * 9.81 * d; // MuJoCo's default gravity, which the model keeps
    const energy = () => 0.5 * I * p.qvel[0] ** 2 + mgd * Math.cos(p.qpos[0]);
    // MuJoCo's Euler is symplectic (velocity first, then position with the new velocity): it
    // conserves the shadow energy E + (dt/2)·m g d·sin θ·θ̇ up to O(dt²), so E itself only
    // oscillates, by at most about (dt/2)·ω_max·m g d.
    const shadow = () => energy() + 0.5 * dt * mgd * Math.sin(p.qpos[0]) * p.qvel[0];
    for (const seed of [1, 2, 3]) {
      env.reset(seed);
      const e0 = energy();
      const s0 = shadow();
      const omegaMax = Math.sqrt((2 * (e0 + mgd)) / I); // speed at the bottom
      let worstE = 0;
      let worstShadow = 0;
      for (let i = 0; i < 1000; i++) {
        env.step([0]);
        worstE = Math.max(worstE, Math.abs(energy() - e0));
        worstShadow = Math.max(worstShadow, Math.abs(shadow() - s0));
      }
      // Tolerances: twice the first-order oscillation bound for E; dt²·ω_max²·m g d for the shadow.
      expect(worstE, `seed ${seed}: |E - E0|`).to.be.at.most(dt * omegaMax * mgd);
      expect(worstShadow, `seed ${seed}: shadow energy`).to.be.at.most(dt * dt * omegaMax * omegaMax * mgd);
    }
    // The same check fails with the model's damping back on (the test can fail).
    p.modelArray('dof_damping')[0] = 0.1;
    env.reset(1);
    const e0 = energy();
    const omegaMax = Math.sqrt((2 * (e0 + mgd)) / I);
    for (let i = 0; i < 1000; i++) env.step([0]);
    expect(Math.abs(energy() - e0)).to.be.above(dt * omegaMax * mgd);
  });
});

describe('rl env: rewards and episodes', () => {
  for (const task of [...BASIC_TASKS, ...HUMANOID_TASKS]) {
    forTask(task, 'rewards stay in [0, 1] under random actions', async () => {
      const steps = task.startsWith('humanoid') ? 300 : 1000;
      using env = await makeEnv(task, { seed: 2, maxEpisodeSteps: steps });
      const actions = randomActions(steps, env.actionSpec.shape[0], 17, 1.5); // some beyond ±1 (clipped)
      let sum = 0;
      env.reset();
      for (const a of actions) {
        const r = env.step(a);
        expect(r.reward, task).to.be.within(0, 1);
        expect(Array.from(r.observation).every(Number.isFinite), `${task}: finite observation`).to.equal(true);
        sum += r.reward;
      }
      expect(Number.isFinite(sum)).to.equal(true);
    });
  }

  it('truncates at maxEpisodeSteps (default 1000), never terminates, and needs a reset to go on', async () => {
    using env = await makeEnv('pendulum-swingup', { seed: 4 });
    env.reset();
    for (let i = 1; i <= 1000; i++) {
      const r = env.step([0.3]);
      expect(r.terminated).to.equal(false);
      expect(r.truncated, `step ${i}`).to.equal(i === 1000);
    }
    expect(() => env.step([0])).to.throw(Error, /reset/);
    env.reset();
    expect(env.step([0]).truncated).to.equal(false);

    using short = await makeEnv('hopper-stand', { seed: 4, maxEpisodeSteps: 3 });
    short.reset();
    expect([0, 1, 2].map(() => short.step([0, 0, 0, 0]).truncated)).to.deep.equal([false, false, true]);
  });

  it('requires reset() before the first step', async () => {
    using env = await makeEnv('reacher-easy', { seed: 4 });
    expect(() => env.step([0, 0])).to.throw(Error, /reset/);
  });

  it('actionRepeat repeats the action and sums the rewards over the same simulated time', async () => {
    using single = await makeEnv('walker-walk', { seed: 6 });
    using repeated = await makeEnv('walker-walk', { seed: 6, actionRepeat: 2 });
    expect(repeated.maxEpisodeSteps).to.equal(500);
    const actions = randomActions(20, 6, 3);
    single.reset(1);
    repeated.reset(1);
    for (const a of actions) {
      const r1 = single.step(a);
      const r2 = single.step(a);
      const r = repeated.step(a);
      expect(Array.from(r.observation)).to.deep.equal(Array.from(r2.observation));
      expect(r.reward).to.equal(r1.reward + r2.reward);
    }
  });
});

describe('rl env: actions', () => {
  it('rejects a wrong length, non-numbers and non-finite values, naming action', async () => {
    using env = await makeEnv('cheetah-run', { seed: 1 });
    env.reset();
    throwsNaming(() => env.step(new Float32Array(5)), RangeError, 'action');
    throwsNaming(() => env.step(new Float32Array(7)), RangeError, 'action');
    throwsNaming(() => env.step([0, 0, NaN, 0, 0, 0]), RangeError, 'action');
    throwsNaming(() => env.step([0, 0, 0, 0, 0, Infinity]), RangeError, 'action');
    throwsNaming(() => env.step(Float64Array.of(0, 0, 0, -Infinity, 0, 0)), RangeError, 'action');
    throwsNaming(() => env.step(['0', 0, 0, 0, 0, 0] as unknown as number[]), TypeError, 'action');
    throwsNaming(() => env.step(null as unknown as number[]), TypeError, 'action');
    throwsNaming(() => env.step(3 as unknown as number[]), TypeError, 'action');
    const err = throwsNaming(() => env.step([0, 0, NaN, 0, 0, 0]), RangeError, 'action');
    expect(err.message).to.include('element 2');
    expect(env.step(new Float32Array(6)).truncated).to.equal(false); // still usable
  });

  it('stepInto/resetInto write one row of a larger array and check its bounds, naming out', async () => {
    using env = await makeEnv('reacher-easy', { seed: 1 });
    const rows = new Float32Array(3 * 6).fill(-7);
    env.resetInto(rows, 6, 4);
    expect(Array.from(rows.subarray(6, 12))).to.deep.equal(Array.from(env.reset(4)));
    expect(rows[5]).to.equal(-7);
    expect(rows[12]).to.equal(-7);
    const acts = Float32Array.of(9, 9, 0.5, -0.5, 9, 9);
    const reward = env.stepInto(acts, 2, rows, 12);
    expect(reward).to.be.within(0, 1);
    expect(rows.subarray(12, 18).every((v) => v !== -7)).to.equal(true);
    throwsNaming(() => env.stepInto(acts, 2, rows, 13), RangeError, 'out');
    throwsNaming(() => env.resetInto(new Float32Array(5), 0), RangeError, 'out');
    throwsNaming(() => env.resetInto(new Float64Array(6) as unknown as Float32Array, 0), TypeError, 'out');
    throwsNaming(() => env.stepInto(acts, 5, rows, 0), RangeError, 'action');
  });

  it('clips to [-1, 1] and scales linearly to each ctrlrange', async () => {
    using env = await makeEnv('cheetah-run', { seed: 1 });
    const p = env.physics;
    const range = p.modelArray('actuator_ctrlrange');
    // Narrow the ranges so the scaling is visible: actuator i spans [-(i+1)/10, (i+3)/10].
    for (let i = 0; i < 6; i++) {
      range[2 * i] = -(i + 1) / 10;
      range[2 * i + 1] = (i + 3) / 10;
    }
    env.reset(2);
    const a = [-3, -1, -0.5, 0, 0.25, 7];
    env.step(a);
    for (let i = 0; i < 6; i++) {
      const lo = -(i + 1) / 10;
      const hi = (i + 3) / 10;
      const u = Math.max(-1, Math.min(1, a[i]));
      expect(p.ctrl[i], `ctrl ${i}`).to.be.closeTo(lo + ((u + 1) / 2) * (hi - lo), 1e-15);
    }
  });

  it('an out-of-range action behaves exactly as its clipped value', async () => {
    using env = await makeEnv('hopper-stand', { seed: 1 });
    const big = randomActions(30, 4, 2, 4);
    const clipped = big.map((a) => a.map((v) => Math.max(-1, Math.min(1, v))));
    expect(bits(rollout(env, 9, big))).to.equal(bits(rollout(env, 9, clipped)));
  });
});

describe('rl env: disposal', () => {
  it('dispose is idempotent and a disposed environment throws when used', async () => {
    const env = await makeEnv('cartpole-swingup', { seed: 1 });
    env.reset();
    env.dispose();
    env.dispose();
    env[Symbol.dispose]();
    expect(env.disposed).to.equal(true);
    expect(() => env.step([0])).to.throw(Error, /disposed/);
    expect(() => env.reset()).to.throw(Error, /disposed/);
    expect(() => env.physics).to.throw(Error, /disposed/);
  });

  it('`using` disposes at the end of the block', async () => {
    let kept: MujocoEnv;
    {
      using env = await makeEnv('pendulum-swingup', { seed: 1 });
      kept = env;
      env.reset();
    }
    expect(kept.disposed).to.equal(true);
  });
});

/** Resets, puts the model in qpos0 changed by `pose`, takes one zero-action step: its reward. */
async function rewardAt(task: string, pose: (qpos: Float64Array, qvel: Float64Array, env: MujocoEnv) => void): Promise<number> {
  using env = await makeEnv(task, { seed: 8 });
  env.reset();
  const qpos = Float64Array.from(env.physics.modelArray('qpos0'));
  const qvel = new Float64Array(env.physics.nv);
  pose(qpos, qvel, env);
  env.setState(qpos, qvel);
  return env.step(new Float32Array(env.actionSpec.shape[0])).reward;
}

describe('rl env: sanity per task', () => {
  it('pendulum-swingup: upright earns 1, hanging 0 (sparse within 8°, dm_control\'s _ANGLE_BOUND)', async () => {
    expect(await rewardAt('pendulum-swingup', () => {})).to.equal(1);
    expect(await rewardAt('pendulum-swingup', (q) => { q[0] = Math.PI; })).to.equal(0);
    expect(await rewardAt('pendulum-swingup', (q) => { q[0] = (7 * Math.PI) / 180; })).to.equal(1);
    expect(await rewardAt('pendulum-swingup', (q) => { q[0] = (-7 * Math.PI) / 180; })).to.equal(1);
    expect(await rewardAt('pendulum-swingup', (q) => { q[0] = (9 * Math.PI) / 180; })).to.equal(0);
    expect(await rewardAt('pendulum-swingup', (q) => { q[0] = (20 * Math.PI) / 180; })).to.equal(0);
  });

  it('pendulum-swingup: the observation is (cos θ, sin θ, θ̇)', async () => {
    using env = await makeEnv('pendulum-swingup', { seed: 1 });
    env.reset();
    const obs = env.setState([0.7], [-1.25]);
    expect(obs[0]).to.be.closeTo(Math.cos(0.7), 1e-6);
    expect(obs[1]).to.be.closeTo(Math.sin(0.7), 1e-6);
    expect(obs[2]).to.equal(-1.25);
  });

  it('observations after a step describe the state qpos/qvel hold (Euler split step and RK4)', async () => {
    using pendulum = await makeEnv('pendulum-swingup', { seed: 2 });
    using cartpole = await makeEnv('cartpole-swingup', { seed: 2 });
    pendulum.reset();
    cartpole.reset();
    for (let i = 0; i < 20; i++) {
      const o = pendulum.step([Math.sin(i)]).observation;
      const q = pendulum.physics.qpos[0];
      // 1e-7: float32 rounding (≤ 6e-8 here), well below the 1e-6 lag of a stale xmat.
      expect(o[0], `pendulum step ${i}`).to.be.closeTo(Math.cos(q), 1e-7);
      expect(o[1], `pendulum step ${i}`).to.be.closeTo(Math.sin(q), 1e-7);
      expect(o[2]).to.equal(Math.fround(pendulum.physics.qvel[0]));
      const c = cartpole.step([Math.cos(i)]).observation;
      const cq = cartpole.physics.qpos;
      expect(c[0]).to.equal(Math.fround(cq[0]));
      expect(c[1], `cartpole step ${i}`).to.be.closeTo(Math.cos(cq[1]), 1e-7);
      expect(c[2], `cartpole step ${i}`).to.be.closeTo(Math.sin(cq[1]), 1e-7);
    }
  });

  it('cartpole-swingup: balanced and centred earns ~1, hanging ~0, and the start hangs', async () => {
    expect(await rewardAt('cartpole-swingup', () => {})).to.be.above(0.99);
    expect(await rewardAt('cartpole-swingup', (q) => { q[1] = Math.PI; })).to.be.below(0.01);
    using env = await makeEnv('cartpole-swingup', { seed: 3 });
    const obs = env.reset();
    expect(obs[1]).to.be.below(-0.99); // cos θ of a hanging pole
    expect(Math.abs(obs[0])).to.be.below(0.05);
  });

  it('reacher-easy: the fingertip on the target earns 1 and to_target is ~0; far away earns 0', async () => {
    using env = await makeEnv('reacher-easy', { seed: 1 });
    for (const seed of [1, 2, 3]) {
      env.reset(seed);
      const p = env.physics;
      const t = p.id('geom', 'target');
      const tx = p.modelArray('geom_pos')[3 * t];
      const ty = p.modelArray('geom_pos')[3 * t + 1];
      const r = Math.hypot(tx, ty);
      expect(r).to.be.within(0.05, 0.2);
      // Two-link inverse kinematics, both links 0.12 m (shoulder to wrist, wrist to fingertip).
      const L = 0.12;
      const wrist = Math.acos(Math.max(-1, Math.min(1, (r * r - 2 * L * L) / (2 * L * L))));
      const shoulder = Math.atan2(ty, tx) - Math.atan2(L * Math.sin(wrist), L + L * Math.cos(wrist));
      const obs = env.setState([shoulder, wrist], [0, 0]);
      expect(Math.hypot(obs[2], obs[3]), `seed ${seed}: |to_target|`).to.be.below(1e-6);
      expect(env.step([0, 0]).reward).to.equal(1);
      env.setState([Math.atan2(ty, tx) + Math.PI, 0], [0, 0]); // arm stretched away from the target
      expect(env.step([0, 0]).reward).to.equal(0);
    }
  });

  it('cheetah-run: 12 m/s forward earns 1, standing still 0, 5 m/s one half', async () => {
    expect(await rewardAt('cheetah-run', (q, v) => { q[1] = 1; v[0] = 12; })).to.equal(1);
    expect(await rewardAt('cheetah-run', () => {})).to.equal(0);
    // In the air, x velocity is untouched by gravity: exactly linear(5 m/s) = 0.5.
    expect(await rewardAt('cheetah-run', (q, v) => { q[1] = 1; v[0] = 5; })).to.be.closeTo(0.5, 1e-9);
  });

  it('walker-walk: upright at 1.5 m/s earns ~1, upright and still 1/6, lying ~0', async () => {
    expect(await rewardAt('walker-walk', (q, v) => { v[1] = 1.5; })).to.be.above(0.99);
    expect(await rewardAt('walker-walk', () => {})).to.be.closeTo(1 / 6, 1e-6);
    expect(await rewardAt('walker-walk', (q) => { q[0] = -1.2; q[2] = Math.PI / 2; })).to.be.below(0.05);
  });

  it('hopper-stand: upright earns 1, lying on the floor 0', async () => {
    expect(await rewardAt('hopper-stand', () => {})).to.equal(1);
    expect(await rewardAt('hopper-stand', (q) => { q[1] = -0.9; q[2] = Math.PI / 2; })).to.equal(0);
  });

  describe('humanoid', function () {
    before(function () {
      if (!HUMANOID_PRESENT) {
        console.log(`      humanoid sanity checks skipped: ${HUMANOID_REASON}`);
        this.skip();
      }
    });

    const lying = (q: Float64Array) => { q[2] = 0.2; q[3] = Math.SQRT1_2; q[4] = Math.SQRT1_2; q[5] = 0; q[6] = 0; };

    it('humanoid-stand: upright and still earns ~1, lying ~0', async () => {
      expect(await rewardAt('humanoid-stand', () => {})).to.be.above(0.99);
      expect(await rewardAt('humanoid-stand', lying)).to.be.below(1e-6);
    });

    it('humanoid-walk: upright at 1.5 m/s earns ~1, upright and still 1/6', async () => {
      expect(await rewardAt('humanoid-walk', (q, v) => { v[0] = 1.5; })).to.be.above(0.99);
      expect(await rewardAt('humanoid-walk', () => {})).to.be.closeTo(1 / 6, 1e-3);
      expect(await rewardAt('humanoid-walk', lying)).to.be.below(1e-6);
    });

    it('humanoid-run: 12 m/s earns ~1, 1.5 m/s (5·0.15 + 1)/6', async () => {
      expect(await rewardAt('humanoid-run', (q, v) => { v[0] = 12; })).to.be.above(0.99);
      const at15 = (5 * tolerance(1.5, [10, Infinity], 10, 'linear', 0) + 1) / 6;
      expect(await rewardAt('humanoid-run', (q, v) => { v[0] = 1.5; })).to.be.closeTo(at15, 1e-3);
    });

    it('starts untouched by contacts, the extremities in the torso frame', async () => {
      using env = await makeEnv('humanoid-stand', { seed: 3 });
      for (const seed of [1, 2, 3, 4]) {
        env.reset(seed);
        expect(env.physics.data.ncon, `seed ${seed}`).to.equal(0);
      }
      const q = Float64Array.from(env.physics.modelArray('qpos0'));
      const obs = env.setState(q, new Float64Array(env.physics.nv));
      // Upright, identity torso frame: left hand (+y), feet below (−z); torso z row (0, 0, 1).
      expect(obs[21]).to.be.closeTo(1.5 + 0.19, 1e-6); // head height
      expect(obs[22 + 1]).to.be.above(0.1); // left hand y
      expect(obs[22 + 3 + 2]).to.be.below(-1); // left foot z
      expect(obs[22 + 9 + 2]).to.be.below(-1); // right foot z
      expect(Array.from(obs.subarray(34, 37))).to.deep.equal([0, 0, 1]);
    });
  });
});

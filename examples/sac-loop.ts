/**
 * SAC with ERA from its parts: a MuJoCo environment, the device replay buffer and the SAC agent,
 * in a training loop you can change. (`era train sac` runs the same parts with logging,
 * checkpoints and curves; `era.rl.trainSac` is that loop as a function.)
 *
 * The agent's policy draws its log σ through era.gaussian, which holds the Gaussian's entropy at
 * entropyPerDim nats per action dimension: there is no α and no log π term to tune.
 *
 *   npx tsx examples/sac-loop.ts [--steps 6000] [--device cpu|cuda]
 *
 * The default 6000 steps take about ten seconds on two CPU cores. Returns lie in [0, 1000] (a
 * decision earns the rewards of its 8 control steps, each in [0, 1]); random actions' return is
 * printed first for comparison.
 */
import { parseArgs } from 'node:util';

import era, { type Device } from 'era-cuda';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '6000' }, device: { type: 'string' } } });
const steps = Number(values.steps);
if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`Expected a positive integer for --steps but received '${values.steps}'`);
const deviceArg = values.device ?? era.defaultDevice();
if (deviceArg !== 'cpu' && deviceArg !== 'cuda') throw new RangeError(`Expected 'cpu' or 'cuda' for --device but received '${deviceArg}'`);
const device: Device = deviceArg;

const TASK = 'cartpole-balance';
const ACTION_REPEAT = 8; // each decision held for 8 control steps: 125 decisions per episode
const WARMUP = 1000; // uniform random actions before the first update
const BATCH = 64;
const EVAL_EVERY = 1000;

const env = await era.rl.makeEnv(TASK, { actionRepeat: ACTION_REPEAT, seed: 0 });
const evalEnv = await era.rl.makeEnv(TASK, { actionRepeat: ACTION_REPEAT, seed: 1 });
const obsSize = env.observationSize;
const actSize = env.actionSize;

// The SAC-ERA recipe scaled down to a small task: narrower networks, a smaller batch, faster rates.
const agent = new era.rl.SacAgent({
  observationSize: obsSize, actionSize: actSize, device, seed: 0,
  hidden: 64, batchSize: BATCH, actorLr: 1e-3, criticLr: 1e-3, entropyPerDim: 0.25,
});
const buffer = new era.rl.ReplayBuffer({ capacity: steps, observationSize: obsSize, actionSize: actSize, device });

/** Mean return of `episodes` episodes on evalEnv, acting with `policy`. */
function evaluate(policy: (obs: Float32Array) => Float32Array, episodes = 2): number {
  let total = 0;
  for (let ep = 0; ep < episodes; ep++) {
    let obs = evalEnv.reset();
    for (;;) {
      const r = evalEnv.step(policy(obs));
      total += r.reward;
      obs = r.observation;
      if (r.terminated || r.truncated) break;
    }
  }
  return total / episodes;
}

const explore = new era.Generator(2); // the warm-up's random actions, seeded
const randomAction = (): Float32Array =>
  era.scope(() => era.uniform([actSize], { low: -1, high: 1, generator: explore, device: 'cpu' }).toArray() as Float32Array);
const deterministic = (obs: Float32Array): Float32Array => agent.act(obs, { deterministic: true });
const randomReturn = evaluate(randomAction, 5);
console.log(`era SAC example: SAC+ERA on ${TASK} (${obsSize} observations, ${actSize} action), ${steps} steps on ${device}`);
console.log(`  random actions: return ${randomReturn.toFixed(1)}`);
console.log(`  ERA holds the Gaussian's entropy at ${agent.targetEntropy} nats before the truncation to [-1, 1], ` +
  'which lowers the entropy printed below (that of the actions drawn)');

let lastReturn = NaN;
try {
  const action = new Float32Array(actSize);
  const mask = new Float32Array([1]); // no terminal states in these tasks: always bootstrap
  let obs = env.reset(0);
  for (let step = 0; step < steps; step++) {
    if (step < WARMUP) action.set(randomAction());
    else agent.act(obs, { out: action }); // a draw from the truncated-normal policy
    const r = env.step(action);
    buffer.add(obs, action, [r.reward], r.observation, mask);
    obs = r.truncated ? env.reset() : r.observation;
    if (step + 1 >= WARMUP) agent.update(buffer.sample(BATCH, agent.generator));
    if ((step + 1) % EVAL_EVERY === 0 || step + 1 === steps) {
      const m = agent.metrics();
      lastReturn = evaluate(deterministic);
      console.log(`  step ${step + 1}: evaluation return ${lastReturn.toFixed(1)}` +
        (m ? `, critic loss ${m.criticLoss[0].toFixed(4)}, policy entropy ${m.entropy[0].toFixed(3)} nats` : ''));
    }
  }
} finally {
  agent.dispose();
  buffer.dispose();
  env.dispose();
  evalEnv.dispose();
}

// What this example claims, checked (a failed check exits non-zero).
if (!(lastReturn >= 0 && lastReturn <= 1000)) throw new Error(`evaluation return ${lastReturn} outside [0, 1000]`);
if (steps >= 6000 && !(lastReturn > 1.5 * randomReturn)) {
  throw new Error(`after ${steps} steps the policy's return ${lastReturn} is not clearly above random actions' ${randomReturn}`);
}

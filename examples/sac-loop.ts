/**
 * SAC with ERA from its parts: a MuJoCo environment, the device replay buffer and the SAC agent,
 * in a training loop you can change. (`era train sac` runs the same parts with logging,
 * checkpoints and curves; `era.rl.trainSac` is that loop as a function.)
 *
 * The agent's policy draws its log σ through era.gaussian, which holds the Gaussian's entropy at
 * entropyPerDim nats per action dimension: there is no α and no log π term to tune. ERA shares
 * that budget among the action dimensions through a softmax over them, so it needs a task with
 * several: cheetah-run has six. (With a single action dimension log σ is pinned to one value and
 * the policy learns nothing about it.)
 *
 *   npx tsx examples/sac-loop.ts [--steps 8000] [--device cpu|cuda]
 *
 * The default 8000 steps take about 13 seconds on two CPU cores. Returns lie in [0, 1000] (a
 * decision earns the rewards of its 4 control steps, each in [0, 1]); random actions' return is
 * printed first for comparison.
 */
import { parseArgs } from 'node:util';

import era, { type Device } from 'era-cuda';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '8000' }, device: { type: 'string' } } });
const steps = Number(values.steps);
if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`Expected a positive integer for --steps but received '${values.steps}'`);
const deviceArg = values.device ?? era.defaultDevice();
if (deviceArg !== 'cpu' && deviceArg !== 'cuda') throw new RangeError(`Expected 'cpu' or 'cuda' for --device but received '${deviceArg}'`);
const device: Device = deviceArg;

const TASK = 'cheetah-run';
const ACTION_REPEAT = 4; // each decision held for 4 control steps: 250 decisions per episode
const WARMUP = 1000; // uniform random actions before the first update
const BATCH = 64;
const EVAL_EVERY = 1000;

// Everything below holds device memory or a MuJoCo model: `using` disposes it when the program ends.
using env = await era.rl.makeEnv(TASK, { actionRepeat: ACTION_REPEAT, seed: 0 });
using evalEnv = await era.rl.makeEnv(TASK, { actionRepeat: ACTION_REPEAT, seed: 1 });
const obsSize = env.observationSize;
const actSize = env.actionSize;

// The SAC-ERA recipe scaled down to a small task: narrower networks, a smaller batch, faster rates.
using agent = new era.rl.SacAgent({
  observationSize: obsSize, actionSize: actSize, device, seed: 0,
  hidden: 64, batchSize: BATCH, actorLr: 1e-3, criticLr: 1e-3, entropyPerDim: 0.25,
});
using buffer = new era.rl.ReplayBuffer({ capacity: steps, observationSize: obsSize, actionSize: actSize, device });

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
console.log(`era SAC example: SAC+ERA on ${TASK} (${obsSize} observations, ${actSize} actions), ${steps} steps on ${device}`);
console.log(`  random actions: return ${randomReturn.toFixed(1)}`);
console.log(`  ERA holds the Gaussian's entropy at ${agent.targetEntropy} nats (${actSize} × ${agent.config.entropyPerDim}) before the ` +
  'truncation to [-1, 1], which lowers the entropy printed below (that of the actions drawn)');

// ERA holds the Gaussian's entropy at the target. Truncating to [-1, 1] a Gaussian centred in it
// with σ ≤ 1 (ERA keeps log σ ≤ 0) removes 0 to 0.86 nats per dimension, so the drawn actions'
// entropy lies in [target − 0.86·D, target]. The printed figure estimates it from the update's 64
// draws (noise about √(D/2)/8 ≈ 0.2 nats): the check allows 1 nat more either side.
const entropyRange = [agent.targetEntropy - 0.86 * actSize - 1, agent.targetEntropy + 1];
const returns: number[] = [];
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
    const m = agent.metrics(); // reads the latest update's figures back (a synchronisation)
    returns.push(evaluate(deterministic));
    console.log(`  step ${step + 1}: evaluation return ${returns.at(-1)!.toFixed(1)}` +
      (m ? `, critic loss ${m.criticLoss[0].toFixed(4)}, policy entropy ${m.entropy[0].toFixed(3)} nats` : ''));
    // What this example claims, checked as it goes (a failed check exits non-zero).
    if (m && ![m.criticLoss[0], m.actorLoss[0], m.entropy[0]].every(Number.isFinite)) {
      throw new Error(`step ${step + 1}: non-finite metrics ${JSON.stringify(m)}`);
    }
    if (m && !(m.entropy[0] >= entropyRange[0] && m.entropy[0] <= entropyRange[1])) {
      throw new Error(`step ${step + 1}: policy entropy ${m.entropy[0]} outside [${entropyRange}] for ERA's target ${agent.targetEntropy}`);
    }
  }
}

// Evaluation returns swing from one policy to the next this early in training: judge the mean of
// the last three evaluations.
const last = returns.slice(-3);
const recent = last.reduce((s, v) => s + v, 0) / last.length;
console.log(`  mean of the last ${last.length} evaluations: ${recent.toFixed(1)}`);
if (!returns.every((v) => v >= 0 && v <= 1000)) throw new Error(`an evaluation return left [0, 1000]: ${returns}`);
if (steps >= 6000 && !(recent > 2 * randomReturn)) {
  throw new Error(`after ${steps} steps the policy's recent return ${recent} is not clearly above random actions' ${randomReturn}`);
}

/**
 * `era demo` / `npm start`: the embedded default. Trains SAC+ERA on a small task with settings sized
 * to learn visibly in about 15 s on two otherwise idle CPU cores (measured: 13 s of training in a
 * 15 s command; on a GPU it is quicker), then names the learning curve it wrote.
 */
import path from 'node:path';

import { trainSac, type TrainSacOptions } from '../rl/sac/trainer.js';
import { deviceFlag, int } from './flags.js';

/** The demo's settings: the SAC-ERA recipe scaled down (smaller networks, batch and warm-up). */
export const DEMO_SETTINGS: Readonly<TrainSacOptions> = Object.freeze({
  task: 'cartpole-balance',
  // Each action held for 8 control steps (the action repeat pixel-based DMC benchmarks use for
  // cartpole): 125 decisions per episode, so value propagates in few updates.
  actionRepeat: 8,
  steps: 8000,
  seeds: 2,
  hidden: 64,
  batchSize: 64,
  warmupSteps: 1000,
  updatesPerStep: 1,
  actorLr: 1e-3,
  criticLr: 1e-3,
  evalEvery: 1000,
  evalEpisodes: 2,
  checkpointEvery: 8000,
  logEvery: 500,
  saveReplay: false,
});

export async function runDemo(opts: { out?: string; steps?: string; device?: string }): Promise<void> {
  const steps = int(opts.steps, '--steps', 1) ?? DEMO_SETTINGS.steps;
  const device = deviceFlag(opts.device);
  const outDir = path.resolve(opts.out ?? 'runs/demo');
  console.log(`era demo: SAC+ERA on ${DEMO_SETTINGS.task}, ${steps} steps × ${DEMO_SETTINGS.seeds} seeds, hidden ${DEMO_SETTINGS.hidden}`);
  const result = await trainSac({ ...DEMO_SETTINGS, steps, device, outDir, variant: 'era' });
  const first = result.evaluations[0];
  const last = result.evaluations[result.evaluations.length - 1];
  const avg = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  console.log(`evaluation return: ${avg(first.returns).toFixed(1)} at step ${first.step} → ${avg(last.returns).toFixed(1)} at step ${last.step}`);
  console.log(`${result.stepsPerSecond.toFixed(0)} env steps/s, ${result.updatesPerSecond.toFixed(0)} updates/s, ${result.seconds.toFixed(0)} s`);
  console.log(`learning curve: ${[result.curve?.svg, result.curve?.png].filter(Boolean).join(' and ')}`);
  console.log(`metrics: ${result.metricsPath}`);
}

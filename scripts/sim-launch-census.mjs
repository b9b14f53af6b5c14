#!/usr/bin/env node
// How many kernels one SAC update launches, by kernel, counted in the CUDA simulator: the kernel
// count is what bounds a small update on a GPU (each launch or graph node costs microseconds
// whatever its size). Runs a child process with ERA_SIM_TRACE=1 (native/sim/fiber.cc prints one
// line per grid run) and counts the lines of the second update (the first allocates).
//
//   npm run build && npm run build:sim
//   node scripts/sim-launch-census.mjs [--variant era|sac] [--seeds S] [--graph]
//
// The sizes are small (hidden 64, batch 32): the count does not depend on them.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MARK = '=== era census: start';
const END = '=== era census: end';

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function child() {
  const { SacAgent } = await import(pathToFileURL(path.join(root, 'dist/lib/rl/sac/agent.js')).href);
  const { ReplayBuffer } = await import(pathToFileURL(path.join(root, 'dist/lib/rl/replay.js')).href);
  const seeds = Number(option('--seeds', '1'));
  const variant = option('--variant', 'era');
  const graph = process.argv.includes('--graph');
  const OBS = 67, ACT = 21, B = 32;
  const agent = new SacAgent({ observationSize: OBS, actionSize: ACT, seeds, hidden: 64, batchSize: B, variant, graph, device: 'cuda', seed: 1 });
  const buffer = new ReplayBuffer({ seeds, capacity: 1000, observationSize: OBS, actionSize: ACT, device: 'cuda', stagingRows: 100 });
  const row = (n, v) => new Float32Array(seeds * n).fill(v);
  for (let i = 0; i < 100; i++) buffer.add(row(OBS, 0.1), row(ACT, 0.2), row(1, 1), row(OBS, 0.3), row(1, 1));
  buffer.flush();
  agent.update(buffer.sample(B, agent.generator));
  agent.metrics();
  process.stderr.write(`${MARK}\n`);
  agent.update(buffer.sample(B, agent.generator));
  agent.metrics();
  process.stderr.write(`${END}\n`);
  agent.dispose();
  buffer.dispose();
}

function parent() {
  const addon = path.join(root, 'build-sim/Release/era_cuda_sim.node');
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', ...process.argv.slice(2)], {
    env: { ...process.env, ERA_ADDON_PATH: addon, ERA_REQUIRE_CUDA: '1', ERA_SIM_TRACE: '1' },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const err = r.stderr ?? '';
  const a = err.indexOf(MARK), b = err.indexOf(END);
  if (r.status !== 0 || a < 0 || b < 0) {
    console.error(err.split('\n').filter((l) => !l.startsWith('era-sim: run')).join('\n'));
    console.error(`sim-launch-census: the run failed (exit ${r.status}); is ${addon} built (npm run build:sim) and dist/ compiled (npm run build)?`);
    process.exit(1);
  }
  const counts = new Map();
  let total = 0;
  for (const line of err.slice(a, b).split('\n')) {
    const m = /^era-sim: run (\S+) grid/.exec(line);
    if (!m) continue;
    counts.set(m[1], (counts.get(m[1]) ?? 0) + 1);
    total++;
  }
  for (const [name, n] of [...counts].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))) console.log(`${String(n).padStart(5)}  ${name}`);
  console.log(`${total} kernels in one update (GEMMs are the ones named "kernel")`);
}

if (process.argv.includes('--child')) await child();
else parent();

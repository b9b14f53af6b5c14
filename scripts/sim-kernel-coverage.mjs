#!/usr/bin/env node
// Which CUDA kernels a simulator run ran: compares the "name threads" lines the simulator
// appends to $ERA_SIM_LAUNCH_LOG (native/sim/fiber.cc) with every __global__ function in
// native/cuda/. Usage: ERA_SIM_LAUNCH_LOG=/tmp/launches.txt npm run test:sim
//                      node scripts/sim-kernel-coverage.mjs /tmp/launches.txt
// Exits 1 when a kernel never ran.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const log = process.argv[2];
if (!log) {
  console.error('usage: node scripts/sim-kernel-coverage.mjs <launch log>');
  process.exit(2);
}
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cudaDir = path.join(root, 'native', 'cuda');
const kernels = new Map();  // name -> file
for (const f of fs.readdirSync(cudaDir).filter((f) => /\.cuh?$/.test(f)).sort()) {
  const text = fs.readFileSync(path.join(cudaDir, f), 'utf8');
  for (const m of text.matchAll(/__global__\s+void\s+(?:__launch_bounds__\([^)]*\)\s+)?(\w+)/g)) kernels.set(m[1], f);
}
const launches = new Map();
for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
  const m = /^(\S+) (\d+)$/.exec(line.trim());
  if (!m) continue;
  launches.set(m[1], (launches.get(m[1]) ?? 0) + Number(m[2]));
}
const rows = [...kernels].map(([name, file]) => ({ name, file, n: launches.get(name) ?? 0 }));
for (const r of rows) console.log(`${String(r.n).padStart(14)} threads  ${r.name} (${r.file})`);
const missing = rows.filter((r) => r.n === 0);
console.log(`${rows.length - missing.length} of ${rows.length} kernels ran` + (missing.length ? `; never: ${missing.map((r) => r.name).join(', ')}` : ''));
process.exit(missing.length ? 1 : 0);

/**
 * The package from worker threads. The addon keeps its per-thread state (the EraError class, the
 * tensor constructor) as Node-API instance data and its CUDA context, allocator and staging
 * buffers behind locks, so several threads may use it at once: each gets its own error class, and
 * work from two threads at the same time gives what one thread alone gives.
 */
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { describeCuda, runningFromSource } from './helpers.js';
import { seededSum, workerOutcome, type WorkerOutcome } from './worker-ops.js';

const workerModule = fileURLToPath(new URL(`./worker-ops.${runningFromSource ? 'ts' : 'js'}`, import.meta.url));

// From source the worker loads the TypeScript module through tsx's API (tsx's --import hook does
// not reach worker threads on Node 20).
const WORKER_BODY = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const mod = workerData.fromSource
    ? await (await import('tsx/esm/api')).tsImport(workerData.module, workerData.parent)
    : await import(workerData.module);
  parentPort.postMessage(mod.workerOutcome(workerData.device));
})().catch((e) => parentPort.postMessage({ failed: String((e && e.stack) || e) }));
`;

function runWorker(device: 'cpu' | 'cuda'): Promise<WorkerOutcome & { failed?: string }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_BODY, {
      eval: true,
      workerData: { module: workerModule, parent: import.meta.url, fromSource: runningFromSource, device },
    });
    worker.once('message', (m: WorkerOutcome & { failed?: string }) => {
      void worker.terminate();
      resolve(m);
    });
    worker.once('error', reject);
  });
}

async function twoWorkersAtOnce(device: 'cpu' | 'cuda'): Promise<void> {
  const want = seededSum(device);
  const results = await Promise.all([runWorker(device), runWorker(device)]);
  for (const [i, r] of results.entries()) {
    expect(r.failed, `worker ${i}`).to.equal(undefined);
    expect(r.sum, `worker ${i}: the same numbers as this thread`).to.deep.equal(want);
    expect(r.error?.isEraError, `worker ${i}: an EraError of the worker's own class (${r.error?.message})`).to.equal(true);
    expect(r.error?.message).to.match(/disposed/);
  }
  // This thread's addon still throws this thread's class.
  expect(workerOutcome(device).error?.isEraError, 'this thread').to.equal(true);
}

describe('worker threads', function () {
  this.timeout(120_000);

  it('two workers on the CPU at once: the same results as this thread, each with its own EraError', async () => {
    await twoWorkersAtOnce('cpu');
  });
});

describeCuda('worker threads on CUDA', function () {
  this.timeout(300_000);

  it('two workers on CUDA at once: the same results as this thread, each with its own EraError', async () => {
    await twoWorkersAtOnce('cuda');
  });
});

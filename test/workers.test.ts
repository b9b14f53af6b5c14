/**
 * The package from worker threads. The addon keeps its per-thread state (the EraError class, the
 * tensor constructor) as Node-API instance data and its CUDA context, allocator and staging
 * buffers behind locks, so several threads may use it at once: each gets its own error class, and
 * work from two threads at the same time gives what one thread alone gives.
 */
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import era from '../lib/index.js';
import { describeCuda, runningFromSource } from './helpers.js';
import { RACE, RACE_OUTCOME, seededSum, workerOutcome, type WorkerOutcome } from './worker-ops.js';

const workerModule = fileURLToPath(new URL(`./worker-ops.${runningFromSource ? 'ts' : 'js'}`, import.meta.url));

// From source the worker loads the TypeScript module through tsx's API (tsx's --import hook does
// not reach worker threads on Node 20).
const WORKER_BODY = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const mod = workerData.fromSource
    ? await (await import('tsx/esm/api')).tsImport(workerData.module, workerData.parent)
    : await import(workerData.module);
  if (workerData.cells) {
    const values = mod.recordingRace(new Int32Array(workerData.cells), () => parentPort.postMessage('ready'));
    parentPort.postMessage({ values });
  } else {
    parentPort.postMessage(mod.workerOutcome(workerData.device));
  }
})().catch((e) => parentPort.postMessage({ failed: String((e && e.stack) || e) }));
`;

function startWorker(device: 'cpu' | 'cuda', cells?: SharedArrayBuffer): Worker {
  return new Worker(WORKER_BODY, {
    eval: true,
    workerData: { module: workerModule, parent: import.meta.url, fromSource: runningFromSource, device, cells },
  });
}

function runWorker(device: 'cpu' | 'cuda'): Promise<WorkerOutcome & { failed?: string }> {
  return new Promise((resolve, reject) => {
    const worker = startWorker(device);
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

  it("a worker's op while this thread records a graph is refused (it would land in the graph), and runs after", async () => {
    const cells = new Int32Array(new SharedArrayBuffer(16));
    const worker = startWorker('cuda', cells.buffer as SharedArrayBuffer);
    try {
      const messages: unknown[] = [];
      let wake: () => void = () => {};
      worker.on('message', (m) => {
        messages.push(m);
        wake();
      });
      worker.once('error', (e) => messages.push({ failed: String(e) }));
      const next = async () => {
        while (messages.length === 0) await new Promise<void>((r) => (wake = r));
        return messages.shift();
      };
      expect(await next(), 'the worker is ready').to.equal('ready');
      const x = era.zeros([4], { device: 'cuda' });
      const graph = era.captureGraph(() => {
        era.scale(x, 3, { out: x });
        Atomics.store(cells, RACE.recording, 1);
        Atomics.notify(cells, RACE.recording);
        expect(Atomics.wait(cells, RACE.tried, 0, 60_000), 'the worker tried its op').to.not.equal('timed-out');
      }, { device: 'cuda', warmup: 0 });
      Atomics.store(cells, RACE.recording, 2);
      Atomics.notify(cells, RACE.recording);
      expect(Atomics.load(cells, RACE.outcome), 'refused as another thread\'s recording').to.equal(RACE_OUTCOME.refused);
      expect(await next(), 'the op ran once the recording ended').to.deep.equal({ values: [2, 2, 2, 2, 2, 2, 2, 2] });
      expect(graph.nodes, "only this thread's op was recorded").to.equal(1);
      graph.dispose();
      x.dispose();
    } finally {
      await worker.terminate();
    }
  });
});

/**
 * The work test/workers.test.ts runs in worker threads and on the main thread. One module, so a
 * worker loads lib/ once (through the same module graph) and its native() and EraError agree.
 */
import era from '../lib/index.js';
import { native } from '../lib/native.js';

export interface WorkerOutcome {
  sum: number[];
  /** What a native-thrown error looked like (a disposed tensor past the TS checks). */
  error: { isEraError: boolean; message: string } | null;
}

/** A seeded computation on `device` (normal draws, a matmul, scale and add, 50 times over). */
export function seededSum(device: 'cpu' | 'cuda'): number[] {
  return era.scope(() => {
    const x = era.normal([33, 17], { seed: 7, device });
    const w = era.normal([17, 9], { seed: 8, device });
    const acc = era.zeros([33, 9], { device });
    for (let i = 0; i < 50; i++) {
      era.scope(() => {
        era.add(acc, era.scale(era.nn.functional.matmul(x, w), 0.01 * (i + 1)), { out: acc });
      });
    }
    return Array.from(acc.toArray());
  });
}

/** seededSum, then an error thrown by the addon itself. */
export function workerOutcome(device: 'cpu' | 'cuda'): WorkerOutcome {
  const sum = seededSum(device);
  const gone = era.zeros([2], { device });
  gone.dispose();
  let error: WorkerOutcome['error'] = null;
  try {
    native().fill(gone.handle, 1);
  } catch (e) {
    error = { isEraError: e instanceof era.EraError, message: (e as Error).message };
  }
  return { sum, error };
}

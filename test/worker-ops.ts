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

/** The cells of the SharedArrayBuffer that recordingRace coordinates through (Int32Array indices). */
export const RACE = { recording: 0, tried: 1, outcome: 2 } as const;
/** RACE.outcome values. */
export const RACE_OUTCOME = { refused: 1, ran: 2, otherError: 3 } as const;

/**
 * A worker's side of the recording race: with a CUDA tensor made beforehand, waits until the main
 * thread records a graph, tries an op, notes whether the addon refused it as another thread's
 * recording (RangeError naming the op), and wakes the main thread. Then, the recording over, runs
 * the op again and returns its values.
 */
export function recordingRace(cells: Int32Array, ready: () => void): number[] {
  const t = era.ones([8], { device: 'cuda' });
  ready();
  Atomics.wait(cells, RACE.recording, 0, 60_000);
  let outcome: number = RACE_OUTCOME.ran;
  try {
    era.scale(t, 2).dispose();
  } catch (e) {
    const refused = e instanceof RangeError && /another thread is recording a CUDA graph/.test((e as Error).message);
    outcome = refused ? RACE_OUTCOME.refused : RACE_OUTCOME.otherError;
  }
  Atomics.store(cells, RACE.outcome, outcome);
  Atomics.store(cells, RACE.tried, 1);
  Atomics.notify(cells, RACE.tried);
  Atomics.wait(cells, RACE.recording, 1, 60_000); // until the main thread's recording has ended
  const values = Array.from(era.scale(t, 2).toArray());
  t.dispose();
  return values;
}

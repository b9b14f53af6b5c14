/** `era tour`: a short tour of the tensor basics on the default device, with timings. */
import { performance } from 'node:perf_hooks';

import { add, defaultDevice, memory, normal, scale, scope, synchronize, uniform } from '../index.js';

function stats(a: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < a.length; i++) {
    s += a[i];
    s2 += a[i] * a[i];
  }
  const mean = s / a.length;
  return { mean, std: Math.sqrt(Math.max(s2 / a.length - mean * mean, 0)) };
}

export function runTour(size: number): void {
  if (!Number.isInteger(size) || size <= 0) throw new RangeError(`Expected a positive integer for --size but received ${size}`);
  const device = defaultDevice();
  console.log(`era tour on ${device}: ${size.toLocaleString()} elements per tensor`);
  scope(() => {
    const t0 = performance.now();
    const x = normal([size], { seed: 1, device });
    const u = uniform([size], { seed: 2, device, low: -1, high: 1 });
    const y = add(scale(x, 2), u, { alpha: 0.5 }); // 2x + 0.5u
    synchronize();
    const ms = performance.now() - t0;
    const sx = stats(x.toArray());
    const sy = stats(y.toArray());
    console.log(`  x ~ N(0,1):            mean ${sx.mean.toFixed(4)}, std ${sx.std.toFixed(4)}`);
    console.log(`  y = 2x + 0.5u, u~U(-1,1): mean ${sy.mean.toFixed(4)}, std ${sy.std.toFixed(4)} (expected ≈ ${Math.sqrt(4 + 0.25 / 3).toFixed(4)})`);
    console.log(`  draw + ops: ${ms.toFixed(1)} ms`);
    const m = memory();
    console.log(`  live tensors inside the scope: cpu ${m.cpu.tensors}, cuda ${m.cuda.tensors}`);
  });
  const m = memory();
  console.log(`  after the scope: cpu ${m.cpu.tensors}, cuda ${m.cuda.tensors} live tensors (the scope disposed its temporaries)`);
}

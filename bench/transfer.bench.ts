/**
 * Host<->device transfers of 256 MiB through the library's pinned staging path: h2d writes a JS
 * Float32Array (pageable memory) into a device tensor, d2h reads one back with toArray(out) into a
 * reused JS array (so the figure is the transfer, not V8 zero-filling a fresh 256 MiB array). PCIe, not device memory, bounds them, so they are not
 * compared with the copy ceiling. On the CPU backend the same calls are plain host memcpys.
 */
import era, { type Tensor } from '../lib/index.js';
import { assertNonZero, formatBytes, sameBytes, type BenchCase, type BenchContext, type BenchRun } from './harness.js';

const BYTES = 256 * 2 ** 20;
const N = BYTES / 4;

/** Random host data: a CPU uniform draw (its Float32Array, no copy). */
function hostData(seed: number): { tensor: Tensor; data: Float32Array } {
  const tensor = era.uniform([N], { device: 'cpu', seed, low: -1, high: 1 });
  return { tensor, data: tensor.data as Float32Array };
}

const cpuNote = (ctx: BenchContext, what: string) =>
  ctx.device === 'cpu' ? `cpu backend: ${what} is a host memcpy (no device transfer)` : undefined;

function h2d(ctx: BenchContext): BenchRun {
  const host = hostData(0x42d);
  const dst = era.empty([N], { device: ctx.device });
  return {
    run: () => dst.write(host.data), // returns once staged; the event timer waits for the DMA
    bytes: BYTES,
    compareToCopy: ctx.device === 'cpu',
    note: cpuNote(ctx, 'h2d (Tensor.write)'),
    check() {
      assertNonZero(host.data, 'h2d source');
      if (!sameBytes(dst.toArray(), host.data)) throw new Error('device tensor differs from the host array written');
    },
    dispose() {
      host.tensor.dispose();
      dst.dispose();
    },
  };
}

function d2h(ctx: BenchContext): BenchRun {
  const host = hostData(0xd24);
  const src = era.tensor(host.data, [N], { device: ctx.device });
  const out = new Float32Array(N);
  let last: ArrayBufferView | undefined;
  return {
    run: () => {
      last = src.toArray(out);
    },
    bytes: BYTES,
    compareToCopy: ctx.device === 'cpu',
    note: cpuNote(ctx, 'd2h (Tensor.toArray(out))'),
    check() {
      assertNonZero(host.data, 'd2h source');
      if (!last || !sameBytes(last, host.data)) throw new Error('array read back differs from the tensor contents');
    },
    dispose() {
      last = undefined;
      src.dispose();
      host.tensor.dispose();
    },
  };
}

export const benches: BenchCase[] = [
  { name: `h2d ${formatBytes(BYTES)}`, setup: h2d, repeats: 15 },
  { name: `d2h ${formatBytes(BYTES)}`, setup: d2h, repeats: 15 },
];

/**
 * Device copy bandwidth: era.copy between two same-device tensors. Its GB/s is the ceiling every
 * other bandwidth figure of the run is compared with. The buffers dwarf the cache (1 GiB against
 * the H100's 50 MB L2; 64 MiB on the CPU), so no input rotation is needed.
 */
import era from '../lib/index.js';
import { assertNonZero, formatBytes, randomInput, sameBytes, type BenchCase, type BenchContext, type BenchRun } from './harness.js';

const sizeFor = (device: string) => (device === 'cuda' ? 2 ** 30 : 64 * 2 ** 20);

function setup(ctx: BenchContext): BenchRun {
  const bytes = sizeFor(ctx.device);
  const src = randomInput(ctx, [bytes / 4], 0xc0b1);
  const dst = era.empty([bytes / 4], { device: ctx.device });
  return {
    run: () => era.copy(dst, src),
    bytes: 2 * bytes, // read + write
    check() {
      const want = src.toArray();
      assertNonZero(want, 'copy source');
      if (!sameBytes(dst.toArray(), want)) throw new Error('destination differs from source');
    },
    dispose() {
      src.dispose();
      dst.dispose();
    },
  };
}

// The name carries the size, so it only matches a PyTorch baseline of the same work.
export const benches: BenchCase[] = [
  {
    get name() {
      return `copy ${formatBytes(sizeFor(era.defaultDevice()))}`;
    },
    ceiling: true,
    setup,
  },
];

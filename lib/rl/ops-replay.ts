/**
 * Replay-buffer sampling on the device: uniform row indices from Philox, row gathers and
 * ring-buffer row writes, for one buffer [N, F] or a stack of per-seed buffers [S, N, F] that
 * share the indices (era-spec §1.7: the same indices are used for every seed). One launch each on
 * CUDA; rows are copied as raw elements, so any dtype (f32, i32, bf16) works.
 */
import { defaultDevice, resolveDevice, type Device } from '../device.js';
import { reserveDraw } from '../random.js';
import { tensorArg, type Tensor } from '../tensor.js';
import { integer, optionNames, plainObject, rangeError, typeError } from '../validate.js';
import { generatorArg, guardFresh, outputArg, rlApi, sameDevice, shapeStr, type DrawOptions } from './ops-args.js';

const RANDOM_INDICES_OPTIONS = optionNames('generator', 'seed', 'device', 'out');
const GATHER_ROWS_OPTIONS = optionNames('out', 'checkIndices');

export interface RandomIndicesOptions extends DrawOptions {
  /** Device of a fresh output (default: the default device; with `out`, its device). */
  device?: Device;
  /** Where to write the indices (i32 [count]). */
  out?: Tensor;
}

/**
 * `count` row indices, i32 [count], uniform in [0, high) (1 ≤ high ≤ 2^31): index i is
 * (wᵢ·high) >> 32 for the i-th 32-bit Philox word wᵢ of the generator's stream (a 64-bit
 * multiply-shift, no division, no rejection loop). Each index has probability ⌊2³²/high⌋/2³² or
 * ⌈2³²/high⌉/2³², i.e. within high/2³² (relative) of 1/high: 2.3e-4 for a buffer of 10⁶ rows,
 * far below the sampling noise of any batch. The same generator state gives the same indices on
 * the CPU and on CUDA.
 */
export function randomIndices(count: number, high: number, options?: RandomIndicesOptions): Tensor {
  integer(count, 'count', 0);
  integer(high, 'high', 1, 2 ** 31);
  const o = plainObject(options, 'options', RANDOM_INDICES_OPTIONS);
  const g = generatorArg(o);
  let device = o.device === undefined ? undefined : resolveDevice(o.device, 'options.device');
  if (o.out !== undefined && o.out !== null) {
    const t = tensorArg(o.out, 'options.out', ['i32']);
    if (device !== undefined && t.device !== device) {
      throw new TypeError(`Expected a ${device} tensor (options.device) for options.out but received a ${t.device} tensor`);
    }
    device = t.device;
  }
  const out = outputArg(o.out, 'options.out', [count], device ?? defaultDevice(), 'i32', 'count indices');
  return guardFresh([out], () => {
    rlApi().rlRandomIndices(out.t.handle, high, g.seed, reserveDraw(g, count, 1, out.t.device, 'randomIndices'));
    return out.t;
  });
}

/** [S, N, F] → {S, N, F}; [N, F] → {1, N, F}. */
function bufferDims(t: Tensor, name: string): { s: number; n: number; f: number } {
  if (t.shape.length === 2) return { s: 1, n: t.shape[0], f: t.shape[1] };
  if (t.shape.length === 3) return { s: t.shape[0], n: t.shape[1], f: t.shape[2] };
  throw new RangeError(`Expected a 2-D tensor [N, F] or a 3-D tensor [S, N, F] for ${name} but received shape ${shapeStr(t.shape)}`);
}

export interface GatherRowsOptions {
  /** Where to write the rows ([B, F] or [S, B, F], src's dtype and device). */
  out?: Tensor;
  /**
   * Check that every index is in [0, N) (default true). On the CPU indices are always checked
   * (RangeError naming indices, nothing written). On CUDA the check reads the indices back,
   * which synchronises with the device; pass false for indices from randomIndices (in range by
   * construction) to keep the gather asynchronous. An unchecked out-of-range index on CUDA
   * reads nothing outside src: its output row is written as zeros.
   */
  checkIndices?: boolean;
}

/**
 * Rows of src at `indices` (i32 [B], on src's device): src [N, F] → [B, F], or src [S, N, F] →
 * [S, B, F] with the same indices for every seed. Exact copies.
 */
export function gatherRows(src: Tensor, indices: Tensor, options?: GatherRowsOptions): Tensor {
  const s = tensorArg(src, 'src');
  const d = bufferDims(s, 'src');
  const idx = tensorArg(indices, 'indices', ['i32']);
  sameDevice(idx, 'indices', s, 'src');
  if (idx.shape.length !== 1) throw new RangeError(`Expected a 1-D tensor [B] for indices but received shape ${shapeStr(idx.shape)}`);
  const o = plainObject(options, 'options', GATHER_ROWS_OPTIONS);
  if (o.checkIndices !== undefined && typeof o.checkIndices !== 'boolean') throw typeError('a boolean', 'options.checkIndices', o.checkIndices);
  const check = o.checkIndices ?? true;
  const b = idx.shape[0];
  if (idx.device === 'cpu') {
    const v = idx.data as Int32Array;
    for (let i = 0; i < v.length; i++) {
      // Worded as the native check words it (sac_replay.cc): the value and where it is.
      if (v[i] < 0 || v[i] >= d.n) throw new RangeError(`Expected indices in [0, ${d.n}) (the rows of src) for indices but received ${v[i]} at position ${i}`);
    }
  }
  const shape = s.shape.length === 2 ? [b, d.f] : [d.s, b, d.f];
  const out = outputArg(o.out, 'options.out', shape, s.device, s.dtype, 'one row of src per index');
  return guardFresh([out], () => {
    rlApi().rlGatherRows(out.t.handle, s.handle, idx.handle, check);
    return out.t;
  });
}

/**
 * Writes rows into a ring buffer in place: dst[(start + i) % N] = rows[i] for i < k, with dst
 * [N, F] and rows [k, F], or dst [S, N, F] and rows [S, k, F] (per seed). k ≤ N (a call never
 * writes a slot twice), 0 ≤ start < N; rows has dst's dtype and device. Returns dst.
 */
export function scatterRows(dst: Tensor, rows: Tensor, start: number): Tensor {
  const t = tensorArg(dst, 'dst');
  const d = bufferDims(t, 'dst');
  if (d.n < 1) throw new RangeError(`Expected a buffer of at least one row (N >= 1) for dst but received shape ${shapeStr(t.shape)}`);
  const r = tensorArg(rows, 'rows', [t.dtype]);
  sameDevice(r, 'rows', t, 'dst');
  const rs = r.shape;
  if (rs.length !== t.shape.length || rs[rs.length - 1] !== d.f || (rs.length === 3 && rs[0] !== d.s)) {
    const want = t.shape.length === 2 ? `[k, ${d.f}]` : `[${d.s}, k, ${d.f}]`;
    throw new RangeError(`Expected a tensor ${want} (rows laid out like dst) for rows but received shape ${shapeStr(rs)}`);
  }
  if (rs[rs.length - 2] > d.n) throw new RangeError(`Expected at most ${d.n} rows (the capacity N of dst) for rows but received shape ${shapeStr(rs)}`);
  integer(start, 'start', 0, d.n - 1);
  rlApi().rlScatterRows(t.handle, r.handle, start);
  return t;
}

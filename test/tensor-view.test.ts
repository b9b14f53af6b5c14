/**
 * Tensor views: reshape (with one inferred -1), view(offset, shape) and slice along dim 0 share
 * their parent's memory (writes through either are seen by both), compose (a view of a view
 * starts at the sum of the offsets), add nothing to era.memory(), survive their own dispose()
 * without touching the parent, and throw the disposed error naming the argument once the parent
 * is disposed. The native constructor checks its view arguments again. Same on CUDA.
 */
import { expect } from 'chai';

import era, { EraError, Tensor } from '../lib/index.js';
import { native, type NativeTensor } from '../lib/native.js';
import { matmul } from '../lib/nn/functional.js';
import { describeCuda, expectClose, expectThrowsNaming, randomArray, testSeed } from './helpers.js';

const seed = testSeed();

type ViewCtor = new (dtype: number, device: number, shape: number[], data: null, parent: NativeTensor | unknown, offset: unknown) => NativeTensor;
const RawTensor = () => native().NativeTensor as unknown as ViewCtor;

function viewSuite(device: 'cpu' | 'cuda'): void {
  const make = (data: number[], shape: number[]) => era.tensor(Float32Array.from(data), shape, { device });
  const iota = (n: number) => Array.from({ length: n }, (_, i) => i);

  it('reshape shares memory and infers one -1', () => {
    era.scope(() => {
      const t = make(iota(12), [3, 4]);
      const r = t.reshape([2, -1, 3]);
      expect(r.shape).to.deep.equal([2, 2, 3]);
      expect(Array.from(r.toArray())).to.deep.equal(iota(12));
      r.write(Float32Array.from(iota(12), (v) => 100 + v));
      expect(t.toArray()[5]).to.equal(105);
      era.scale(t, 2, { out: t }); // an op on the parent is seen through the view
      expect(r.toArray()[11]).to.equal(222);
      expect(t.reshape([-1]).shape).to.deep.equal([12]);
      expect(era.zeros([0, 3], { device }).reshape([3, 0]).shape).to.deep.equal([3, 0]);
    });
  });

  it('view(offset, shape) and slice(start, end) cover sub-ranges; views of views compose', () => {
    era.scope(() => {
      const t = make(iota(24), [6, 4]);
      const v = t.view(5, [2, 3]);
      expect(Array.from(v.toArray())).to.deep.equal([5, 6, 7, 8, 9, 10]);
      const s = t.slice(2, 5);
      expect(s.shape).to.deep.equal([3, 4]);
      expect(Array.from(s.toArray())).to.deep.equal(iota(12).map((i) => i + 8));
      expect(t.slice(4).shape).to.deep.equal([2, 4]);
      expect(t.slice(6).shape).to.deep.equal([0, 4]);
      const vv = s.view(3, [2]).reshape([1, 2]); // elements 8 + 3 = 11, 12
      expect(Array.from(vv.toArray())).to.deep.equal([11, 12]);
      vv.fill(-1);
      expect(Array.from(t.toArray().slice(10, 14))).to.deep.equal([10, -1, -1, 13]);
      // ops read and write views
      const sum = era.add(t.slice(0, 1), t.slice(1, 2));
      expect(Array.from(sum.toArray())).to.deep.equal([4, 6, 8, 10]);
      era.add(t.slice(0, 1), t.slice(1, 2), { out: t.slice(5, 6) });
      expect(Array.from(t.toArray().slice(20))).to.deep.equal([4, 6, 8, 10]);
    });
  });

  it('i32 and bf16 tensors have views too', () => {
    era.scope(() => {
      const i = era.tensor(new Int32Array([1, 2, 3, 4, 5, 6]), [2, 3], { device });
      expect(Array.from(i.slice(1).toArray())).to.deep.equal([4, 5, 6]);
      expect(i.slice(1).dtype).to.equal('i32');
      const b = era.tensor(new Uint16Array([0x3f80, 0x4000, 0x4040]), [3], { device, dtype: 'bf16' });
      expect(Array.from(b.view(1, [2]).toArray())).to.deep.equal([0x4000, 0x4040]);
    });
  });

  it('views add no tensors and no bytes to era.memory(); disposing one leaves the parent alone', () => {
    const t = make(iota(8), [8]);
    const before = era.memory()[device];
    const views = [t.reshape([2, 4]), t.view(2, [3]), t.slice(1, 3), t.reshape([4, 2]).slice(1)];
    expect(era.memory()[device]).to.deep.equal(before);
    for (const v of views) v.dispose();
    expect(views.every((v) => v.disposed)).to.equal(true);
    expect(t.disposed).to.equal(false);
    expect(Array.from(t.toArray())).to.deep.equal(iota(8));
    expect(era.memory()[device]).to.deep.equal(before);
    t.dispose();
  });

  it("after the parent is disposed, using a view throws the disposed error naming the argument", () => {
    const t = make(iota(6), [2, 3]);
    const v = t.slice(1);
    const vv = v.reshape([3]);
    const other = make([1, 1, 1], [3]);
    t.dispose();
    expect(v.disposed).to.equal(true);
    expect(vv.disposed).to.equal(true);
    expectThrowsNaming(() => era.add(other, vv), EraError, 'b', { code: 'ERA_DISPOSED' });
    expectThrowsNaming(() => vv.toArray(), EraError, 'tensor', { code: 'ERA_DISPOSED' });
    expectThrowsNaming(() => v.reshape([3]), EraError, 'tensor', { code: 'ERA_DISPOSED' });
    // the native layer refuses it too when the TS check is bypassed
    expectThrowsNaming(() => native().add(other.handle, other.handle, vv.handle, 1), EraError, 'b', { code: 'ERA_DISPOSED', also: /parent was disposed/ });
    vv.dispose(); // harmless
    other.dispose();
  });

  it('bad shapes and offsets name the argument', () => {
    era.scope(() => {
      const t = make(iota(12), [3, 4]);
      expectThrowsNaming(() => t.reshape([5, -1]), RangeError, 'shape');
      expectThrowsNaming(() => t.reshape([-1, -1]), RangeError, 'shape');
      expectThrowsNaming(() => t.reshape([2, 5]), RangeError, 'shape');
      expectThrowsNaming(() => t.reshape('3x4' as never), TypeError, 'shape');
      expectThrowsNaming(() => t.view(10, [3]), RangeError, 'offset');
      expectThrowsNaming(() => t.view(-1, [3]), RangeError, 'offset');
      expectThrowsNaming(() => t.view(1.5, [3]), RangeError, 'offset');
      expectThrowsNaming(() => t.view(0, [2, -1]), RangeError, 'shape');
      expectThrowsNaming(() => t.slice(4), RangeError, 'start');
      expectThrowsNaming(() => t.slice(2, 1), RangeError, 'end');
      expectThrowsNaming(() => era.tensor([1], [], { device }).slice(0), RangeError, 'tensor');
    });
  });

  it('the native constructor checks the parent, dtype, device and offset', () => {
    era.scope(() => {
      const t = make(iota(6), [6]);
      const Ctor = RawTensor();
      const dev = device === 'cuda' ? 1 : 0;
      expectThrowsNaming(() => new Ctor(0, dev, [4], null, t.handle, 3), RangeError, 'offset');
      expectThrowsNaming(() => new Ctor(0, dev, [2], null, t.handle, -1), RangeError, 'offset');
      expectThrowsNaming(() => new Ctor(0, dev, [2], null, t.handle, 'a'), TypeError, 'offset');
      expectThrowsNaming(() => new Ctor(1, dev, [2], null, t.handle, 0), TypeError, 'dtype');
      expectThrowsNaming(() => new Ctor(0, 1 - dev, [2], null, t.handle, 0), TypeError, 'device');
      expectThrowsNaming(() => new Ctor(0, dev, [2], null, {}, 0), TypeError, 'parent');
      const gone = make([1, 2], [2]);
      gone.dispose();
      expectThrowsNaming(() => new Ctor(0, dev, [1], null, gone.handle, 0), EraError, 'parent', { code: 'ERA_DISPOSED' });
      const ok = new Tensor(new Ctor(0, dev, [2], null, t.handle, 4), [2], 'f32', device);
      expect(Array.from(ok.toArray())).to.deep.equal([4, 5]);
    });
  });
}

describe('tensor views on the cpu', () => {
  viewSuite('cpu');

  it('CPU views are zero-copy windows of the parent\'s TypedArray', () => {
    const buf = new Float32Array([0, 1, 2, 3, 4, 5]);
    using t = era.tensor(buf, [3, 2], { device: 'cpu' });
    using s = t.slice(1, 2);
    const d = s.data as Float32Array;
    expect(d.buffer).to.equal(buf.buffer);
    expect(Array.from(d)).to.deep.equal([2, 3]);
    d[0] = 20;
    expect(buf[2]).to.equal(20);
  });
});

describeCuda('tensor views on cuda', () => {
  viewSuite('cuda');

  it('GEMMs on views at unaligned offsets match the CPU', () => {
    era.scope(() => {
      const [m, k, n] = [33, 17, 29];
      const data = randomArray(1 + m * k + k * n, seed);
      const onCpu = era.tensor(data, [data.length], { device: 'cpu' });
      const onCuda = era.tensor(data, [data.length], { device: 'cuda' });
      for (const precision of ['f32', 'tf32'] as const) {
        const want = matmul(onCpu.view(1, [m, k]), onCpu.view(1 + m * k, [k, n]), { precision }).toArray();
        const got = matmul(onCuda.view(1, [m, k]), onCuda.view(1 + m * k, [k, n]), { precision }).toArray();
        expectClose(got, want, { atol: 1e-4, rtol: 1e-3, what: `${precision} product of views` });
      }
    });
  });

  it('a view keeps reads asynchronous and correct', async () => {
    using t = era.tensor(Float32Array.from({ length: 1000 }, (_, i) => i), [10, 100], { device: 'cuda' });
    using s = t.slice(7, 9);
    const got = await s.read();
    expect(got[0]).to.equal(700);
    expect(got[199]).to.equal(899);
  });
});

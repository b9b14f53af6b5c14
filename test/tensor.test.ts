import { expect } from 'chai';

import era, { Tensor } from '../lib/index.js';
import { describeCuda, expectClose, randomArray, testSeed } from './helpers.js';

/** The spacing of float32 values at |v| (v finite): 2^(exponent - 23), or the subnormal step. */
function ulp(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

const seed = testSeed();

describe('tensors on the cpu', () => {
  it('wraps a Float32Array without copying (zero copy in and out)', () => {
    const src = new Float32Array([1, 2, 3, 4, 5, 6]);
    using t = era.tensor(src, [2, 3], { device: 'cpu' });
    expect(t.shape).to.deep.equal([2, 3]);
    expect(t.dtype).to.equal('f32');
    expect(t.size).to.equal(6);
    src[4] = 50;
    expect(t.data).to.equal(src);
    expect(t.toArray()[4]).to.equal(50);
    era.scale(t, 2, { out: t });
    expect(src[0]).to.equal(2); // the op wrote into the caller's memory
  });

  it('toArray() and read() return copies', async () => {
    using t = era.tensor([1, 2, 3], [3], { device: 'cpu' });
    const a = t.toArray();
    a[0] = 99;
    expect(t.toArray()[0]).to.equal(1);
    const b = await t.read();
    expect(Array.from(b)).to.deep.equal([1, 2, 3]);
  });

  it('makes f32 from number[] and i32 from Int32Array', () => {
    using f = era.tensor([0.5, -1.25], [2, 1], { device: 'cpu' });
    expect(f.toArray()).to.be.instanceOf(Float32Array);
    using i = era.tensor(new Int32Array([7, -8, 9]), [3], { device: 'cpu' });
    expect(i.dtype).to.equal('i32');
    using j = era.tensor([1, 2], [2], { device: 'cpu', dtype: 'i32' });
    expect(j.toArray()).to.be.instanceOf(Int32Array);
  });

  it('supports empty shapes and zero-size tensors', () => {
    using s = era.tensor([42], [], { device: 'cpu' });
    expect(s.size).to.equal(1);
    using z = era.zeros([0, 5], { device: 'cpu' });
    expect(z.size).to.equal(0);
    expect(z.toArray().length).to.equal(0);
  });

  it('fills, copies, adds and scales with the expected values', () => {
    const n = 1003;
    const a = randomArray(n, seed);
    const b = randomArray(n, seed + 1);
    era.scope(() => {
      const ta = era.tensor(a, [n], { device: 'cpu' });
      const tb = era.tensor(b, [n], { device: 'cpu' });
      const sum = era.add(ta, tb, { alpha: -0.5 }).toArray();
      const scaled = era.scale(ta, 3).toArray();
      for (let i = 0; i < n; i++) {
        expect(sum[i]).to.equal(Math.fround(a[i] + Math.fround(-0.5 * b[i])));
        expect(scaled[i]).to.equal(Math.fround(3 * a[i]));
      }
      const f = era.full([4], 2.5, { device: 'cpu' }).toArray();
      expect(Array.from(f)).to.deep.equal([2.5, 2.5, 2.5, 2.5]);
      const c = era.empty([n], { device: 'cpu' });
      era.copy(c, ta);
      expect(Array.from(c.toArray())).to.deep.equal(Array.from(a));
      // exp: within 2 ulp of the exact value (float64 Math.exp), over the whole finite range
      const xs = Float32Array.from(a, (v) => 88 * v);
      const ex = era.exp(era.tensor(xs, [n], { device: 'cpu' })).toArray();
      for (let i = 0; i < n; i++) {
        const want = Math.exp(xs[i]);
        expect(Math.abs(ex[i] - want), `exp(${xs[i]})`).to.be.at.most(2 * ulp(want));
      }
      const special = era.tensor([-Infinity, Infinity, NaN, 0, 89, -104], [6], { device: 'cpu' });
      era.exp(special, { out: special }); // in place
      expect(Array.from(special.toArray())).to.deep.equal([0, Infinity, NaN, 1, Infinity, 0]);
      const ints = era.add(era.tensor([2147483647, 5], [2], { dtype: 'i32', device: 'cpu' }), era.tensor([1, -7], [2], { dtype: 'i32', device: 'cpu' }));
      expect(Array.from(ints.toArray())).to.deep.equal([-2147483648, -2]); // two's-complement wrap
    });
  });

  it('write() overwrites contents from a host array', () => {
    using t = era.zeros([3], { device: 'cpu' });
    t.write([1, 2, 3]);
    expect(Array.from(t.toArray())).to.deep.equal([1, 2, 3]);
    t.write(new Float32Array([4, 5, 6]));
    expect(Array.from(t.toArray())).to.deep.equal([4, 5, 6]);
  });

  it('clone() and to() make independent tensors', () => {
    using t = era.tensor([1, 2], [2], { device: 'cpu' });
    using c = t.clone();
    t.fill(0);
    expect(Array.from(c.toArray())).to.deep.equal([1, 2]);
    expect(c).to.be.instanceOf(Tensor);
    expect(String(c)).to.equal('Tensor(cpu, f32, [2])');
  });
});

/** zeros, ones and full make bf16 tensors too (the value rounded to nearest even). */
function bf16Fills(device: 'cpu' | 'cuda'): void {
  it('zeros, ones and full make bf16 tensors (the value rounded to bf16)', () => {
    era.scope(() => {
      expect(Array.from(era.zeros([3], { dtype: 'bf16', device }).toArray())).to.deep.equal([0, 0, 0]);
      expect(Array.from(era.ones([2], { dtype: 'bf16', device }).toArray())).to.deep.equal([0x3f80, 0x3f80]);
      // 1 + 2^-8 is halfway between bf16 neighbours 1 and 1 + 2^-7: it rounds to even (1).
      expect(Array.from(era.full([2], 1 + 2 ** -8, { dtype: 'bf16', device }).toArray())).to.deep.equal([0x3f80, 0x3f80]);
      expect(Array.from(era.full([1], -1.5, { dtype: 'bf16', device }).toArray())).to.deep.equal([0xbfc0]);
      const t = era.empty([5], { dtype: 'bf16', device }).fill(2);
      expect(t.dtype).to.equal('bf16');
      expect(Array.from(t.toArray())).to.deep.equal(new Array(5).fill(0x4000));
    });
  });
}

describe('bf16 fills on the cpu', () => bf16Fills('cpu'));

describeCuda('tensors on cuda', () => {
  bf16Fills('cuda');

  const sizes = [1, 3, 7, 1000, 1003, 4097, 1 << 20, (1 << 22) + 5];

  it('round-trips data through the pinned staging path (odd and large sizes)', () => {
    for (const n of sizes) {
      const a = randomArray(n, seed + n);
      using t = era.tensor(a, [n], { device: 'cuda' });
      expect(t.device).to.equal('cuda');
      expectClose(t.toArray(), a, { atol: 0, rtol: 0, what: `n=${n}` });
    }
    // larger than the 8 MiB staging buffers, so several chunks alternate
    const big = randomArray(5_000_001, seed);
    using t = era.tensor(big, [5_000_001], { device: 'cuda' });
    expectClose(t.toArray(), big, { atol: 0, rtol: 0, what: 'chunked upload' });
  });

  it('read() resolves with the data after queued work', async () => {
    const n = 1 << 21;
    const a = randomArray(n, seed);
    using t = era.tensor(a, [n], { device: 'cuda' });
    era.scale(t, 2, { out: t });
    const pending = t.read();
    era.scale(t, 100, { out: t }); // queued after the read: must not show in its result
    const r = await pending;
    for (let i = 0; i < n; i += 997) expect(r[i]).to.equal(Math.fround(2 * a[i]));
  });

  it('matches the cpu backend for fill, copy, add and scale', () => {
    for (const n of sizes) {
      era.scope(() => {
        const a = randomArray(n, seed + 2 * n);
        const b = randomArray(n, seed + 2 * n + 1);
        const ca = era.tensor(a, [n], { device: 'cpu' });
        const cb = era.tensor(b, [n], { device: 'cpu' });
        const ga = era.tensor(a, [n], { device: 'cuda' });
        const gb = era.tensor(b, [n], { device: 'cuda' });
        expectClose(era.add(ga, gb, { alpha: 0.75 }).toArray(), era.add(ca, cb, { alpha: 0.75 }).toArray(), { atol: 0, rtol: 0, what: `add n=${n}` });
        expectClose(era.scale(ga, -3.5).toArray(), era.scale(ca, -3.5).toArray(), { atol: 0, rtol: 0, what: `scale n=${n}` });
        // both within 2 ulp of exp: at most 4 ulp (rtol 5e-7) apart
        expectClose(era.exp(era.scale(ga, 80)).toArray(), era.exp(era.scale(ca, 80)).toArray(), { atol: 0, rtol: 5e-7, what: `exp n=${n}` });
        const f = era.full([n], 1.25, { device: 'cuda' }).toArray();
        expect(f.every((v) => v === 1.25), `fill n=${n}`).to.equal(true);
        const dst = era.empty([n], { device: 'cuda' });
        era.copy(dst, ga);
        expectClose(dst.toArray(), a, { atol: 0, rtol: 0, what: `copy n=${n}` });
        // i32 with an integer alpha, wrapping as the CPU does (extremes included)
        const ia = Int32Array.from(a, (v, i) => (i % 7 === 0 ? 2147483647 : Math.round(v * 1e9)));
        const ib = Int32Array.from(b, (v, i) => (i % 5 === 0 ? -2147483648 : Math.round(v * 1e9)));
        const iCpu = era.add(era.tensor(ia, [n], { device: 'cpu' }), era.tensor(ib, [n], { device: 'cpu' }), { alpha: 3 });
        const iCuda = era.add(era.tensor(ia, [n], { device: 'cuda' }), era.tensor(ib, [n], { device: 'cuda' }), { alpha: 3 });
        expect(Array.from(iCuda.toArray()), `i32 add n=${n}`).to.deep.equal(Array.from(iCpu.toArray()));
      });
    }
  });

  it('uploads from an unaligned host view', () => {
    const n = 1001;
    const host = randomArray(n + 1, seed);
    const view = host.subarray(1); // byteOffset 4: not 16-byte aligned
    using c = era.tensor(view, [n], { device: 'cpu' });
    using g = c.to('cuda');
    expectClose(era.scale(g, 2).toArray(), era.scale(c, 2).toArray(), { atol: 0, rtol: 0 });
  });

  it('copies between devices both ways', () => {
    const a = randomArray(12345, seed);
    using c = era.tensor(a, [12345], { device: 'cpu' });
    using g = c.to('cuda');
    using back = g.to('cpu');
    expectClose(back.toArray(), a, { atol: 0, rtol: 0 });
    using i = era.tensor(new Int32Array([1, -2, 3]), [3], { device: 'cuda' });
    expect(Array.from(i.toArray())).to.deep.equal([1, -2, 3]);
  });
});

describe('reading into a caller array', () => {
  it('toArray(out) fills out and returns it; a wrong out is a RangeError/TypeError naming out', () => {
    using t = era.tensor([1, 2, 3], [3], { device: 'cpu' });
    const out = new Float32Array(3);
    expect(t.toArray(out)).to.equal(out);
    expect(Array.from(out)).to.deep.equal([1, 2, 3]);
    expect(() => t.toArray(new Float32Array(2))).to.throw(RangeError, /for out /);
    expect(() => t.toArray(new Int32Array(3))).to.throw(TypeError, /for out /);
  });
});

import { expect } from 'chai';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import era from '../lib/index.js';
import { describeCuda, libModule, runNode } from './helpers.js';

function cycles(device: 'cpu' | 'cuda', n: number): void {
  const before = era.memory();
  for (let i = 0; i < n; i++) {
    const t = era.empty([1 + (i % 97)], { device });
    if (i % 3 === 0) t.fill(i);
    t.dispose();
  }
  const after = era.memory();
  expect(after[device].tensors).to.equal(before[device].tensors);
  expect(after[device].bytes).to.equal(before[device].bytes);
}

// A full garbage collection on demand (what --expose-gc gives), for the finalizer tests.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Makes `n` tensors (and a view of each) on `device` and drops them undisposed. */
function abandon(device: 'cpu' | 'cuda', n: number): void {
  for (let i = 0; i < n; i++) era.zeros([4 + (i % 5), 3], { device }).reshape([-1]);
}

/**
 * Tensors nobody disposed are freed by their GC finalizers. The addon declares the experimental
 * Node-API version so that these run inside the collection: a synchronous loop that never yields
 * gets its memory back (with deferred finalizers the counts below stay up until the loop turns).
 */
function freedByGcWithoutYielding(device: 'cpu' | 'cuda'): void {
  collectGarbage(); // what earlier tests left: views first,
  collectGarbage(); // then the roots they held
  const before = era.memory()[device];
  abandon(device, 1000);
  expect(era.memory()[device].tensors).to.be.greaterThan(before.tensors); // not all collected yet
  collectGarbage(); // frees the views, which held their roots' JS objects
  collectGarbage(); // frees the roots
  const after = era.memory()[device];
  expect(after.tensors).to.equal(before.tensors);
  expect(after.bytes).to.equal(before.bytes);
}

/** A CPU tensor whose ArrayBuffer was transferred away: the native side refuses to touch it. */
function detachedCpuTensor(): ReturnType<typeof era.tensor> {
  const buf = new Float32Array([1, 2, 3, 4]);
  const t = era.tensor(buf, [4], { device: 'cpu' });
  structuredClone(buf.buffer, { transfer: [buf.buffer] });
  return t;
}

/** What scopes keep, and that failed ops leave nothing behind, on one device. */
function scopeSuite(device: 'cpu' | 'cuda'): void {
  const counts = () => { const m = era.memory(); return [m.cpu.tensors, m.cpu.bytes, m.cuda.tensors, m.cuda.bytes]; };

  it('a view returned from a scope keeps the tensor it views, which goes with the last such view', () => {
    const before = counts();
    const v = era.scope(() => era.ones([2, 2], { device }).reshape([4]));
    expect(v.disposed).to.equal(false);
    expect(Array.from(v.toArray())).to.deep.equal([1, 1, 1, 1]);
    v.dispose();
    expect(counts()).to.deep.equal(before);
    // two views of one tensor, through two nested scopes
    const [a, b] = era.scope(() => era.scope(() => {
      const t = era.full([4], 2, { device });
      return [t.view(0, [2]), t.slice(2)];
    }));
    a.dispose();
    expect(Array.from(b.toArray()), 'the other view still reads').to.deep.equal([2, 2]);
    b.dispose();
    expect(counts()).to.deep.equal(before);
    // an enclosing scope that does not return the view disposes both
    era.scope(() => {
      const inner = era.scope(() => era.zeros([6], { device }).reshape([2, 3]));
      expect(inner.disposed).to.equal(false);
    });
    expect(counts()).to.deep.equal(before);
    // a view disposed before it is returned holds nothing
    era.scope(() => {
      const t = era.ones([4], { device });
      const v = t.slice(1);
      v.dispose();
      return v;
    });
    expect(counts()).to.deep.equal(before);
  });

  it('a tensor an enclosing scope returns, or keep()s, is the caller\'s: its views no longer decide when it goes', () => {
    const before = counts();
    let base: ReturnType<typeof era.ones> | undefined;
    const r = era.scope(() => {
      const view = era.scope(() => { base = era.ones([4], { device }); return base.slice(1); });
      return { base: base!, view };
    });
    r.view.dispose();
    expect(r.base.disposed, 'returned, so not the view\'s to dispose').to.equal(false);
    r.base.dispose();
    // returned alone, its view dropped: still alive
    const only = era.scope(() => {
      let b: ReturnType<typeof era.ones> | undefined;
      era.scope(() => { b = era.ones([4], { device }); return b.slice(2); });
      return b!;
    });
    expect(only.disposed).to.equal(false);
    only.dispose();
    // keep() in an enclosing scope
    let kept: ReturnType<typeof era.ones> | undefined;
    era.scope(() => {
      era.scope(() => { kept = era.ones([4], { device }); return kept.slice(2); });
      era.keep(kept!);
    });
    expect(kept!.disposed).to.equal(false);
    kept!.dispose();
    expect(counts()).to.deep.equal(before);
  });

  it('a scope finds the tensors it returns at any depth', () => {
    const before = counts();
    const r = era.scope(() => ({ a: { b: { c: { d: { e: [era.ones([1], { device })] } } } } }));
    expect(r.a.b.c.d.e[0].disposed).to.equal(false);
    r.a.b.c.d.e[0].dispose();
    expect(counts()).to.deep.equal(before);
  });

  it('a copy or element-wise op that fails leaves no new tensor behind', () => {
    const dead = detachedCpuTensor();
    const before = counts();
    expect(() => dead.to(device)).to.throw();
    expect(() => era.add(dead, dead)).to.throw();
    expect(() => era.scale(dead, 2)).to.throw();
    expect(() => era.exp(dead)).to.throw();
    expect(counts()).to.deep.equal(before);
    dead.dispose();
  });
}

describe('memory accounting', () => {
  scopeSuite('cpu');

  it('an async function given to scope or captureGraph is a TypeError, and its later rejection does not crash the process', () => {
    const script = `import(${JSON.stringify(libModule('index'))}).then(async ({ default: era }) => {
      try {
        era.scope(async () => { const x = era.ones([2], { device: 'cpu' }); await null; x.toArray(); });
      } catch (e) { console.log(e.constructor.name); }
      try {
        era.captureGraph(async () => { await null; throw new Error('late'); }, { device: 'cpu', warmup: 1 });
      } catch (e) { console.log(e.constructor.name); }
      await new Promise((r) => setTimeout(r, 20));
      console.log('alive');
    })`;
    const r = runNode(['-e', script]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim().split('\n')).to.deep.equal(['TypeError', 'TypeError', 'alive']);
  });

  it('tensors left undisposed are freed by a garbage collection, with no turn of the event loop', () => {
    freedByGcWithoutYielding('cpu');
  });

  it('10,000 create/dispose cycles of cpu tensors return era.memory() to where it started', () => {
    cycles('cpu', 10_000);
  });

  it('era.memory() counts live tensors and bytes', () => {
    const before = era.memory().cpu;
    const a = era.zeros([10, 10], { device: 'cpu' });
    const b = era.zeros([3], { device: 'cpu', dtype: 'i32' });
    const mid = era.memory().cpu;
    expect(mid.tensors - before.tensors).to.equal(2);
    expect(mid.bytes - before.bytes).to.equal(400 + 12);
    a.dispose();
    b.dispose();
    expect(era.memory().cpu).to.deep.equal(before);
  });

  it('a scope disposes all it created, except what it returns', () => {
    const before = era.memory().cpu.tensors;
    const outside = era.zeros([2], { device: 'cpu' });
    const kept = era.scope(() => {
      const x = era.ones([4], { device: 'cpu' });
      const y = era.scale(x, 2);
      era.add(y, y);
      const z = era.scale(y, 3);
      return { z, list: [era.zeros([1], { device: 'cpu' })] };
    });
    expect(era.memory().cpu.tensors).to.equal(before + 3); // outside, z, list[0]
    expect(Array.from(kept.z.toArray())).to.deep.equal([6, 6, 6, 6]);
    expect(outside.disposed).to.equal(false);
    kept.z.dispose();
    kept.list[0].dispose();
    outside.dispose();
    expect(era.memory().cpu.tensors).to.equal(before);
  });

  it('nested scopes hand returned tensors to the parent; keep() exempts; a throw still cleans up', () => {
    const before = era.memory().cpu.tensors;
    let inner: ReturnType<typeof era.zeros> | undefined;
    let pinned: ReturnType<typeof era.zeros> | undefined;
    era.scope(() => {
      inner = era.scope(() => era.ones([2], { device: 'cpu' }));
      pinned = era.keep(era.ones([2], { device: 'cpu' }));
      expect(inner.disposed).to.equal(false);
    });
    expect(inner!.disposed).to.equal(true); // the outer scope owned it
    expect(pinned!.disposed).to.equal(false);
    pinned!.dispose();
    expect(() =>
      era.scope(() => {
        era.ones([8], { device: 'cpu' });
        throw new Error('boom');
      }),
    ).to.throw('boom');
    expect(era.memory().cpu.tensors).to.equal(before);
  });

  it('`using` disposes at the end of the block', () => {
    const before = era.memory().cpu.tensors;
    {
      using t = era.zeros([5], { device: 'cpu' });
      expect(t.disposed).to.equal(false);
      expect(era.memory().cpu.tensors).to.equal(before + 1);
    }
    expect(era.memory().cpu.tensors).to.equal(before);
  });
});

describeCuda('cuda memory accounting', () => {
  scopeSuite('cuda');

  it('V8 is told of the device bytes when a collection frees them, as when dispose() does', () => {
    // Each CUDA tensor reports its bytes to V8 as external memory (it steers when V8 collects).
    collectGarbage();
    const before = era.memory().v8ExternalBytes;
    let held = Array.from({ length: 20 }, () => era.empty([1 << 20], { device: 'cuda' })); // 4 MiB each
    expect(era.memory().v8ExternalBytes - before, 'while alive (other external memory moves a little)').to.be.at.least(76 << 20);
    held = []; // dropped, not disposed
    expect(held).to.have.length(0);
    collectGarbage();
    collectGarbage();
    expect(era.memory().v8ExternalBytes - before, 'external bytes left after the 80 MiB were collected').to.be.below(8 << 20);
  });

  it('cuda tensors left undisposed are freed by a garbage collection, with no turn of the event loop', () => {
    freedByGcWithoutYielding('cuda');
  });

  it('10,000 create/dispose cycles of cuda tensors return era.memory() to where it started', () => {
    cycles('cuda', 10_000);
    const m = era.memory().cuda;
    expect(m.cacheHits).to.be.greaterThan(9_000); // the caching allocator served the repeats
  });

  it('ERA_CUDA_POISON=1 fills every block handed out, fresh or from the cache, with 0xFF bytes', () => {
    // In a child process (the flag is read once). b gets the block a gave back to the cache.
    const script = `import(${JSON.stringify(libModule('index'))}).then(({ default: era }) => {
      const a = era.full([1000], 5, { device: 'cuda' });
      a.dispose();
      const hits = era.memory().cuda.cacheHits;
      const b = era.empty([1000], { device: 'cuda' });
      const c = era.empty([3001], { device: 'cuda', dtype: 'i32' });
      console.log(JSON.stringify({ b: [...new Set(Array.from(b.toArray(), String))], c: [...new Set(Array.from(c.toArray(), String))], reused: era.memory().cuda.cacheHits > hits }));
    })`;
    const run = (poison: string) => {
      const r = runNode(['-e', script], { env: { ...process.env, ERA_CUDA_POISON: poison } });
      expect(r.status, r.stderr).to.equal(0);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as { b: string[]; c: string[]; reused: boolean };
    };
    const on = run('1');
    expect(on).to.deep.equal({ b: ['NaN'], c: ['-1'], reused: true });
    expect(run('0').b, 'without the flag the cached block keeps its last values').to.deep.equal(['5']);
  });

  it('emptyCache() returns cached blocks', () => {
    era.zeros([1 << 20], { device: 'cuda' }).dispose();
    expect(era.memory().cuda.cachedBytes).to.be.greaterThan(0);
    era.emptyCache();
    expect(era.memory().cuda.cachedBytes).to.equal(0);
  });

  it('emptyCache() frees the pinned blocks kept for asynchronous reads', async () => {
    const t = era.zeros([3 << 20], { device: 'cuda' }); // 12 MiB: a block of its own
    await t.read();
    t.dispose();
    expect(era.memory().cuda.pinnedReadCachedBytes, 'kept for the next read').to.be.at.least(12 << 20);
    era.emptyCache();
    expect(era.memory().cuda.pinnedReadCachedBytes).to.equal(0);
    const u = era.full([5], 2, { device: 'cuda' });
    expect(Array.from(await u.read())).to.deep.equal([2, 2, 2, 2, 2]); // reads still work
    u.dispose();
  });

  it('a scope disposes cuda temporaries', () => {
    const before = era.memory().cuda;
    era.scope(() => {
      const x = era.normal([1000], { seed: 1, device: 'cuda' });
      era.scale(x, 2);
    });
    const after = era.memory().cuda;
    expect(after.tensors).to.equal(before.tensors);
    expect(after.bytes).to.equal(before.bytes);
  });
});

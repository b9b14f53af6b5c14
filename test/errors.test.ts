import { expect } from 'chai';

import era, { EraError, type Tensor } from '../lib/index.js';
import { native } from '../lib/native.js';
import { describeCuda, envWithoutCuda, evalInChild, hasCuda, libModule, runNode } from './helpers.js';

type ErrorClass = typeof TypeError | typeof RangeError | typeof EraError;

interface BadCase {
  title: string;
  call: (ctx: { a: Tensor; b: Tensor; i: Tensor }) => unknown;
  error: ErrorClass;
  /** The argument the message must name. */
  names: string;
  code?: string;
}

/** A CPU tensor of 8 elements to take overlapping views of. */
const block = (device: 'cpu' | 'cuda' = 'cpu'): Tensor => era.tensor([1, 2, 3, 4, 5, 6, 7, 8], [8], { device });

const cases: BadCase[] = [
  { title: 'data is a string', call: () => era.tensor('abc' as never), error: TypeError, names: 'data' },
  { title: 'data is a Float64Array', call: () => era.tensor(new Float64Array(3) as never), error: TypeError, names: 'data' },
  { title: 'data has a non-number element', call: () => era.tensor([1, 'x'] as never), error: TypeError, names: 'data' },
  { title: 'data length does not match the shape', call: () => era.tensor([1, 2, 3], [2, 2]), error: RangeError, names: 'data' },
  { title: 'a negative dimension', call: () => era.tensor([1, 2], [2, -1]), error: RangeError, names: 'shape' },
  { title: 'a fractional dimension', call: () => era.empty([1.5]), error: RangeError, names: 'shape' },
  { title: 'shape is not an array', call: () => era.empty(3 as never), error: TypeError, names: 'shape' },
  { title: 'more than 8 dimensions', call: () => era.empty([1, 1, 1, 1, 1, 1, 1, 1, 1]), error: RangeError, names: 'shape' },
  { title: 'i32 data that is not an integer', call: () => era.tensor([1.5], [1], { dtype: 'i32' }), error: RangeError, names: 'data' },
  { title: 'an unknown dtype', call: () => era.tensor([1], [1], { dtype: 'f64' as never }), error: RangeError, names: 'options.dtype' },
  { title: 'an unknown device', call: () => era.tensor([1], [1], { device: 'gpu' as never }), error: RangeError, names: 'options.device' },
  { title: 'TypedArray of the wrong dtype', call: () => era.tensor(new Int32Array(2), [2], { dtype: 'f32' }), error: TypeError, names: 'data' },
  { title: 'options is not an object', call: () => era.zeros([2], 'cpu' as never), error: TypeError, names: 'options' },
  { title: 'add with mismatched shapes', call: ({ a }) => era.add(a, era.zeros([4], { device: 'cpu' })), error: RangeError, names: 'b' },
  { title: 'add with mismatched dtypes', call: ({ a, i }) => era.add(a, i), error: TypeError, names: 'b' },
  { title: 'add with a number for b', call: ({ a }) => era.add(a, 5 as never), error: TypeError, names: 'b' },
  { title: 'scale by NaN', call: ({ a }) => era.scale(a, NaN), error: RangeError, names: 'alpha' },
  { title: 'scale by a string', call: ({ a }) => era.scale(a, '2' as never), error: TypeError, names: 'alpha' },
  { title: 'scale of an i32 tensor', call: ({ i }) => era.scale(i, 2), error: TypeError, names: 'x' },
  { title: 'exp of an i32 tensor', call: ({ i }) => era.exp(i), error: TypeError, names: 'x' },
  { title: 'exp into an out of another shape', call: ({ a }) => era.exp(a, { out: era.zeros([a.size + 1], { device: 'cpu' }) }), error: RangeError, names: 'options.out' },
  { title: 'add into an out of another shape', call: ({ a, b }) => era.add(a, b, { out: era.zeros([a.size, 1], { device: 'cpu' }) }), error: RangeError, names: 'options.out' },
  { title: 'add into an out of another dtype', call: ({ a, b }) => era.add(a, b, { out: era.zeros([a.size], { dtype: 'i32', device: 'cpu' }) }), error: TypeError, names: 'options.out' },
  { title: 'scale into an out of another shape', call: ({ a }) => era.scale(a, 2, { out: era.zeros([a.size - 1], { device: 'cpu' }) }), error: RangeError, names: 'options.out' },
  { title: 'native: add into an out of another shape', call: ({ a, b }) => native().add(era.zeros([a.size + 2], { device: 'cpu' }).handle, a.handle, b.handle, 1), error: RangeError, names: 'options.out' },
  { title: 'native: exp into an i32 out', call: ({ a, i }) => native().exp(i.handle, a.handle), error: TypeError, names: 'options.out' },
  // Element-wise ops run exactly in place (out = an input) but refuse a shifted view of an input.
  { title: 'add into a shifted view of a', call: () => { const m = block(); return era.add(m.view(0, [3]), m.view(4, [3]), { out: m.view(1, [3]) }); }, error: RangeError, names: 'options.out' },
  { title: 'add into a shifted view of b', call: ({ a }) => { const m = block(); return era.add(a, m.view(0, [3]), { out: m.view(2, [3]) }); }, error: RangeError, names: 'options.out' },
  { title: 'add in place on a into a b overlapping it', call: () => { const m = block(); return era.add(m.view(0, [3]), m.view(1, [3]), { out: m.view(0, [3]) }); }, error: RangeError, names: 'options.out' },
  { title: 'scale into a shifted view of x', call: () => { const m = block(); return era.scale(m.view(1, [3]), 2, { out: m.view(0, [3]) }); }, error: RangeError, names: 'options.out' },
  { title: 'exp into a shifted view of x', call: () => { const m = block(); return era.exp(m.view(0, [3]), { out: m.view(1, [3]) }); }, error: RangeError, names: 'options.out' },
  { title: 'native: scale into an overlapping out', call: () => { const m = block(); return native().scale(m.view(1, [3]).handle, m.view(0, [3]).handle, 2); }, error: RangeError, names: 'options.out' },
  { title: 'add with an infinite alpha', call: ({ a, b }) => era.add(a, b, { alpha: Infinity }), error: RangeError, names: 'options.alpha' },
  { title: 'uniform with high <= low', call: () => era.uniform([2], { low: 1, high: 0, device: 'cpu' }), error: RangeError, names: 'options.high' },
  { title: 'normal with a negative std', call: () => era.normal([2], { std: -1, device: 'cpu' }), error: RangeError, names: 'options.std' },
  { title: 'a negative seed', call: () => era.uniform([2], { seed: -1, device: 'cpu' }), error: RangeError, names: 'options.seed' },
  { title: 'fill with a string', call: ({ a }) => a.fill('x' as never), error: TypeError, names: 'value' },
  { title: 'copy between different sizes', call: ({ a }) => era.copy(a, era.zeros([5], { device: 'cpu' })), error: RangeError, names: 'src' },
  { title: 'write() with the wrong length', call: ({ a }) => a.write(new Float32Array(2)), error: RangeError, names: 'data' },
  { title: 'scope() with an async function', call: () => era.scope((async () => 1) as never), error: TypeError, names: 'fn' },
  {
    title: 'a disposed tensor passed to an op',
    call: () => {
      const t = era.zeros([3], { device: 'cpu' });
      t.dispose();
      return era.scale(t, 2);
    },
    error: EraError, names: 'x', code: 'ERA_DISPOSED',
  },
  {
    title: 'reading a disposed tensor',
    call: () => {
      const t = era.zeros([3], { device: 'cpu' });
      t.dispose();
      return t.toArray();
    },
    error: EraError, names: 'tensor', code: 'ERA_DISPOSED',
  },
  {
    title: 'a cpu tensor whose ArrayBuffer was transferred away',
    call: () => {
      const arr = new Float32Array(3);
      const t = era.tensor(arr, [3], { device: 'cpu' });
      structuredClone(arr.buffer, { transfer: [arr.buffer] });
      try {
        return era.scale(t, 2);
      } finally {
        t.dispose();
      }
    },
    error: EraError, names: 'x', code: 'ERA_DISPOSED',
  },
  // The native op layer checks again when the TS layer is bypassed.
  { title: 'native: a plain object instead of a tensor', call: () => native().fill({} as never, 1), error: TypeError, names: 'out' },
  { title: 'native: a string value', call: ({ a }) => native().fill(a.handle, 'x' as never), error: TypeError, names: 'value' },
  { title: 'native: an unknown dtype code', call: () => new (native().NativeTensor)(7, 0, [1]), error: RangeError, names: 'dtype' },
  { title: 'native: data length mismatch', call: () => new (native().NativeTensor)(0, 0, [2], new Float32Array(3)), error: RangeError, names: 'data' },
  { title: 'native: shape mismatch in add', call: ({ a }) => native().add(a.handle, a.handle, era.zeros([4], { device: 'cpu' }).handle, 1), error: RangeError, names: 'b' },
  { title: 'native: NaN alpha in scale', call: ({ a }) => native().scale(a.handle, a.handle, NaN), error: RangeError, names: 'alpha' },
  { title: 'native: fractional seed', call: ({ a }) => native().randomUniform(a.handle, 1.5, 0, 0, 1), error: RangeError, names: 'seed' },
];

if (!hasCuda) {
  cases.push({
    title: 'a cuda tensor where there is no CUDA device',
    call: () => era.zeros([2], { device: 'cuda' }),
    error: EraError, names: 'options.device', code: 'ERA_NO_DEVICE',
  });
}

describe('bad input gets a clear error naming the argument', () => {
  for (const c of cases) {
    it(c.title, () => {
      era.scope(() => {
        const ctx = {
          a: era.tensor([1, 2, 3], [3], { device: 'cpu' }),
          b: era.tensor([4, 5, 6], [3], { device: 'cpu' }),
          i: era.tensor(new Int32Array([1, 2, 3]), [3], { device: 'cpu' }),
        };
        let thrown: unknown;
        try {
          c.call(ctx);
        } catch (err) {
          thrown = err;
        }
        expect(thrown, 'it must throw').to.be.instanceOf(c.error);
        const msg = (thrown as Error).message;
        expect(msg).to.match(/^Expected .+ for .+ but received .+/s);
        expect(msg).to.include(` for ${c.names} `);
        if (c.code) expect((thrown as EraError).code).to.equal(c.code);
        // and the process is still usable: a valid call works afterwards
        expect(Array.from(era.add(ctx.a, ctx.b).toArray())).to.deep.equal([5, 7, 9]);
      });
    });
  }

  for (const device of hasCuda ? (['cpu', 'cuda'] as const) : (['cpu'] as const)) {
    it(`add, scale and exp exactly in place (out = an input) give the out-of-place result (${device})`, () => {
      era.scope(() => {
        const x = (): Tensor => era.tensor([0.5, -1, 2, 3], [4], { device });
        const y = era.tensor([4, 5, -6, 0.25], [4], { device });
        const same = (inPlace: Tensor, expected: Tensor) => expect(Array.from(inPlace.toArray())).to.deep.equal(Array.from(expected.toArray()));
        const a = x();
        expect(era.add(a, y, { alpha: 2, out: a })).to.equal(a);
        same(a, era.add(x(), y, { alpha: 2 }));
        const b = x();
        era.add(y, b, { alpha: -1, out: b });
        same(b, era.add(y, x(), { alpha: -1 }));
        const s = x();
        era.scale(s, 3, { out: s });
        same(s, era.scale(x(), 3));
        const e = x();
        era.exp(e, { out: e });
        same(e, era.exp(x()));
        // a view of a larger block, in place on the same elements
        const m = block(device);
        era.scale(m.view(2, [4]), 2, { out: m.view(2, [4]) });
        expect(Array.from(m.toArray())).to.deep.equal([1, 2, 6, 8, 10, 12, 7, 8]);
      });
    });
  }

  it(`covers at least 20 distinct bad inputs (${cases.length})`, () => {
    expect(cases.length).to.be.at.least(20);
  });

  it('disposing twice is harmless', () => {
    const before = era.memory().cpu.tensors;
    const t = era.zeros([3], { device: 'cpu' });
    t.dispose();
    t.dispose();
    expect(t.disposed).to.equal(true);
    expect(era.memory().cpu.tensors).to.equal(before);
  });
});

describe('the native layer and JS that runs while it reads its arguments', () => {
  it('an array of tensors is read whole before any memory is used: an accessor that detaches a buffer is caught', () => {
    const buf = new Float32Array([3, 4]);
    const t0 = era.tensor(buf, [2], { device: 'cpu' });
    const t1 = era.tensor([0, 0], [2], { device: 'cpu' });
    const norm = era.zeros([1], { device: 'cpu' });
    let moved: Float32Array | undefined;
    const grads: unknown[] = [t0.handle];
    Object.defineProperty(grads, 1, {
      get() {
        moved = new Float32Array(structuredClone(buf.buffer, { transfer: [buf.buffer] }));
        return t1.handle;
      },
      enumerable: true,
    });
    const n = native() as unknown as { clipGradNorm(g: unknown[], max: number, out: unknown): void };
    expect(() => n.clipGradNorm(grads, 1, norm.handle)).to.throw(EraError, 'grads[0]');
    expect(Array.from(moved!), 'the transferred memory was not written').to.deep.equal([3, 4]);
    expect(Array.from(era.nn.clipGradNorm([t1], 1).toArray()), 'a valid call works afterwards').to.deep.equal([0]);
    for (const t of [t0, t1, norm]) t.dispose();
  });
});

/** Child-script text: runs `expr`, leaving what it threw (class name, code, message) in `thrown`, else null. */
const tryInChild = (expr: string): string =>
  `let thrown = null; try { ${expr}; } catch (e) { thrown = { name: e.constructor.name, code: e.code, message: e.message }; }`;

describe('host memory', () => {
  // In a child: V8 ends the process when it cannot allocate an ArrayBuffer, which the addon avoids.
  it('a CPU tensor larger than host memory is an EraError ERA_OUT_OF_MEMORY naming the op, and the process goes on', () => {
    const r = evalInChild('index', `(m) => {
      const era = m.default;
      ${tryInChild("era.zeros([4e12], { device: 'cpu' })")}
      return { thrown, after: Array.from(era.full([3], 2, { device: 'cpu' }).toArray()), tensors: era.memory().cpu.tensors };
    }`, { ...process.env, ERA_DEVICE: 'cpu' }) as { thrown: { name: string; code: string; message: string } | null; after: number[]; tensors: number };
    expect(r.thrown, 'it must throw').to.not.equal(null);
    expect(r.thrown).to.include({ name: 'EraError', code: 'ERA_OUT_OF_MEMORY' });
    expect(r.thrown?.message).to.match(/^tensor: out of host memory allocating 16000000000000 bytes/);
    expect(r.after).to.deep.equal([2, 2, 2]);
    expect(r.tensors).to.equal(1);
  });
});

describe('ERA_DEVICE', () => {
  const index = libModule('index');
  function runWith(device: string, env: NodeJS.ProcessEnv = process.env): { status: number | null; stderr: string; stdout: string } {
    const script = `import(${JSON.stringify(index)}).then((m) => console.log(m.defaultDevice())).catch((e) => { console.error(e.constructor.name + ': ' + e.message); process.exitCode = 3; })`;
    const r = runNode(['-e', script], { env: { ...env, ERA_DEVICE: device } });
    return { status: r.status, stderr: r.stderr, stdout: r.stdout.trim() };
  }

  it('cpu selects the cpu backend', () => {
    const r = runWith('cpu');
    expect(r.stdout, r.stderr).to.equal('cpu');
  });

  it('an unknown value is an error naming ERA_DEVICE', () => {
    const r = runWith('gpu');
    expect(r.status).to.equal(3);
    expect(r.stderr).to.match(/RangeError: Expected one of 'cpu' or 'cuda' for the environment variable ERA_DEVICE but received 'gpu'/);
  });

  it(hasCuda ? 'cuda selects the cuda backend' : 'cuda without a device is an error, not a silent fallback', () => {
    const r = runWith('cuda');
    if (hasCuda) {
      expect(r.stdout, r.stderr).to.equal('cuda');
    } else {
      expect(r.status).to.equal(3);
      expect(r.stderr).to.match(/EraError: ERA_DEVICE=cuda but CUDA is not usable/);
    }
  });

  it('cuda where no device is visible (CUDA_VISIBLE_DEVICES empty) is an error, not a silent fallback', () => {
    const r = runWith('cuda', envWithoutCuda());
    expect(r.status).to.equal(3);
    expect(r.stderr).to.match(/EraError: ERA_DEVICE=cuda but CUDA is not usable/);
  });
});

// The same process model as a machine without a GPU, made on any host by hiding the devices
// (CUDA_VISIBLE_DEVICES empty): a GPU host tests its CPU fallback too.
describe('with no CUDA device visible', () => {
  it('the CPU is the default, info() says why CUDA is not usable, and a cuda tensor is ERA_NO_DEVICE naming options.device', () => {
    const r = evalInChild('index', `(m) => {
      const era = m.default;
      ${tryInChild("era.zeros([2], { device: 'cuda' })")}
      const sum = era.add(era.tensor([1, 2], [2]), era.tensor([3, 4], [2]));
      const i = era.info();
      return { thrown, backend: i.backend, available: i.cuda.available, reason: i.cuda.reason, cudaBuild: i.build.cuda, sum: Array.from(sum.toArray()), device: sum.device };
    }`, envWithoutCuda()) as {
      thrown: { name: string; code: string; message: string } | null; backend: string; available: boolean; reason: string;
      cudaBuild: boolean; sum: number[]; device: string;
    };
    expect(r.thrown, 'era.zeros on cuda must throw').to.not.equal(null);
    expect(r.thrown).to.include({ name: 'EraError', code: 'ERA_NO_DEVICE' });
    expect(r.thrown?.message).to.match(/^Expected .+ for options\.device but received .+/s);
    expect(r.backend).to.equal('cpu');
    expect(r.available).to.equal(false);
    // The CUDA build asked the runtime, which found no device; the CPU build says it has no CUDA.
    expect(r.reason).to.match(r.cudaBuild ? /no (usable )?CUDA device/ : /.+/);
    expect(r.sum, 'CPU work after the error').to.deep.equal([4, 6]);
    expect(r.device).to.equal('cpu');
  });
});

describeCuda('cuda errors', () => {
  it('add, scale and exp refuse an out that is a shifted view of an input, naming options.out', () => {
    const m = block('cuda');
    for (const fn of [
      () => era.add(m.view(0, [3]), m.view(4, [3]), { out: m.view(1, [3]) }),
      () => era.add(m.view(0, [3]), m.view(1, [3]), { out: m.view(0, [3]) }),
      () => era.scale(m.view(1, [3]), 2, { out: m.view(0, [3]) }),
      () => era.exp(m.view(0, [3]), { out: m.view(1, [3]) }),
    ]) {
      expect(fn).to.throw(RangeError, /^Expected .+ for options\.out but received /);
    }
    expect(Array.from(m.toArray())).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Array.from(era.add(m.view(0, [3]), m.view(4, [3])).toArray())).to.deep.equal([6, 8, 10]);
  });

  it('out of memory becomes an EraError naming the op, and the process stays usable', () => {
    let thrown: unknown;
    try {
      era.empty([2 ** 40], { device: 'cuda' }); // 4 TiB
    } catch (err) {
      thrown = err;
    }
    expect(thrown).to.be.instanceOf(EraError);
    expect((thrown as EraError).code).to.equal('ERA_OUT_OF_MEMORY');
    expect((thrown as Error).message).to.match(/^tensor: CUDA out of memory allocating 4398046511104 bytes/);
    using t = era.full([1000], 2, { device: 'cuda' });
    expect(t.toArray()[999]).to.equal(2);
  });

  it('mixing devices is a TypeError naming the argument', () => {
    using g = era.zeros([3], { device: 'cuda' });
    using c = era.zeros([3], { device: 'cpu' });
    expect(() => era.add(g, c)).to.throw(TypeError, /for b but received a cpu tensor/);
    expect(() => native().add(g.handle, g.handle, c.handle, 1)).to.throw(TypeError, /for b /);
  });
});

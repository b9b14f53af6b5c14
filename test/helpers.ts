/**
 * Shared test utilities: the CUDA gate (GPU suites skip themselves, counted, where there is no
 * device; ERA_REQUIRE_CUDA=1 turns the skip into a failure), seeded inputs, float64 comparisons
 * that report the worst element, central finite differences, and child processes that work both
 * from the TypeScript sources (tsx) and from the compiled copy (dist/test, the GPU bundle).
 */
import { expect } from 'chai';
import { spawnSync, type SpawnSyncOptionsWithStringEncoding, type SpawnSyncReturns } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { cudaAvailable } from '../lib/device.js';
import { captureGraph } from '../lib/graph.js';
import { native } from '../lib/native.js';
import type { Tensor } from '../lib/tensor.js';

export const hasCuda = cudaAvailable();

/** True when the tests run from the TypeScript sources (through tsx), false in the compiled copy. */
export const runningFromSource = fileURLToPath(import.meta.url).endsWith('.ts');

/** A lib/ module's file as this run loads it: lib/<name>.ts from source, dist/lib/<name>.js compiled. */
export function libModule(name: string): string {
  return fileURLToPath(new URL(`../lib/${name}.${runningFromSource ? 'ts' : 'js'}`, import.meta.url));
}

/** An example program as this run loads it: examples/<name>.ts from source, dist/examples/<name>.js compiled. */
export function exampleModule(name: string): string {
  return fileURLToPath(new URL(`../examples/${name}.${runningFromSource ? 'ts' : 'js'}`, import.meta.url));
}

/** The extension a generated child script needs: .mts (run through tsx) or .mjs. */
export const scriptExtension = runningFromSource ? '.mts' : '.mjs';

/**
 * `node <args>` in a child process. From source it runs through tsx with the "source" export
 * condition, so that `import ... from 'era-cuda'` (package.json's self-reference) loads lib/ rather
 * than a possibly stale dist/; the compiled copy resolves it to dist/ as any user does.
 */
export function runNode(args: readonly string[], options: Partial<SpawnSyncOptionsWithStringEncoding> = {}): SpawnSyncReturns<string> {
  const loader = runningFromSource ? ['--import', 'tsx', '--conditions=source'] : [];
  return spawnSync(process.execPath, [...loader, ...args], { ...options, encoding: 'utf8' });
}

/**
 * The environment of a child process that sees no CUDA device: CUDA_VISIBLE_DEVICES is empty (the
 * CUDA runtime, and the simulator, then find none) and ERA_DEVICE is unset. The no-device
 * behaviour is so tested on GPU hosts as well as on machines without one.
 */
export function envWithoutCuda(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CUDA_VISIBLE_DEVICES: '', ...extra };
  if (!('ERA_DEVICE' in extra)) delete env.ERA_DEVICE;
  return env;
}

/**
 * Runs `body` (the text of an async function of the lib module `module`'s namespace that returns
 * something JSON can write) in a child process with `env`; returns what it returned, or throws
 * with the child's stderr.
 */
export function evalInChild(module: string, body: string, env: NodeJS.ProcessEnv): unknown {
  const script = `import(${JSON.stringify(libModule(module))}).then(async (m) => { const f = ${body}; console.log(JSON.stringify(await f(m))); })`;
  const r = runNode(['-e', script], { env });
  if (r.status !== 0) throw new Error(`the child exited with ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
}

/**
 * True when the CUDA backend is the CPU simulator (`npm run test:sim`, native/sim/): the kernels
 * run as fibers, thousands of times slower than on a GPU, so the few GPU-sized cases skip there.
 */
export const cudaSimulated = hasCuda && native().info().build.cudaArchitectures === 'sim';

/** Skips a test whose size only a real GPU gets through in reasonable time. */
export function skipOnSimulator(ctx: Mocha.Context): void {
  if (cudaSimulated) ctx.skip();
}

/** A describe() whose tests need a CUDA device. */
export function describeCuda(title: string, body: (this: Mocha.Suite) => void): Mocha.Suite {
  return describe(`${title} [cuda]`, function () {
    before(function () {
      if (hasCuda) return;
      if (process.env.ERA_REQUIRE_CUDA === '1') {
        throw new Error(`ERA_REQUIRE_CUDA=1 but CUDA is unavailable: ${native().info().cuda.reason}`);
      }
      this.skip();
    });
    body.call(this);
  });
}

/** A fresh seed per run (printed on failure through the test title), or ERA_TEST_SEED to replay. */
export function testSeed(): number {
  const env = process.env.ERA_TEST_SEED;
  return env ? Number(env) : Math.floor(Math.random() * 2 ** 31);
}

/** mulberry32: a small seeded PRNG for host-side test inputs. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n uniform numbers in [lo, hi) as a Float32Array. */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** n standard normals (Box-Muller) as a Float64Array. */
export function randomNormal64(n: number, seed: number, scale = 1): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u1 = Math.max(r(), 1e-12);
    out[i] = scale * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * r());
  }
  return out;
}

type Numeric = ArrayLike<number>;

/**
 * Asserts |a - e| <= atol + rtol * |e| element-wise; NaN never passes unless both are NaN and
 * allowNaN is set. The failure names the worst element.
 */
export function expectClose(actual: Numeric, expected: Numeric, opts: { atol?: number; rtol?: number; what?: string } = {}): void {
  const { atol = 1e-6, rtol = 1e-5, what = 'values' } = opts;
  expect(actual.length, `${what}: length`).to.equal(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (a === e) continue; // equal infinities too
    const tol = atol + rtol * Math.abs(e);
    const err = Math.abs(a - e);
    if (!(err <= tol)) {
      const excess = Number.isNaN(err) ? Infinity : err / tol;
      if (worst < 0 || excess > worstExcess) {
        worst = i;
        worstExcess = excess;
      }
    }
  }
  if (worst >= 0) {
    expect.fail(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (atol ${atol}, rtol ${rtol}; ${worstExcess.toFixed(1)}x the tolerance)`);
  }
}

/** Relative error ||a - e|| / ||e|| in float64. */
export function relativeError(actual: Numeric, expected: Numeric): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < actual.length; i++) {
    num += (actual[i] - expected[i]) ** 2;
    den += expected[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-300);
}

/**
 * Central finite differences of a scalar function of x (float64): g[i] = (f(x+h e_i) - f(x-h e_i)) / 2h.
 */
export function finiteDifferences(f: (x: Float64Array) => number, x: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  const xp = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    const v = xp[i];
    xp[i] = v + h;
    const fp = f(xp);
    xp[i] = v - h;
    const fm = f(xp);
    xp[i] = v;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/**
 * Asserts that fn throws an instance of `cls` whose message names the argument (`for <name> `),
 * optionally with an EraError `code` and an extra pattern; returns the error.
 */
export function expectThrowsNaming(
  fn: () => unknown,
  cls: abstract new (...args: never[]) => Error,
  name: string,
  opts: { code?: string; also?: RegExp } = {},
): Error {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected a ${cls.name} naming ${name}`).to.be.instanceOf(cls);
  const e = err as Error & { code?: string };
  expect(e.message).to.include(`for ${name} `);
  if (opts.code) expect(e.code).to.equal(opts.code);
  if (opts.also) expect(e.message).to.match(opts.also);
  return e;
}

/**
 * Each call is one kernel launch: recorded alone into a CUDA graph it gives one node, and the
 * replay writes into `out` what the eager form computes (bit for bit). `out` is poisoned with NaN
 * before the replay, so a replay that wrote nothing fails.
 */
export function expectOneLaunchEach(calls: { what: string; record: () => void; out: Tensor; eager: () => Tensor }[]): void {
  const graphs = calls.map((c) => captureGraph(c.record, { device: 'cuda' }));
  try {
    calls.forEach((c, i) => expect(graphs[i].nodes, `${c.what}: nodes`).to.equal(1));
    for (const c of calls) c.out.fill(NaN);
    for (const g of graphs) g.replay();
    for (const c of calls) {
      const expected = c.eager();
      try {
        expect(Array.from(c.out.toArray() as Float32Array), `${c.what}: replay against the eager call`).to.deep.equal(Array.from(expected.toArray() as Float32Array));
      } finally {
        expected.dispose();
      }
    }
  } finally {
    for (const g of graphs) g.dispose();
  }
}

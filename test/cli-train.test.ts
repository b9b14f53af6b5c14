/**
 * `era train sac` and `era train report` from the command line: flags checked with errors naming
 * the flag, before any folder exists; Ctrl-C saving a checkpoint that --resume continues; an output
 * folder holding a run never silently replaced or resumed with other settings; a diverged run said
 * so. Runs are tiny (a width-8 network on cartpole-balance, on the CPU).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { expect } from 'chai';

import { int } from '../lib/cli/flags.js';
import { REPEAT_MS, SIGINT_EXIT_CODE, onInterrupt } from '../lib/cli/interrupt.js';
import { eraInvocation, planVariants } from '../lib/cli/train.js';
import { sacOptionsFromFlags, type SacFlags } from '../lib/cli/train-flags.js';
import { MetricsWriter } from '../lib/report/metrics.js';
import { YIELD_MS, trainSac, type TrainSacOptions } from '../lib/rl/sac/trainer.js';
import { envWithoutCuda, libModule, runNode, runningFromSource } from './helpers.js';

const TINY = ['--task', 'cartpole-balance', '--seeds', '1', '--hidden', '8', '--batch-size', '4', '--warmup', '5', '--eval-episodes', '1',
  '--action-repeat', '8', '--device', 'cpu', '--no-progress'];
const cli = (args: string[]) => runNode([libModule('cli/era'), ...args]);

/** The flags as commander hands them over (its defaults included). */
const flags = (f: Partial<SacFlags>): SacFlags => ({
  task: 'cartpole-balance', steps: '200000', seeds: '3', seed: '0', evalEvery: '10000', evalEpisodes: '10', progress: true, saveReplay: true, ...f,
});
const parse = (f: Partial<SacFlags>) => sacOptionsFromFlags(flags(f), () => 'cpu');

/** planVariants for `era train sac` with TINY's settings and `f` in `out`. */
const plan = (out: string, f: Partial<SacFlags>) => {
  const { options, variants } = parse({ seeds: '1', hidden: '8', batchSize: '4', warmup: '5', actionRepeat: '8', ...f });
  return planVariants(out, variants, options, f.overwrite === true);
};

/** A run with TINY's settings in `outDir`, in this process (faster than the command line). */
const train = (outDir: string, steps: number, extra: Partial<TrainSacOptions> = {}) => trainSac({
  task: 'cartpole-balance', steps, seeds: 1, hidden: 8, batchSize: 4, warmupSteps: 5, actionRepeat: 8, evalEvery: 10, evalEpisodes: 1,
  device: 'cpu', progress: false, curve: false, outDir, ...extra,
});

/** The lines of `<runDir>/metrics.jsonl`. */
const metricLines = (runDir: string) => readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').filter(Boolean)
  .map((l) => JSON.parse(l) as { kind: string; step: number; resumed?: boolean });

/**
 * Runs `era train sac <args>` and sends it `presses` SIGINTs (back to back) once it is training
 * (it has said where it writes); resolves to its exit code and stderr. The child is killed
 * whatever happens, so a failing test leaves no run behind.
 */
async function interrupted(args: string[], presses = 1): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [...(runningFromSource ? ['--import', 'tsx'] : []), libModule('cli/era'), 'train', 'sac', ...args]);
  let stderr = '';
  try {
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('writing to')) resolve();
      });
      child.on('exit', () => reject(new Error(`exited before training: ${stderr}`)));
    });
    for (let i = 0; i < presses; i++) child.kill('SIGINT');
    const code = await closed;
    return { code, stderr };
  } finally {
    child.kill('SIGKILL');
  }
}

describe('`era train sac` flags', () => {
  it('name the flag in every range error, refuse empty strings, and list the tasks', () => {
    const cases: [Partial<SacFlags>, string][] = [
      [{ steps: '0' }, 'Expected a positive integer for --steps but received 0'],
      [{ steps: '' }, 'Expected an integer for --steps but received an empty string'],
      [{ seeds: '0' }, 'Expected a positive integer for --seeds but received 0'],
      [{ seed: '-1' }, 'Expected a non-negative integer for --seed but received -1'],
      [{ lr: '0' }, 'Expected a positive number for --lr but received 0'],
      [{ lr: ' ' }, 'Expected a number for --lr but received an empty string'],
      [{ actionRepeat: '0' }, 'Expected a positive integer for --action-repeat but received 0'],
      [{ evalEvery: '0' }, 'Expected a positive integer for --eval-every but received 0'],
      [{ device: 'gpu' }, "Expected 'cpu' or 'cuda' for --device but received 'gpu'"],
      [{ task: 'nope' }, "for --task but received 'nope'"],
      [{ task: 'nope' }, 'cheetah-run'],
      [{ autoDelta: true, graph: true }, '--graph cannot record --auto-delta updates'],
      [{ baseline: true, baselineOnly: true }, '--baseline trains both variants and --baseline-only'],
      [{ resume: true, overwrite: true }, 'give one of them'],
      // log σ in [−8, 0]: per-dimension entropy strictly between −8 + ½ln 2πe and ½ln 2πe.
      [{ entropyPerDim: '1.42' }, 'Expected a number between -6.581 and 1.419'],
      [{ entropyPerDim: '-6.59' }, 'for --entropy-per-dim but received -6.59'],
    ];
    for (const [f, message] of cases) expect(() => parse(f), JSON.stringify(f)).to.throw(RangeError, message);
    expect(parse({ entropyPerDim: '1.41' }).options.entropyPerDim).to.equal(1.41);
  });

  it('warn about flags the run ignores, and drop them', () => {
    const r = parse({ baselineOnly: true, entropyPerDim: '0.1', graph: true, modelPath: 'humanoid.xml' });
    expect(r.variants).to.deep.equal(['sac']);
    expect(r.warnings.join('\n')).to.include('ignored with --baseline-only').and.include('--graph records CUDA graphs: ignored on the CPU')
      .and.include('--model-path');
    expect([r.options.entropyPerDim, r.options.graph, r.options.modelPath]).to.deep.equal([undefined, undefined, undefined]);
  });

  it('the resume hint starts the command the way this one was started', () => {
    const env = {};
    expect(eraInvocation(['node', '/usr/local/bin/era'], env, '/home/u')).to.equal('era');
    expect(eraInvocation(['node', '/home/u/p/node_modules/.bin/era'], env, '/home/u/p')).to.equal('npx era');
    expect(eraInvocation(['node', '/home/u/era-cuda/dist/lib/cli/era.js'], { npm_lifecycle_event: 'era' }, '/home/u/era-cuda')).to.equal('npm run era --');
    expect(eraInvocation(['node', '/home/u/era-cuda/dist/lib/cli/era.js'], env, '/home/u/era-cuda', [])).to.equal('node dist/lib/cli/era.js');
    expect(eraInvocation(['node', '/opt/era-cuda/dist/lib/cli/era.js'], env, '/home/u', [])).to.equal('node /opt/era-cuda/dist/lib/cli/era.js');
    expect(eraInvocation(['node', '/home/u/era-cuda/lib/cli/era.ts'], env, '/home/u/era-cuda', ['--import', 'tsx', '--max-old-space-size=8192']))
      .to.equal('node --import tsx --max-old-space-size=8192 lib/cli/era.ts');
  });

  it('integers take 4k and 4_000, and errors quote what was typed (era tour --size shares the parser)', () => {
    expect(int('4k', '--size', 1)).to.equal(4000);
    expect(int('4_000', '--size', 1)).to.equal(4000);
    expect(() => int('abc', '--size', 1)).to.throw("Expected an integer for --size but received 'abc'");
    expect(() => int('0', '--size', 1)).to.throw('Expected a positive integer for --size but received 0');
  });

  it('an unknown task fails in trainSac before any folder is created', async () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'era-cli-')), 'out');
    try {
      await trainSac({ task: 'nope', steps: 10, outDir: dir, progress: false }).then(() => expect.fail('trained'), (err: Error) => {
        expect(err.message).to.include("for task but received 'nope'").and.include('cheetah-run');
      });
      expect(existsSync(dir)).to.equal(false);
    } finally {
      rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });
});

describe('`era train sac`: Ctrl-C, --resume and the output folder', function () {
  this.timeout(60_000);
  // Every test makes its own run in its own folder under this one.
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'era-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--device cuda where no CUDA device is usable fails naming --device and the reason, and writes nothing (train sac, demo)', () => {
    const out = path.join(dir, 'nocuda');
    const noCuda = { env: envWithoutCuda() };
    const tiny = TINY.map((a) => (a === 'cpu' ? 'cuda' : a));
    for (const args of [['train', 'sac', ...tiny, '--steps', '20', '--out', out], ['demo', '--steps', '20', '--device', 'cuda', '--out', out]]) {
      const r = runNode([libModule('cli/era'), ...args], noCuda);
      expect(r.status, r.stderr).to.equal(1);
      expect(r.stderr).to.match(/Expected a usable device for --device but received 'cuda': \S/);
      expect(existsSync(out)).to.equal(false);
    }
  });

  it('--resume with no checkpoint fails naming the flag, and writes nothing', () => {
    const out = path.join(dir, 'none');
    const r = cli(['train', 'sac', ...TINY, '--steps', '20', '--resume', '--out', out]);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include(`--resume: no checkpoint.safetensors in ${path.join(out, 'era')}`);
    expect(existsSync(out)).to.equal(false);
  });

  it('Ctrl-C (pressed twice in quick succession: one request) saves a checkpoint at the current step and exits with 130; --resume continues there', async () => {
    const out = path.join(dir, 'run');
    // Both presses arrive before the trainer lets the event loop turn: the second is not a hard exit.
    const r = await interrupted([...TINY, '--steps', '100000', '--eval-every', '100000', '--log-every', '50', '--out', out], 2);
    expect(r.code, r.stderr).to.equal(130);
    expect(r.stderr.match(/press Ctrl-C again to quit without saving/g), r.stderr).to.have.length(1);
    const m = /stopped at step (\d+): saving a checkpoint/.exec(r.stderr);
    expect(m, r.stderr).to.not.equal(null);
    const stoppedAt = Number(m![1]);
    expect(stoppedAt).to.be.greaterThan(0);
    expect(existsSync(path.join(out, 'era', 'checkpoint.safetensors'))).to.equal(true);
    // Started as `node <path>/era.js` here, so the hint says so (`era` would not be on PATH).
    expect(r.stderr).to.match(runningFromSource ? /Continue with:\n {2}node --import tsx (\S+ )*\S*cli\/era\.ts train sac .*--resume\n/
      : /Continue with:\n {2}node \S*cli\/era\.js train sac .*--resume\n/);
    expect(readFileSync(path.join(out, 'summary.md'), 'utf8')).to.include(`Stopped at step ${stoppedAt} of 100000`);
    // The buffered metric lines were written, up to the last logged step.
    const steps = metricLines(path.join(out, 'era')).map((l) => l.step);
    expect(steps[steps.length - 1]).to.equal(stoppedAt - (stoppedAt % 50));

    const resumed = cli(['train', 'sac', ...TINY, '--steps', String(stoppedAt + 20), '--eval-every', '100000', '--log-every', '50', '--out', out, '--resume']);
    expect(resumed.status, resumed.stderr).to.equal(0);
    expect(resumed.stderr).to.include(`resumed at step ${stoppedAt}`).and.include(`step ${stoppedAt + 20}: evaluation return`);
    expect(resumed.stdout).to.include(`| SAC+ERA | ${stoppedAt + 20} | 1 |`);
    const runs = metricLines(path.join(out, 'era')).filter((l) => l.kind === 'run');
    expect(runs.map((l) => [l.step, l.resumed])).to.deep.equal([[0, false], [stoppedAt, true]]);
  });

  it('refuses to replace a run without --resume, or resume it with other settings or at its step', async () => {
    const out = path.join(dir, 'refuse');
    await train(path.join(out, 'era'), 20);
    const refused = async (f: Partial<SacFlags>, message: string) => {
      await plan(out, f).then(() => expect.fail(`planned ${JSON.stringify(f)}`), (err: Error) => expect(err.message).to.include(message));
    };
    await refused({ steps: '40' }, `${path.join(out, 'era')} already holds a run (checkpoint.safetensors, metrics.jsonl): add --resume to continue it, or --overwrite`);
    await refused({ resume: true, steps: '20' }, 'is already at step 20; raise --steps');
    await refused({ resume: true, steps: '40', lr: '1e-3', actionRepeat: '4' },
      'was trained with other settings: --lr 0.0003 (now 0.001), --action-repeat 8 (now 4); resume with the same settings, or add --force');
    expect((await plan(out, { resume: true, steps: '40', lr: '1e-3', force: true })).map((p) => p.variant)).to.deep.equal(['era']);
    expect((await plan(out, { overwrite: true, steps: '40' })).map((p) => p.variant)).to.deep.equal(['era']);
  });

  it('--baseline-only resumes classic SAC (its settings are compared as SAC\'s)', () => {
    const out = path.join(dir, 'baseline-only');
    const first = cli(['train', 'sac', ...TINY, '--baseline-only', '--steps', '20', '--eval-every', '10', '--out', out]);
    expect(first.status, first.stderr).to.equal(0);
    const r = cli(['train', 'sac', ...TINY, '--baseline-only', '--steps', '30', '--eval-every', '10', '--out', out, '--resume']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.include('resumed at step 20').and.not.include('other settings');
    expect(r.stdout).to.include('| SAC | 30 | 1 |');
  });

  it('--baseline resumes both variants', () => {
    const out = path.join(dir, 'baseline');
    const first = cli(['train', 'sac', ...TINY, '--baseline', '--steps', '20', '--eval-every', '10', '--out', out]);
    expect(first.status, first.stderr).to.equal(0);
    const r = cli(['train', 'sac', ...TINY, '--baseline', '--steps', '30', '--eval-every', '10', '--out', out, '--resume']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr.match(/resumed at step 20/g), r.stderr).to.have.length(2);
    expect(r.stdout).to.include('| SAC+ERA | 30 | 1 |').and.include('| SAC | 30 | 1 |');
  });

  it('--resume compares the settings of a variant already at --steps too (--force keeps it)', async () => {
    const out = path.join(dir, 'finished');
    await train(path.join(out, 'era'), 20, { actorLr: 1e-3, criticLr: 1e-3 });
    await train(path.join(out, 'sac'), 10, { variant: 'sac' });
    await plan(out, { baseline: true, resume: true, steps: '20' }).then(() => expect.fail('planned'),
      (err: Error) => expect(err.message).to.include(`the checkpoint in ${path.join(out, 'era')} was trained with other settings: --lr 0.001 (now 0.0003)`));
    const plans = await plan(out, { baseline: true, resume: true, steps: '20', force: true });
    expect(plans.map((p) => [p.variant, p.finished !== undefined, p.options.resume])).to.deep.equal([['era', true, true], ['sac', false, true]]);
  });

  it('--overwrite removes every variant\'s checkpoint, metrics and curves, and the summary, before it trains', async () => {
    const out = path.join(dir, 'overwrite');
    await train(path.join(out, 'era'), 20);
    await train(path.join(out, 'sac'), 20, { variant: 'sac' });
    for (const f of ['summary.md', 'curve.svg', 'curve.csv']) writeFileSync(path.join(out, f), 'old');
    // Stopped in its first variant (before an evaluation): nothing of the old run may be left.
    const r = await interrupted([...TINY, '--baseline', '--overwrite', '--steps', '100000', '--eval-every', '100000', '--out', out]);
    expect(r.code, r.stderr).to.equal(130);
    for (const f of ['sac/checkpoint.safetensors', 'sac/metrics.jsonl', 'sac/curve.svg', 'sac/curve.csv', 'era/curve.svg', 'era/curve.csv', 'curve.svg', 'curve.csv']) {
      expect(existsSync(path.join(out, f)), f).to.equal(false);
    }
    expect(readFileSync(path.join(out, 'summary.md'), 'utf8')).to.include('Stopped at step');
    expect(metricLines(path.join(out, 'era')).filter((l) => l.kind === 'run')).to.have.length(1);
    // So a --resume continues the new era run and starts classic SAC afresh.
    const plans = await plan(out, { baseline: true, resume: true, steps: '100000' });
    expect(plans.map((p) => [p.variant, p.options.resume])).to.deep.equal([['era', true], ['sac', false]]);
  });
});

describe('Ctrl-C in the trainer: prompt, with evaluations dropped, nothing saved before a step, metrics on disk at a checkpoint', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'era-cli-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a second SIGINT is a hard exit only a second or more after the first was handled', () => {
    let t = 0;
    const exits: number[] = [];
    const before = process.listeners('SIGINT');
    const interrupt = onInterrupt('stopping', { now: () => t, exit: (code) => exits.push(code) });
    const handler = process.listeners('SIGINT').find((l) => !before.includes(l))!;
    const write = process.stderr.write;
    let printed = '';
    process.stderr.write = ((chunk: string) => ((printed += chunk), true)) as typeof process.stderr.write;
    try {
      handler('SIGINT');
      expect(interrupt.signal.aborted).to.equal(true);
      t = REPEAT_MS - 1; // a press queued with the first while the loop was busy
      handler('SIGINT');
      expect(exits).to.deep.equal([]);
      t = REPEAT_MS;
      handler('SIGINT');
      expect(exits).to.deep.equal([SIGINT_EXIT_CODE]);
    } finally {
      process.stderr.write = write;
      interrupt.remove();
    }
    expect(printed.match(/stopping/g)).to.have.length(1);
    expect(process.listeners('SIGINT')).to.deep.equal(before);
  });

  it(`with a signal, lets the event loop turn at least every ${YIELD_MS} ms (also in evaluations), with the same results`, async () => {
    const options = { steps: 30, evalEvery: 10, evalEpisodes: 2, checkpointEvery: 1000 };
    await train(path.join(dir, 'plain'), options.steps, options);
    // A clock that moves 300 ms per reading: every step and evaluation step is a turn.
    const original = { now: performance.now, setImmediate: globalThis.setImmediate };
    let turns = 0;
    let t = 0;
    performance.now = () => (t += 300);
    globalThis.setImmediate = ((fn: (...args: unknown[]) => void, ...args: unknown[]) => {
      if (/event-loop\.(ts|js)/.test(new Error().stack ?? '')) turns++;
      return original.setImmediate(fn, ...args);
    }) as typeof setImmediate;
    try {
      await train(path.join(dir, 'signal'), options.steps, { ...options, signal: new AbortController().signal });
    } finally {
      performance.now = original.now;
      globalThis.setImmediate = original.setImmediate;
    }
    expect(turns).to.be.greaterThan(options.steps + 2 * 100); // 30 steps and, before the final one, two evaluations of 2 episodes
    const bytes = (d: string) => readFileSync(path.join(dir, d, 'checkpoint.safetensors'));
    expect(bytes('signal').equals(bytes('plain'))).to.equal(true);
  });

  it('a stop during an evaluation drops it (not recorded) and a resume redoes it first; the final evaluation is finished', async () => {
    // The signal is read once per step, then between evaluation steps: the 13th read is 2 steps into the evaluation at step 10.
    const stopAtRead = (n: number) => {
      let reads = 0;
      return { get aborted() { return ++reads >= n; } };
    };
    const out = path.join(dir, 'eval');
    const lines: string[] = [];
    const r = await train(out, 20, { signal: stopAtRead(13), log: (l) => lines.push(l) });
    expect([r.interrupted, r.step, r.evaluations]).to.deep.equal([true, 10, []]);
    expect(lines.join('\n')).to.include('step 10: evaluation stopped before its end; not recorded').and.include('stopped at step 10: saving a checkpoint');
    expect(metricLines(out).filter((l) => l.kind === 'eval')).to.deep.equal([]);
    const resumed = await train(out, 20, { resume: true });
    expect(resumed.evaluations.map((e) => e.step)).to.deep.equal([10, 20]);
    expect(metricLines(out).filter((l) => l.kind === 'eval').map((l) => l.step)).to.deep.equal([10, 20]);

    const last = await train(path.join(dir, 'final'), 10, { signal: stopAtRead(11) });
    expect([last.interrupted, last.step, last.evaluations.map((e) => e.step)]).to.deep.equal([false, 10, [10]]);
  });

  it('a fresh run stopped before its first step saves nothing and leaves no run in its folder', async () => {
    const out = path.join(dir, 'setup');
    const ac = new AbortController();
    ac.abort();
    const r = await train(out, 20, { signal: ac.signal });
    expect([r.interrupted, r.step]).to.deep.equal([true, 0]);
    expect(existsSync(path.join(out, 'checkpoint.safetensors'))).to.equal(false);
    expect(existsSync(path.join(out, 'metrics.jsonl'))).to.equal(false);
  });

  it('the metric lines up to a checkpoint are on disk once it is saved', async () => {
    const out = path.join(dir, 'flush');
    let reads = 0;
    let onDisk: number[] = [];
    // Read at the top of step 11, right after the checkpoint at step 10 (lines are buffered up to 64 or 1 s).
    const signal = { get aborted() {
      if (++reads === 11) onDisk = metricLines(out).map((l) => l.step);
      return false;
    } };
    await train(out, 20, { signal, logEvery: 1, checkpointEvery: 10, evalEvery: 1000 });
    expect(onDisk[onDisk.length - 1]).to.equal(10);
  });
});

describe('`era train sac`: a diverged run, and `era train report` before an evaluation', function () {
  this.timeout(60_000);

  it('a diverged run says so and suggests a lower --lr', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'era-cli-'));
    try {
      const run = trainSac({
        task: 'cartpole-balance', steps: 100, seeds: 1, hidden: 8, batchSize: 4, warmupSteps: 5, actorLr: 1e30, criticLr: 1e30, actionRepeat: 8,
        evalEvery: 1000, evalEpisodes: 1, outDir: dir, progress: false, device: 'cpu', curve: false,
      });
      await run.then(() => expect.fail('trained'), (err: Error) => expect(err.message).to.match(/^training diverged at step \d+: .* \(try a lower --lr\)$/));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('report names the metrics file that has no evaluation yet', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'era-cli-'));
    try {
      mkdirSync(path.join(dir, 'era'));
      const w = new MetricsWriter(path.join(dir, 'era', 'metrics.jsonl'));
      w.write('run', 0, { task: 'cartpole-balance', variant: 'era', seeds: 1 });
      w.write('train', 100, { stepsPerSecond: 10 });
      w.close();
      const r = cli(['train', 'report', dir]);
      expect(r.status).to.equal(1);
      expect(r.stderr).to.include(`${path.join(dir, 'era', 'metrics.jsonl')} has no evaluation lines yet`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

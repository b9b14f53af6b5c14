/**
 * `era train sac` and `era train report` from the command line: flags checked with errors naming
 * the flag, before any folder exists; Ctrl-C saving a checkpoint that --resume continues; an output
 * folder holding a run never silently replaced or resumed with other settings; a diverged run said
 * so. Runs are tiny (a width-8 network on cartpole-balance, on the CPU).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { expect } from 'chai';

import { int } from '../lib/cli/flags.js';
import { planVariants } from '../lib/cli/train.js';
import { sacOptionsFromFlags, type SacFlags } from '../lib/cli/train-flags.js';
import { MetricsWriter } from '../lib/report/metrics.js';
import { trainSac } from '../lib/rl/sac/trainer.js';
import { libModule, runNode, runningFromSource } from './helpers.js';

const TINY = ['--task', 'cartpole-balance', '--seeds', '1', '--hidden', '8', '--batch-size', '4', '--warmup', '5', '--eval-episodes', '1',
  '--action-repeat', '8', '--device', 'cpu', '--no-progress'];
const cli = (args: string[]) => runNode([libModule('cli/era'), ...args]);

/** The flags as commander hands them over (its defaults included). */
const flags = (f: Partial<SacFlags>): SacFlags => ({
  task: 'cartpole-balance', steps: '200000', seeds: '3', seed: '0', evalEvery: '10000', evalEpisodes: '10', progress: true, saveReplay: true, ...f,
});
const parse = (f: Partial<SacFlags>) => sacOptionsFromFlags(flags(f), () => 'cpu');

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
        expect(err.message).to.include('options.task').and.include('cheetah-run');
      });
      expect(existsSync(dir)).to.equal(false);
    } finally {
      rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });
});

describe('`era train sac`: Ctrl-C, --resume and the output folder', function () {
  this.timeout(60_000);
  let dir: string;
  let stoppedAt = 0;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'era-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--resume with no checkpoint fails naming the flag, and writes nothing', () => {
    const out = path.join(dir, 'none');
    const r = cli(['train', 'sac', ...TINY, '--steps', '20', '--resume', '--out', out]);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include(`--resume: no checkpoint.safetensors in ${path.join(out, 'era')}`);
    expect(existsSync(out)).to.equal(false);
  });

  it('the first SIGINT saves a checkpoint at the current step and exits with 130', async () => {
    const out = path.join(dir, 'run');
    const child = spawn(process.execPath, [...(runningFromSource ? ['--import', 'tsx'] : []), libModule('cli/era'), 'train', 'sac', ...TINY,
      '--steps', '100000', '--eval-every', '100000', '--log-every', '50', '--out', out]);
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Its lines go to stderr without a bar (--no-progress); interrupt once it is training.
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('writing to')) setTimeout(resolve, 300);
      });
      child.on('exit', () => reject(new Error(`exited early: ${stderr}`)));
    });
    child.kill('SIGINT');
    const code = await exited;
    expect(code, stderr).to.equal(130);
    const m = /stopped at step (\d+): saving a checkpoint/.exec(stderr);
    expect(m, stderr).to.not.equal(null);
    stoppedAt = Number(m![1]);
    expect(stoppedAt).to.be.greaterThan(0);
    expect(existsSync(path.join(out, 'era', 'checkpoint.safetensors'))).to.equal(true);
    expect(stderr).to.include('Continue with:').and.include('--resume');
    expect(readFileSync(path.join(out, 'summary.md'), 'utf8')).to.include(`Stopped at step ${stoppedAt} of 100000`);
    // The buffered metric lines were written, up to the last logged step.
    const steps = readFileSync(path.join(out, 'era', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number });
    expect(steps[steps.length - 1].step).to.equal(stoppedAt - (stoppedAt % 50));
  });

  it('refuses to replace the run without --resume, or resume it with other settings or at its step', async () => {
    const out = path.join(dir, 'run');
    const plan = (f: Partial<SacFlags>) => {
      const { options, variants } = parse({ steps: String(stoppedAt + 20), seeds: '1', hidden: '8', batchSize: '4', warmup: '5', actionRepeat: '8', ...f });
      return planVariants(out, variants, options, f.overwrite === true);
    };
    const refused = async (f: Partial<SacFlags>, message: string) => {
      await plan(f).then(() => expect.fail(`planned ${JSON.stringify(f)}`), (err: Error) => expect(err.message).to.include(message));
    };
    await refused({}, `${path.join(out, 'era')} already holds a run (checkpoint.safetensors, metrics.jsonl): add --resume to continue it, or --overwrite`);
    await refused({ resume: true, steps: String(stoppedAt) }, `is already at step ${stoppedAt}; raise --steps`);
    await refused({ resume: true, lr: '1e-3', actionRepeat: '4' }, 'was trained with other settings: --lr 0.0003 (now 0.001), --action-repeat 8 (now 4); resume with the same settings, or add --force');
    expect((await plan({ resume: true, lr: '1e-3', force: true })).map((p) => p.variant)).to.deep.equal(['era']);
    expect((await plan({ overwrite: true })).map((p) => p.variant)).to.deep.equal(['era']);
  });

  it('--resume continues from the saved step', () => {
    const out = path.join(dir, 'run');
    const r = cli(['train', 'sac', ...TINY, '--steps', String(stoppedAt + 20), '--eval-every', '100000', '--log-every', '50', '--out', out, '--resume']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.include(`resumed at step ${stoppedAt}`).and.include(`step ${stoppedAt + 20}: evaluation return`);
    expect(r.stdout).to.include(`| SAC+ERA | ${stoppedAt + 20} | 1 |`);
    const runs = readFileSync(path.join(out, 'era', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; step: number; resumed?: boolean })
      .filter((l) => l.kind === 'run');
    expect(runs.map((l) => [l.step, l.resumed])).to.deep.equal([[0, false], [stoppedAt, true]]);
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

/**
 * lib/rl/sac/run-report.ts and `era train report`: runs read back from the metrics the trainer
 * writes (per-seed evaluations, throughput totals over the logged windows, a resumed run), and the
 * rebuilt combined curve and summary of two variants trained in separate processes.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { expect } from 'chai';

import { MetricsWriter, type MetricValue } from '../lib/report/metrics.js';
import { readRunSummary } from '../lib/rl/sac/run-report.js';
import { libModule, runNode } from './helpers.js';

type Event = [kind: string, step: number, values: Record<string, MetricValue>];

function writeMetrics(dir: string, events: Event[], append = false): void {
  const w = new MetricsWriter(path.join(dir, 'metrics.jsonl'), { append });
  for (const [kind, step, values] of events) w.write(kind, step, values);
  w.close();
}

const runLine = (variant: 'era' | 'sac', step = 0): Event =>
  ['run', step, { task: 'cartpole-balance', variant, label: variant === 'era' ? 'SAC+ERA' : 'SAC', seeds: 2, steps: 300 }];

describe('era train report', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'era-report-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads per-seed evaluations and totals steps/s and updates/s over the windows, a resume included', () => {
    const era = path.join(dir, 'era');
    // Windows of 100 steps: 100 s/s (1 s), then 50 s/s (2 s); the resumed run's window restarts at its checkpoint.
    writeMetrics(era, [
      runLine('era'),
      ['train', 100, { stepsPerSecond: 100, updatesPerSecond: 0 }],
      ['train', 200, { stepsPerSecond: 50, updatesPerSecond: 100 }],
      ['eval', 200, { return: 15, return0: 10, return1: 20 }],
    ]);
    writeMetrics(era, [runLine('era', 200), ['train', 300, { stepsPerSecond: 25, updatesPerSecond: 50 }], ['eval', 300, { return: 35, return0: 30, return1: 40 }]], true);
    const r = readRunSummary(era)!;
    expect(r.label).to.equal('SAC+ERA');
    expect(r.task).to.equal('cartpole-balance');
    expect(r.evaluations).to.deep.equal([{ step: 200, returns: [10, 20] }, { step: 300, returns: [30, 40] }]);
    // 300 steps in 1 + 2 + 4 s; 0 + 200 + 200 updates.
    expect(r.stepsPerSecond).to.be.closeTo(300 / 7, 1e-9);
    expect(r.updatesPerSecond).to.be.closeTo(400 / 7, 1e-9);
    expect(r.lastStep).to.equal(300);
    expect(readRunSummary(path.join(dir, 'sac'))).to.equal(undefined);
  });

  it('rebuilds the combined summary and curve of variants trained in separate processes', () => {
    for (const v of ['era', 'sac'] as const) {
      writeMetrics(path.join(dir, v), [runLine(v), ['train', 100, { stepsPerSecond: 10, updatesPerSecond: 20 }],
        ['eval', 100, { return: 1, return0: v === 'era' ? 500 : 100, return1: v === 'era' ? 700 : 300 }]]);
    }
    const r = runNode([libModule('cli/era'), 'train', 'report', dir]);
    expect(r.status, r.stderr).to.equal(0);
    const summary = readFileSync(path.join(dir, 'summary.md'), 'utf8');
    expect(summary).to.include('| SAC+ERA | 100 | 2 | 600.0 ± 141.4 | 500.0, 700.0 | 10 | 20 |');
    expect(summary).to.include('| SAC | 100 | 2 | 200.0 ± 141.4 | 100.0, 300.0 | 10 | 20 |');
    expect(summary).to.include('era/metrics.jsonl (to step 100) and sac/metrics.jsonl (to step 100)');
    expect(existsSync(path.join(dir, 'curve.svg'))).to.equal(true);
    expect(readFileSync(path.join(dir, 'curve.svg'), 'utf8')).to.include('SAC+ERA');
  });

  it('names the folder when it holds no run, and refuses runs of two tasks', () => {
    let r = runNode([libModule('cli/era'), 'train', 'report', dir]);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include(`Expected era/metrics.jsonl or sac/metrics.jsonl under ${dir}`);
    writeMetrics(path.join(dir, 'era'), [runLine('era')]);
    writeMetrics(path.join(dir, 'sac'), [['run', 0, { task: 'walker-walk', variant: 'sac', seeds: 2 }]]);
    r = runNode([libModule('cli/era'), 'train', 'report', dir]);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include('cartpole-balance and walker-walk');
  });
});

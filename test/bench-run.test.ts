/**
 * The bench runner (bench/run.ts) end to end, on the CPU and in quick mode: from the TypeScript
 * sources through tsx as well as from the compiled copy, it finds the benches beside it, measures
 * the copy ceiling first, and writes a JSON and a Markdown report. Only that the run completes and
 * what the report holds are checked here; the figures belong to `npm run bench`.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { envWithoutCuda, runNode, runningFromSource } from './helpers.js';

const runner = fileURLToPath(new URL(`../bench/run.${runningFromSource ? 'ts' : 'js'}`, import.meta.url));

interface Report {
  backend: string;
  complete: boolean;
  quick: boolean;
  ceiling: { case: string; gbps: number } | null;
  cases: { name: string; status: string; medianMs?: number }[];
}

describe('bench runner', function () {
  this.timeout(120_000);
  let out: string;
  beforeEach(() => {
    out = mkdtempSync(path.join(os.tmpdir(), 'era-bench-'));
  });
  afterEach(() => rmSync(out, { recursive: true, force: true }));

  it('runs the filtered cases after the copy ceiling and writes JSON and Markdown', function () {
    const r = runNode([runner, '--filter', 'era.gaussian', '--quick', '--out', out], { env: envWithoutCuda(), timeout: 100_000 });
    const output = `${r.stdout}\n${r.stderr}`;
    expect(r.status, output).to.equal(0);
    const files = readdirSync(out).sort();
    expect(files, output).to.have.length(2);
    const json = files.find((f) => f.endsWith('.json'));
    expect(json).to.match(/^cpu-/);
    const report = JSON.parse(readFileSync(path.join(out, json!), 'utf8')) as Report;
    expect(report.backend).to.equal('cpu');
    expect(report.complete).to.equal(true);
    expect(report.quick).to.equal(true);
    expect(report.ceiling?.case).to.match(/^copy /);
    expect(report.ceiling?.gbps).to.be.greaterThan(0);
    // The ceiling ran but the filter keeps it out of the cases; the one matching case ran and passed.
    expect(report.cases.map((c) => [c.name, c.status])).to.deep.equal([['era.gaussian fwd+bwd B=256 D=21', 'ok']]);
    expect(report.cases[0].medianMs).to.be.greaterThan(0);
    const md = readFileSync(path.join(out, json!.replace(/\.json$/, '.md')), 'utf8');
    expect(md).to.match(/^\| era\.gaussian fwd\+bwd B=256 D=21 \| [\d.]+ \|/m);
  });

  it('refuses an unknown flag with its usage and exit status 2, writing nothing', function () {
    const r = runNode([runner, '--fliter', 'copy', '--out', out], { env: envWithoutCuda(), timeout: 60_000 });
    expect(r.status, r.stderr).to.equal(2);
    expect(r.stderr).to.match(/fliter/);
    expect(r.stderr).to.match(/usage: /);
    expect(readdirSync(out)).to.deep.equal([]);
  });
});

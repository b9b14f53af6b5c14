/**
 * The example programs in examples/ run to the end and their own checks pass (each throws, and
 * so exits non-zero, when what it claims does not hold), at sizes small enough for the suite.
 * Their default sizes are exercised by hand; the README quotes what they print.
 */
import { expect } from 'chai';

import { describeCuda, exampleModule, runNode } from './helpers.js';

interface ExampleCase {
  name: string;
  args: string[];
  /** A line the program prints at the end. */
  expects: RegExp;
}

const CASES: readonly ExampleCase[] = [
  // 150 steps: enough for the example's 90 % accuracy check (it applies from 100 steps on).
  { name: 'classifier', args: ['--steps', '150'], expects: /test accuracy \d+\.\d%/ },
  { name: 'grpo-bandit', args: ['--iterations', '40'], expects: /last 10%: plain reward/ },
  { name: 'sac-loop', args: ['--steps', '1200'], expects: /step 1200: evaluation return \d/ },
];

function runExample(c: ExampleCase, device: 'cpu' | 'cuda'): void {
  const r = runNode([exampleModule(c.name), ...c.args, '--device', device], { timeout: 240_000 });
  const output = `${r.stdout}\n${r.stderr}`;
  expect(r.error, output).to.equal(undefined);
  expect(r.status, output).to.equal(0);
  expect(r.stdout).to.match(c.expects);
  expect(r.stdout).to.include(`on ${device}`);
}

describe('examples/', function () {
  this.timeout(300_000);

  for (const c of CASES) {
    it(`${c.name} runs to the end on the CPU with its checks passing`, function () {
      runExample(c, 'cpu');
    });
  }

  it('reject a bad --device or size, naming the option', function () {
    const bad = runNode([exampleModule('classifier'), '--device', 'gpu']);
    expect(bad.status).to.not.equal(0);
    expect(bad.stderr).to.include("Expected 'cpu' or 'cuda' for --device but received 'gpu'");
    const size = runNode([exampleModule('sac-loop'), '--steps', '0']);
    expect(size.status).to.not.equal(0);
    expect(size.stderr).to.include("Expected a positive integer for --steps but received '0'");
  });
});

describeCuda('examples/', function () {
  this.timeout(300_000);

  for (const c of CASES) {
    it(`${c.name} runs to the end on CUDA with its checks passing`, function () {
      runExample(c, 'cuda');
    });
  }
});

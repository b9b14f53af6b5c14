/**
 * The example programs in examples/ run to the end and their own checks pass (each throws, and
 * so exits non-zero, when what it claims does not hold), at sizes small enough for the suite.
 * Their default sizes are exercised by hand; the README quotes what they print.
 */
import { expect } from 'chai';

import { cudaSimulated, describeCuda, exampleModule, runNode, runningFromSource } from './helpers.js';

interface ExampleCase {
  name: string;
  args: string[];
  /** Smaller arguments for the CUDA simulator, whose kernels run thousands of times slower. */
  simArgs?: string[];
  /** A line the program prints at the end. */
  expects: RegExp;
}

const CASES: readonly ExampleCase[] = [
  // 150 steps: enough for the example's accuracy and entropy-floor checks (from 100 steps on).
  { name: 'classifier', args: ['--steps', '150'], expects: /test accuracy \d+\.\d%/ },
  { name: 'grpo-bandit', args: ['--iterations', '40'], expects: /last 10%: plain reward/ },
  // 6000 steps (about 10 s on two CPU cores): enough for the example's learning check. The
  // simulator runs 1200, where only the per-evaluation checks (entropy, finite losses) apply.
  { name: 'sac-loop', args: ['--steps', '6000'], simArgs: ['--steps', '1200'], expects: /mean of the last \d evaluations: \d/ },
];

function runExample(c: ExampleCase, device: 'cpu' | 'cuda'): void {
  const args = device === 'cuda' && cudaSimulated && c.simArgs ? c.simArgs : c.args;
  const r = runNode([exampleModule(c.name), ...args, '--device', device], { timeout: 240_000 });
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

  it("import 'era-cuda' from lib/ when run from source, from dist/ when compiled", function () {
    // package.json's "source" export condition, which runNode sets from source: without it the
    // examples would test the last build rather than the code being tested.
    const r = runNode(['--input-type=module', '-e', "console.log(import.meta.resolve('era-cuda'))"]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.match(runningFromSource ? /\/lib\/index\.ts$/ : /\/dist\/lib\/index\.js$/);
  });

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

// Mocha's spec reporter plus the closing line CI reads: "N passed, N failed, N skipped".
// Pending tests (GPU suites without a device, it.skip) count as skipped.
const Mocha = require('mocha');

class EraReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    runner.on('pass', () => passed++);
    runner.on('fail', () => failed++);
    runner.on('pending', () => skipped++);
    runner.once('end', () => {
      process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    });
  }
}

module.exports = EraReporter;

#!/usr/bin/env node
/** The `era` command: `era info`, `era demo`. */
import { Command } from 'commander';

import { runDemo } from './demo.js';
import { formatInfo } from './format-info.js';
import { info, version } from '../runtime.js';

const program = new Command();
program.name('era').description('era-cuda: ERA (Entropy Regularizing Activation) on CUDA and CPU').version(version());

program
  .command('info')
  .description('show the backend, device, driver/runtime versions and build flags')
  .option('--json', 'print JSON instead of text')
  .action((opts: { json?: boolean }) => {
    const i = info();
    console.log(opts.json ? JSON.stringify(i, null, 2) : formatInfo(i));
  });

program
  .command('demo')
  .description('a short tour: tensors, random numbers and the basic ops on the default device')
  .option('--size <n>', 'elements per tensor', '4000000')
  .action((opts: { size: string }) => runDemo(Number(opts.size)));

program.parseAsync().catch((err: Error) => {
  console.error(`era: ${err.message}`);
  process.exitCode = 1;
});

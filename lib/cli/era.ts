#!/usr/bin/env node
/** The `era` command: `era info`, `era demo`, `era tour`, `era train sac`. */
import { Command } from 'commander';

import { runDemo } from './demo.js';
import { int } from './flags.js';
import { formatInfo } from './format-info.js';
import { registerTrainCommand } from './train.js';
import { runTour } from './tour.js';
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
    // The diagnostics first, then the setup error that would stop every other command.
    if (i.backendError !== undefined) {
      console.error(`era: ${i.backendError}`);
      process.exitCode = 1;
    }
  });

program
  .command('demo')
  .description('the embedded default: trains SAC+ERA on a small task on the default backend (about 15 s on two CPU cores) and writes its learning curve')
  .option('--out <dir>', 'output folder', 'runs/demo')
  .option('--steps <n>', 'environment steps')
  .option('--device <cpu|cuda>', 'device (default: cuda where present)')
  .action((opts: { out: string; steps?: string; device?: string }) => runDemo(opts));

program
  .command('tour')
  .description('a short tour: tensors, random numbers and the basic ops on the default device')
  .option('--size <n>', 'elements per tensor (4000000, 4_000_000 or 4000k)', '4000000')
  .action((opts: { size: string }) => runTour(int(opts.size, '--size', 1)!));

registerTrainCommand(program);

program.parseAsync().catch((err: Error) => {
  console.error(`era: ${err.message}`);
  process.exitCode = 1;
});

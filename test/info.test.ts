import { expect } from 'chai';

import era from '../lib/index.js';
import { describeCuda, hasCuda, libModule, runNode } from './helpers.js';

function era_(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = runNode([libModule('cli/era'), ...args]);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('era.info() and the era command', () => {
  it('reports backend, addon and build flags', () => {
    const i = era.info();
    expect(i.backend).to.equal(hasCuda && process.env.ERA_DEVICE !== 'cpu' ? 'cuda' : 'cpu');
    expect(i.addon.path).to.match(/era_(cuda|cpu|cuda_sim)\.node$/);
    expect(i.build.napiVersion).to.equal(8);
    expect(i.build.finalizers).to.equal('gc');
    expect(i.cuda.available).to.equal(hasCuda);
    if (!hasCuda) expect(i.cuda.reason).to.be.a('string').and.not.empty;
  });

  it('loads the CUDA build when the machine has nvcc (ERA_EXPECT_CUDA_BUILD=1)', function () {
    if (process.env.ERA_EXPECT_CUDA_BUILD !== '1') this.skip();
    const i = era.info();
    expect(i.build.cuda).to.equal(true);
    expect(i.addon.build).to.equal('cuda');
    expect(i.build.cudaArchitectures).to.include('90');
  });

  it('`era info --json` prints the same report', () => {
    const r = era_(['info', '--json']);
    expect(r.status, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout);
    expect(j.version).to.equal(era.version());
    expect(j.build.napiVersion).to.equal(8);
  });

  it('`era info` prints a readable summary', () => {
    const r = era_(['info']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^era-cuda \d+\.\d+\.\d+/);
    expect(r.stdout).to.match(/backend: +(cpu|cuda)/);
  });

  it('`era tour` runs and leaves no live tensors', () => {
    const r = era_(['tour', '--size', '100000']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/after the scope: cpu 0, cuda 0 live tensors/);
  });

  it('an unknown command exits non-zero with a message', () => {
    const r = era_(['frobnicate']);
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.match(/unknown command/);
  });
});

describeCuda('era.info() on a GPU', () => {
  it('names the device and its properties', () => {
    const i = era.info();
    expect(i.cuda.available).to.equal(true);
    expect(i.cuda.name).to.be.a('string').and.not.empty;
    expect(i.cuda.smCount).to.be.greaterThan(0);
    expect(i.cuda.totalMemory).to.be.greaterThan(0);
    expect(i.cuda.computeCapability).to.match(/^\d+\.\d+$/);
    expect(i.cuda.gemm?.kernel).to.equal('auto');
    expect(i.cuda.gemm?.kernels).to.include.members(['auto', 'mma']);
    console.log(`      device: ${i.cuda.name}, cc ${i.cuda.computeCapability}, ${i.cuda.smCount} SMs, driver ${i.cuda.driverVersion}, runtime ${i.cuda.runtimeVersion}, bf16 GEMM kernels ${i.cuda.gemm?.kernels.join(', ')}`);
  });
});

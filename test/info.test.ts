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

  // The CUDA runtime reports a missing driver (no libcuda.so.1) as cudaErrorInsufficientDriver,
  // "CUDA driver version is insufficient for CUDA runtime version": advice to upgrade a driver the
  // machine does not have. The reason says which case it is, keeping the error's name.
  it('a CUDA build without a usable driver says whether a driver was found at all', function () {
    const i = era.info();
    if (!i.build.cuda || i.build.cudaArchitectures === 'sim' || i.cuda.available) this.skip();
    const reason = i.cuda.reason ?? '';
    expect(reason).to.be.a('string').and.not.empty;
    if (!reason.includes('cudaErrorInsufficientDriver')) return;
    if (i.cuda.driverVersion === 'none') {
      // cudaDriverGetVersion found no driver: none is installed.
      expect(reason).to.match(/^no usable CUDA device: no NVIDIA driver found \(libcuda\.so\.1 is not installed or cannot be loaded; cudaErrorInsufficientDriver\)$/);
    } else {
      expect(reason).to.include('CUDA driver version is insufficient');
      expect(reason).to.include(`the driver supports CUDA ${i.cuda.driverVersion}`);
      expect(reason).to.include(`this build's runtime is CUDA ${i.cuda.runtimeVersion}`);
    }
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

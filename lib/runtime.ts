/** What is running: era.info(), era.memory(), and control of the CUDA backend. */
import { createRequire } from 'node:module';

import { cpuInfo, type CpuInfo } from './cpu.js';
import { cudaAvailable, defaultDevice } from './device.js';
import { loadReport, native, type NativeMemory } from './native.js';
import { cudaGemmKernels, type CudaGemmKernel } from './nn/functional.js';

export interface EraInfo {
  version: string;
  /** The device new tensors go to by default. */
  backend: 'cpu' | 'cuda';
  /**
   * Set when ERA_DEVICE names a device that cannot be used: calls that need the default device
   * throw this message, and `backend` shows what would be used without ERA_DEVICE.
   */
  backendError?: string;
  addon: { path: string; build: 'cuda' | 'cpu'; skipped: { path: string; reason: string }[] };
  build: { cuda: boolean; cudaArchitectures: string; napiVersion: number;
    /** 'gc': Node frees tensor wrappers during garbage collection; 'event-loop': only when the loop turns. */
    finalizers: 'gc' | 'event-loop';
    compiler: string; buildType: string };
  cuda: {
    available: boolean;
    reason?: string;
    deviceIndex?: number;
    name?: string;
    computeCapability?: string;
    smCount?: number;
    totalMemory?: number;
    freeMemory?: number;
    l2CacheBytes?: number;
    /** The bf16 GEMM's kernel choice and the choices offered ('wgmma' on an H100/H200 with the sm_90a build): era.nn.cudaGemmKernels(). */
    gemm?: { kernel: CudaGemmKernel; kernels: CudaGemmKernel[]; wgmmaUnavailable?: string };
    driverVersion: string;
    runtimeVersion: string;
  };
  /** The CPU backend: its threads and GEMM kernel (lib/cpu.ts). */
  cpu: CpuInfo;
  node: string;
}

function cudaVersion(v: number): string {
  return v > 0 ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : 'none';
}

export function version(): string {
  const require = createRequire(import.meta.url);
  try {
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return (require('../package.json') as { version: string }).version;
  }
}

/** Backend, device name, compute capability, SM count, memory, driver/runtime versions, build flags. */
export function info(): EraInfo {
  const n = native().info();
  const c = n.cuda;
  const cuda: EraInfo['cuda'] = c.available
    ? {
        available: true,
        deviceIndex: c.deviceIndex,
        name: c.name,
        computeCapability: c.computeCapability,
        smCount: c.smCount,
        totalMemory: c.totalMemory,
        freeMemory: c.freeMemory,
        l2CacheBytes: c.l2CacheBytes,
        gemm: cudaGemmKernels(),
        driverVersion: cudaVersion(c.driverVersion),
        runtimeVersion: cudaVersion(c.runtimeVersion),
      }
    : { available: false, reason: c.reason, driverVersion: cudaVersion(c.driverVersion), runtimeVersion: cudaVersion(c.runtimeVersion) };
  // info() is the diagnosis of a bad setup, so a bad ERA_DEVICE is reported here, not thrown.
  let backend: EraInfo['backend'];
  let backendError: string | undefined;
  try {
    backend = defaultDevice();
  } catch (err) {
    backend = c.available ? 'cuda' : 'cpu';
    backendError = (err as Error).message;
  }
  return {
    version: version(), backend, ...(backendError === undefined ? {} : { backendError }),
    addon: loadReport(), build: n.build, cuda, cpu: cpuInfo(), node: process.version,
  };
}

export type MemoryReport = NativeMemory;

/** Live tensors and bytes per device, plus the CUDA caching allocator's counters. */
export function memory(): MemoryReport {
  return native().memory();
}

/** Returns cached, unused CUDA blocks to the driver, and the pinned host blocks kept for reads. */
export function emptyCache(): void {
  native().emptyCache();
}

/** Waits for all queued CUDA work (a no-op without CUDA). */
export function synchronize(): void {
  if (cudaAvailable()) native().synchronize();
}

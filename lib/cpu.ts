/**
 * The CPU backend's worker threads and GEMM kernel.
 *
 * CPU kernels (the GEMM, element-wise layers, layer norm, Adam) split large work over a pool of
 * threads, like PyTorch's intra-op threads. The default is one per CPU this process may run on (its
 * affinity mask, at most 32); `ERA_NUM_THREADS` or `setNumThreads()` changes it. Results do not
 * depend on the thread count: each output element is computed in the same order by whichever
 * thread owns it.
 *
 * The GEMM picks its micro-kernel at run time: 'avx2-fma' where the CPU has AVX2 and FMA, else
 * 'portable'. `ERA_CPU_GEMM=portable` forces the portable one (its rounding differs: FMA rounds
 * once per multiply-add).
 */
import os from 'node:os';

import { MAX_CPU_THREADS, native } from './native.js';
import { integer, oneOf } from './validate.js';

/** The most threads setNumThreads accepts. */
export const MAX_THREADS = MAX_CPU_THREADS;

export interface CpuInfo {
  /** Threads the CPU kernels use (getNumThreads()). */
  threads: number;
  /** CPUs this process may run on (os.availableParallelism()). */
  cores: number;
  /** The GEMM micro-kernel in use. */
  gemmKernel: string;
  /** The GEMM micro-kernels this CPU can run, fastest first. */
  gemmKernels: string[];
  /** The build of ELU and layer norm in use, the widest this CPU runs: 'avx512', 'avx2' or 'baseline'. */
  vectorBuild: string;
}

/** Threads the CPU kernels use (the calling thread included). */
export function getNumThreads(): number {
  return native().cpuInfo().threads;
}

/** Sets the threads the CPU kernels use: an integer from 1 (no worker threads) to MAX_THREADS. */
export function setNumThreads(threads: number): void {
  native().setCpuThreads(integer(threads, 'threads', 1, MAX_THREADS));
}

/** Threads, CPUs, GEMM kernels and vector build of the CPU backend (part of era.info()). */
export function cpuInfo(): CpuInfo {
  const c = native().cpuInfo();
  return { threads: c.threads, cores: os.availableParallelism(), gemmKernel: c.gemmKernel, gemmKernels: c.gemmKernels, vectorBuild: c.vectorBuild };
}

/**
 * Selects the CPU GEMM micro-kernel by name (one of cpuInfo().gemmKernels). For tests and
 * benchmarks that compare kernels; ERA_CPU_GEMM does the same for a whole process.
 */
export function setCpuGemmKernel(name: string): void {
  native().setCpuGemmKernel(oneOf(name, native().cpuInfo().gemmKernels, 'name'));
}

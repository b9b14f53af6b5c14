/**
 * The typed surface of the native addon and its loader. The loader tries the CUDA build
 * (build/Release/era_cuda.node), then the CPU build (era_cpu.node), and records why it fell back;
 * where neither loads it throws one EraError that lists what it tried and how to fix it.
 * ERA_ADDON_PATH names an addon file to load instead.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { EraError } from './errors.js';
import { expected, oneOf } from './validate.js';

/** dtype and device codes shared with native/core/dtype.h. */
export const DTYPE_CODE = { f32: 0, i32: 1, bf16: 2 } as const;
export const DEVICE_CODE = { cpu: 0, cuda: 1 } as const;

export type HostArray = Float32Array | Int32Array | Uint16Array;

export interface NativeTensor {
  dispose(): void;
  isDisposed(): boolean;
  readSync(out?: HostArray): HostArray;
  readAsync(): Promise<HostArray>;
  write(data: HostArray): void;
  hostArray(): HostArray;
}

export interface NativeInfo {
  build: { cuda: boolean; cudaArchitectures: string; napiVersion: number;
    /** 'gc': Node frees tensor wrappers during garbage collection; 'event-loop': only when the loop turns. */
    finalizers: 'gc' | 'event-loop';
    compiler: string; buildType: string };
  cuda: {
    available: boolean;
    reason?: string;
    deviceIndex: number;
    name: string;
    computeCapability: string;
    smCount: number;
    totalMemory: number;
    freeMemory: number;
    l2CacheBytes: number;
    driverVersion: number;
    runtimeVersion: number;
  };
}

export interface NativeMemory {
  cpu: { tensors: number; bytes: number };
  cuda: {
    tensors: number;
    bytes: number;
    allocatedBytes: number;
    cachedBytes: number;
    peakBytes: number;
    deviceAllocations: number;
    cacheHits: number;
    /** Host bytes of the pinned blocks kept for asynchronous reads (`read()`); emptyCache frees them. */
    pinnedReadCachedBytes: number;
  };
  /** The bytes V8 counts as external memory (the process's; each live CUDA tensor reports its bytes). */
  v8ExternalBytes: number;
}

export interface NativeApi {
  NativeTensor: new (dtype: number, device: number, shape: number[], data?: HostArray | null) => NativeTensor;
  info(): NativeInfo;
  memory(): NativeMemory;
  emptyCache(): void;
  synchronize(): void;
  timerStart(): void;
  timerStop(): number;
  setErrorClass(cls: typeof EraError): void;
  cpuInfo(): { threads: number; gemmKernel: string; gemmKernels: string[]; vectorBuild: string };
  setCpuThreads(threads: number): void;
  setCpuGemmKernel(name: string): void;
  /** The CUDA GEMM's bf16 kernel choice (lib/nn/functional.ts cudaGemmKernels); needs CUDA. */
  cudaGemmKernels(): { kernel: string; kernels: string[]; wgmmaUnavailable?: string };
  setCudaGemmKernel(name: string): void;
  /** Whether the two tensors' bytes overlap. */
  sharesMemory(a: NativeTensor, b: NativeTensor): boolean;
  fill(out: NativeTensor, value: number): void;
  copy(dst: NativeTensor, src: NativeTensor): void;
  add(out: NativeTensor, a: NativeTensor, b: NativeTensor, alpha: number): void;
  scale(out: NativeTensor, input: NativeTensor, alpha: number): void;
  exp(out: NativeTensor, input: NativeTensor): void;
  randomUniform(out: NativeTensor, seed: number, offset: number, low: number, high: number): void;
  randomNormal(out: NativeTensor, seed: number, offset: number, mean: number, std: number): void;
}

export interface LoadReport {
  /** Which addon file is in use. */
  path: string;
  /** 'cuda' for era_cuda.node (CPU + CUDA backends), 'cpu' for era_cpu.node. */
  build: 'cuda' | 'cpu';
  /** Candidates that failed before the one in use, with their errors. */
  skipped: { path: string; reason: string }[];
}

/** The package root: the nearest folder above this file with era-cuda's package.json. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'era-cuda') return dir;
      } catch {
        /* keep looking */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new EraError('era-cuda: cannot find the package root (package.json named era-cuda)', 'ERA_LOAD_FAILED');
    dir = up;
  }
}

function hints(reasons: string): string[] {
  const out: string[] = [];
  if (/cannot open shared object|Cannot find module|ENOENT/i.test(reasons)) {
    out.push('Build the addon: `npm run build:native` (needs CMake or node-gyp and a C++17 compiler; CUDA is optional).');
  }
  if (/GLIBC|GLIBCXX|CXXABI/.test(reasons)) out.push('The addon was built against a newer C/C++ runtime than this system has: rebuild it here.');
  if (/NODE_MODULE_VERSION|napi/i.test(reasons)) out.push('The addon was built for another Node-API version: rebuild it with this Node.');
  if (out.length === 0) out.push('Rebuild with `npm run build:native` and see README.md "Install".');
  return out;
}

function load(): { api: NativeApi; report: LoadReport } {
  const require = createRequire(import.meta.url);
  const root = packageRoot();
  const candidates: { path: string; build: 'cuda' | 'cpu' }[] = process.env.ERA_ADDON_PATH
    ? [{ path: path.resolve(process.env.ERA_ADDON_PATH), build: /cuda/.test(process.env.ERA_ADDON_PATH) ? 'cuda' : 'cpu' }]
    : [
        { path: path.join(root, 'build', 'Release', 'era_cuda.node'), build: 'cuda' },
        { path: path.join(root, 'build', 'Release', 'era_cpu.node'), build: 'cpu' },
      ];
  const skipped: { path: string; reason: string }[] = [];
  for (const c of candidates) {
    if (!existsSync(c.path)) {
      skipped.push({ path: c.path, reason: 'not built (file does not exist)' });
      continue;
    }
    try {
      const api = require(c.path) as NativeApi;
      api.setErrorClass(EraError);
      return { api, report: { path: c.path, build: c.build, skipped } };
    } catch (err) {
      skipped.push({ path: c.path, reason: (err as Error).message.split('\n')[0] });
    }
  }
  const tried = skipped.map((s) => `  - ${s.path}: ${s.reason}`).join('\n');
  const fix = hints(tried).map((h) => `  - ${h}`).join('\n');
  throw new EraError(`era-cuda: could not load a native addon. Tried:\n${tried}\nPossible fixes:\n${fix}`, 'ERA_LOAD_FAILED');
}

/**
 * ERA_NUM_THREADS and ERA_CPU_GEMM (lib/cpu.ts), and ERA_CUDA_GEMM (era.nn.setCudaGemmKernel; it
 * starts CUDA), applied once the addon loads. A value that is not understood, or a CUDA kernel with
 * no CUDA device, is an error rather than silently ignored.
 */
/** The most CPU threads the addon accepts (native/cpu/parallel.h kMaxThreads). */
export const MAX_CPU_THREADS = 1024;

function applyCpuEnvironment(api: NativeApi): void {
  const threads = process.env.ERA_NUM_THREADS;
  if (threads !== undefined && threads !== '') {
    const n = Number(threads);
    if (!/^\s*\d+\s*$/.test(threads) || n < 1 || n > MAX_CPU_THREADS)
      throw new RangeError(expected(`an integer from 1 to ${MAX_CPU_THREADS}`, 'the environment variable ERA_NUM_THREADS', threads));
    api.setCpuThreads(n);
  }
  const kernel = process.env.ERA_CPU_GEMM;
  if (kernel !== undefined && kernel !== '')
    api.setCpuGemmKernel(oneOf(kernel, api.cpuInfo().gemmKernels, 'the environment variable ERA_CPU_GEMM'));
  const cudaKernel = process.env.ERA_CUDA_GEMM;
  if (cudaKernel !== undefined && cudaKernel !== '') {
    const cuda = api.info().cuda;
    if (!cuda.available) throw new EraError(`The environment variable ERA_CUDA_GEMM (${cudaKernel}) needs a CUDA device: ${cuda.reason}`, 'ERA_NO_DEVICE');
    api.setCudaGemmKernel(oneOf(cudaKernel, api.cudaGemmKernels().kernels, 'the environment variable ERA_CUDA_GEMM'));
  }
}

let loaded: { api: NativeApi; report: LoadReport } | undefined;

function ensureLoaded(): { api: NativeApi; report: LoadReport } {
  if (!loaded) {
    const l = load();
    applyCpuEnvironment(l.api);
    loaded = l;
  }
  return loaded;
}

/** The native addon (loaded on first use). */
export function native(): NativeApi {
  return ensureLoaded().api;
}

export function loadReport(): LoadReport {
  return ensureLoaded().report;
}

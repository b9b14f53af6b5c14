#!/usr/bin/env node
// Builds the native addon(s) without downloading anything:
//   - CMake present: cmake-js builds build/Release/era_cpu.node, plus era_cuda.node when a CUDA
//     compiler is found (PATH, CUDACXX, or /usr/local/cuda/bin). ERA_WITH_CUDA=0 skips CUDA;
//     ERA_CUDA_ARCH overrides the architectures (default "80-real;90").
//   - CMake absent: node-gyp builds build/Release/era_cpu.node from binding.gyp.
// Run by `npm install` (the package's install script) and by `npm run build:native`.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function log(msg) {
  console.log(`[era-cuda build] ${msg}`);
}

function has(cmd, args = ['--version']) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.status === 0;
}

function run(cmd, args, env = process.env) {
  log(`${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) {
    throw new Error(`${path.basename(cmd)} exited with ${r.status ?? r.signal}`);
  }
}

function findNvcc() {
  if (process.env.CUDACXX && existsSync(process.env.CUDACXX)) return process.env.CUDACXX;
  if (has('nvcc')) return 'nvcc';
  for (const dir of [process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda']) {
    const p = dir && path.join(dir, 'bin', 'nvcc');
    if (p && existsSync(p)) return p;
  }
  return null;
}

function buildWithCmake() {
  const env = { ...process.env };
  const args = [require.resolve('cmake-js/bin/cmake-js'), 'rebuild', '--out', 'build'];
  const wantCuda = process.env.ERA_WITH_CUDA !== '0';
  const nvcc = wantCuda ? findNvcc() : null;
  if (nvcc) {
    // CMake only looks on PATH and CUDACXX: point it at the compiler we found.
    if (nvcc !== 'nvcc') env.CUDACXX = nvcc;
    log(`CUDA compiler: ${nvcc}; architectures: ${process.env.ERA_CUDA_ARCH || '80-real;90 (default)'}`);
  } else {
    log(wantCuda ? 'no CUDA compiler found: building the CPU-only addon' : 'ERA_WITH_CUDA=0: building the CPU-only addon');
    args.push('--CDERA_WITH_CUDA=OFF');
  }
  if (process.env.ERA_BUILD_DEBUG === '1') args.push('--debug');
  run(process.execPath, args, env);
}

function buildWithGyp() {
  // npm exposes its bundled node-gyp to lifecycle scripts; elsewhere look for it beside npm.
  let gyp = process.env.npm_config_node_gyp;
  if (!gyp || !existsSync(gyp)) {
    const npmDir = process.env.npm_execpath ? path.dirname(path.dirname(process.env.npm_execpath)) : null;
    const candidate = npmDir && path.join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    gyp = candidate && existsSync(candidate) ? candidate : null;
  }
  if (!gyp) {
    try {
      gyp = require.resolve('node-gyp/bin/node-gyp.js');
    } catch {
      throw new Error('neither CMake nor node-gyp is available: install CMake (apt-get install cmake) or node-gyp');
    }
  }
  const args = [gyp, 'rebuild'];
  // Use the headers of the running Node when they are installed, so nothing is downloaded.
  const prefixes = [process.config?.variables?.node_prefix, path.dirname(path.dirname(process.execPath))];
  const prefix = prefixes.find((p) => p && existsSync(path.join(p, 'include', 'node', 'node_api.h')));
  if (prefix) args.push(`--nodedir=${prefix}`);
  run(process.execPath, args);
}

try {
  if (process.env.ERA_SKIP_NATIVE_BUILD === '1') {
    log('ERA_SKIP_NATIVE_BUILD=1: skipping');
  } else if (has('cmake') && process.env.ERA_BUILD_SYSTEM !== 'gyp') {
    buildWithCmake();
  } else {
    log(process.env.ERA_BUILD_SYSTEM === 'gyp' ? 'ERA_BUILD_SYSTEM=gyp: building the CPU-only addon with node-gyp' : 'CMake not found: building the CPU-only addon with node-gyp');
    rmSync(path.join(root, 'build'), { recursive: true, force: true });
    buildWithGyp();
  }
} catch (err) {
  console.error(`[era-cuda build] failed: ${err.message}`);
  console.error('[era-cuda build] see README.md "Install" for the requirements (CMake or node-gyp, a C++17 compiler; optional CUDA toolkit).');
  process.exitCode = 1;
}

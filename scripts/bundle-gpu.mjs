#!/usr/bin/env node
// `npm run bundle:gpu`: builds bundle/era-cuda-gpu/, a self-contained folder that runs the compiled
// tests and benches on a Linux x86-64 host with an NVIDIA driver but no Node.js (the GPU hosts have
// none, and carry at most 64 MiB). It holds: node.xz (this Node, xz-compressed, cached in
// bundle/.cache), the CUDA addon, package.json, the compiled JS of lib/test/bench/examples, the PyTorch
// baseline scripts, a mocha config, the runtime node_modules closure, and run.sh (see its header).
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync,
  statSync, writeFileSync, openSync, closeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'bundle', 'era-cuda-gpu');
const cacheDir = path.join(root, 'bundle', '.cache');
const LIMIT = 40 * 2 ** 20;
// Runtime packages the bundle needs, and build-only ones never to follow into.
const ROOTS = ['mocha', 'chai', 'bindings', 'commander', '@mujoco/mujoco', '@resvg/resvg-js'];
const SKIP = new Set(['typescript', 'tsx', 'esbuild', 'cmake-js']);
// Files nothing loads at run time (typings, source maps, docs): about a third of the packages' bytes.
const PRUNE = /(\.d\.[cm]?ts|\.map|\.md)$|[\\/]@mujoco[\\/]mujoco[\\/]mt([\\/]|$)/i; // mt/: the threaded wasm, unused
// Large runtime files shipped xz-compressed (about 5x smaller); run.sh unpacks them beside the .xz.
const COMPRESS = /(\.wasm|\.linux-x64-gnu\.node)$/;
// The GPU hosts are H100/H200: the bundle's addon is built for sm_90 (SASS + PTX) only, which halves
// its fatbin; ERA_BUNDLE_ADDON names another build to ship instead.
const BUNDLE_ARCH = '90';

const log = (msg) => console.log(`[bundle:gpu] ${msg}`);
function fail(msg) {
  console.error(`[bundle:gpu] error: ${msg}`);
  process.exit(1);
}
const mib = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** Every file under dir (relative paths), skipping folders named in `skipDirs`. */
function walk(dir, skipDirs = new Set(), rel = '') {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) return skipDirs.has(e.name) ? [] : walk(path.join(dir, e.name), skipDirs, r);
    return e.isFile() ? [r] : [];
  });
}

function copyInto(src, relDest) {
  const dest = path.join(outDir, relDest);
  mkdirSync(path.dirname(dest), { recursive: true });
  copyFileSync(src, dest);
}

// ---- 1. the CUDA addon -------------------------------------------------------------------------
function bundleAddon() {
  if (process.env.ERA_BUNDLE_ADDON) return path.resolve(process.env.ERA_BUNDLE_ADDON);
  const out = path.join('bundle', '.cache', `build-sm${BUNDLE_ARCH}`);
  log(`building the addon for sm_${BUNDLE_ARCH} in ${out} (incremental after the first time)`);
  const cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
  const r = spawnSync(process.execPath, [cmakeJs, existsSync(path.join(root, out, 'CMakeCache.txt')) ? 'build' : 'rebuild', '--out', out],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ERA_CUDA_ARCH: BUNDLE_ARCH } });
  if (r.status !== 0) fail(`building the sm_${BUNDLE_ARCH} addon failed (exit ${r.status ?? r.signal}); is nvcc installed?`);
  return path.join(root, out, 'Release', 'era_cuda.node');
}
const addon = bundleAddon();
if (!existsSync(addon)) {
  fail(`${path.relative(root, addon)} is missing: the bundle needs the CUDA build of the addon.\n` +
    '  Build it with `npm run build:native` on a machine with the CUDA toolkit (nvcc on PATH, or CUDACXX set).');
}
{
  // Loading works without a GPU (static cudart finds no driver and reports it); it proves the file is whole.
  const info = createRequire(import.meta.url)(addon).info();
  if (!info.build.cuda) fail(`${addon} was built without CUDA`);
  if (!/90/.test(info.build.cudaArchitectures)) log(`warning: addon architectures "${info.build.cudaArchitectures}" lack sm_90 (H100/H200)`);
  log(`addon: CUDA build, architectures ${info.build.cudaArchitectures}`);
}

// ---- 2. compiled JS: compile when any output is missing or older than its source ---------------
const SOURCE_DIRS = ['lib', 'test', 'bench', 'examples'];
const OUT_EXT = { '.ts': '.js', '.mts': '.mjs', '.cts': '.cjs', '.json': '.json' };
// tsc emits a .json only where code imports it, so a missing .json output is not an error.
const optionalOutput = (out) => out.endsWith('.json');
function compiledFiles() {
  const pairs = [];
  for (const dir of SOURCE_DIRS) {
    for (const rel of walk(path.join(root, dir), new Set(['node_modules', 'results', '__pycache__']))) {
      const ext = path.extname(rel);
      if (!(ext in OUT_EXT) || rel.endsWith('.d.ts')) continue;
      const out = path.join('dist', dir, rel.slice(0, -ext.length) + OUT_EXT[ext]);
      pairs.push({ src: path.join(dir, rel), out });
    }
  }
  return pairs;
}
const mtime = (p) => statSync(path.join(root, p)).mtimeMs;
const configTime = mtime('tsconfig.json');
const stale = compiledFiles().filter(({ src, out }) =>
  existsSync(path.join(root, out)) ? mtime(out) < Math.max(mtime(src), configTime) : !optionalOutput(out));
if (stale.length > 0) {
  log(`compiling TypeScript (${stale.length} output(s) missing or stale, e.g. ${stale[0].out})`);
  const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
  const r = spawnSync(existsSync(tsc) ? tsc : 'npx', existsSync(tsc) ? ['-p', '.'] : ['tsc', '-p', '.'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) fail(`tsc -p . failed (exit ${r.status ?? r.signal})`);
}

// ---- 3. node.xz, cached by the identity of this Node binary ------------------------------------
const nodeBin = realpathSync(process.execPath);
const nodeStat = statSync(nodeBin);
const nodeKey = `node-${process.version}-${process.arch}-${nodeStat.size}-${Math.floor(nodeStat.mtimeMs)}-stripped-9e`;
const nodeXz = path.join(cacheDir, `${nodeKey}.xz`);
if (process.platform !== 'linux' || process.arch !== 'x64') fail(`the GPU hosts are linux-x64; this Node is ${process.platform}-${process.arch}`);
if (!existsSync(nodeXz)) {
  log(`compressing ${nodeBin} (${mib(nodeStat.size)}, symbols stripped) with xz -T0 -9e; cached for later runs`);
  mkdirSync(cacheDir, { recursive: true });
  // Stripping the symbol table saves about 2 MiB compressed and changes nothing at run time.
  const stripped = path.join(cacheDir, 'node.stripped');
  copyFileSync(nodeBin, stripped);
  const st = spawnSync('strip', [stripped], { stdio: 'inherit' });
  const source = st.status === 0 ? stripped : nodeBin;
  if (source === nodeBin) log('strip is not available: shipping the unstripped binary');
  const tmp = `${nodeXz}.tmp`;
  const fd = openSync(tmp, 'w');
  const r = spawnSync('xz', ['-T0', '-9e', '-c', source], { stdio: ['ignore', fd, 'inherit'] });
  rmSync(stripped, { force: true });
  closeSync(fd);
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    fail(`xz failed (${r.error?.message ?? `exit ${r.status}`}); install xz-utils`);
  }
  renameSync(tmp, nodeXz);
}
const nodeId = `${process.version}-${createHash('sha256').update(readFileSync(nodeXz)).digest('hex').slice(0, 12)}`;

// ---- 4. the runtime node_modules closure -------------------------------------------------------
/** Node's lookup: <dir>/node_modules/<name> for dir = from and each parent up to the root. */
function resolvePackage(from, name) {
  for (let dir = from; dir.startsWith(root); dir = path.dirname(dir)) {
    if (path.basename(dir) === 'node_modules') continue;
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === root) break;
  }
  return undefined;
}
const packages = new Set();
const queue = ROOTS.map((name) => ({ name, from: root, optional: false }));
while (queue.length > 0) {
  const { name, from, optional } = queue.shift();
  if (SKIP.has(name) || name.startsWith('@esbuild/')) continue;
  const dir = resolvePackage(from, name);
  if (!dir) {
    if (optional) continue;
    fail(`cannot find package ${name} (needed from ${path.relative(root, from) || 'the package root'}); run npm install`);
  }
  if (packages.has(dir)) continue;
  packages.add(dir);
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  for (const dep of Object.keys(pkg.dependencies ?? {})) queue.push({ name: dep, from: dir, optional: false });
  for (const dep of Object.keys(pkg.optionalDependencies ?? {})) queue.push({ name: dep, from: dir, optional: true });
}

// ---- 5. assemble -------------------------------------------------------------------------------
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
copyFileSync(nodeXz, path.join(outDir, 'node.xz'));
writeFileSync(path.join(outDir, 'node.id'), `${nodeId}\n`);
// The addon's fatbin (every GEMM variant for sm_80 and sm_90) is most of its size and compresses
// about 2x: ship it as .xz, which run.sh unpacks on first use.
mkdirSync(path.join(outDir, 'build', 'Release'), { recursive: true });
{
  const fd = openSync(path.join(outDir, 'build', 'Release', 'era_cuda.node.xz'), 'w');
  const r = spawnSync('xz', ['-T0', '-6', '-c', addon], { stdio: ['ignore', fd, 'inherit'] });
  closeSync(fd);
  if (r.status !== 0) fail(`xz of the addon failed (${r.error?.message ?? `exit ${r.status}`})`);
}
// The native self-tests built beside the addon (test/cpu-threads.test.ts runs them): small enough
// to ship, so the GPU host's suite runs them rather than skipping them.
for (const exe of ['era_parallel_selftest', 'era_vector_math_selftest']) {
  const src = path.join(path.dirname(addon), exe);
  if (existsSync(src)) copyInto(src, path.join('build', 'Release', exe));
  else log(`warning: ${exe} is not beside the addon, so its test will skip on the GPU host`);
}
copyInto(path.join(root, 'package.json'), 'package.json');
// Only outputs whose source still exists: stale dist files of deleted tests must not run.
let jsCount = 0;
for (const { out } of compiledFiles()) {
  if (!existsSync(path.join(root, out))) {
    if (optionalOutput(out)) continue;
    fail(`${out} is missing after compiling`);
  }
  copyInto(path.join(root, out), out);
  jsCount++;
}
// Non-TypeScript test assets (the CI reporter, fixtures) keep their paths.
for (const rel of walk(path.join(root, 'test'))) {
  if (!/\.(ts|mts|cts)$/.test(rel)) copyInto(path.join(root, 'test', rel), path.join('test', rel));
}
for (const f of readdirSync(path.join(root, 'bench', 'baselines')).filter((f) => f.endsWith('.py'))) {
  copyInto(path.join(root, 'bench', 'baselines', f), path.join('bench', 'baselines', f));
}
for (const dir of packages) {
  // Nested node_modules come along only as members of the closure (at their own paths).
  cpSync(dir, path.join(outDir, path.relative(root, dir)), {
    recursive: true,
    filter: (src) => !path.relative(dir, src).split(path.sep).includes('node_modules') && !PRUNE.test(src),
  });
}
const compressed = [];
for (const rel of walk(path.join(outDir, 'node_modules'))) {
  if (!COMPRESS.test(rel)) continue;
  const file = path.join(outDir, 'node_modules', rel);
  const fd = openSync(`${file}.xz`, 'w');
  const r = spawnSync('xz', ['-T0', '-6', '-c', file], { stdio: ['ignore', fd, 'inherit'] });
  closeSync(fd);
  if (r.status !== 0) fail(`xz of ${rel} failed`);
  rmSync(file);
  compressed.push(path.join('node_modules', rel));
}
// run.sh unpacks these (relative paths, one per line) beside their .xz on first use.
writeFileSync(path.join(outDir, 'unpack.txt'), compressed.map((f) => `${f}\n`).join(''));

// The humanoid tasks' model (Debian's libmujoco-samples, Apache-2.0) where this machine has it:
// the GPU hosts have no such package, and run.sh points ERA_HUMANOID_XML at this copy.
const HUMANOID_XML = '/usr/share/mujoco/model/humanoid/humanoid.xml';
const HUMANOID_COPYRIGHT = '/usr/share/doc/libmujoco-samples/copyright';
if (existsSync(HUMANOID_XML)) {
  copyInto(HUMANOID_XML, path.join('assets', 'mujoco', 'humanoid.xml'));
  if (existsSync(HUMANOID_COPYRIGHT)) copyInto(HUMANOID_COPYRIGHT, path.join('assets', 'mujoco', 'COPYRIGHT'));
  log('humanoid model: shipped from libmujoco-samples (assets/mujoco)');
} else {
  log(`humanoid model: ${HUMANOID_XML} is absent here, so the humanoid tests will skip on the GPU host (apt-get install libmujoco-samples)`);
}

// The repo's mocha config runs TS through tsx; the bundle runs the compiled tests instead.
const repoMocha = existsSync(path.join(root, '.mocharc.json')) ? JSON.parse(readFileSync(path.join(root, '.mocharc.json'), 'utf8')) : {};
const mocharc = { ...repoMocha, spec: ['dist/test/**/*.test.js'] };
delete mocharc['node-option'];
delete mocharc.require;
delete mocharc.import;
delete mocharc.extension;
mocharc.reporter = existsSync(path.join(outDir, 'test', 'reporter.cjs')) ? './test/reporter.cjs' : 'spec';
writeFileSync(path.join(outDir, '.mocharc.json'), `${JSON.stringify(mocharc, null, 2)}\n`);

for (const [src, dest] of [['bundle-run.sh', 'run.sh'], ['bundle-check.sh', 'check.sh']]) {
  copyFileSync(path.join(root, 'scripts', src), path.join(outDir, dest));
  chmodSync(path.join(outDir, dest), 0o755);
}

// ---- 6. size check -----------------------------------------------------------------------------
const files = walk(outDir);
const total = files.reduce((sum, f) => sum + statSync(path.join(outDir, f)).size, 0);
log(`${path.relative(root, outDir)}: ${files.length} files, ${mib(total)} ` +
  `(node.xz ${mib(statSync(path.join(outDir, 'node.xz')).size)}, ${jsCount} compiled JS files, ${packages.size} packages)`);
if (total > LIMIT) {
  fail(`the bundle is ${mib(total)}, over the ${mib(LIMIT)} limit; for an H100-only bundle rebuild with ` +
    '`ERA_CUDA_ARCH=90 npm run build:native` (drops the sm_80 code) and bundle again');
}
log(`done: carry bundle/era-cuda-gpu and run \`bundle/era-cuda-gpu/run.sh check <outdir>\` (or all | test | bench | table | node <args>)`);

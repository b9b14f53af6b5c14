// Lists the native sources of the CPU-only addon for binding.gyp (gyp has no glob); *_selftest.cc
// files are executables of their own.
const fs = require('node:fs');
const path = require('node:path');
const root = path.join(__dirname, '..');
const dirs = ['native/cpu', 'native/addon', 'native/ops', 'native/models'];
const files = dirs.flatMap((d) =>
  (fs.existsSync(path.join(root, d)) ? fs.readdirSync(path.join(root, d)) : []).filter((f) => f.endsWith('.cc') && !f.endsWith('_selftest.cc')).map((f) => `${d}/${f}`));
files.push('native/core/cuda_stub.cc');
console.log(files.join(' '));

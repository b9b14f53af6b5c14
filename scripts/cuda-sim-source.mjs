#!/usr/bin/env node
// Turns a native/cuda/*.cu file into C++ that g++ compiles for the CUDA simulator (native/sim/):
//   kernel<<<grid, block, smem, stream>>>(args)  ->  ::era_sim::launch(LaunchConfig(...), "kernel", kernel, args)
//   extern __shared__ T name[];                   ->  T* name = dynamic shared memory of the launch
//   __global__ void k(...) {                       ->  ... { plus a thread counter (ERA_SIM_LAUNCH_LOG)
// Everything else is left as written, and line numbers are kept so compiler messages point into
// the .cu file (a #line directive names it). Usage: node cuda-sim-source.mjs in.cu out.cc
import fs from 'node:fs';
import path from 'node:path';

export function toSimSource(text) {
  let out = '';
  let pos = 0;
  for (;;) {
    const open = text.indexOf('<<<', pos);
    if (open < 0) break;
    const close = text.indexOf('>>>', open + 3);
    if (close < 0) throw new Error(`unterminated <<< at offset ${open}`);
    // The kernel expression ends just before `<<<` (after optional whitespace): an identifier with
    // an optional template argument list, e.g. row_forward_kernel<T, kTwo, kTopK>.
    let end = open;
    while (end > 0 && /\s/.test(text[end - 1])) end--;
    let start = end;
    if (text[start - 1] === '>') {
      let depth = 0;
      do {
        start--;
        if (text[start] === '>') depth++;
        else if (text[start] === '<') depth--;
      } while (depth > 0 && start > 0);
    }
    while (start > 0 && /[\w:]/.test(text[start - 1])) start--;
    const kernel = text.slice(start, end);
    if (!/^[A-Za-z_:]/.test(kernel)) throw new Error(`cannot find the kernel before <<< at offset ${open}`);
    let paren = close + 3;
    while (/\s/.test(text[paren])) paren++;
    if (text[paren] !== '(') throw new Error(`expected ( after >>> for ${kernel}`);
    let next = paren + 1;
    while (/\s/.test(text[next])) next++;
    const hasArgs = text[next] !== ')';
    const config = text.slice(open + 3, close);
    // Whitespace (newlines included) between the pieces is kept so the line count does not change.
    const gaps = text.slice(end, open) + text.slice(close + 3, paren);
    out +=
      text.slice(pos, start) +
      `::era_sim::launch(::era_sim::LaunchConfig(${config}), "${kernel.replace(/\s+/g, ' ')}", ${kernel}` +
      gaps +
      (hasArgs ? ', ' : '');
    pos = paren + 1;
  }
  out += text.slice(pos);
  return countThreads(out).replace(
    /extern\s+__shared__\s+(?:__align__\(\s*\d+\s*\)\s+)?([A-Za-z_][\w:]*(?:\s+[A-Za-z_][\w:]*)*?)\s+(\w+)\s*\[\s*\]\s*;/g,
    (_, type, name) => `${type}* ${name} = static_cast<${type}*>(::era_sim::dynamic_shared());`,
  );
}

// Puts a thread counter (era_sim::KernelCounter, one static per instantiation) at the top of
// every __global__ function body, on the line of its opening brace.
function countThreads(text) {
  const re = /__global__\s+void\s+(?:__launch_bounds__\([^)]*\)\s+)?(\w+)\s*\(/g;
  let out = '';
  let pos = 0;
  for (let m; (m = re.exec(text)); ) {
    let i = m.index + m[0].length;
    for (let depth = 1; depth > 0; i++) {
      if (text[i] === '(') depth++;
      else if (text[i] === ')') depth--;
    }
    while (/\s/.test(text[i])) i++;
    if (text[i] !== '{') continue;  // a declaration, not a definition
    out += text.slice(pos, i + 1) + ` static ::era_sim::KernelCounter era_sim_threads_("${m[1]}"); era_sim_threads_.hit();`;
    pos = i + 1;
    re.lastIndex = pos;
  }
  return out + text.slice(pos);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    console.error('usage: node scripts/cuda-sim-source.mjs <in.cu> <out.cc>');
    process.exit(2);
  }
  const source = fs.readFileSync(input, 'utf8');
  fs.mkdirSync(path.dirname(output), { recursive: true });
  fs.writeFileSync(output, `#line 1 "${path.resolve(input)}"\n` + toSimSource(source));
}

/** Human-readable `era info`. */
import type { EraInfo } from '../runtime.js';

function gib(bytes: number | undefined): string {
  return bytes === undefined ? '?' : `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

export function formatInfo(i: EraInfo): string {
  const lines = [
    `era-cuda ${i.version} (Node ${i.node})`,
    `backend:        ${i.backend}${i.backendError === undefined ? '' : ' (without ERA_DEVICE; see the error below)'}`,
    `addon:          ${i.addon.path} (${i.addon.build} build)`,
  ];
  for (const s of i.addon.skipped) lines.push(`  fell back from ${s.path}: ${s.reason}`);
  if (i.cuda.available) {
    lines.push(
      `device:         ${i.cuda.name} (#${i.cuda.deviceIndex})`,
      `compute cap.:   ${i.cuda.computeCapability}, ${i.cuda.smCount} SMs, L2 ${((i.cuda.l2CacheBytes ?? 0) / 2 ** 20).toFixed(0)} MiB`,
      `memory:         ${gib(i.cuda.freeMemory)} free of ${gib(i.cuda.totalMemory)}`,
    );
    if (i.cuda.gemm) {
      const g = i.cuda.gemm;
      lines.push(`bf16 GEMM:      ${g.kernel} (offered: ${g.kernels.join(', ')}${g.wgmmaUnavailable ? `; no wgmma: ${g.wgmmaUnavailable}` : ''})`);
    }
  } else {
    lines.push(`cuda:           unavailable (${i.cuda.reason})`);
  }
  lines.push(
    `driver/runtime: CUDA ${i.cuda.driverVersion} / ${i.cuda.runtimeVersion}`,
    `build:          ${i.build.cuda ? `CUDA (${i.build.cudaArchitectures})` : 'CPU only'}, N-API ${i.build.napiVersion} (finalizers ${i.build.finalizers === 'gc' ? 'during GC' : 'from the event loop'}), ${i.build.compiler}, ${i.build.buildType}`,
    `cpu backend:    ${i.cpu.threads} thread${i.cpu.threads === 1 ? '' : 's'} of ${i.cpu.cores} CPUs (ERA_NUM_THREADS), GEMM kernel ${i.cpu.gemmKernel}, vector build ${i.cpu.vectorBuild}`,
  );
  return lines.join('\n');
}

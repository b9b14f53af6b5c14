/**
 * A finished (or cut-short) `era train sac` run read back from its metrics.jsonl: what
 * `era train report` needs to rebuild the combined curve and summary of variants that trained in
 * separate processes (SAC+ERA and classic SAC side by side on one GPU, say) or across resumes.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

import { readMetrics, type MetricsEvent } from '../../report/metrics.js';
import { VARIANT_LABEL, type Evaluation, type TrainSacResult } from './trainer.js';

export type RunSummary = Pick<TrainSacResult, 'label' | 'evaluations' | 'stepsPerSecond' | 'updatesPerSecond'> & {
  task: string;
  variant: string;
  seeds: number;
  /** The last step any line reached. */
  lastStep: number;
};

const num = (e: MetricsEvent, key: string): number | undefined => {
  const v = e[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};

/**
 * Reads one variant folder (<out>/era or <out>/sac). Evaluations keep the per-seed returns
 * (return0, return1, ...); steps/s and updates/s are totals over the logged windows (each window's
 * seconds = its steps over its steps/s), so windows of a resumed run count once each.
 */
export function readRunSummary(variantDir: string): RunSummary | undefined {
  const file = path.join(variantDir, 'metrics.jsonl');
  if (!existsSync(file)) return undefined;
  const events = readMetrics(file);
  const runs = events.filter((e) => e.kind === 'run');
  const run = runs[runs.length - 1];
  if (!run) return undefined;
  const seeds = num(run, 'seeds') ?? 0;
  const variant = typeof run.variant === 'string' ? run.variant : path.basename(variantDir);
  const label = typeof run.label === 'string' ? run.label : VARIANT_LABEL[variant as keyof typeof VARIANT_LABEL] ?? variant;
  const evaluations: Evaluation[] = events.filter((e) => e.kind === 'eval').map((e) => ({
    step: e.step,
    returns: Array.from({ length: seeds }, (_, i) => num(e, `return${i}`) ?? NaN),
  }));
  let seconds = 0;
  let steps = 0;
  let updates = 0;
  let prevStep = 0;
  for (const e of events) {
    if (e.kind === 'run') prevStep = e.step; // a resume starts its windows at the checkpoint's step
    if (e.kind !== 'train') continue;
    const sps = num(e, 'stepsPerSecond');
    const windowSteps = e.step - prevStep;
    prevStep = e.step;
    if (!sps || windowSteps <= 0) continue;
    const dt = windowSteps / sps;
    seconds += dt;
    steps += windowSteps;
    updates += (num(e, 'updatesPerSecond') ?? 0) * dt;
  }
  return {
    task: typeof run.task === 'string' ? run.task : '?',
    variant, label, seeds, evaluations,
    stepsPerSecond: seconds > 0 ? steps / seconds : NaN,
    updatesPerSecond: seconds > 0 ? updates / seconds : NaN,
    lastStep: events.reduce((s, e) => Math.max(s, e.step), 0),
  };
}

/**
 * SAC checkpoints: one safetensors file (written atomically) holding the actor, critic and target
 * critic parameters, the optimizer moments, classic SAC's log α, and optionally the replay buffer;
 * the JSON metadata holds the step counts, ERA's δ, the random stream's position and the
 * evaluations so far, and the run's settings (the configuration plus the environment's action
 * repeat and episode length) for a resume to compare. Loading checks that the architecture matches
 * before writing anything; readSacCheckpointHeader reads the bookkeeping alone (not the tensors).
 */
import { integer } from '../../validate.js';
import { readSafetensors, readSafetensorsHeader, writeSafetensors, type SafetensorsData } from '../../nn/safetensors.js';
import type { Adam } from '../../nn/optim.js';
import type { Tensor } from '../../tensor.js';
import type { ReplayBuffer } from '../replay.js';
import type { SacAgent } from './agent.js';
import type { Evaluation } from './trainer.js';

/** What a run was trained with, compared on resume (JSON values; see trainer.ts runSettings). */
export type RunSettings = Record<string, number | string | boolean | null>;

export interface SacCheckpointInfo {
  step: number;
  evaluations: Evaluation[];
  task: string;
  label: string;
  /** Absent in checkpoints written before settings were stored. */
  settings?: RunSettings;
}

const FORMAT = 'era-cuda/sac-checkpoint/1';

function optimizerTensors(prefix: string, opt: Adam, out: Record<string, { data: SafetensorsData; shape: number[] }>): void {
  opt.m.forEach((t, i) => (out[`${prefix}.m.${i}`] = host(t)));
  opt.v.forEach((t, i) => (out[`${prefix}.v.${i}`] = host(t)));
}

function host(t: Tensor): { data: SafetensorsData; shape: number[] } {
  return { data: t.toArray() as Float32Array, shape: [...t.shape] };
}

/** Saves the agent (and the buffer unless null) with the trainer's bookkeeping. */
export async function saveSacCheckpoint(path: string, agent: SacAgent, buffer: ReplayBuffer | null, info: SacCheckpointInfo): Promise<void> {
  const tensors: Record<string, { data: SafetensorsData; shape: number[] }> = {
    'actor.params': host(agent.actor.params),
    'critic.params': host(agent.critic.params),
    'targetCritic.params': host(agent.targetCritic.params),
  };
  optimizerTensors('actorOptimizer', agent.actorOptimizer, tensors);
  optimizerTensors('criticOptimizer', agent.criticOptimizer, tensors);
  if (agent.logAlpha && agent.alphaOptimizer) {
    tensors.logAlpha = host(agent.logAlpha);
    optimizerTensors('alphaOptimizer', agent.alphaOptimizer, tensors);
  }
  let replay: { size: number; next: number; added: number } | null = null;
  if (buffer) {
    const st = buffer.state();
    tensors['replay.storage'] = { data: st.storage, shape: [buffer.seeds, st.rows, buffer.rowSize] };
    replay = { size: st.size, next: st.next, added: st.added };
  }
  const metadata = {
    format: FORMAT,
    task: info.task,
    label: info.label,
    step: String(info.step),
    config: JSON.stringify({ ...agent.config, device: undefined }),
    shape: JSON.stringify({ observationSize: agent.observationSize, actionSize: agent.actionSize }),
    updates: String(agent.updates),
    optimizerSteps: JSON.stringify({
      actor: agent.actorOptimizer.stepCount,
      critic: agent.criticOptimizer.stepCount,
      alpha: agent.alphaOptimizer?.stepCount ?? 0,
    }),
    generator: JSON.stringify({ seed: agent.generator.seed, offset: agent.generator.offset }),
    delta: JSON.stringify(Array.from(agent.delta)),
    replay: JSON.stringify(replay),
    evaluations: JSON.stringify(info.evaluations),
    ...(info.settings ? { settings: JSON.stringify(info.settings) } : {}),
  };
  await writeSafetensors(path, tensors, metadata);
}

/** Restores a checkpoint into a freshly built agent (same task and configuration) and buffer. */
export async function loadSacCheckpoint(path: string, agent: SacAgent, buffer: ReplayBuffer | null): Promise<SacCheckpointInfo> {
  const file = await readSafetensors(path);
  const meta = file.metadata;
  if (meta.format !== FORMAT) throw new RangeError(`Expected an era-cuda SAC checkpoint for '${path}' but received a file with format ${JSON.stringify(meta.format)}`);
  const shape = JSON.parse(meta.shape) as { observationSize: number; actionSize: number };
  const saved = JSON.parse(meta.config) as { variant?: string };
  if (saved.variant !== agent.config.variant) {
    throw new RangeError(`Expected a checkpoint of variant '${agent.config.variant}' for '${path}' but received one of '${saved.variant}'`);
  }
  if (shape.observationSize !== agent.observationSize || shape.actionSize !== agent.actionSize) {
    throw new RangeError(`Expected a checkpoint for observation size ${agent.observationSize} and action size ${agent.actionSize} for '${path}' but received one for ${shape.observationSize} and ${shape.actionSize}`);
  }
  const savedSeed = (JSON.parse(meta.generator) as { seed?: number }).seed;
  if (savedSeed !== undefined && savedSeed !== agent.generator.seed) {
    throw new RangeError(`Expected a checkpoint of this run's seed (generator seed ${agent.generator.seed}) for '${path}' but received one of generator seed ${savedSeed}: resume with the --seed it was trained with`);
  }
  // Every tensor is found and checked before any is written: a bad file leaves the agent as it was.
  const wanted: [string, Tensor][] = [
    ['actor.params', agent.actor.params], ['critic.params', agent.critic.params], ['targetCritic.params', agent.targetCritic.params],
  ];
  const optimizerTensors = (prefix: string, opt: Adam): void => {
    opt.m.forEach((t, i) => wanted.push([`${prefix}.m.${i}`, t]));
    opt.v.forEach((t, i) => wanted.push([`${prefix}.v.${i}`, t]));
  };
  optimizerTensors('actorOptimizer', agent.actorOptimizer);
  optimizerTensors('criticOptimizer', agent.criticOptimizer);
  if (agent.logAlpha && agent.alphaOptimizer) {
    wanted.push(['logAlpha', agent.logAlpha]);
    optimizerTensors('alphaOptimizer', agent.alphaOptimizer);
  }
  const found = wanted.map(([name, into]) => {
    const t = file.tensors.get(name);
    if (!t) throw new RangeError(`Expected a tensor '${name}' in the checkpoint '${path}' but it is missing`);
    if (t.data.length !== into.size) {
      throw new RangeError(`Expected ${into.size} values for '${name}' in '${path}' (the configured model) but received ${t.data.length}: was it trained with other settings (--hidden, --seeds, --baseline)?`);
    }
    return t.data as Float32Array;
  });
  const steps = JSON.parse(meta.optimizerSteps) as { actor: number; critic: number; alpha: number };
  for (const [name, n] of Object.entries(steps)) integer(n, `the ${name} optimizer's step count in '${path}'`, 0, 2 ** 31 - 1);
  // The replay buffer checks its state before it writes anything; the agent is written after it.
  const replay = JSON.parse(meta.replay) as { size: number; next: number; added: number } | null;
  if (buffer && replay) {
    const storage = file.tensors.get('replay.storage');
    if (!storage) throw new RangeError(`Expected the replay buffer in the checkpoint '${path}' but it is missing`);
    buffer.restore({ storage: storage.data as Float32Array, ...replay });
  }
  wanted.forEach(([, into], i) => into.write(found[i]));
  agent.actorOptimizer.restoreStepCount(steps.actor);
  agent.criticOptimizer.restoreStepCount(steps.critic);
  agent.alphaOptimizer?.restoreStepCount(steps.alpha);
  agent.updates = Number(meta.updates);
  agent.generator.offset = (JSON.parse(meta.generator) as { offset: number }).offset;
  agent.delta.set(JSON.parse(meta.delta) as number[]);
  agent.refreshAlpha();
  return infoFromMetadata(meta);
}

function infoFromMetadata(meta: Record<string, string>): SacCheckpointInfo {
  return {
    step: Number(meta.step),
    evaluations: JSON.parse(meta.evaluations) as Evaluation[],
    task: meta.task,
    label: meta.label,
    // Older checkpoints hold only the configuration (no action repeat): compare what they have.
    settings: meta.settings !== undefined ? JSON.parse(meta.settings) as RunSettings
      : meta.config !== undefined ? JSON.parse(meta.config) as RunSettings : undefined,
  };
}

/**
 * A checkpoint's bookkeeping (step, task, evaluations, settings) without reading its tensors: the
 * replay buffer makes a checkpoint gigabytes, and a resume checks these before building anything.
 */
export async function readSacCheckpointHeader(path: string): Promise<SacCheckpointInfo> {
  const { metadata } = await readSafetensorsHeader(path);
  if (metadata.format !== FORMAT) throw new RangeError(`Expected an era-cuda SAC checkpoint for '${path}' but received a file with format ${JSON.stringify(metadata.format)}`);
  return infoFromMetadata(metadata);
}

/** The settings that differ between a checkpoint and this run, as [name, saved, now]; unknown (unsaved) ones are skipped. */
export function settingsDifferences(saved: RunSettings | undefined, now: RunSettings): [string, unknown, unknown][] {
  if (!saved) return [];
  return Object.entries(now).filter(([k, v]) => k in saved && saved[k] !== v).map(([k, v]) => [k, saved[k], v]);
}

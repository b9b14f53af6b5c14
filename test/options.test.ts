/**
 * Unknown option keys: every function that takes an options object rejects a key it does not read
 * with a TypeError naming the argument and the key (and the option it most likely meant), as
 * PyTorch rejects an unexpected keyword argument, instead of silently ignoring it. After each
 * refusal a valid call still works.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import era, { type Tensor } from '../lib/index.js';
import { gaussianParams } from '../lib/era/gaussian.js';
import { resolveLogitsOptions } from '../lib/era/logits.js';
import { visionParams } from '../lib/era/vision.js';
import { matmulKernel } from '../lib/nn/functional.js';
import { resolveSacConfig } from '../lib/rl/sac/config.js';
import { knownOptions, optionNames, plainObject, suggestOption } from '../lib/validate.js';

const F = era.nn.functional;
const cpu = (data: number[], shape: number[]): Tensor => era.tensor(data, shape, { device: 'cpu' });

/**
 * Asserts that fn throws a TypeError naming `name` ('options' unless given) and the key `bad`,
 * suggesting `hint` where given (else no suggestion); returns the message.
 */
function expectUnknown(fn: () => unknown, bad: string, hint?: string | string[], name = 'options'): string {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  return checkUnknown(err, bad, hint, name);
}

async function expectUnknownAsync(fn: () => Promise<unknown>, bad: string, hint?: string | string[], name = 'options'): Promise<string> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  return checkUnknown(err, bad, hint, name);
}

function checkUnknown(err: unknown, bad: string, hint: string | string[] | undefined, name: string): string {
  expect(err, `expected a TypeError for the option '${bad}'`).to.be.instanceOf(TypeError);
  const msg = (err as Error).message;
  expect(msg).to.match(/^Expected one of the options /);
  expect(msg).to.include(` for ${name} but received '${bad}'`);
  if (hint === undefined) expect(msg).not.to.include('did you mean');
  else {
    const hints = Array.isArray(hint) ? hint : [hint];
    expect(msg).to.include(` (did you mean ${hints.map((h) => `'${h}'`).join(' or ')}?)`);
  }
  return msg;
}

describe('options: the shared helper (validate.knownOptions)', () => {
  const ALLOWED = optionNames('entropyPerDim', 'targetEntropy', 'logStdMin', 'logStdMax', 'delta', 'mode', 'out');

  it('passes undefined, {} and every allowed key (own keys only, inherited ones ignored)', () => {
    knownOptions(undefined, ALLOWED);
    knownOptions({}, ALLOWED);
    knownOptions({ entropyPerDim: 1, mode: 'paper', out: undefined }, ALLOWED);
    knownOptions(Object.create({ inherited: 1 }) as object, ALLOWED);
    expect(plainObject(undefined, 'options', ALLOWED)).to.deep.equal({});
  });

  it('lists the options, names the argument and the key, and suggests the option meant', () => {
    const msg = expectUnknown(() => knownOptions({ entropy_per_dim: 5 }, ALLOWED), 'entropy_per_dim', 'entropyPerDim');
    expect(msg).to.equal(
      "Expected one of the options entropyPerDim, targetEntropy, logStdMin, logStdMax, delta, mode, out for options but received 'entropy_per_dim' (did you mean 'entropyPerDim'?)",
    );
    expectUnknown(() => knownOptions({ mod: 'paper' }, ALLOWED), 'mod', 'mode');
    expectUnknown(() => knownOptions({ LOGSTDMIN: 1 }, ALLOWED), 'LOGSTDMIN', 'logStdMin');
    expectUnknown(() => knownOptions({ foo: 1 }, ALLOWED), 'foo');
    expectUnknown(() => knownOptions({ out: 1, dim: 0 }, ALLOWED, 'config'), 'dim', undefined, 'config');
  });

  it('a key whose value is undefined is still an unknown key', () => {
    expectUnknown(() => knownOptions({ entropy: undefined }, ALLOWED), 'entropy', 'entropyPerDim');
  });

  it('suggests by case and underscores, small edits, PyTorch names and prefixes', () => {
    expect(suggestOption('weight_decay', ['lr', 'weightDecay'])).to.deep.equal(['weightDecay']);
    expect(suggestOption('transposeB', ['transA', 'transB', 'out'])).to.deep.equal(['transB']);
    expect(suggestOption('betas', ['lr', 'beta1', 'beta2', 'eps'])).to.deep.equal(['beta1', 'beta2']);
    expect(suggestOption('learningRate', ['lr', 'eps'])).to.deep.equal(['lr']);
    expect(suggestOption('warmup', ['steps', 'warmupSteps'])).to.deep.equal(['warmupSteps']);
    expect(suggestOption('epsilon', ['lr', 'eps'])).to.deep.equal(['eps']);
    expect(suggestOption('gian', ['size', 'gain'])).to.deep.equal(['gain']); // two letters swapped
    expect(suggestOption('zzz', ['lr', 'eps'])).to.deep.equal([]);
  });

  it('a non-object is left to the caller\'s own shape check (plainObject: TypeError naming options)', () => {
    knownOptions('cpu', ALLOWED);
    expect(() => plainObject('cpu', 'options', ALLOWED)).to.throw(TypeError, 'for options but received');
  });
});

describe('options: tensors, element-wise ops, random numbers and graphs', () => {
  it('tensor, empty, zeros, ones and full', () => {
    expectUnknown(() => era.tensor([1, 2], [2], { device: 'cpu', dtyp: 'f32' } as never), 'dtyp', 'dtype');
    expectUnknown(() => era.empty([2], { devices: 'cpu' } as never), 'devices', 'device');
    expectUnknown(() => era.zeros([2], { device: 'cpu', requires_grad: true } as never), 'requires_grad');
    expectUnknown(() => era.ones([2], { Device: 'cpu' } as never), 'Device', 'device');
    expectUnknown(() => era.full([2], 3, { device: 'cpu', dtype: 'f32', fill: 1 } as never), 'fill');
    expect(Array.from(era.full([2], 3, { device: 'cpu', dtype: 'f32' }).toArray())).to.deep.equal([3, 3]);
  });

  it('add, scale and exp', () => {
    const a = cpu([1, 2], [2]);
    const b = cpu([3, 4], [2]);
    expectUnknown(() => era.add(a, b, { alph: 2 } as never), 'alph', 'alpha');
    expectUnknown(() => era.scale(a, 2, { output: b } as never), 'output', 'out');
    expectUnknown(() => era.exp(a, { inplace: true } as never), 'inplace');
    expect(Array.from(era.add(a, b, { alpha: 2 }).toArray())).to.deep.equal([7, 10]);
  });

  it('uniform and normal', () => {
    expectUnknown(() => era.uniform([2], { device: 'cpu', min: 0 } as never), 'min');
    expectUnknown(() => era.uniform([2], { device: 'cpu', lo: 0 } as never), 'lo', 'low');
    expectUnknown(() => era.normal([2], { device: 'cpu', sigma: 1 } as never), 'sigma');
    expectUnknown(() => era.normal([2], { device: 'cpu', stddev: 1 } as never), 'stddev', 'std');
    // low/high belong to uniform alone, mean/std to normal alone.
    expectUnknown(() => era.normal([2], { device: 'cpu', low: 0 } as never), 'low');
    expect(era.normal([3], { device: 'cpu', seed: 1, mean: 2, std: 0 }).toArray()).to.deep.equal(new Float32Array([2, 2, 2]));
  });

  it('captureGraph', () => {
    expectUnknown(() => era.captureGraph(() => {}, { device: 'cpu', warmups: 0 } as never), 'warmups', 'warmup');
    let calls = 0;
    const g = era.captureGraph(() => void calls++, { device: 'cpu', warmup: 0 });
    g.replay(); // on the CPU a replay runs the function
    expect(calls).to.equal(1);
    g.dispose();
  });
});

describe('options: the ERA activations', () => {
  const raw = () => cpu([0.1, -0.2, 0.3, 0.4], [2, 2]);
  const logits = () => cpu([0.5, 1, -1, 2, 0, 0.25], [2, 3]);

  it('gaussian, gaussianBackward and gaussianParams', () => {
    const r = raw();
    expectUnknown(() => era.gaussian(r, { entropy_per_dim: 5 } as never), 'entropy_per_dim', 'entropyPerDim');
    expectUnknown(() => era.gaussianBackward(r, r, { log_std_min: -5 } as never), 'log_std_min', 'logStdMin');
    expectUnknown(() => gaussianParams(2, { minEntropy: 1 } as never), 'minEntropy');
    const out = era.zeros([2, 2], { device: 'cpu' });
    expect(era.gaussian(r, { entropyPerDim: 0.1, mode: 'reference', out })).to.equal(out);
  });

  it('softmax, softmaxBackward, softmaxCrossEntropy, entropyFloor and visionParams', () => {
    const z = logits();
    const y = era.tensor(new Int32Array([0, 2]), [2], { device: 'cpu' });
    expectUnknown(() => era.softmax(z, { dim: -1, min_entropy: 5 } as never), 'dim'); // the first unknown key is named
    expectUnknown(() => era.softmax(z, { min_entropy: 0.7 } as never), 'min_entropy', 'minEntropy');
    expectUnknown(() => era.softmaxBackward(z, z, { temperature: 4 } as never), 'temperature');
    expectUnknown(() => era.softmaxCrossEntropy(z, y, { label_smoothing: 0.1 } as never), 'label_smoothing', 'labelSmoothing');
    // The cross-entropy options belong to softmaxCrossEntropy alone.
    expectUnknown(() => era.softmax(z, { labelSmoothing: 0.1 } as never), 'labelSmoothing');
    expectUnknown(() => era.entropyFloor(10, { taus: 4 } as never), 'taus', 'tau');
    expectUnknown(() => visionParams(3, { lossOut: z } as never), 'lossOut');
    expect(era.softmax(z, { minEntropy: 0.6, tau: 4, mode: 'paper' }).shape).to.deep.equal([2, 3]);
    const { loss } = era.softmaxCrossEntropy(z, y, { minEntropy: 0.6, labelSmoothing: 0.1 });
    expect(loss).to.be.a('number').and.to.be.greaterThan(0);
    expect(era.entropyFloor(10, { minEntropy: 0.6 })).to.be.closeTo(0.983, 1e-3);
  });

  it('logits, logitsBackward and resolveLogitsOptions', () => {
    const z = cpu([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [2, 3]);
    const tokens = era.tensor(new Int32Array([0, 2]), [2], { device: 'cpu' });
    const offsets = era.tensor(new Int32Array([0, 2]), [2], { device: 'cpu' });
    const adv = cpu([1, 1], [2]);
    const g = cpu([1, 1], [2]);
    expectUnknown(() => era.logits(z, tokens, offsets, adv, { omega_low: 99 } as never), 'omega_low', 'omegaLow');
    // inPlace and forward are logitsBackward's.
    expectUnknown(() => era.logits(z, tokens, offsets, adv, { inPlace: true } as never), 'inPlace');
    expectUnknown(() => era.logitsBackward(z, tokens, offsets, adv, g, { in_place: true } as never), 'in_place', 'inPlace');
    expectUnknown(() => resolveLogitsOptions({ topk: 5 }), 'topk', 'topK');
    const fwd = era.logits(z, tokens, offsets, adv, { k: 2, mode: 'reference' });
    const grad = era.logitsBackward(z, tokens, offsets, adv, g, { k: 2, mode: 'reference', forward: fwd });
    expect(grad.shape).to.deep.equal([2, 3]);
  });
});

describe('options: era.nn', () => {
  it('matmul (and matmulKernel)', () => {
    const a = cpu([1, 2, 3, 4], [2, 2]);
    const b = cpu([1, 0, 0, 1], [2, 2]);
    expectUnknown(() => era.nn.matmul(a, b, { transposeB: true } as never), 'transposeB', 'transB');
    expectUnknown(() => era.nn.matmul(a, b, { trans_a: true } as never), 'trans_a', 'transA');
    expectUnknown(() => matmulKernel({ m: 2, n: 2, k: 2 }, { layout: 'NT' } as never), 'layout');
    expect(Array.from(era.nn.matmul(a, b, { transB: true }).toArray())).to.deep.equal([1, 2, 3, 4]);
  });

  it('the functional layers', () => {
    const x = cpu([1, -2, 3, -4], [2, 2]);
    const w = cpu([1, 0, 0, 1], [2, 2]);
    const bias = cpu([0, 0], [2]);
    expectUnknown(() => F.linear(x, w, bias, { act: 'relu' } as never), 'act', 'activation');
    expectUnknown(() => F.linearBackward(x, x, w, { input_grad: false } as never), 'input_grad', 'inputGrad');
    expectUnknown(() => F.relu(x, { inplace: true } as never), 'inplace');
    expectUnknown(() => F.tanhBackward(x, x, { outt: x } as never), 'outt', 'out');
    expectUnknown(() => F.layerNorm(x, w.reshape([4]).slice(0, 2), bias, { epsilon: 1e-5 } as never), 'epsilon', 'eps');
    expectUnknown(() => F.concat([x, x], { dim: 0 } as never), 'dim');
    expectUnknown(() => F.split(x, [1, 1], { outs: [] } as never), 'outs', 'out');
    expectUnknown(() => F.mseLoss(x, x, { reduction: 'sum' } as never), 'reduction');
    expectUnknown(() => F.mseLossBackward(x, x, { scal: 2 } as never), 'scal', 'scale');
    expectUnknown(() => F.sum(x, { keepdim: true } as never), 'keepdim');
    expectUnknown(() => F.meanBackward(x, [2, 2], { axis: 0 } as never), 'axis', 'dim');
    expect(Array.from(F.relu(x).toArray())).to.deep.equal([1, 0, 3, 0]);
    expect(F.sum(x, { dim: -1 }).shape).to.deep.equal([2]);
  });

  it('Adam, AdamW, SGD, adamStep, sgdStep and clipGradNorm', () => {
    const p = cpu([1, 2], [2]);
    const g = cpu([0.5, 0.5], [2]);
    expectUnknown(() => new era.nn.AdamW(p, { betas: [0.5, 0.5], weight_decay: 0.5 } as never), 'betas', ['beta1', 'beta2']);
    expectUnknown(() => new era.nn.AdamW(p, { weight_decay: 0.5 } as never), 'weight_decay', 'weightDecay');
    expectUnknown(() => new era.nn.Adam(p, { learningRate: 1 } as never), 'learningRate', 'lr');
    expectUnknown(() => new era.nn.SGD(p, { lr: 0.1, nesterow: true } as never), 'nesterow', 'nesterov');
    expectUnknown(() => new era.nn.SGD(p, { capturable: true } as never), 'capturable');
    const m = era.zeros([2], { device: 'cpu' });
    const v = era.zeros([2], { device: 'cpu' });
    expectUnknown(() => era.nn.adamStep(p, g, m, v, { step: 1, capturable: true } as never), 'capturable');
    expectUnknown(() => era.nn.sgdStep(p, g, null, { momentom: 0.9 } as never), 'momentom', 'momentum');
    expectUnknown(() => era.nn.clipGradNorm(g, 1, { norm_type: 2 } as never), 'norm_type');
    using opt = new era.nn.AdamW(p, { lr: 0.1, beta1: 0.5, beta2: 0.5, weightDecay: 0.5, capturable: false });
    opt.step(g);
    expect(opt.stepCount).to.equal(1);
  });

  it('MLP: the constructor, heads, backward and load', async () => {
    const base = { inputSize: 2, hiddenSizes: [3], outputSize: 2, device: 'cpu' as const, seed: 1 };
    expectUnknown(() => new era.nn.MLP({ ...base, hidden_sizes: [3] } as never), 'hidden_sizes', 'hiddenSizes');
    expectUnknown(() => new era.nn.MLP({ ...base, init: 'orthogonal', heads: [{ size: 2, gian: 1 }] } as never), 'gian', 'gain', 'options.heads[0]');
    using m = new era.nn.MLP({ ...base, layerNorm: true });
    const y = m.forward(cpu([1, 2], [1, 2]));
    expectUnknown(() => m.backward(y, { input_grad: true } as never), 'input_grad', 'inputGrad');
    expect(m.backward(y, { inputGrad: true })!.shape).to.deep.equal([1, 2]);
    const dir = mkdtempSync(join(tmpdir(), 'era-options-'));
    try {
      const file = join(dir, 'mlp.safetensors');
      await m.save(file);
      await expectUnknownAsync(() => era.nn.MLP.load(file, { devic: 'cpu' } as never), 'devic', 'device');
      using twin = await era.nn.MLP.load(file, { device: 'cpu' });
      expect(twin.options.hiddenSizes).to.deep.equal([3]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('safetensors tensor entries', () => {
    const data = new Float32Array([1, 2]);
    expectUnknown(() => era.nn.encodeSafetensors({ w: { data, shap: [2] } as never }), 'shap', 'shape', "tensors['w']");
    const file = era.nn.decodeSafetensors(Buffer.concat(era.nn.encodeSafetensors({ w: { data, shape: [1, 2], dtype: 'F32' } })));
    expect(file.tensors.get('w')!.shape).to.deep.equal([1, 2]);
  });
});

describe('options: era.rl', () => {
  it('makeEnv and makeVecEnv', async function () {
    this.timeout(60_000);
    await expectUnknownAsync(() => era.rl.makeEnv('pendulum-swingup', { action_repeat: 2 } as never), 'action_repeat', 'actionRepeat');
    // autoReset belongs to makeVecEnv alone.
    await expectUnknownAsync(() => era.rl.makeEnv('pendulum-swingup', { autoReset: false } as never), 'autoReset');
    await expectUnknownAsync(() => era.rl.makeVecEnv('pendulum-swingup', 2, { auto_reset: false } as never), 'auto_reset', 'autoReset');
    using env = await era.rl.makeVecEnv('pendulum-swingup', 2, { seed: 3, autoReset: false, actionRepeat: 2 });
    expect(env.numEnvs).to.equal(2);
    // VecEnv.step's output arrays.
    env.reset();
    const rewards = new Float32Array(2);
    expectUnknown(() => env.step(new Float32Array(2), { reward: rewards } as never), 'reward', 'rewards', 'out');
    expect(env.step(new Float32Array(2), { rewards }).rewards).to.equal(rewards);
  });

  it('ReplayBuffer', () => {
    const base = { capacity: 4, observationSize: 2, actionSize: 1, device: 'cpu' as const };
    expectUnknown(() => new era.rl.ReplayBuffer({ ...base, obsSize: 2 } as never), 'obsSize', 'observationSize');
    expectUnknown(() => new era.rl.ReplayBuffer({ ...base, num_seeds: 2 } as never), 'num_seeds');
    expectUnknown(() => new era.rl.ReplayBuffer({ ...base, seed: 2 } as never), 'seed', 'seeds');
    using b = new era.rl.ReplayBuffer({ ...base, seeds: 2, stagingRows: 2 });
    expect(b.rowSize).to.equal(2 * 2 + 1 + 2);
  });

  it('the policy, replay and loss ops', () => {
    const mu = cpu([0, 0.5], [1, 2]);
    const logStd = cpu([-1, -1], [1, 2]);
    const noise = cpu([0.3, 0.6], [1, 2]);
    const q = cpu([1, 2], [2, 1]);
    const gen = new era.Generator(1);
    expectUnknown(() => era.rl.truncatedNormalSample(mu, logStd, { generator: gen, temp: 1 } as never), 'temp', 'temperature');
    expectUnknown(() => era.rl.truncatedNormalTransform(mu, logStd, noise, { temprature: 1 } as never), 'temprature', 'temperature');
    expectUnknown(() => era.rl.truncatedNormalBackward(mu, logStd, noise, noise, { grad_mu: mu } as never), 'grad_mu', 'gradMu');
    expectUnknown(() => era.rl.truncatedNormalLogProb(noise, mu, logStd, { noise } as never), 'noise');
    expectUnknown(() => era.rl.tanhGaussianSample(mu, logStd, { seed: 1, temperature: 1 } as never), 'temperature');
    expectUnknown(() => era.rl.tanhGaussianTransform(mu, logStd, noise, { log_prob: q } as never), 'log_prob', 'logProb');
    expectUnknown(() => era.rl.tanhGaussianBackward(mu, logStd, noise, noise, null, { out: mu } as never), 'out');
    expectUnknown(() => era.rl.randomIndices(4, 10, { seed: 1, dtype: 'i32' } as never), 'dtype');
    expectUnknown(() => era.rl.gatherRows(cpu([1, 2, 3, 4], [2, 2]), era.tensor(new Int32Array([1]), [1], { device: 'cpu' }), { check: false } as never), 'check', 'checkIndices');
    expectUnknown(() => era.rl.sacTarget(q, cpu([1], [1]), cpu([1], [1]), 0.9, { discount: 0.9 } as never), 'discount');
    expectUnknown(() => era.rl.sacCriticLoss(q, cpu([1], [1]), { grad_q: q } as never), 'grad_q', 'gradQ');
    expectUnknown(() => era.rl.sacActorLoss(q, { target_entropy: -1 } as never), 'target_entropy', 'targetEntropy');
    const { action } = era.rl.truncatedNormalSample(mu, logStd, { generator: gen, temperature: 1 });
    expect(action.shape).to.deep.equal([1, 2]);
    expect(era.rl.randomIndices(4, 10, { seed: 1, device: 'cpu' }).shape).to.deep.equal([4]);
  });

  it('resolveSacConfig, SacAgent and its act()', () => {
    expectUnknown(() => resolveSacConfig({ warmup: 10 } as never), 'warmup', 'warmupSteps', 'config');
    const base = { observationSize: 3, actionSize: 2, hidden: 8, batchSize: 4, device: 'cpu' as const };
    expectUnknown(() => new era.rl.SacAgent({ ...base, lr: 1e-3 } as never), 'lr');
    expectUnknown(() => new era.rl.SacAgent({ ...base, entropy_per_dim: 0.1 } as never), 'entropy_per_dim', 'entropyPerDim');
    using agent = new era.rl.SacAgent({ ...base, seeds: 2, seed: 1, entropyPerDim: 0.1 });
    const obs = new Float32Array(6);
    expectUnknown(() => agent.act(obs, { deterministc: true } as never), 'deterministc', 'deterministic');
    expect(agent.act(obs, { deterministic: true }).length).to.equal(4);
  });

  it('trainSac refuses a misspelt option before it creates anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'era-options-'));
    try {
      const outDir = join(dir, 'run');
      await expectUnknownAsync(() => era.rl.trainSac({ task: 'pendulum-swingup', steps: 10, outDir, warmup: 200 } as never), 'warmup', 'warmupSteps');
      await expectUnknownAsync(() => era.rl.trainSac({ task: 'pendulum-swingup', steps: 10, outDir, eval_every: 5 } as never), 'eval_every', 'evalEvery');
      expect(() => rmSync(outDir)).to.throw(); // nothing written
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

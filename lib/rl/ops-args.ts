/**
 * Argument helpers shared by the SAC ops (lib/rl/ops-*.ts): devices and shapes checked with the
 * package's message format, caller-provided or fresh outputs (fresh ones disposed when the op
 * throws), and the Philox generator an op draws from.
 */
import type { Device } from '../device.js';
import { native, type NativeTensor } from '../native.js';
import { Generator } from '../random.js';
import { empty, tensorArg, type DType, type Tensor } from '../tensor.js';
import { integer, rangeError, typeError } from '../validate.js';

/** @internal The SAC part of the addon (native/addon/sac_binding.cc). */
export interface RlNativeApi {
  rlTruncatedNormalSample(action: NativeTensor, noise: NativeTensor, mu: NativeTensor, logStd: NativeTensor, temperature: number, seed: number, offset: number, givenNoise?: boolean): void;
  rlTruncatedNormalBackward(gradMu: NativeTensor, gradLogStd: NativeTensor, mu: NativeTensor, logStd: NativeTensor, noise: NativeTensor, gradAction: NativeTensor, temperature: number): void;
  rlTruncatedNormalLogProb(out: NativeTensor, action: NativeTensor, mu: NativeTensor, logStd: NativeTensor, temperature: number): void;
  rlTanhGaussianSample(action: NativeTensor, noise: NativeTensor, logProb: NativeTensor, mu: NativeTensor, logStd: NativeTensor, seed: number, offset: number, givenNoise?: boolean): void;
  rlTanhGaussianBackward(gradMu: NativeTensor, gradLogStd: NativeTensor, mu: NativeTensor, logStd: NativeTensor, noise: NativeTensor, gradAction: NativeTensor, gradLogProb: NativeTensor | null): void;
  rlNormalIcdf(p: number): number;
  rlRandomIndices(out: NativeTensor, high: number, seed: number, offset: number): void;
  rlGatherRows(out: NativeTensor, src: NativeTensor, indices: NativeTensor, checkIndices: boolean): void;
  rlScatterRows(dst: NativeTensor, rows: NativeTensor, start: number): void;
  rlSacTarget(y: NativeTensor, q: NativeTensor, reward: NativeTensor, mask: NativeTensor, gamma: number, logProb: NativeTensor | null, alpha: NativeTensor | null): void;
  rlSacCriticLoss(loss: NativeTensor, gradQ: NativeTensor, q: NativeTensor, y: NativeTensor): void;
  rlSacActorLoss(
    loss: NativeTensor, gradQ: NativeTensor, q: NativeTensor, logProb: NativeTensor | null, alpha: NativeTensor | null,
    gradLogProb: NativeTensor | null, alphaLoss: NativeTensor | null, gradLogAlpha: NativeTensor | null, targetEntropy: number,
  ): void;
}

/** @internal */
export const rlApi = (): RlNativeApi => native() as unknown as RlNativeApi;

export const shapeStr = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** Where an op draws its random numbers: a generator (advanced by the draw) or a fresh seed. */
export interface DrawOptions {
  /** Draw from this generator; its counter advances, so the next call draws fresh numbers. */
  generator?: Generator;
  /** Draw from a fresh generator with this seed (counter 0): the same numbers every call. */
  seed?: number;
}

/** The generator named by options.generator or options.seed (exactly one of them). */
export function generatorArg(o: Record<string, unknown>): Generator {
  if (o.seed !== undefined && o.generator !== undefined) throw rangeError('either seed or generator, not both', 'options', o);
  if (o.seed !== undefined) return new Generator(integer(o.seed, 'options.seed', 0));
  if (o.generator === undefined) throw typeError('an era.Generator (or options.seed)', 'options.generator', undefined);
  if (!(o.generator instanceof Generator)) throw typeError('an era.Generator', 'options.generator', o.generator);
  return o.generator;
}

export function sameDevice(t: Tensor, name: string, ref: Tensor, refName: string): void {
  if (t.device !== ref.device) {
    throw new TypeError(`Expected a ${ref.device} tensor (the device of ${refName}) for ${name} but received a ${t.device} tensor`);
  }
}

export function sameShape(t: Tensor, name: string, ref: Tensor, refName: string): void {
  if (t.shape.join() !== ref.shape.join()) {
    throw new RangeError(`Expected shape ${shapeStr(ref.shape)} (the shape of ${refName}) for ${name} but received shape ${shapeStr(t.shape)}`);
  }
}

/** A live f32 tensor with the device and shape of `ref`. */
export function likeArg(value: unknown, name: string, ref: Tensor, refName: string): Tensor {
  const t = tensorArg(value, name, ['f32']);
  sameDevice(t, name, ref, refName);
  sameShape(t, name, ref, refName);
  return t;
}

export interface Output {
  t: Tensor;
  fresh: boolean;
}

/** The caller's output tensor (checked: dtype, device, shape) or a fresh one. */
export function outputArg(value: unknown, name: string, shape: readonly number[], device: Device, dtype: DType = 'f32', what?: string): Output {
  if (value === undefined || value === null) return { t: empty(shape, { device, dtype }), fresh: true };
  const t = tensorArg(value, name, [dtype]);
  if (t.device !== device) throw new TypeError(`Expected a ${device} tensor (the device of the inputs) for ${name} but received a ${t.device} tensor`);
  if (t.shape.join() !== shape.join()) {
    throw new RangeError(`Expected shape ${shapeStr(shape)}${what ? ` (${what})` : ''} for ${name} but received shape ${shapeStr(t.shape)}`);
  }
  return { t, fresh: false };
}

/** Runs `fn`; when it throws, disposes the outputs this call allocated. */
export function guardFresh<R>(outs: readonly (Output | null)[], fn: () => R): R {
  try {
    return fn();
  } catch (err) {
    for (const o of outs) if (o?.fresh) o.t.dispose();
    throw err;
  }
}

/**
 * Allocates outputs one by one (each may throw on a bad option) and disposes the ones already
 * made when a later one fails.
 */
export function outputs(makers: (() => Output | null)[]): (Output | null)[] {
  const made: (Output | null)[] = [];
  try {
    for (const m of makers) made.push(m());
  } catch (err) {
    for (const o of made) if (o?.fresh) o.t.dispose();
    throw err;
  }
  return made;
}

/**
 * Devices: which backends are usable and which one tensors go to by default.
 * ERA_DEVICE=cpu|cuda overrides the default; asking for cuda where there is none is an error.
 */
import { EraError } from './errors.js';
import { native } from './native.js';
import { oneOf } from './validate.js';

export type Device = 'cpu' | 'cuda';
export const DEVICES: readonly Device[] = ['cpu', 'cuda'];

let cudaState: { available: boolean; reason?: string } | undefined;

/** True when the CUDA backend is compiled in and a device initialised. */
export function cudaAvailable(): boolean {
  cudaState ??= (() => {
    const info = native().info();
    return { available: info.cuda.available, reason: info.cuda.reason };
  })();
  return cudaState.available;
}

/** Why CUDA is unavailable (undefined when it is available). */
export function cudaUnavailableReason(): string | undefined {
  cudaAvailable();
  return cudaState?.reason;
}

let resolvedDefault: Device | undefined;

/** The device tensors are created on when none is named: ERA_DEVICE, else cuda when usable, else cpu. */
export function defaultDevice(): Device {
  if (resolvedDefault) return resolvedDefault;
  const env = process.env.ERA_DEVICE;
  if (env !== undefined && env !== '') {
    const dev = oneOf(env, DEVICES, 'the environment variable ERA_DEVICE');
    if (dev === 'cuda' && !cudaAvailable()) {
      throw new EraError(`ERA_DEVICE=cuda but CUDA is not usable: ${cudaUnavailableReason()}`, 'ERA_NO_DEVICE');
    }
    resolvedDefault = dev;
  } else {
    resolvedDefault = cudaAvailable() ? 'cuda' : 'cpu';
  }
  return resolvedDefault;
}

/** Validates a device option (undefined means the default device). */
export function resolveDevice(value: unknown, name = 'device'): Device {
  if (value === undefined) return defaultDevice();
  const dev = oneOf(value, DEVICES, name);
  if (dev === 'cuda' && !cudaAvailable()) {
    throw new EraError(`Expected a usable device for ${name} but received 'cuda': ${cudaUnavailableReason()}`, 'ERA_NO_DEVICE');
  }
  return dev;
}

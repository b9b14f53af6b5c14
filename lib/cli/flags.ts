/**
 * Command-line flag values, parsed and range-checked with errors that name the flag
 * (`Expected a positive integer for --steps but received 0`), for every `era` command.
 */

import { DEVICES, cudaAvailable, cudaUnavailableReason, type Device } from '../device.js';
import { EraError } from '../errors.js';

/** Commander hands over the text; '' would be 0 to Number(), so it is refused, as is '  '. */
function text(value: string, flag: string, what: string): string {
  const t = value.trim();
  if (t === '') throw new RangeError(`Expected ${what} for ${flag} but received an empty string`);
  return t;
}

/** An integer flag; accepts 200_000 and 200k. At least `min`, at most `max` where given. */
export function int(value: string | undefined, flag: string, min?: number, max?: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(text(value, flag, 'an integer').replace(/_/g, '').replace(/k$/i, '000'));
  if (!Number.isSafeInteger(n)) throw new RangeError(`Expected an integer for ${flag} but received '${value}'`);
  if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
    const what = max !== undefined ? `an integer between ${min} and ${max}`
      : min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer of at least ${min}`;
    throw new RangeError(`Expected ${what} for ${flag} but received ${n}`);
  }
  return n;
}

/** A number flag; `check` (with its description for the error) restricts it further. */
export function num(value: string | undefined, flag: string, check?: [what: string, ok: (x: number) => boolean]): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(text(value, flag, 'a number'));
  if (!Number.isFinite(n)) throw new RangeError(`Expected a number for ${flag} but received '${value}'`);
  if (check && !check[1](n)) throw new RangeError(`Expected ${check[0]} for ${flag} but received ${n}`);
  return n;
}

export const positive: [string, (x: number) => boolean] = ['a positive number', (x) => x > 0];

/** One of a few words. */
export function choice<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    const what = allowed.map((a) => `'${a}'`).join(', ').replace(/, ([^,]*)$/, ' or $1');
    throw new RangeError(`Expected ${what} for ${flag} but received '${value}'`);
  }
  return value as T;
}

/** --device: 'cpu' or 'cuda', and 'cuda' only where a CUDA device is usable (the error says why not). */
export function deviceFlag(value: string | undefined, flag = '--device'): Device | undefined {
  const device = choice(value, DEVICES, flag);
  if (device === 'cuda' && !cudaAvailable()) {
    throw new EraError(`Expected a usable device for ${flag} but received 'cuda': ${cudaUnavailableReason()}`, 'ERA_NO_DEVICE');
  }
  return device;
}

/**
 * Argument validation with one message format, after sharp's `is` helpers:
 * `Expected <what> for <name> but received <value>`.
 */

/** A short description of a received value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `${String(value)} of type ${typeof value}`;
  }
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 40)}…` : value}' of type string`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) {
    const short = value.length <= 8 && value.every((v) => v === null || typeof v !== 'object');
    return short ? `the array [${value.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(', ')}]` : `an array of length ${value.length}`;
  }
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as { length?: number }).length ?? value.byteLength}`;
  const ctor = (value as object).constructor?.name;
  return ctor && ctor !== 'Object' ? `a ${ctor}` : 'an object';
}

export function expected(what: string, name: string, value: unknown): string {
  return `Expected ${what} for ${name} but received ${describe(value)}`;
}

export function typeError(what: string, name: string, value: unknown): TypeError {
  return new TypeError(expected(what, name, value));
}

export function rangeError(what: string, name: string, value: unknown): RangeError {
  return new RangeError(expected(what, name, value));
}

export function isPlainNumber(v: unknown): v is number {
  return typeof v === 'number';
}

/** A finite number (NaN and infinities rejected). */
export function finiteNumber(value: unknown, name: string): number {
  if (typeof value !== 'number') throw typeError('a finite number', name, value);
  if (!Number.isFinite(value)) throw rangeError('a finite number', name, value);
  return value;
}

export function positiveNumber(value: unknown, name: string): number {
  finiteNumber(value, name);
  if ((value as number) <= 0) throw rangeError('a positive number', name, value);
  return value as number;
}

export function integer(value: unknown, name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw typeError('an integer', name, value);
  if (!Number.isInteger(value) || value < min || value > max) {
    const what = min === 0 && max === Number.MAX_SAFE_INTEGER ? 'a non-negative integer'
      : min === 1 && max === Number.MAX_SAFE_INTEGER ? 'a positive integer'
        : `an integer between ${min} and ${max}`;
    throw rangeError(what, name, value);
  }
  return value;
}

export function oneOf<T extends string>(value: unknown, allowed: readonly T[], name: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    const what = allowed.map((a) => `'${a}'`).join(', ').replace(/, ([^,]*)$/, ' or $1');
    throw (typeof value === 'string' ? rangeError : typeError)(`one of ${what}`, name, value);
  }
  return value as T;
}

/**
 * An options object (undefined reads as {}). With `allowed`, every own enumerable key must be in
 * it (knownOptions): a misspelt option is a TypeError, not silently ignored.
 */
export function plainObject(value: unknown, name: string, allowed?: ReadonlySet<string>): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw typeError('an options object', name, value);
  if (allowed !== undefined) knownOptions(value, allowed, name);
  return value as Record<string, unknown>;
}

/**
 * The option names a function reads, as a Set built once at module load (knownOptions looks keys
 * up in it on every call).
 */
export function optionNames(...names: string[]): ReadonlySet<string> {
  return new Set(names);
}

/**
 * Rejects option keys a function does not read, as PyTorch rejects an unexpected keyword argument:
 * a TypeError `Expected one of the options a, b, c for options but received 'entropy_per_dim'
 * (did you mean 'entropyPerDim'?)`. Only own enumerable string keys count; undefined (and any
 * non-object, which the caller's own shape check reports) passes. Hot paths call this per step:
 * with valid keys it is one for...in loop and Set lookups, no allocation.
 */
export function knownOptions(value: unknown, allowed: ReadonlySet<string>, name = 'options'): void {
  if (value === null || typeof value !== 'object') return;
  for (const key in value) {
    if (!allowed.has(key) && Object.hasOwn(value, key)) throw unknownOption(key, allowed, name);
  }
}

/** PyTorch / optax spellings of options that are named differently here. */
const OPTION_ALIASES: Readonly<Record<string, readonly string[]>> = {
  betas: ['beta1', 'beta2'],
  learningrate: ['lr'],
  axis: ['dim'],
};

const normalizeOption = (s: string): string => s.toLowerCase().replace(/[_\-\s]/g, '');

/** Edits (insert, delete, substitute, swap two neighbours) from a to b. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The allowed name(s) a misspelt key most likely meant ([] when none is close). */
export function suggestOption(key: string, allowed: Iterable<string>): string[] {
  const names = [...allowed];
  const k = normalizeOption(key);
  const same = names.filter((n) => normalizeOption(n) === k);
  if (same.length > 0) return same;
  if (k.length > 64) return []; // no edit distances over a pathological key
  const alias = (OPTION_ALIASES[k] ?? []).filter((n) => names.includes(n));
  if (alias.length > 0) return alias;
  // Small edits: one for short names, up to three for long ones; the closest names win.
  const limit = Math.max(1, Math.min(3, Math.floor(k.length / 3)));
  let best: string[] = [];
  let bestD = Infinity;
  for (const n of names) {
    const d = editDistance(k, normalizeOption(n));
    if (d > limit) continue;
    if (d < bestD) {
      bestD = d;
      best = [n];
    } else if (d === bestD) best.push(n);
  }
  if (best.length > 0) return best.length <= 2 ? best : [];
  // A shortened or extended name: 'warmup' for 'warmupSteps', 'epsilon' for 'eps' (a prefix),
  // then 'transposeB' for 'transB' (the letters of one in order in the other, same first letter).
  for (const related of [
    (a: string, b: string) => Math.min(a.length, b.length) >= 3 && (a.startsWith(b) || b.startsWith(a)),
    (a: string, b: string) => Math.min(a.length, b.length) >= 4 && a[0] === b[0] && (isSubsequence(a, b) || isSubsequence(b, a)),
  ]) {
    const near = names.filter((n) => related(k, normalizeOption(n)));
    if (near.length > 0) return near.length <= 2 ? near : [];
  }
  return [];
}

function isSubsequence(short: string, long: string): boolean {
  let i = 0;
  for (let j = 0; j < long.length && i < short.length; j++) if (long[j] === short[i]) i++;
  return i === short.length;
}

function unknownOption(key: string, allowed: ReadonlySet<string>, name: string): TypeError {
  const near = suggestOption(key, allowed);
  const hint = near.length > 0 ? ` (did you mean ${near.map((n) => `'${n}'`).join(' or ')}?)` : '';
  const shown = key.length > 40 ? `${key.slice(0, 40)}…` : key;
  return new TypeError(`Expected one of the options ${[...allowed].join(', ')} for ${name} but received '${shown}'${hint}`);
}

/** A shape: an array of at most 8 non-negative integers. */
export function shape(value: unknown, name = 'shape'): number[] {
  if (!Array.isArray(value)) throw typeError('an array of non-negative integers', name, value);
  if (value.length > 8) throw rangeError('at most 8 dimensions', name, value);
  for (const d of value) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw (typeof d === 'number' ? rangeError : typeError)('an array of non-negative integers', name, value);
    }
  }
  return value.slice();
}

export function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

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

export function plainObject(value: unknown, name: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw typeError('an options object', name, value);
  return value as Record<string, unknown>;
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

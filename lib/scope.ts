/**
 * era.scope(fn): tensors created while fn runs are disposed when it returns or throws, except the
 * ones it returns (directly, or inside arrays and plain objects) and the ones passed to keep().
 * Like tf.tidy, fn must be synchronous: an async function would let the scope close too early.
 */
import type { Tensor } from './tensor.js';

const stack: Set<Tensor>[] = [];

/** Called by every new tensor: the innermost open scope adopts it. */
export function adopt(t: Tensor): void {
  stack[stack.length - 1]?.add(t);
}

/** Called on dispose so scopes do not hold disposed tensors. */
export function release(t: Tensor): void {
  for (let i = stack.length - 1; i >= 0; i--) if (stack[i].delete(t)) return;
}

/** Exempts a tensor from the scopes that hold it; returns it. */
export function keep<T extends Tensor>(t: T): T {
  release(t);
  return t;
}

function collect(value: unknown, out: Set<unknown>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if ((value as { isEraTensor?: boolean }).isEraTensor === true) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, depth + 1);
}

export function scope<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError(`Expected a function for fn but received ${typeof fn}`);
  const own = new Set<Tensor>();
  stack.push(own);
  let result: T | undefined;
  let ok = false;
  try {
    result = fn();
    if (result instanceof Promise) {
      throw new TypeError('Expected a synchronous function for fn but received an async function (scope() cannot wait for it)');
    }
    ok = true;
    return result;
  } finally {
    stack.pop();
    const kept = new Set<unknown>();
    if (ok) collect(result, kept);
    const parent = stack[stack.length - 1];
    for (const t of own) {
      if (kept.has(t)) parent?.add(t);
      else t.dispose();
    }
  }
}

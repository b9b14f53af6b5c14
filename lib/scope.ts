/**
 * era.scope(fn): tensors created while fn runs are disposed when it returns or throws, except the
 * ones it returns (directly, or inside arrays and plain objects, at any depth) and the ones passed
 * to keep(). A returned view keeps the tensor it views (made in the scope) alive: that tensor is
 * disposed with the last returned view of it, or by an enclosing scope. Like tf.tidy, fn must be
 * synchronous: an async function would let the scope close too early.
 */
import type { Tensor } from './tensor.js';

const stack: Set<Tensor>[] = [];

// Tensors kept alive only for views a scope returned: each view's base, and the views holding a
// base. The base is disposed with the last of them (viewDisposed), unless it is handed to the
// caller itself (returned by a scope, or keep()), which ends the holds.
const heldBase = new WeakMap<Tensor, Tensor>();
const holders = new WeakMap<Tensor, Set<Tensor>>();

/** Called when a view is disposed: drops its hold on its base. */
export function viewDisposed(view: Tensor): void {
  const base = heldBase.get(view);
  if (!base) return;
  heldBase.delete(view);
  const views = holders.get(base);
  views?.delete(view);
  if (!views || views.size === 0) {
    holders.delete(base);
    base.dispose();
  }
}

/** The caller now owns `base` itself: its views no longer decide when it goes. */
function endHolds(base: Tensor): void {
  for (const v of holders.get(base) ?? []) heldBase.delete(v);
  holders.delete(base);
}

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
  endHolds(t);
  return t;
}

/**
 * The tensors in a returned value: itself, or inside arrays and plain objects (each visited once).
 * The visited set is made only for a container, so a scope returning nothing or a tensor (every
 * training step) allocates nothing here.
 */
function collect(value: unknown, out: Set<Tensor>, seen?: Set<object>): void {
  if (value === null || typeof value !== 'object') return;
  if ((value as { isEraTensor?: boolean }).isEraTensor === true) {
    out.add(value as Tensor);
    return;
  }
  const visited = seen ?? new Set<object>();
  if (visited.has(value)) return;
  visited.add(value);
  if (Array.isArray(value)) for (const v of value) collect(v, out, visited);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, visited);
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
      // Its tensors are disposed below: the rejection that follows must not go unhandled.
      result.catch(() => {});
      throw new TypeError('Expected a synchronous function for fn but received an async function (scope() cannot wait for it)');
    }
    ok = true;
    return result;
  } finally {
    stack.pop();
    const kept = new Set<Tensor>();
    if (ok) collect(result, kept);
    // A tensor returned is the caller's; a returned (live) view of a tensor made here keeps that
    // tensor (its memory) until the view goes.
    for (const t of kept) endHolds(t);
    for (const t of kept) {
      const base = t.base; // for a view: the tensor it shares memory with
      if (base === undefined || t.disposed || !own.has(base) || kept.has(base) || heldBase.has(t)) continue;
      heldBase.set(t, base);
      const views = holders.get(base) ?? new Set<Tensor>();
      views.add(t);
      holders.set(base, views);
    }
    const parent = stack[stack.length - 1];
    for (const t of own) {
      if (kept.has(t) || holders.has(t)) parent?.add(t);
      else t.dispose();
    }
  }
}

/**
 * Lets the event loop turn once. Node runs the finalisers of garbage-collected native wrappers
 * (every tensor handle) from the event loop, so a long synchronous loop over tensors holds all
 * their memory until it yields: a training loop awaits this every few hundred steps.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

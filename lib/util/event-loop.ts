/**
 * Lets the event loop turn once: a long training loop awaits this every few hundred steps so that
 * signals, timers and pending reads get their turn. It also frees tensor wrappers where a runtime
 * queues Node-API finalizers for the event loop (our addon asks for them to run during GC, see
 * CMakeLists.txt, and Node 20.20 does so).
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

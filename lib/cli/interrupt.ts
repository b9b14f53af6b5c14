/**
 * Ctrl-C for a long command: the first SIGINT aborts `signal` (the work stops at its next step
 * boundary and saves what it has), a second one exits at once. Both exit with 130, the shell's
 * code for a SIGINT. Installed only by the CLI, so a library caller keeps its own handling.
 *
 * Node runs the handler only when the event loop turns, so presses made while the loop was busy
 * arrive together: a second SIGINT counts as a new request (a hard exit) only when it comes at least
 * REPEAT_MS after the first was handled; one before that is taken as part of the first.
 */
import { performance } from 'node:perf_hooks';

/** The exit code of a command stopped by SIGINT (128 + 2). */
export const SIGINT_EXIT_CODE = 130;

/** A SIGINT this soon (ms) after the first was handled is the same request, not a second press. */
export const REPEAT_MS = 1000;

export interface Interrupt {
  readonly signal: AbortSignal;
  /** Uninstalls the handler (SIGINT then ends the process as usual). */
  remove(): void;
}

/**
 * Installs the handler until remove(); `message` is printed (once) on the first Ctrl-C.
 * `now` (ms, default performance.now) and `exit` (default process.exit) are for tests.
 */
export function onInterrupt(message: string, hooks: { now?: () => number; exit?: (code: number) => void } = {}): Interrupt {
  const now = hooks.now ?? (() => performance.now());
  const exit = hooks.exit ?? ((code: number) => process.exit(code));
  const controller = new AbortController();
  let firstAt: number | undefined;
  const handler = (): void => {
    if (firstAt !== undefined) {
      if (now() - firstAt >= REPEAT_MS) exit(SIGINT_EXIT_CODE);
      return;
    }
    firstAt = now();
    // On its own line: a progress bar may be half drawn.
    process.stderr.write(`\n${message}\n`);
    controller.abort();
  };
  process.on('SIGINT', handler);
  return {
    signal: controller.signal,
    remove: () => void process.off('SIGINT', handler),
  };
}

/**
 * Ctrl-C for a long command: the first SIGINT aborts `signal` (the work stops at its next step
 * boundary and saves what it has), a second one exits at once. Both exit with 130, the shell's
 * code for a SIGINT. Installed only by the CLI, so a library caller keeps its own handling.
 */

/** The exit code of a command stopped by SIGINT (128 + 2). */
export const SIGINT_EXIT_CODE = 130;

export interface Interrupt {
  readonly signal: AbortSignal;
  /** Uninstalls the handler (SIGINT then ends the process as usual). */
  remove(): void;
}

/** Installs the handler until remove(); `message` is printed on the first Ctrl-C. */
export function onInterrupt(message: string): Interrupt {
  const controller = new AbortController();
  const handler = (): void => {
    if (controller.signal.aborted) process.exit(SIGINT_EXIT_CODE);
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

/**
 * What an interrupted run must undo. Capabilities (the engine, backups, scratch databases, the
 * embedded database) register a cleanup here for as long as they hold something that must not be
 * left behind; the CLI's one signal handler (src/cli/signals.ts) runs them on Ctrl-C or SIGTERM and
 * exits. Nothing in this module listens to signals or exits: a library user who never installs the
 * handler keeps Node's default behaviour.
 *
 * @example
 * ```ts
 * const release = onInterrupt(() => rmSync(partial, { force: true }), 'the partial backup file was removed');
 * try { await dump(partial); } finally { release(); }
 * ```
 */

export interface InterruptCleanup {
  run(): void | Promise<void>;
  /** What the state is once it ran (one clause, for the one line the CLI prints). */
  state?: string;
}

const cleanups = new Set<InterruptCleanup>();
let controller = new AbortController();

/**
 * Registers a cleanup for an interruption; returns the function that unregisters it (call it in a
 * `finally` once the thing it cleans up is gone or kept for good).
 */
export function onInterrupt(run: () => void | Promise<void>, state?: string): () => void {
  const entry: InterruptCleanup = { run, state };
  cleanups.add(entry);
  return () => void cleanups.delete(entry);
}

/** Aborted when the run is interrupted: pass it to child processes (execa's cancelSignal) and long waits. */
export function interruptSignal(): AbortSignal {
  return controller.signal;
}

/** Whether the run has been interrupted. */
export function wasInterrupted(): boolean {
  return controller.signal.aborted;
}

/**
 * Aborts `interruptSignal()` and runs every registered cleanup, newest first and all at once,
 * each bounded by `budgetMs` (a cleanup that takes longer is left running; the process is about to
 * exit). Returns the cleanups' state clauses, marked "(finishing)" when one was still running at
 * the end and "FAILED" when one threw. Called by the CLI's signal handler.
 */
export async function runInterruptCleanups(budgetMs: number): Promise<string[]> {
  if (!controller.signal.aborted) controller.abort(new Error('interrupted'));
  const entries = [...cleanups].reverse();
  cleanups.clear();
  const states: string[] = [];
  const deadline = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), budgetMs).unref());
  await Promise.all(
    entries.map(async (entry) => {
      const done = Promise.resolve()
        .then(() => entry.run())
        .then(
          () => 'done' as const,
          () => 'failed' as const,
        );
      const outcome = await Promise.race([done, deadline]);
      // A cleanup still running when the time is up was started (a DROP DATABASE sent goes on on
      // the server): say so rather than claim it done.
      if (entry.state) states.push(outcome === 'done' ? entry.state : outcome === 'late' ? `${entry.state} (finishing)` : `${entry.state}: FAILED`);
    }),
  );
  return states;
}

/** For tests of this module and for a library user that reuses one process: forget the interruption. */
export function resetInterrupt(): void {
  cleanups.clear();
  controller = new AbortController();
}

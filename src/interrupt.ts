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
 * Aborts `interruptSignal()` and runs every registered cleanup, newest first and all at once.
 * After `budgetMs` it returns the cleanups' state clauses, marked "(finishing)" for one still
 * running and "FAILED" for one that threw, with `pending`: settled once every cleanup has ended
 * (the caller may wait a little longer for it before the process exits: a DROP DATABASE sent to a
 * busy server). Called by the CLI's signal handler.
 */
export async function runInterruptCleanups(budgetMs: number): Promise<{ states: string[]; pending: Promise<void> }> {
  if (!controller.signal.aborted) controller.abort(new Error('interrupted'));
  const entries = [...cleanups].reverse();
  cleanups.clear();
  const runs = entries.map((entry) =>
    Promise.resolve()
      .then(() => entry.run())
      .then(
        () => 'done' as const,
        () => 'failed' as const,
      ),
  );
  const deadline = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), budgetMs).unref());
  const outcomes = await Promise.all(runs.map((run) => Promise.race([run, deadline])));
  const states: string[] = [];
  outcomes.forEach((outcome, i) => {
    const state = entries[i].state;
    if (state) states.push(outcome === 'done' ? state : outcome === 'late' ? `${state} (finishing)` : `${state}: FAILED`);
  });
  return { states, pending: Promise.all(runs).then(() => {}) };
}

/** For tests of this module and for a library user that reuses one process: forget the interruption. */
export function resetInterrupt(): void {
  cleanups.clear();
  controller = new AbortController();
}

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
import { CmmcError } from './errors.js';

export interface InterruptCleanup {
  run(): void | Promise<void>;
  /** What the state is once it ran (one clause, for the one line the CLI prints). */
  state?: string;
  /**
   * The last resort, synchronous, run just before the process exits if `run` has not finished by
   * then: what must not outlive the process (a lock file, a half-built folder) when `run` waits on
   * work that cannot be cut short (PGlite starting, which may take longer than the exit waits).
   */
  atExit?: () => void;
}

const cleanups = new Set<InterruptCleanup>();
/** The cleanups runInterruptCleanups started, with how each ended so far (undefined: still running). */
let started: { entry: InterruptCleanup; outcome?: 'done' | 'failed' }[] = [];
/** Cleanups started by runInterruptCleanups and not finished yet: their atExit is due at the exit. */
const unfinished = new Set<InterruptCleanup>();
let controller = new AbortController();

/**
 * Registers a cleanup for an interruption; returns the function that unregisters it (call it in a
 * `finally` once the thing it cleans up is gone or kept for good).
 */
export function onInterrupt(run: () => void | Promise<void>, state?: string, options: { atExit?: () => void } = {}): () => void {
  const entry: InterruptCleanup = { run, state, atExit: options.atExit };
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
 * The error a capability throws when it finds the run interrupted between two steps: it stops
 * there rather than begin the next (the signal handler prints the line and exits; the CLI prints
 * no error of its own for it). `what` says what was not done.
 */
export function interruptedError(what: string): CmmcError {
  return new CmmcError('interrupted', `interrupted: ${what}`, { exitCode: 130 });
}

/** Throws `interruptedError(what)` when the run has been interrupted: call it between steps. */
export function stopIfInterrupted(what: string): void {
  if (wasInterrupted()) throw interruptedError(what);
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
  for (const entry of entries) if (entry.atExit) unfinished.add(entry);
  const tracked = entries.map((entry) => ({ entry }) as (typeof started)[number]);
  started.push(...tracked);
  const runs = tracked.map((track) =>
    Promise.resolve()
      .then(() => track.entry.run())
      .then(
        () => 'done' as const,
        () => 'failed' as const,
      )
      .then((outcome) => (track.outcome = outcome))
      .finally(() => unfinished.delete(track.entry)),
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

/**
 * The state clauses of the cleanups started so far, as they are at this moment: one still running is
 * marked "(not waited for)". For the line of a run that must exit before its cleanups have ended (a
 * second signal): their `atExit` then runs (`runAtExit`).
 */
export function interruptStatesNow(): string[] {
  const states: string[] = [];
  for (const { entry, outcome } of started) {
    if (!entry.state) continue;
    states.push(outcome === 'done' ? entry.state : outcome === 'failed' ? `${entry.state}: FAILED` : `${entry.state} (not waited for)`);
  }
  return states;
}

/**
 * Runs the `atExit` of every cleanup still running: called by the signal handler right before it
 * exits (synchronously, so nothing else runs in between). Never throws.
 */
export function runAtExit(): void {
  for (const entry of unfinished) {
    try {
      entry.atExit?.();
    } catch {
      // the process is exiting: what could not be removed is left to the next run (src/leftovers.ts)
    }
  }
  unfinished.clear();
}

/**
 * Forgets the interruption: for an application that ran runInterruptCleanups in its own signal handler
 * and goes on running (until this, every backup and migration stops at once as interrupted), and for
 * tests of this module. The cleanups registered since (by work still running) stay registered.
 */
export function resetInterrupt(): void {
  unfinished.clear();
  started = [];
  controller = new AbortController();
}

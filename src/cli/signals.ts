/**
 * The one signal handler of the CLI. Ctrl-C (SIGINT), SIGTERM and SIGHUP stop any command within
 * a second: the interruption's cleanups run (src/interrupt.ts: child processes stopped, partial
 * files and scratch databases removed, connections closed so that the server rolls back the
 * revision in flight), one line says what state things are in, and the process exits 128 + the
 * signal's number (130 for Ctrl-C). A second Ctrl-C while that happens exits at once, still with
 * the one line (what was done so far) and each unfinished cleanup's last resort (`atExit`); the same
 * signal twice at once (`timeout -s INT` signals the process and its group) counts as one.
 *
 * Capabilities never listen to signals themselves: they register cleanups with `onInterrupt`.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { interruptStatesNow, runAtExit, runInterruptCleanups } from '../interrupt.js';

/** Exit codes of the signals (128 + the signal's number, as shells report them). */
export const SIGNAL_EXIT: Record<'SIGINT' | 'SIGTERM' | 'SIGHUP', number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/** Cleanups get this long before the line is printed; the whole stop stays under a second. */
const CLEANUP_BUDGET_MS = 800;
/** After the cleanups, for the interrupted command to write what it writes on failure (its --json document). */
const SETTLE_MS = 50;
/** At most this much longer for a cleanup that is still finishing when the line is out. */
const FINISHING_MS = 3_000;

/**
 * The same signal again within this long is the same interruption delivered twice (to the process
 * and to its process group, as `timeout -s INT` and `kill -INT -PGID` do), not a second Ctrl-C.
 */
const DUPLICATE_MS = 250;

let installed = false;
/** node:tty's isatty, loaded once a signal has come (a run that is never interrupted does not load it). */
let isatty: ((fd: number) => boolean) | undefined;
/** The signal being handled and when it came; undefined until one comes. */
let stopping: { signal: keyof typeof SIGNAL_EXIT; at: number } | undefined;
/** Whether the closing line has been written (it is written once). */
let lineOut = false;
let writeLine: (text: string) => void = (text) => process.stderr.write(text + '\n');

/** Installs the handler (once per process). `line` prints the final line (the CLI's Output). */
export function installSignalHandler(line?: (text: string) => void): void {
  if (line) writeLine = line;
  if (installed) return;
  installed = true;
  for (const signal of Object.keys(SIGNAL_EXIT) as (keyof typeof SIGNAL_EXIT)[]) process.on(signal, () => void interruptRun(signal));
}

/**
 * Stops the run as a signal would. Also called by a prompt, where the terminal delivers Ctrl-C as
 * a key press rather than a signal.
 */
export async function interruptRun(signal: keyof typeof SIGNAL_EXIT = 'SIGINT'): Promise<never> {
  const code = SIGNAL_EXIT[signal];
  if (stopping) {
    // Delivered twice at once: the first is being handled, in full.
    if (signal === stopping.signal && Date.now() - stopping.at < DUPLICATE_MS) return new Promise<never>(() => {});
    // A second Ctrl-C: out now, yet with the one line (what the cleanups did so far).
    closingLine(stopping.signal, interruptStatesNow());
    // The code of the signal the line names.
    exitNow(SIGNAL_EXIT[stopping.signal]);
  }
  stopping = { signal, at: Date.now() };
  // For the exit (releaseHungUpTerminal): loaded while the cleanups run.
  void import('node:tty').then((tty) => (isatty = tty.isatty), () => {});
  // A connection ended under a query may still throw from a timer while we tidy up: the process
  // is exiting, and such errors must not interrupt the cleanups or print a stack.
  process.on('uncaughtException', () => {});
  process.on('unhandledRejection', () => {});
  const { states, pending } = await runInterruptCleanups(CLEANUP_BUDGET_MS);
  closingLine(signal, states);
  // A cleanup still finishing (a DROP DATABASE on a busy server) gets a little longer before the
  // exit; the line above is already out.
  await Promise.race([pending, new Promise((resolve) => setTimeout(resolve, FINISHING_MS))]);
  // The command's own failure (its --json document) comes once the closed connections' errors reach
  // it: a few turns of the event loop after the cleanups.
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  exitNow(code);
}

/** Writes the one closing line (once): what stopped the run, and the state each cleanup left. */
function closingLine(signal: keyof typeof SIGNAL_EXIT, states: string[]): void {
  if (lineOut) return;
  lineOut = true;
  const what = signal === 'SIGINT' ? 'interrupted (Ctrl-C)' : `stopped by ${signal}`;
  // Each state once: two connections closed say the same thing.
  writeLine(`${what}: ${states.length ? [...new Set(states)].join('; ') : 'stopped before finishing'}`);
}

/** Exits, after the last resort of each cleanup still running (a lock file, a half-built folder). */
function exitNow(code: number): never {
  runAtExit();
  releaseHungUpTerminal();
  process.exit(code);
}

/**
 * Puts /dev/null in place of each standard stream whose terminal has hung up (a closed window, a
 * dropped SSH session: SIGHUP, then EIO for everything asked of it). At exit Node sets each stream
 * that was a terminal back as it found it, and asserts that this worked (ResetStdio: tcsetattr, EIO
 * here): the process died of SIGABRT or SIGSEGV instead of exiting 129, its memory (passwords, a
 * backup key) dumped where the system keeps core files (nodejs/node issues 42433, 51519). A stream
 * that is no longer the same file is left alone by that check. close then open: the lowest free
 * descriptor is the one just closed (0, 1 and 2 in turn, each open meanwhile or just reopened).
 */
function releaseHungUpTerminal(): void {
  if (!isatty) return;
  for (const fd of [0, 1, 2]) {
    // A terminal that hung up is still a character device, and no longer a terminal (TCGETS: EIO).
    // /dev/null itself passes too, and is put back as it was.
    let device = false;
    try {
      device = fstatSync(fd).isCharacterDevice();
    } catch {
      continue; // closed
    }
    if (!device || isatty(fd)) continue;
    try {
      closeSync(fd);
      const opened = openSync('/dev/null', 'r+');
      if (opened !== fd) closeSync(opened);
    } catch {
      // Exiting anyway: at worst Node's check fails as before.
    }
  }
}

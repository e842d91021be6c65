/**
 * One process at a time on an embedded folder. PGlite is a single-user PostgreSQL: two processes
 * writing the same data files would corrupt them, so the folder holds a lock file created with
 * O_EXCL that names the holder (pid, the process's start time, host). A lock left by a process that
 * is gone is taken over; a live one makes the next process wait (CMMC_DB_LOCK_WAIT), then fail
 * with one line that names the folder and the pid.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CmmcError } from '../errors.js';
import { shellWord } from '../shell-word.js';
import { hostTag, processAlive, processStartTicks } from '../leftovers.js';
import { makeDirs, readRegularFile, removeMadeDirs } from '../fs-private.js';
import { redactArgs } from '../config/conninfo.js';
import { interruptedError, wasInterrupted } from '../interrupt.js';

export const LOCK_FILE = 'lock';

export interface LockHolder {
  pid: number;
  /** Start time of the process: /proc/<pid>/stat field 22 on Linux (guards against pid reuse). */
  startTicks?: string;
  startedAt: string;
  hostname: string;
  /** hostTag(): the host name and pid namespace (absent in locks of older versions). */
  machine?: string;
  command?: string;
}

export interface FolderLock {
  file: string;
  release(): void;
  /**
   * The folders taking the lock made (the embedded folder and any missing above it), top first: a
   * run that then fails removes them again once empty (`removeMadeDirs`), so that nothing is left
   * of a folder that did not exist before.
   */
  made: string[];
}

/** Whether the process that wrote `holder` still runs. */
export function holderAlive(holder: LockHolder): boolean {
  // Another machine (a shared folder), or another pid namespace of this one (a container): its pid
  // means nothing here, so it cannot be told gone: assumed alive.
  if (holder.hostname !== os.hostname() || (holder.machine !== undefined && holder.machine !== hostTag())) return true;
  return processAlive(holder.pid, holder.startTicks);
}

export function readHolder(file: string): LockHolder | undefined {
  try {
    return JSON.parse(readRegularFile(file).toString('utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

function tryCreate(file: string): boolean {
  const holder: LockHolder = {
    pid: process.pid,
    startTicks: processStartTicks('self'),
    startedAt: new Date().toISOString(),
    hostname: os.hostname(),
    machine: hostTag(),
    // Passwords masked: the file outlives a kill -9, and a waiting process prints it.
    command: redactArgs(process.argv.slice(2)).join(' ').slice(0, 200),
  };
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    fs.writeSync(fd, JSON.stringify(holder) + '\n');
  } catch (err) {
    // A full disk: no empty lock left behind, and the error names the lock (write(2) names no file).
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    const e = err as NodeJS.ErrnoException;
    if (e.code && e.path === undefined) Object.assign(e, { path: file, syscall: 'write' });
    throw err;
  }
  fs.closeSync(fd);
  return true;
}

/**
 * Moves a stale lock aside, checking that what was moved is still the stale one (another process
 * may have taken it over in between; then its fresh lock is put back).
 */
function takeOverStale(file: string, stale: string): void {
  const aside = `${file}.stale-${process.pid}`;
  try {
    fs.renameSync(file, aside);
  } catch {
    return; // already gone
  }
  let moved: string;
  try {
    moved = readRegularFile(aside).toString('utf8');
  } catch {
    moved = '';
  }
  if (moved === stale) {
    fs.rmSync(aside, { force: true });
    return;
  }
  try {
    fs.linkSync(aside, file);
  } catch {
    // somebody created yet another lock meanwhile: theirs stands
  }
  fs.rmSync(aside, { force: true });
}

/**
 * The lock is a file cmmc-db creates: anything else under its name (a folder, a symbolic link, a
 * FIFO) is not a holder to wait for or take over, and looping on it would spin for ever.
 * @throws CmmcError `embedded.lock-file` naming it.
 */
function refuseOddLock(file: string, dir: string): void {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st || st.isFile()) return;
  const what = st.isDirectory() ? 'a folder' : st.isSymbolicLink() ? 'a symbolic link' : st.isFIFO() ? 'a FIFO' : 'not a regular file';
  throw new CmmcError('embedded.lock-file', `the embedded database's lock file ${file} is ${what}, not the file cmmc-db writes there`, {
    hint: `remove it (rm -r ${shellWord(file)}) once no cmmc-db is using ${dir}`,
  });
}

/**
 * Takes the lock of `dir`, waiting up to `waitMs` for a live holder to finish.
 * @throws CmmcError `embedded.locked` naming the folder and the pid holding it.
 */
export async function acquireFolderLock(dir: string, waitMs: number): Promise<FolderLock> {
  const made = makeDirs(dir, 0o700);
  const file = path.join(dir, LOCK_FILE);
  const deadline = Date.now() + waitMs;
  let delay = 50;
  for (;;) {
    // Interrupted while waiting: the signal handler's cleanups have run already, and a lock taken
    // now would outlive the exit.
    if (wasInterrupted()) {
      removeMadeDirs(made);
      throw interruptedError(`the embedded database in ${dir} was not opened`);
    }
    if (tryCreate(file)) {
      let released = false;
      return {
        file,
        made,
        release() {
          if (released) return;
          released = true;
          const holder = readHolder(file);
          if (holder?.pid === process.pid) fs.rmSync(file, { force: true });
        },
      };
    }
    refuseOddLock(file, dir);
    let raw = '';
    try {
      raw = readRegularFile(file).toString('utf8');
    } catch {
      continue; // removed meanwhile: try again at once
    }
    let holder: LockHolder | undefined;
    try {
      holder = JSON.parse(raw) as LockHolder;
    } catch {
      holder = undefined;
    }
    // An unreadable lock is a holder that died between creating and writing it, unless it is brand new.
    const ageMs = Date.now() - (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if ((holder && !holderAlive(holder)) || (!holder && ageMs > 2000)) {
      takeOverStale(file, raw);
      continue;
    }
    if (Date.now() >= deadline) {
      // Masked again: a lock written by an older version holds the command line as it was typed.
      const who = holder ? `process ${holder.pid}${holder.command ? ` (cmmc-db ${redactArgs(holder.command.split(' ')).join(' ')})` : ''} since ${holder.startedAt}` : 'another process';
      throw new CmmcError('embedded.locked', `the embedded database in ${dir} is in use by ${who}`, {
        hint: 'wait for that command to finish (only one process can open the embedded database), or set CMMC_DB_LOCK_WAIT to wait longer, e.g. CMMC_DB_LOCK_WAIT=60s',
      });
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, Math.max(10, deadline - Date.now()))));
    delay = Math.min(delay * 2, 250);
  }
}

/**
 * Temporary things a run creates (folders in the system's temporary folder, scratch databases,
 * unfinished files) carry the identity of the process that made them: its pid and its start time
 * (field 22 of /proc/<pid>/stat on Linux, which tells a process from a later one given the same
 * pid). A run killed with `kill -9` cannot tidy up after itself, so the next run of any command
 * removes the leftovers whose process is gone, and never those of a process still running.
 *
 * Names: `cmmc-tmp-<kind>-h<host>-p<pid>-t<start>-<random>` (folders; pid and start in base 36), and
 * the `_h<host>_p<pid>_t<start>_` part of a scratch database's name (src/schema-as-code/scratch.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const TEMP_PREFIX = 'cmmc-tmp-';

/** The start of a process in clock ticks since boot (Linux); undefined elsewhere or when it is gone. */
export function processStartTicks(pid: number | 'self'): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether process `pid` still runs and (when `startTicks` is known) is the same process, not a later one with its pid. */
export function processAlive(pid: number, startTicks?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (startTicks !== undefined && startTicks !== '0') {
    const now = processStartTicks(pid);
    if (now !== undefined && now !== startTicks) return false;
  }
  return true;
}

export interface Owner {
  pid: number;
  /** Start ticks in decimal ('0' when unknown). */
  start: string;
}

let self: Owner | undefined;
/** This process's identity. */
export function selfOwner(): Owner {
  self ??= { pid: process.pid, start: processStartTicks('self') ?? '0' };
  return self;
}

/** `p<pid>-t<start>` in base 36, the part of a name that says whose it is (`sep` between the parts). */
export function ownerTag(sep = '-'): string {
  const { pid, start } = selfOwner();
  return `p${pid.toString(36)}${sep}t${BigInt(start).toString(36)}`;
}

/** Reads an owner tag made by `ownerTag` (`p<pid>-t<start>`, either separator), exactly; undefined otherwise. */
export function parseOwner(tag: string): Owner | undefined {
  const m = /^p([0-9a-z]+)[-_]t([0-9a-z]+)$/.exec(tag);
  if (!m) return undefined;
  const pid = parseInt(m[1], 36);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  let start = 0n;
  for (const ch of m[2]) start = start * 36n + BigInt(parseInt(ch, 36));
  return { pid, start: start.toString() };
}

/**
 * The owner of a name whose tag sits where `pattern`'s one capture group says (anchored patterns,
 * so that a user's database called `app_prod_test` is never read as a tag).
 */
export function ownerIn(name: string, pattern: RegExp): Owner | undefined {
  const m = pattern.exec(name);
  return m ? parseOwner(m[1]) : undefined;
}

/**
 * Where the owner's tag is in a temporary folder's name: `cmmc-tmp-<kind>-h<host>-<tag>-<random>`
 * (`cmmc-tmp-<kind>-<tag>-<random>` before the machine was part of it).
 */
export const TEMP_DIR_PATTERN = /^cmmc-tmp-[A-Za-z0-9]*-(?:h[0-9a-f]+-)?(p[0-9a-z]+-t[0-9a-z]+)-[0-9a-f]+$/;
/** The same names, the machine's tag included (`machineOwnerGone` reads it). */
const TEMP_DIR_MACHINE_PATTERN = /^cmmc-tmp-[A-Za-z0-9]*-((?:h[0-9a-f]+-)?p[0-9a-z]+-t[0-9a-z]+)-[0-9a-f]+$/;

/** True when the name's owner (found by `pattern`) is no longer running; false when it carries none. */
export function ownerGone(name: string, pattern: RegExp): boolean {
  const owner = ownerIn(name, pattern);
  return owner !== undefined && !processAlive(owner.pid, owner.start);
}

let host: string | undefined;
/**
 * A short stable tag of this machine: its host name and its pid namespace (Linux: the inode of
 * /proc/self/ns/pid), since pids mean something only inside their own namespace. A container, or a
 * run under `unshare --pid`, shares the host name, and may share the temporary folder, a backup
 * folder or the server; what it made is swept only there, and it sweeps nothing of the host's.
 */
export function hostTag(): string {
  if (host === undefined) {
    let namespace = '';
    try {
      namespace = fs.readlinkSync('/proc/self/ns/pid');
    } catch {
      // Not Linux: the host name alone.
    }
    host = createHash('sha256').update(os.hostname()).update(namespace ? `\0${namespace}` : '').digest('hex').slice(0, 6);
  }
  return host;
}

/**
 * `h<host>-p<pid>-t<start>`: this process's tag (`ownerTag`) with this machine's (`hostTag`), for
 * what is made in a folder that other machines may share (a backup folder on NFS, a volume mounted
 * in several containers): a pid there means nothing on another machine, or in another container's
 * pid namespace, where the same number is another process or none.
 */
export function machineOwnerTag(): string {
  return `h${hostTag()}-${ownerTag()}`;
}

const MACHINE_OWNER = /^(?:h([0-9a-f]+)-)?(p[0-9a-z]+-t[0-9a-z]+)$/;

/**
 * Whether the run that `tag` names (`machineOwnerTag`, or the bare `ownerTag` of older versions) is
 * gone. Another machine's never is from here: its processes cannot be seen, so what it made is left
 * to its own next run (sweeping it deleted a backup another container was writing at that moment).
 * Undefined when `tag` is no such tag.
 */
export function machineOwnerGone(tag: string): boolean | undefined {
  const m = MACHINE_OWNER.exec(tag);
  const owner = m ? parseOwner(m[2]) : undefined;
  if (!m || !owner) return undefined;
  if (m[1] !== undefined && m[1] !== hostTag()) return false;
  return !processAlive(owner.pid, owner.start);
}

/** Creates a private (0700) folder in the system's temporary folder, named for its kind, this machine and this process. */
export function makeTempDir(kind: string, root = os.tmpdir()): string {
  const dir = path.join(root, `${TEMP_PREFIX}${kind.replace(/[^a-z0-9]/gi, '')}-${machineOwnerTag()}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(dir, { mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  return dir;
}

/**
 * Removes the temporary folders of this machine's processes that are gone; returns their paths.
 * Never another machine's (or pid namespace's): from here its live runs look gone (a run in a
 * container sharing /tmp removed the folders of every run of the host, mid-use). Never throws.
 */
export function sweepTempDirs(root = os.tmpdir()): string[] {
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync(root).filter((e) => e.startsWith(TEMP_PREFIX));
  } catch {
    return removed;
  }
  for (const entry of entries) {
    const tag = TEMP_DIR_MACHINE_PATTERN.exec(entry)?.[1];
    if (tag === undefined || machineOwnerGone(tag) !== true) continue;
    const full = path.join(root, entry);
    try {
      // Only what this user owns: another user's leftovers are theirs to sweep.
      if (typeof process.getuid === 'function' && fs.lstatSync(full).uid !== process.getuid()) continue;
      fs.rmSync(full, { recursive: true, force: true });
      removed.push(full);
    } catch {
      // Gone meanwhile, or not ours.
    }
  }
  return removed;
}

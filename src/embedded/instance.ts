/**
 * The embedded PostgreSQL of one folder: PGlite with the platform's extensions (vector, uuid-ossp),
 * opened at most once per process (shared, counted) and by one process at a time (the folder lock).
 *
 * Folder layout:
 *   <dir>/pgdata/     PGlite's data directory (a PostgreSQL data directory)
 *   <dir>/lock        the lock file while a process has it open (see lock.ts)
 *   <dir>/.gitignore  "*": the folder is never committed by accident
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { parseDuration } from '../config/config.js';
import { CmmcError, errorText } from '../errors.js';
import { tighten } from '../fs-private.js';
import { onInterrupt } from '../interrupt.js';
import { dataFolderProblem } from './data-folder.js';
import { acquireFolderLock, type FolderLock } from './lock.js';

export const DATA_SUBDIR = 'pgdata';
/** How long a second process waits for the folder by default. */
export const DEFAULT_LOCK_WAIT_MS = 5_000;

export interface EmbeddedInstance {
  dir: string;
  dataDir: string;
  pg: PGlite;
  /** Whether this open created the database (initdb ran). */
  created: boolean;
  lock: FolderLock;
  refs: number;
  /** Run before PGlite closes (the socket server registers its own stop here). */
  beforeClose: (() => Promise<void>)[];
  closed: boolean;
  /** Unregisters its interruption cleanup (src/interrupt.ts). */
  releaseInterrupt?: () => void;
  /** Set once closing began: every caller waits for the same close. */
  closing?: Promise<void>;
}

const open = new Map<string, Promise<EmbeddedInstance>>();
/** A folder this process holds for a whole run (`holdEmbeddedFolder`), and its latest open there. */
interface Hold {
  lock: FolderLock;
  opening?: Promise<EmbeddedInstance>;
}
/** Folders held by this process: its opens there borrow the lock. */
const held = new Map<string, Hold>();

/** CMMC_DB_LOCK_WAIT (`5s`, `500ms`, `1min`), else 5 s. */
export function lockWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.CMMC_DB_LOCK_WAIT;
  if (raw === undefined || raw === '') return DEFAULT_LOCK_WAIT_MS;
  const ms = parseDuration(raw);
  if (ms === undefined) {
    throw new CmmcError('config.duration', `CMMC_DB_LOCK_WAIT "${raw}" is not a duration`, { hint: 'use milliseconds or a unit: 500ms, 30s, 5min', exitCode: 2 });
  }
  return ms;
}

/** Creates PGlite on a data directory with the platform's extensions (vector, uuid-ossp). */
export async function createPglite(dataDir: string | undefined): Promise<PGlite> {
  const [{ PGlite }, { vector }, { uuid_ossp }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-pgvector'),
    import('@electric-sql/pglite/contrib/uuid_ossp'),
  ]);
  return PGlite.create({ ...(dataDir ? { dataDir } : {}), extensions: { vector, uuid_ossp } });
}

/**
 * Opens (or creates) the embedded database in `dir`, or shares the instance this process already
 * has open. Release it with `releaseEmbedded`.
 * @throws CmmcError `embedded.locked` when another process holds the folder beyond the wait.
 */
export async function acquireEmbedded(dir: string, options: { waitMs?: number; mustExist?: boolean } = {}): Promise<EmbeddedInstance> {
  const key = path.resolve(dir);
  const existing = open.get(key);
  if (existing) {
    const instance = await existing;
    if (!instance.closed) {
      instance.refs++;
      return instance;
    }
  }
  const opening = openInstance(key, options.waitMs ?? lockWaitMs(), options.mustExist ?? false);
  open.set(key, opening);
  try {
    return await opening;
  } catch (err) {
    open.delete(key);
    throw err;
  }
}

/** The error of a command that reads (OpenOptions.mustExist) where there is no embedded database yet. */
export function absentDatabase(dir: string): CmmcError {
  return new CmmcError('embedded.absent', `there is no embedded database in ${dir} yet`, {
    hint: 'create it with "cmmc-db init" (the platform schema and the 110 controls), or point DATABASE_URL at a server',
  });
}

/** Names cmmc-db itself keeps in an embedded folder. */
const OWN_ENTRY = /^(lock(\.stale-\d+)?|\.gitignore|pgdata(\.(restoring|before-restore)-\d+)?)$/;

/**
 * Checks that `dir` is an embedded folder (or a new, empty one) before anything is written there,
 * so that CMMC_DB_DIR=. or a PGlite data directory given by mistake is refused, not taken over.
 */
export function checkEmbeddedFolder(dir: string): void {
  if (!fs.existsSync(dir)) return;
  const entries = fs.readdirSync(dir);
  if (entries.includes('PG_VERSION')) {
    throw new CmmcError('embedded.folder', `${dir} is a PostgreSQL data directory itself, not a cmmc-db embedded folder`, {
      hint: `an embedded folder keeps its data in <folder>/${DATA_SUBDIR}: point CMMC_DB_DIR at ${path.dirname(dir)} if that is one, or move this directory to <new folder>/${DATA_SUBDIR}`,
    });
  }
  const foreign = entries.filter((e) => !OWN_ENTRY.test(e));
  if (foreign.length && !entries.includes(DATA_SUBDIR)) {
    throw new CmmcError('embedded.folder', `${dir} holds other files (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}); the embedded database needs a folder of its own`, {
      hint: 'point CMMC_DB_DIR at a new or empty folder (default: .cmmc-db)',
    });
  }
}

/**
 * Runs `fn` with the lock of the embedded folder `dir` held by this process from start to end, so
 * that another process waits for the whole run, not only for the parts where the database is open:
 * `cmmc-db init` builds the template, copies it in and opens the copy, and a read started in any of
 * those phases waits for it, then reads the finished database. Every open of `dir` by this process
 * meanwhile borrows the lock (and leaves it held when it closes). Nested calls on the same folder
 * run `fn` under the outer hold. An interruption closes the database opened meanwhile, then frees
 * the folder.
 * @throws CmmcError `embedded.locked` when another process holds the folder beyond `waitMs`.
 * @example
 * ```ts
 * await holdEmbeddedFolder(config.embeddedDir, async () => { await build(); await copyIn(); });
 * ```
 */
export async function holdEmbeddedFolder<T>(dir: string, fn: () => Promise<T>, waitMs: number = lockWaitMs()): Promise<T> {
  const key = path.resolve(dir);
  if (held.has(key)) return fn();
  checkEmbeddedFolder(key);
  const lock = await acquireFolderLock(key, waitMs);
  const hold: Hold = { lock };
  const releaseInterrupt = onInterrupt(
    async () => {
      // Run beside the open's own cleanup (all at once): the folder is freed only once PGlite is closed.
      const instance = await hold.opening?.catch(() => undefined);
      if (instance) await closeInstance(instance);
      lock.release();
    },
    undefined,
    { atExit: () => lock.release() },
  );
  held.set(key, hold);
  try {
    return await fn();
  } finally {
    held.delete(key);
    releaseInterrupt();
    // A database `fn` left open keeps the folder: its close frees it (its borrowed lock is real now).
    const instance = await hold.opening?.catch(() => undefined);
    if (!instance || instance.closed) lock.release();
  }
}

async function openInstance(dir: string, waitMs: number, mustExist: boolean): Promise<EmbeddedInstance> {
  checkEmbeddedFolder(dir);
  // Borrowed from a hold of this process (the hold frees the folder; once it has ended, this does), else taken.
  const hold = held.get(dir);
  const lock: FolderLock = hold ? { file: hold.lock.file, release: () => void (held.get(dir) !== hold && hold.lock.release()) } : await acquireFolderLock(dir, waitMs);
  // Registered the moment the folder is ours, not once PGlite has started: an interruption while it
  // starts (half a second or more, which cannot be cut short) would otherwise exit with the lock left.
  // The cleanup waits for the start, closes the database cleanly and frees the folder; if the exit
  // comes first, the lock goes with the process (the next open recovers, as after a kill -9).
  let opening: Promise<EmbeddedInstance> | undefined;
  const releaseInterrupt = onInterrupt(
    async () => {
      const instance = await opening?.catch(() => undefined);
      if (instance) await closeInstance(instance);
      lock.release();
    },
    'the embedded database was closed cleanly',
    { atExit: () => lock.release() },
  );
  opening = startInstance(dir, lock, releaseInterrupt, mustExist);
  if (hold) hold.opening = opening;
  try {
    return await opening;
  } catch (err) {
    releaseInterrupt();
    lock.release();
    throw err;
  }
}

/** Opens PGlite on the folder `lock` holds; `releaseInterrupt` unregisters the interruption's cleanup. */
async function startInstance(dir: string, lock: FolderLock, releaseInterrupt: () => void, mustExist: boolean): Promise<EmbeddedInstance> {
  const dataDir = path.join(dir, DATA_SUBDIR);
  recoverInterruptedRestore(dir);
  // Checked under the lock, after a restore's recovery: a read that waited for an init sees its database.
  if (mustExist && freshDataDir(dataDir)) throw absentDatabase(dir);
  const gitignore = path.join(dir, '.gitignore');
  if (!fs.existsSync(gitignore)) fs.writeFileSync(gitignore, '# the embedded database of cmmc-db: never commit it\n*\n', { mode: 0o600 });
  // Owner-only, like PostgreSQL's own data directory. The folders' own modes are what keeps other
  // users out; a folder found looser (made by an older version, or changed by hand) is tightened
  // throughout. Files PGlite adds while open are tightened when it closes.
  if (!ownerOnly(dir) || (fs.existsSync(dataDir) && !ownerOnly(dataDir))) tighten(dir);
  // PGlite runs initdb over a folder without PG_VERSION (the data in it would be overwritten), and on
  // most other damage rewrites pg_control and the WAL before it gives up: a folder with files is
  // checked first (src/embedded/data-folder.ts).
  const damage = freshDataDir(dataDir) ? undefined : dataFolderProblem(dataDir);
  if (damage) {
    const what = damage.damaged ? `the embedded database in ${dataDir} is damaged` : `cannot open the embedded database in ${dataDir}`;
    throw new CmmcError(damage.damaged ? 'embedded.damaged' : 'embedded.open', `${what}: ${damage.problem}; nothing in it was changed`, {
      hint: damage.hint ?? `restore its files from a copy, or move ${path.basename(dir)} aside and restore a backup into a new folder (cmmc-db init, then cmmc-db backup restore)`,
    });
  }
  const created = !fs.existsSync(path.join(dataDir, 'PG_VERSION'));
  // A postmaster.pid left by a process that was killed: the folder lock proves nobody runs on it.
  fs.rmSync(path.join(dataDir, 'postmaster.pid'), { force: true });
  let pg: PGlite;
  try {
    pg = await createPglite(dataDir);
  } catch (err) {
    // PGlite's WebAssembly stops with "Aborted(). Build with -sASSERTIONS for more info.": say what that means here.
    const why = errorText(err).replace(/^Aborted\(\).*$/s, 'PGlite stopped while reading it (its files are not a data folder it can open)');
    throw new CmmcError('embedded.open', `cannot open the embedded database in ${dataDir}: ${why}`, {
      hint: 'if the folder is damaged, restore a backup into a fresh folder (cmmc-db backup restore), or move it aside to start anew',
      cause: err,
    });
  }
  // Interrupted while open, the cleanup of openInstance closes it cleanly (an open transaction is
  // rolled back, nothing half-written stays) and frees the folder.
  return { dir, dataDir, pg, created, lock, refs: 1, beforeClose: [], closed: false, releaseInterrupt };
}

/**
 * Whether a database may be created at `dataDir`: nothing is there, or an empty folder. Anything
 * else holds data (or what is left of it) and is never removed or written over (`init` from the
 * template removed a folder without PG_VERSION and copied a new database in).
 */
export function freshDataDir(dataDir: string): boolean {
  const st = fs.lstatSync(dataDir, { throwIfNoEntry: false });
  return !st || (st.isDirectory() && fs.readdirSync(dataDir).length === 0);
}

/** Whether this process has the embedded database of `dir` open now. */
export function isOpenInProcess(dir: string): boolean {
  return open.has(path.resolve(dir));
}

/** Drops one reference; the last one closes PGlite cleanly (checkpoint) and frees the folder. */
export async function releaseEmbedded(instance: EmbeddedInstance): Promise<void> {
  if (instance.closed) return;
  if (--instance.refs > 0) return;
  await closeInstance(instance);
}

function closeInstance(instance: EmbeddedInstance): Promise<void> {
  instance.closing ??= (async () => {
    instance.closed = true;
    instance.releaseInterrupt?.();
    open.delete(instance.dir);
    try {
      for (const fn of instance.beforeClose.splice(0)) await fn().catch(() => {});
      await instance.pg.close();
      // PGlite's file system layer creates files without PostgreSQL's modes: tighten what this run added.
      if (fs.existsSync(instance.dataDir)) tighten(instance.dataDir);
    } finally {
      instance.lock.release();
    }
  })();
  return instance.closing;
}

function ownerOnly(folder: string): boolean {
  return (fs.statSync(folder).mode & 0o777) === 0o700;
}

/**
 * A restore killed half-way (src/embedded/backup.ts builds `pgdata.restoring-<pid>`, then renames
 * `pgdata` to `pgdata.before-restore-<pid>` and the new one into place). With the folder lock held
 * nobody else is restoring: a finished build whose swap did not happen is dropped, and a data
 * folder moved aside is put back if nothing took its place.
 */
function recoverInterruptedRestore(dir: string): void {
  const dataDir = path.join(dir, DATA_SUBDIR);
  for (const entry of fs.readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (/^pgdata\.restoring-\d+$/.test(entry)) fs.rmSync(full, { recursive: true, force: true });
    else if (/^pgdata\.before-restore-\d+$/.test(entry)) {
      if (!fs.existsSync(dataDir)) fs.renameSync(full, dataDir);
      else fs.rmSync(full, { recursive: true, force: true });
    }
  }
}

/** Closes every embedded database this process has open. */
export async function closeAllEmbedded(): Promise<void> {
  const all = await Promise.allSettled([...open.values()]);
  for (const r of all) if (r.status === 'fulfilled') await closeInstance(r.value).catch(() => {});
}

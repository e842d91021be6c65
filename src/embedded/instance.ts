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
import { removeMadeDirs, tighten } from '../fs-private.js';
import { onInterrupt, stopIfInterrupted } from '../interrupt.js';
import { dataFolderProblem } from './data-folder.js';
import { acquireFolderLock, type FolderLock } from './lock.js';
import { keptName } from '../backup/store.js';

export const DATA_SUBDIR = 'pgdata';

/**
 * The name, in the embedded folder `dir`, that a restore at `at` keeps the data folder it replaces
 * under: `pgdata_pre_restore_<time>` (`keptName`, as a server's kept database), `…_2` when taken.
 */
export function keptDataFolder(dir: string, at: Date): string {
  for (let n = 1; ; n++) {
    const name = keptName(DATA_SUBDIR, at, n);
    if (!fs.existsSync(path.join(dir, name))) return name;
  }
}
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
  /** What this open found before it created the database (not under a hold, which keeps its own). */
  creation?: Creation;
  /**
   * Its close undoes `creation` (the folder is left as it was): `always` when the run was
   * interrupted; `unless-kept` when it failed, unless the database holds a table by then (what a
   * failed upgrade committed before its failure, which its message reports, stays).
   */
  discard?: 'always' | 'unless-kept';
}

/**
 * An embedded folder as a run found it where there was no database yet: what that run made is
 * undone if it fails or is interrupted, so that a failed `cmmc-db init` (upgrade, seed, stamp on a
 * fresh folder) leaves the files as they were, not an empty or half-made folder. Only what the run
 * itself made goes: the folders its lock made (each removed only while empty, so nothing anyone put
 * there meanwhile), the .gitignore it wrote, and the data folder that had nothing in it.
 */
interface Creation {
  dir: string;
  /** The folders taking the lock made (FolderLock.made). */
  made: string[];
  /** Whether `pgdata` was there (empty) before. */
  dataExisted: boolean;
  /** Whether `.gitignore` was there before. */
  gitignoreExisted: boolean;
}

/** The folder `dir` as the holder of `lock` found it, when it holds no database yet; undefined when it does. */
function creationAt(dir: string, lock: FolderLock): Creation | undefined {
  const dataDir = path.join(dir, DATA_SUBDIR);
  if (!freshDataDir(dataDir)) return undefined;
  return { dir, made: lock.made, dataExisted: fs.existsSync(dataDir), gitignoreExisted: fs.existsSync(path.join(dir, '.gitignore')) };
}

/**
 * Undoes a creation under the folder's lock: the data folder (PGlite's, or the copy of the template
 * being put in place) and the .gitignore this run wrote. `removeMadeDirs(creation.made)` follows once
 * the lock file is gone. Synchronous: it is also the last resort at the exit.
 */
function undoCreation(creation: Creation): void {
  const dataDir = path.join(creation.dir, DATA_SUBDIR);
  fs.rmSync(dataDir, { recursive: true, force: true });
  if (creation.dataExisted) fs.mkdirSync(dataDir, { mode: 0o700 });
  fs.rmSync(`${dataDir}.restoring-${process.pid}`, { recursive: true, force: true });
  if (!creation.gitignoreExisted) fs.rmSync(path.join(creation.dir, '.gitignore'), { force: true });
}

/** The interruption's state clause of a run that had made the database of `dir`. */
const createdState = (dir: string) => `what this run made in ${dir} was removed`;

/** Undoes `creation` (if any), frees the folder, then removes the folders the lock made while they are empty. */
function abandon(lock: FolderLock, creation: Creation | undefined): void {
  if (creation) undoCreation(creation);
  lock.release();
  if (creation) removeMadeDirs(creation.made);
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
const OWN_ENTRY = /^(lock(\.stale-\d+)?|\.gitignore|pgdata(\.(restoring|before-restore)-\d+|_pre_restore_\d{8}t\d{6}z(_\d+)?)?)$/;

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
 * the folder. Where there was no database yet, a run that fails or is interrupted leaves the folder
 * as it was (`Creation`: what it made is removed). `quiet`: the interruption's line does not name
 * `dir` (a scratch folder removed anyway, as the template's build).
 * @throws CmmcError `embedded.locked` when another process holds the folder beyond `waitMs`.
 * @example
 * ```ts
 * await holdEmbeddedFolder(config.embeddedDir, async () => { await build(); await copyIn(); });
 * ```
 */
export async function holdEmbeddedFolder<T>(dir: string, fn: () => Promise<T>, { waitMs = lockWaitMs(), quiet = false }: { waitMs?: number; quiet?: boolean } = {}): Promise<T> {
  const key = path.resolve(dir);
  if (held.has(key)) return fn();
  checkEmbeddedFolder(key);
  const lock = await acquireFolderLock(key, waitMs);
  const hold: Hold = { lock };
  // No database there yet: what the run makes is undone if it fails or is interrupted.
  const creation = creationAt(key, lock);
  const releaseInterrupt = onInterrupt(
    async () => {
      // Run beside the open's own cleanup (all at once): the folder is freed only once PGlite is closed.
      const instance = await hold.opening?.catch(() => undefined);
      if (instance) await closeInstance(instance);
      abandon(lock, creation);
    },
    creation && !quiet ? createdState(key) : undefined,
    { atExit: () => abandon(lock, creation) },
  );
  held.set(key, hold);
  let done = false;
  try {
    const result = await fn();
    done = true;
    return result;
  } finally {
    if (!done) {
      // Closed while the hold still lends the lock (the close frees nothing), then undone under it.
      const instance = await hold.opening?.catch(() => undefined);
      if (instance) await closeInstance(instance);
    }
    held.delete(key);
    releaseInterrupt();
    if (!done) abandon(lock, creation);
    else {
      // A database `fn` left open keeps the folder: its close frees it (its borrowed lock is real now).
      const instance = await hold.opening?.catch(() => undefined);
      if (!instance || instance.closed) lock.release();
    }
  }
}

async function openInstance(dir: string, waitMs: number, mustExist: boolean): Promise<EmbeddedInstance> {
  // Begun after an interruption (a run that went on to its next step meanwhile): the cleanups have
  // run already, and what this open made would be left behind. acquireFolderLock checks as well;
  // a lock borrowed from a hold does not pass through it.
  stopIfInterrupted(`the embedded database in ${dir} was not opened`);
  checkEmbeddedFolder(dir);
  // Borrowed from a hold of this process (the hold frees the folder; once it has ended, this does), else taken.
  const hold = held.get(dir);
  const lock: FolderLock = hold ? { file: hold.lock.file, made: [], release: () => void (held.get(dir) !== hold && hold.lock.release()) } : await acquireFolderLock(dir, waitMs);
  // Registered the moment the folder is ours, not once PGlite has started: an interruption while it
  // starts (half a second or more, which cannot be cut short) would otherwise exit with the lock left.
  // The cleanup waits for the start, closes the database cleanly and frees the folder; if the exit
  // comes first, the lock goes with the process (the next open recovers, as after a kill -9).
  // No database there yet (and no hold, which undoes its own): what this open makes is undone if
  // the start fails, the run is interrupted, or the run fails (releaseEmbedded with `failed`).
  const creation = hold ? undefined : creationAt(dir, lock);
  let opening: Promise<EmbeddedInstance> | undefined;
  const releaseInterrupt = onInterrupt(
    async () => {
      const instance = await opening?.catch(() => undefined);
      if (instance) {
        instance.discard = 'always';
        await closeInstance(instance);
      }
      abandon(lock, creation);
    },
    creation ? createdState(dir) : 'the embedded database was closed cleanly',
    { atExit: () => abandon(lock, creation) },
  );
  opening = startInstance(dir, lock, releaseInterrupt, mustExist, creation);
  if (hold) hold.opening = opening;
  try {
    return await opening;
  } catch (err) {
    releaseInterrupt();
    abandon(lock, creation);
    throw err;
  }
}

/** Opens PGlite on the folder `lock` holds; `releaseInterrupt` unregisters the interruption's cleanup. */
async function startInstance(dir: string, lock: FolderLock, releaseInterrupt: () => void, mustExist: boolean, creation: Creation | undefined): Promise<EmbeddedInstance> {
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
  return { dir, dataDir, pg, created, lock, refs: 1, beforeClose: [], closed: false, releaseInterrupt, ...(creation ? { creation } : {}) };
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

/**
 * Drops one reference; the last one closes PGlite cleanly (checkpoint) and frees the folder.
 * `failed`: the run failed, so a database this process created in a folder that had none is
 * removed again when it closes, with the folder when this run made it, unless the database holds a
 * table by then (what the run committed before failing, which its message reports).
 */
export async function releaseEmbedded(instance: EmbeddedInstance, options: { failed?: boolean } = {}): Promise<void> {
  if (instance.closed) return;
  if (options.failed) instance.discard ??= 'unless-kept';
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
      if (instance.discard === 'unless-kept' && instance.creation && (await holdsTables(instance.pg))) instance.discard = undefined;
      await instance.pg.close();
      // PGlite's file system layer creates files without PostgreSQL's modes: tighten what this run added.
      if (fs.existsSync(instance.dataDir)) tighten(instance.dataDir);
    } finally {
      if (instance.discard) abandon(instance.lock, instance.creation);
      else instance.lock.release();
    }
  })();
  return instance.closing;
}

/** Whether the database has a relation of its own (outside the system schemas); an error counts as yes (keep it). */
async function holdsTables(pg: PGlite): Promise<boolean> {
  try {
    const { rows } = await pg.query<{ kept: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%') AS kept`,
    );
    return rows[0]?.kept !== false;
  } catch {
    return true;
  }
}

function ownerOnly(folder: string): boolean {
  return (fs.statSync(folder).mode & 0o777) === 0o700;
}

/**
 * A restore killed half-way (src/embedded/backup.ts builds `pgdata.restoring-<pid>`, then renames
 * `pgdata` to `pgdata.before-restore-<pid>`, the new one into place, and the old one to the name it
 * is kept under). With the folder lock held nobody else is restoring: a finished build whose swap
 * did not happen is dropped, and a data folder moved aside is put back if nothing took its place,
 * else kept as the restore would have kept it (`keptDataFolder`).
 */
function recoverInterruptedRestore(dir: string): void {
  const dataDir = path.join(dir, DATA_SUBDIR);
  for (const entry of fs.readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (/^pgdata\.restoring-\d+$/.test(entry)) fs.rmSync(full, { recursive: true, force: true });
    else if (/^pgdata\.before-restore-\d+$/.test(entry)) {
      if (!fs.existsSync(dataDir)) fs.renameSync(full, dataDir);
      else fs.renameSync(full, path.join(dir, keptDataFolder(dir, new Date())));
    }
  }
}

/** Closes every embedded database this process has open. */
export async function closeAllEmbedded(): Promise<void> {
  const all = await Promise.allSettled([...open.values()]);
  for (const r of all) if (r.status === 'fulfilled') await closeInstance(r.value).catch(() => {});
}

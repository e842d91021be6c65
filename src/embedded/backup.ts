/**
 * Backups of the embedded database: `pg_dump` compiled for PGlite (`@electric-sql/pglite-tools`)
 * writes plain SQL (with INSERTs, not COPY), and a restore runs that SQL in a fresh PGlite, so a
 * backup is readable, diffable, and loads into a PostgreSQL server too (`psql -f`).
 *
 * A restore never writes into the live data folder: it builds the database in a sibling folder and
 * swaps it in only when the whole dump has loaded. The data folder it replaces is kept beside it
 * (`pgdata_pre_restore_<time>`, `keptDataFolder`) until the user removes it, as a restore on a
 * server keeps the database it replaces: what was written after the backup is not lost.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CmmcError, errorText } from '../errors.js';
import { ownerTag } from '../leftovers.js';
import { interruptedError, onInterrupt, stopIfInterrupted, wasInterrupted } from '../interrupt.js';
import { acquireFolderLock, type FolderLock } from './lock.js';
import { acquireEmbedded, checkEmbeddedFolder, createPglite, DATA_SUBDIR, isOpenInProcess, keptDataFolder, lockWaitMs, releaseEmbedded } from './instance.js';
import { makeDirs, readRegularFile, removeMadeDirs } from '../fs-private.js';

export interface EmbeddedDumpResult {
  file: string;
  bytes: number;
  durationMs: number;
}

export interface EmbeddedRestoreResult {
  dir: string;
  durationMs: number;
  /** Whether an existing embedded database was replaced. */
  replaced: boolean;
  /** The folder (in `dir`) the replaced data folder is kept as, when one was replaced. */
  keptAs?: string;
}

/**
 * The embedded database in `dir` as a plain SQL script (pg_dump --inserts --no-owner
 * --no-privileges). Shares the database if this process already has it open, otherwise takes the
 * folder lock for the time of the dump.
 */
export async function dumpEmbeddedSql(dir: string, options: { contents?: 'full' | 'schema-only' | 'data-only' } = {}): Promise<string> {
  if (!fs.existsSync(path.join(dir, DATA_SUBDIR, 'PG_VERSION'))) {
    throw new CmmcError('embedded.missing', `there is no embedded database in ${dir} to back up`, {
      hint: 'run `cmmc-db upgrade head` first, or set CMMC_DB_DIR to the folder that holds it',
    });
  }
  const instance = await acquireEmbedded(dir);
  try {
    const { pgDump } = await import('@electric-sql/pglite-tools/pg_dump');
    // pg_dump for PGlite runs inside this process without a break (the signal is seen only once it
    // returns): interrupted while the database was opening, it is not begun.
    stopIfInterrupted('the embedded database was not dumped');
    try {
      const only = options.contents === 'schema-only' ? ['--schema-only'] : options.contents === 'data-only' ? ['--data-only'] : [];
      const dump = await pgDump({ pg: instance.pg, args: ['--no-owner', '--no-privileges', ...only] });
      return await dump.text();
    } catch (err) {
      throw new CmmcError('embedded.dump', `pg_dump of the embedded database failed: ${firstLine(err)}`, { cause: err });
    }
  } finally {
    await releaseEmbedded(instance);
  }
}

/**
 * Dumps the embedded database in `dir` to `file` as plain SQL (gzip-compressed with `gzip: true`).
 *
 * @example await dumpEmbedded('.cmmc-db', 'backups/cmmc-20260101.sql')
 */
export async function dumpEmbedded(
  dir: string,
  file: string,
  options: { gzip?: boolean; contents?: 'full' | 'schema-only' | 'data-only' } = {},
): Promise<EmbeddedDumpResult> {
  const started = performance.now();
  const text = await dumpEmbeddedSql(dir, options);
  stopIfInterrupted(`${file} was not written`);
  const body = options.gzip ? gzipSync(text) : Buffer.from(text);
  const made = makeDirs(path.dirname(path.resolve(file)));
  // Written aside and renamed, so a failed write never leaves a truncated backup under the real name.
  const partial = `${file}.${ownerTag()}.partial`;
  try {
    fs.writeFileSync(partial, body, { mode: 0o600 });
    fs.renameSync(partial, file);
  } catch (err) {
    fs.rmSync(partial, { force: true });
    removeMadeDirs(made);
    throw err;
  }
  return { file, bytes: body.length, durationMs: Math.round(performance.now() - started) };
}

/**
 * Restores a plain-SQL dump into the embedded database of `dir`. A missing or empty folder gets a
 * fresh database; an existing database is replaced only with `replace: true`, and only once the
 * dump has loaded completely (until then the old one is untouched). The replaced data folder is
 * kept in `dir` under the name the result's `keptAs` gives (`keptDataFolder`).
 *
 * @example await restoreEmbedded('backups/cmmc-20260101.sql', '.cmmc-db', { replace: true })
 */
export async function restoreEmbedded(file: string, dir: string, options: { replace?: boolean } = {}): Promise<EmbeddedRestoreResult> {
  const started = performance.now();
  if (!fs.existsSync(file)) throw new CmmcError('embedded.restore', `the backup file ${file} does not exist`, { hint: 'give the path of a .sql backup' });
  const raw = readRegularFile(file);
  // gzip-compressed (.sql.gz) or not, told by the magic bytes.
  const text = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
  if (/^PGDMP/.test(text)) {
    throw new CmmcError('embedded.restore', `${file} is a pg_dump custom-format archive; the embedded database restores plain SQL dumps`, {
      hint: 'restore it into a PostgreSQL server with pg_restore, or take a plain SQL backup of the embedded database',
    });
  }
  const dataDir = path.join(dir, DATA_SUBDIR);
  const exists = fs.existsSync(path.join(dataDir, 'PG_VERSION'));
  if (exists && !options.replace) {
    throw new CmmcError('embedded.restore', `the embedded database in ${dir} already exists`, {
      hint: 'restore into a fresh folder (CMMC_DB_DIR=<new folder>), or confirm replacing it',
    });
  }

  if (isOpenInProcess(dir)) {
    throw new CmmcError('embedded.restore', `the embedded database in ${dir} is open in this process; close it before restoring`, {
      hint: 'restore before opening the database (no ctx.open() / openDatabase() around the restore)',
    });
  }
  checkEmbeddedFolder(dir);
  const lock = await acquireFolderLock(dir, lockWaitMs());
  // Interrupted in any phase, the process exits only once the restore has stopped and tidied up:
  // the cleanup waits for the work, which stops at its next step and, in its finally, removes the
  // folder it was building and frees the lock. Loading the dump runs inside this process without a
  // break (the signal is seen once it returns), and the swap has no step between its renames: the
  // data folder is the old one or the new one, never missing.
  // If the exit comes first (PGlite's initdb of the new folder outlasting the exit's wait), the new
  // folder and the lock go with the process; the swap cannot have begun (it checks first).
  const building = path.join(dir, `${DATA_SUBDIR}.restoring-${process.pid}`);
  let work: Promise<void> = Promise.resolve();
  // A folder the lock had to make (a restore into a new CMMC_DB_DIR) goes again if the restore does
  // not finish: rmdir, once empty, so only when nothing was swapped in.
  const removeMade = () => removeMadeDirs(lock.made);
  const release = onInterrupt(
    async () => {
      await work.catch(() => {});
      removeMade();
    },
    `the restore was stopped: the embedded database in ${dir} is as it was`,
    {
      atExit: () => {
        fs.rmSync(building, { recursive: true, force: true });
        lock.release();
        removeMade();
      },
    },
  );
  try {
    let keptAs: string | undefined;
    work = buildAndSwap(file, text, dir, building, lock, exists).then((kept) => void (keptAs = kept));
    await work;
    return { dir, durationMs: Math.round(performance.now() - started), replaced: exists, ...(keptAs ? { keptAs } : {}) };
  } catch (err) {
    removeMade();
    throw err;
  } finally {
    release();
  }
}

/**
 * Loads `text` into `building`, a new data folder beside the old one, and swaps it in; frees `lock`
 * when done. Returns the name the replaced data folder is kept under (when `exists`).
 */
async function buildAndSwap(file: string, text: string, dir: string, building: string, lock: FolderLock, exists: boolean): Promise<string | undefined> {
  const dataDir = path.join(dir, DATA_SUBDIR);
  const NOT_RESTORED = `the embedded database in ${dir} was not replaced`;
  try {
    fs.rmSync(building, { recursive: true, force: true });
    stopIfInterrupted(NOT_RESTORED);
    const pg = await createPglite(building);
    try {
      stopIfInterrupted(NOT_RESTORED);
      await pg.exec(text);
    } catch (err) {
      if (wasInterrupted()) throw interruptedError(NOT_RESTORED);
      throw new CmmcError('embedded.restore', `the backup ${file} did not load: ${firstLine(err)}`, {
        hint: 'the embedded database was left as it was; check that the file is a complete plain SQL dump',
        cause: err,
      });
    } finally {
      await pg.close().catch(() => {});
    }
    // A signal that came during the load is delivered on the event loop's next turn: let it be seen
    // before the swap. From the check to the swap's end nothing awaits, so nothing comes between.
    await new Promise((resolve) => setImmediate(resolve));
    stopIfInterrupted(NOT_RESTORED);
    return swapIn(building, dataDir, path.join(dir, `${DATA_SUBDIR}.before-restore-${process.pid}`), exists);
  } finally {
    fs.rmSync(building, { recursive: true, force: true });
    lock.release();
  }
}

/**
 * Renames `building` to `dataDir`, moving the existing `dataDir` (when `exists`) to `old` first and
 * then to the name it is kept under (`keptDataFolder`), which it returns. A rename that fails puts
 * the old folder back: the data folder is never missing (a kill -9 between the renames is put right
 * by the next open, recoverInterruptedRestore).
 */
function swapIn(building: string, dataDir: string, old: string, exists: boolean): string | undefined {
  if (exists) fs.renameSync(dataDir, old);
  try {
    fs.renameSync(building, dataDir);
  } catch (err) {
    if (exists) fs.renameSync(old, dataDir);
    throw err;
  }
  if (!exists) return undefined;
  const kept = keptDataFolder(path.dirname(dataDir), new Date());
  fs.renameSync(old, path.join(path.dirname(dataDir), kept));
  return kept;
}

function firstLine(err: unknown): string {
  return errorText(err).split('\n').find((l) => l.trim()) ?? 'unknown error';
}

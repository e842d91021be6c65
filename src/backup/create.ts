/** Making a backup: dump under a temporary name, checksum, rename, write the manifest. */
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { CmmcConfig } from '../config/config.js';
import { CmmcError, usageError } from '../errors.js';
import { interruptedError, interruptSignal, onInterrupt, stopIfInterrupted, wasInterrupted } from '../interrupt.js';
import { removeMadeDirs } from '../fs-private.js';
import { fileSystemLine } from '../fs-errors.js';
import { readKeyFile } from './crypto.js';
import { databaseFacts, dumpTarget, embeddedTools, identityFromFacts, withDumpSnapshot, type DatabaseFacts } from './dump.js';
import { findPgTools, warmPgTools } from '../db/pg-tools.js';
import { readStandbySource, recoveryConflictHint, standbyConfig, standbyNotes, standbySourceOf } from './standby.js';
import {
  bytesAt,
  checksum,
  ensureBackupDir,
  extensionFor,
  MANIFEST_SUFFIX,
  MANIFEST_VERSION,
  partialPath,
  placeNew,
  reserveBackupName,
  sweepPartials,
  resolveBackupDir,
  tighten,
  writeManifest,
  type BackupContents,
  type BackupFormat,
  type BackupRecord,
} from './store.js';

export interface CreateOptions {
  /** Backup folder; default CMMC_BACKUP_DIR or ./backups. */
  dir?: string;
  /** custom (default), directory, tar or plain. */
  format?: BackupFormat;
  contents?: BackupContents;
  /** pg_dump's --compress value: a level 0-9 or method[:level]. */
  compress?: string;
  /** Parallel jobs (directory format only). */
  jobs?: number;
  /** Encrypt with the key in this file (AES-256-GCM). */
  keyFile?: string;
  /**
   * The key itself, when the caller has read `keyFile` already (`readKeyFile`): a pipe given as the
   * key file (`--key-file <(pass show backup-key)`) can be read once, and create --verify needs the
   * key twice.
   */
  key?: Buffer;
  /**
   * Dump a hot standby instead of the primary (`target_session_attrs=standby`); the manifest then
   * records the standby and its replayed WAL position (see standby.ts).
   */
  fromStandby?: boolean;
  /** Called about four times a second with the bytes written so far. */
  onProgress?: (bytes: number, elapsedMs: number) => void;
  /** Called with a line worth telling the user that changes nothing (an existing backup folder readable by others). */
  onNote?: (line: string) => void;
}

const FORMATS: BackupFormat[] = ['custom', 'directory', 'tar', 'plain'];

/** Checks the options before anything runs; usage errors exit 2. */
export function checkCreateOptions(options: CreateOptions): void {
  const format = options.format ?? 'custom';
  if (!FORMATS.includes(format)) throw usageError(`unknown format "${format}"`, `use one of ${FORMATS.join(', ')}`);
  if (options.jobs !== undefined) {
    if (!Number.isInteger(options.jobs) || options.jobs < 1 || options.jobs > 64) throw usageError(`--jobs must be a whole number from 1 to 64`);
    if (format !== 'directory' && options.jobs > 1) throw usageError('--jobs needs --format directory', 'pg_dump dumps in parallel only into a directory archive');
  }
  if (options.compress !== undefined && !/^(\d|none|gzip|lz4|zstd)(:[a-z0-9=,]+)?$/i.test(options.compress)) {
    throw usageError(`--compress "${options.compress}" is not a level (0-9) or a method (gzip, lz4, zstd)`);
  }
  if (options.keyFile && format === 'directory') {
    throw usageError('--encrypt works with the custom, tar and plain formats, not directory', 'use --format custom with --encrypt');
  }
}

/**
 * Backs up the configured database and returns its manifest (with the backup's name and path).
 *
 * @example
 * ```ts
 * const manifest = await createBackup(resolveConfig(), { dir: 'backups' });
 * console.log(manifest.name, manifest.sha256);
 * ```
 */
export async function createBackup(configured: CmmcConfig, options: CreateOptions = {}): Promise<BackupRecord> {
  checkCreateOptions(options);
  const config = options.fromStandby ? standbyConfig(configured) : configured;
  const embedded = config.kind === 'embedded';
  // pg_dump's version needs no server: the programs answer while we connect.
  if (!embedded) warmPgTools();
  // Fails in one line before anything is written when no standby answers; the manifest's record is
  // read again in the dump's own session (withDumpSnapshot), which is the one dumped.
  if (options.fromStandby) await readStandbySource(config);
  // The embedded database's pg_dump (PGlite) writes plain SQL only.
  const format = embedded ? 'plain' : (options.format ?? 'custom');
  const contents = options.contents ?? 'full';
  const secret = options.key ?? (options.keyFile ? readKeyFile(options.keyFile) : undefined);
  const dir = resolveBackupDir(options.dir);
  // A backup that fails or is interrupted leaves no folder it made for itself (removeMadeDirs: only empty ones).
  // A folder that exists keeps its mode (it may be shared, or the project's own): said, not changed.
  const { made: madeDirs, note } = ensureBackupDir(dir);
  if (note) options.onNote?.(note);
  // Interrupted in any phase (opening the database, dumping, checksumming, writing the manifest):
  // the cleanup waits until the work has stopped (pg_dump is stopped through interruptSignal(); the
  // work stops at its next step), then removes every file it wrote, so that nothing is kept. Not
  // only the dump's: the embedded pg_dump runs inside this process and cannot be cut short, so the
  // signal is seen once it returns, and a run that then went on would keep a whole backup.
  const written: string[] = [];
  let work: Promise<BackupRecord> = Promise.resolve(undefined as never);
  const removeWritten = () => {
    for (const file of written) rmSync(file, { recursive: true, force: true });
    removeMadeDirs(madeDirs);
  };
  const release = onInterrupt(
    async () => {
      await work.catch(() => {});
      removeWritten();
    },
    'pg_dump was stopped and the partial backup file removed; nothing was kept',
    { atExit: removeWritten },
  );
  try {
    work = createIn(dir, config, options, { embedded, format, contents, secret, fromStandby: Boolean(options.fromStandby), written });
    const record = await work;
    stopIfInterrupted(INTERRUPTED);
    // A standby's backup says so, and what it lacks, whether it was asked for or the URL led there.
    if (record.source) for (const line of standbyNotes(record.source, Boolean(options.fromStandby))) options.onNote?.(line);
    return record;
  } catch (err) {
    // A failed backup keeps nothing either: what it wrote (partial files, a manifest's temporary
    // file, its name's reservation) goes, and only what it wrote.
    if (!wasInterrupted()) removeWritten();
    removeMadeDirs(madeDirs);
    if (wasInterrupted()) throw interruptedError(INTERRUPTED);
    throw err;
  } finally {
    release();
  }
}

/** What an interrupted backup did: the cleanup above removed what it wrote. */
const INTERRUPTED = 'the backup was stopped; nothing was kept';

async function createIn(
  dir: string,
  config: CmmcConfig,
  options: CreateOptions,
  { embedded, format, contents, secret, fromStandby, written }: { embedded: boolean; format: BackupFormat; contents: BackupContents; secret: Buffer | undefined; fromStandby: boolean; written: string[] },
): Promise<BackupRecord> {
  sweepPartials(dir);
  const compressed = options.compress !== undefined && !/^(0|none)/.test(options.compress);

  // The facts (revision, tables) and the dump come from one snapshot on a server (withDumpSnapshot).
  const dumpWith = async (facts: DatabaseFacts, snapshot: string | undefined) => {
    stopIfInterrupted(INTERRUPTED);
    const tools = embedded ? embeddedTools() : await findPgTools(facts.serverVersionNum);
    const started = new Date();
    // The name is reserved (O_EXCL) before anything is written under it: runs started at the same
    // moment each get their own, and none of their files is ever put over another's.
    const reservation = reserveBackupName(dir, facts.database, started);
    written.push(reservation.path);
    const name = reservation.name;
    const file = name + extensionFor(format, compressed, Boolean(secret));
    const partial = partialPath(dir, file);
    written.push(partial);
    const t0 = performance.now();
    const timer = options.onProgress ? setInterval(() => options.onProgress!(bytesAt(partial), performance.now() - t0), 250) : undefined;
    // A run killed outright leaves a partial name that carries its pid, removed by the next backup
    // or prune (sweepPartials).
    try {
      stopIfInterrupted(INTERRUPTED);
      await dumpTarget(config, { tools, format, contents, compress: options.compress, jobs: options.jobs, out: partial, encryptWith: secret, signal: interruptSignal(), role: facts.rlsBypassRole, snapshot });
    } catch (err) {
      rmSync(partial, { recursive: true, force: true });
      if (wasInterrupted()) throw interruptedError(INTERRUPTED);
      const conflict = (fromStandby || facts.position?.role === 'standby') && err instanceof CmmcError ? recoveryConflictHint(err.message) : undefined;
      if (conflict) throw new CmmcError('backup.recovery-conflict', err instanceof Error ? err.message : String(err), { hint: conflict });
      throw err;
    } finally {
      if (timer) clearInterval(timer);
    }
    return { facts, tools, started, name, file, partial, t0, reservation };
  };
  const { facts, tools, started, name, file, partial, t0, reservation } = embedded ? await dumpWith(await databaseFacts(config), undefined) : await withDumpSnapshot(config, dumpWith);
  const source = facts.position?.role === 'standby' ? standbySourceOf(facts.position) : undefined;
  const finalPath = path.join(dir, file);
  const durationMs = Math.round(performance.now() - t0);
  stopIfInterrupted(INTERRUPTED);
  tighten(partial);
  const { sha256, sizeBytes } = await checksum(partial);
  options.onProgress?.(sizeBytes, durationMs);
  stopIfInterrupted(INTERRUPTED);
  // Never over anything (placeNew): what is there is another's, and stays as it was.
  placeNew(partial, finalPath);
  written.push(finalPath);
  let record: BackupRecord;
  try {
    record = writeManifest(
      dir,
      {
        manifestVersion: MANIFEST_VERSION,
        name,
        file,
        createdAt: started.toISOString(),
        database: facts.database,
        identity: identityFromFacts(config, facts),
        server: { host: source?.host ?? facts.host, version: facts.serverVersion, versionNum: facts.serverVersionNum },
        ...(source ? { source } : {}),
        revision: facts.revision,
        tables: facts.tables,
        format,
        contents,
        ...(options.compress !== undefined ? { compress: options.compress } : {}),
        ...(options.jobs ? { jobs: options.jobs } : {}),
        sizeBytes,
        sha256,
        durationMs,
        pgDump: { version: tools.version, path: tools.pgDump },
        encrypted: Boolean(secret),
        ...(secret ? { encryption: { cipher: 'aes-256-gcm' as const, kdf: 'scrypt' as const, version: 1 } } : {}),
        verified: { status: 'unverified' },
      },
      { replace: false },
    );
  } catch (err) {
    if (err instanceof CmmcError) throw err;
    const fs = fileSystemLine(err);
    throw new CmmcError('backup.manifest', `could not write the manifest of ${name}: ${fs?.message ?? (err as Error).message}; nothing was kept`, {
      hint: fs?.hint ?? 'check the backup folder is writable',
    });
  }
  written.push(record.manifestPath);
  // The backup and its manifest hold the name now. (They stay in `written`: a run interrupted
  // before it returns keeps nothing.)
  reservation.release();
  return record;
}

/**
 * Verifying a backup: the data is there, its sha256 and size match the manifest, an encrypted
 * archive opens with the key and authenticates, and pg_restore reads its table of contents (a
 * plain script ends with pg_dump's completion line). `restoreTest` also restores it into a
 * scratch database (always dropped), checks the table count and the revision, and writes a dated
 * restore-drill record beside the manifest.
 */
import { closeSync, createReadStream, existsSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import type { CmmcConfig } from '../config/config.js';
import { isConnectionLost } from '../db/errors.js';
import { CmmcError } from '../errors.js';
import { fileSystemLine } from '../fs-errors.js';
import { onInterrupt, wasInterrupted } from '../interrupt.js';
import { makeTempDir } from '../leftovers.js';
import { decryptFile, readKeyFile } from './crypto.js';
import { currentIdentity, databaseFacts, embeddedTools, listArchive, restoreTarget, type RestoreFailure } from './dump.js';
import { findPgTools, lastLine, parsePgVersion, type PgResult, type PgTools } from '../db/pg-tools.js';
import { checksum, findBackup, resolveBackupDir, stamp, writeDrillRecord, writeJsonAtomic, writeManifest, type BackupRecord } from './store.js';

export type CheckStatus = 'ok' | 'fail' | 'skip';

export interface VerifyCheck {
  id: 'present' | 'checksum' | 'decrypt' | 'archive' | 'restore-test' | 'tables' | 'revision';
  status: CheckStatus;
  detail: string;
}

export interface VerifyResult {
  name: string;
  path: string;
  ok: boolean;
  /** 'verified' or 'failed'. */
  status: 'verified' | 'failed';
  checks: VerifyCheck[];
  /** The restore-drill record written by a restore test. */
  drillRecord?: string;
  /**
   * Why the result could not be written (the manifest's verdict, the drill record): the backup
   * folder is read-only (a mounted offsite or immutable copy), full, or not ours to write. One line
   * naming the file and the cause; the verdict above stands, and what was there is as it was.
   */
  notRecorded?: string;
}

/**
 * Runs `write` (a file of the result), and returns the one line saying why it could not be written
 * when the file system refused it (`fileSystemLine`); anything else is thrown.
 */
function recordOrSay(write: () => void): string | undefined {
  try {
    write();
    return undefined;
  } catch (err) {
    const line = fileSystemLine(err);
    if (!line) throw err;
    return line.message;
  }
}

export interface VerifyOptions {
  dir?: string;
  keyFile?: string;
  /** The key itself, when the caller has read `keyFile` already (a pipe can be read once: see CreateOptions.key). */
  key?: Buffer;
  /** Restore into a scratch database and check it (needs the server). */
  restoreTest?: boolean;
  /** Record the result in the manifest (default true). */
  record?: boolean;
}

/** A readable archive for pg_restore/psql, decrypted when needed; `cleanup()` removes any plaintext. */
export interface OpenedArchive {
  file: string;
  checks: VerifyCheck[];
  ok: boolean;
  tools?: PgTools;
  entries?: string[];
  cleanup(): void;
}

/**
 * The client programs that read and restore the archive where it is going. The embedded database
 * loads a plain script itself (src/embedded/backup.ts): no programs. On a server a plain script is
 * run by psql, whichever pg_dump wrote it (PGlite's too): the newest psql found talks to any server.
 * An archive needs a pg_restore at least as new as the pg_dump that wrote it.
 */
async function toolsForArchive(record: BackupRecord, embeddedTarget: boolean): Promise<PgTools> {
  if (record.format === 'plain' && embeddedTarget) return embeddedTools();
  if (record.format === 'plain') return findPgTools(0);
  const major = parsePgVersion(record.pgDump?.version ?? '')?.major ?? Math.floor((record.server?.versionNum ?? 0) / 10000);
  return findPgTools(major * 10000);
}

/** The failures that are findings about the backup itself (see `verdictOf`). */
const VERDICT_CODES = new Set(['backup.tampered', 'backup.not-encrypted', 'backup.unreadable', 'backup.restore-failed']);

/**
 * SQLSTATE classes of a server error that is the server's or this run's, not the backup's
 * (PostgreSQL's appendix A): 08 the connection, 53 the server's resources (disk full under the
 * scratch database, memory, connections), 57 an operator's intervention (a cancel, a terminated
 * session, a shutdown), 58 the server's own I/O, XX an internal error.
 */
const LOCAL_SQLSTATE = /^(?:08|53|57|58|XX)/;

/**
 * psql's exit codes that say the fault was on this side: 1 psql's own fatal error (its input not
 * readable, out of memory), 2 the connection went bad. 3 is an error in the script, whose SQLSTATE
 * then decides.
 */
const PSQL_LOCAL_EXIT = new Set([1, 2]);

/**
 * Whether a client program's failure was this run's: it did not run to its own end (not started,
 * stopped by a signal), psql lost its connection or failed on its own, or the server's error was of
 * a local class. Decided by these facts only, never by the wording of a message, which the server's
 * lc_messages, the client's locale and each release change.
 */
function localFailure(ran: PgResult & Partial<RestoreFailure>): boolean {
  if (ran.ended !== undefined) return true;
  if (ran.tool === 'psql' && PSQL_LOCAL_EXIT.has(ran.exitCode)) return true;
  return ran.sqlstate !== undefined && LOCAL_SQLSTATE.test(ran.sqlstate);
}

/** Verifying was interrupted: nothing about the backup is known, and nothing is recorded. */
function interrupted(name: string): CmmcError {
  return new CmmcError('backup.interrupted', `verifying ${name} was interrupted; its manifest was left as it was`, { exitCode: 130 });
}

/**
 * The one rule of what verifying may record against a backup. A verdict is a finding about the
 * backup itself — its data missing, changed or cut short, an encrypted archive that does not
 * authenticate, an archive pg_restore --list refuses, a restore of it that fails — from a program
 * that ran to its own end with no local cause (`localFailure`: exit codes, signals, SQLSTATE
 * classes, errno; never a message's wording). Anything else is this run's own failure: the
 * temporary or scratch side full, unwritable or read-only, a client program missing or stopped by
 * a signal, a lost connection, an interruption. That is returned as the error to throw (one line
 * naming the cause), and the manifest and the drill records stay as they were; undefined means a
 * verdict, to be recorded as the step's failed check.
 */
export function verdictOf(err: unknown, name: string, step: string, temporary = false): CmmcError | undefined {
  const kept = `${name}'s manifest was left as it was`;
  if (wasInterrupted()) return interrupted(name);
  if (err instanceof CmmcError && VERDICT_CODES.has(err.code)) {
    const ran = err.cause as (PgResult & Partial<RestoreFailure>) | undefined;
    if (!ran || !localFailure(ran)) return undefined;
    const said = ran.said ?? lastLine(ran.stderr);
    const why = ran.ended === 'not-started' ? `the program could not be started (${said})` : said;
    return new CmmcError('backup.verify-stopped', `${name} could not be verified (${step}): ${why}; ${kept}`, { hint: 'fix the cause and run backup verify again' });
  }
  const file = fileSystemLine(err);
  if (file) {
    const hint = temporary ? `${file.hint}, or set TMPDIR to another folder` : file.hint;
    return new CmmcError('backup.verify-stopped', `${name} could not be verified (${step}): ${file.message}; ${kept}`, { hint });
  }
  if (isConnectionLost(err)) return new CmmcError('backup.verify-stopped', `${name} could not be verified (${step}): the connection to the server was lost (${(err as Error).message}); ${kept}`, { hint: 'run backup verify again once the server accepts connections' });
  // Anything else (a wrong key, missing client programs, an error of our own) is this run's, as it is.
  return err instanceof CmmcError ? err : new CmmcError('backup.verify-stopped', `${name} could not be verified (${step}): ${(err as Error)?.message ?? String(err)}; ${kept}`);
}

/**
 * Runs the file checks and returns a readable archive (decrypted to a 0600 temp file when
 * encrypted) for restoring into `target`. A failed check is a verdict on the backup; a failure of
 * this run (`verdictOf`) is thrown.
 */
export async function openArchive(record: BackupRecord, keyFile: string | undefined, target: CmmcConfig, key?: Buffer): Promise<OpenedArchive> {
  const checks: VerifyCheck[] = [];
  let tempDir: string | undefined;
  let releaseInterrupt: (() => void) | undefined;
  const cleanup = () => {
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    tempDir = undefined;
    releaseInterrupt?.();
  };
  const fail = (check: VerifyCheck): OpenedArchive => {
    checks.push(check);
    return { file: record.path, checks, ok: false, cleanup };
  };

  if (!existsSync(record.path)) return fail({ id: 'present', status: 'fail', detail: `${record.file} is missing` });
  // A file, or a folder for pg_dump's directory format: a FIFO or a device in its place would be
  // read for ever, and a folder in place of a file (or the reverse) is not what pg_dump wrote.
  const kind = statSync(record.path);
  const folderFormat = record.format === 'directory';
  if (!kind.isFile() && !kind.isDirectory()) return fail({ id: 'present', status: 'fail', detail: `${record.file} is not a regular file (a FIFO, socket or device): not the archive pg_dump wrote` });
  if (kind.isDirectory() !== folderFormat) {
    return fail({ id: 'present', status: 'fail', detail: `${record.file} is a ${kind.isDirectory() ? 'folder' : 'file'}, where pg_dump wrote a ${folderFormat ? 'folder (directory format)' : 'file'}: not the archive of this manifest` });
  }
  checks.push({ id: 'present', status: 'ok', detail: record.file });

  const { sha256, sizeBytes } = await checksum(record.path);
  if (sizeBytes !== record.sizeBytes) {
    return fail({ id: 'checksum', status: 'fail', detail: `size is ${sizeBytes} bytes, the manifest says ${record.sizeBytes} (the file was cut short or changed)` });
  }
  if (sha256 !== record.sha256) return fail({ id: 'checksum', status: 'fail', detail: `sha256 ${sha256.slice(0, 12)}… does not match the manifest's ${record.sha256.slice(0, 12)}…` });
  checks.push({ id: 'checksum', status: 'ok', detail: `sha256 ${sha256.slice(0, 12)}…, ${sizeBytes} bytes` });

  let file = record.path;
  if (record.encrypted) {
    if (!keyFile && !key) {
      throw new CmmcError('backup.key-needed', `${record.name} is encrypted: its key file is needed`, { hint: 'pass --key-file FILE (or set CMMC_BACKUP_KEY_FILE)', exitCode: 2 });
    }
    const secret = key ?? readKeyFile(keyFile!);
    try {
      // Plaintext: a private folder named for this process, removed in cleanup() (and on an
      // interruption), or by the next run when this one is killed outright (src/leftovers.ts).
      tempDir = makeTempDir('decrypt');
      releaseInterrupt = onInterrupt(() => cleanup(), 'decrypted temporary files removed');
      file = path.join(tempDir, record.file.replace(/\.enc$/, ''));
      await decryptFile(record.path, file, secret);
    } catch (err) {
      cleanup();
      // A failed write names no file (ENOSPC): it was the decrypted copy's.
      if ((err as NodeJS.ErrnoException).code && !(err as NodeJS.ErrnoException).path) Object.assign(err as object, { path: file, syscall: 'write' });
      const failure = verdictOf(err, record.name, 'decrypt', true);
      if (failure) throw failure;
      return fail({ id: 'decrypt', status: 'fail', detail: (err as Error).message });
    }
    checks.push({ id: 'decrypt', status: 'ok', detail: 'AES-256-GCM authenticated' });
  }

  try {
    const tools = await toolsForArchive(record, target.kind === 'embedded');
    if (record.format === 'plain') {
      const tail = await plainTail(file);
      if (!/PostgreSQL database dump complete/.test(tail)) {
        checks.push({ id: 'archive', status: 'fail', detail: 'the SQL script does not end with pg_dump\'s completion line (cut short)' });
        return { file, checks, ok: false, tools, cleanup };
      }
      checks.push({ id: 'archive', status: 'ok', detail: 'plain SQL script, complete' });
      return { file, checks, ok: true, tools, cleanup };
    }
    let entries: string[];
    try {
      entries = await listArchive(tools, file);
    } catch (err) {
      const failure = verdictOf(err, record.name, 'archive');
      if (failure) throw failure;
      checks.push({ id: 'archive', status: 'fail', detail: (err as Error).message });
      return { file, checks, ok: false, tools, cleanup };
    }
    checks.push({ id: 'archive', status: 'ok', detail: `pg_restore --list reads ${entries.length} entries` });
    return { file, checks, ok: true, tools, entries, cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/** The last few hundred bytes of a plain script (decompressed when .gz). */
async function plainTail(file: string): Promise<string> {
  if (!file.endsWith('.gz')) {
    const size = statSync(file).size;
    const fd = openSync(file, 'r');
    try {
      const n = Math.min(size, 512);
      const buf = Buffer.alloc(n);
      readSync(fd, buf, 0, n, size - n);
      return buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  }
  let tail = '';
  try {
    for await (const chunk of createReadStream(file).pipe(createGunzip())) tail = (tail + (chunk as Buffer).toString('utf8')).slice(-512);
  } catch {
    return '';
  }
  return tail;
}

/**
 * Verifies a backup (the newest when `name` is omitted) and records the result in its manifest.
 *
 * @example
 * ```ts
 * const result = await verifyBackup(config, manifest.name, { restoreTest: true });
 * if (!result.ok) throw new Error('backup does not verify');
 * ```
 */
export async function verifyBackup(config: CmmcConfig, name: string | undefined, options: VerifyOptions = {}): Promise<VerifyResult> {
  const dir = resolveBackupDir(options.dir);
  // With no name, the newest backup of the configured database; another database's only when named.
  const record = findBackup(dir, name, name ? undefined : await currentIdentity(config));
  const opened = await openArchive(record, options.keyFile ?? process.env.CMMC_BACKUP_KEY_FILE, config, options.key);
  let drill: { path?: string; notRecorded?: string } = {};
  try {
    if (opened.ok && options.restoreTest) {
      drill = await restoreDrill(config, record, opened);
    }
  } finally {
    opened.cleanup();
  }
  const ok = opened.checks.every((c) => c.status !== 'fail');
  const status = ok ? 'verified' : 'failed';
  // Stopped meanwhile: whatever the checks said, nothing is recorded.
  if (wasInterrupted()) throw interrupted(record.name);
  // A prune that removed the backup meanwhile: its manifest is not written back beside no archive.
  let notRecorded = drill.notRecorded;
  if (options.record !== false && existsSync(record.manifestPath)) {
    const failed = opened.checks.find((c) => c.status === 'fail');
    const { path: _p, manifestPath: _m, ...manifest } = record;
    // A folder that cannot take the result (read-only, full) does not hide the verdict: it is returned, and said not
    // recorded. A drill record that could not be written leaves the manifest unchanged too (no restore-tested without it).
    notRecorded ??= recordOrSay(() =>
      writeManifest(dir, {
        ...manifest,
        verified: {
          status,
          at: new Date().toISOString(),
          restoreTested: Boolean(options.restoreTest && opened.checks.some((c) => c.id === 'restore-test' && c.status === 'ok')) || (manifest.verified?.restoreTested ?? false),
          ...(failed ? { detail: `${failed.id}: ${failed.detail}` } : {}),
        },
      }),
    );
  }
  return { name: record.name, path: record.path, ok, status, checks: opened.checks, ...(drill.path ? { drillRecord: drill.path } : {}), ...(notRecorded ? { notRecorded } : {}) };
}

/**
 * Restores into a scratch database, checks it, always drops it, and writes the drill record:
 * returns its path, or why it could not be written (`recordOrSay`).
 */
async function restoreDrill(config: CmmcConfig, record: BackupRecord, opened: OpenedArchive): Promise<{ path?: string; notRecorded?: string }> {
  const startedAt = new Date();
  let scratch = '';
  const checks = opened.checks;
  let facts: Awaited<ReturnType<typeof databaseFacts>> | undefined;
  if (record.contents === 'data-only') {
    checks.push({ id: 'restore-test', status: 'skip', detail: 'a data-only backup needs its schema first; restore-test it together with a schema backup' });
  } else {
    const target = await createScratch(config);
    scratch = target.name;
    try {
      // The scratch database is new: nothing to clean. Tools come from the archive's pg_dump.
      // Through psql whatever the format: a failure then carries the server's SQLSTATE (verdictOf).
      await restoreTarget(target.config, { tools: opened.tools!, format: record.format, file: opened.file, database: scratch, clean: false, noOwner: false, throughPsql: true });
      checks.push({ id: 'restore-test', status: 'ok', detail: `restored into scratch ${target.label}` });
      facts = await databaseFacts(target.config);
      checks.push({
        id: 'tables',
        status: facts.tables === record.tables ? 'ok' : 'fail',
        detail: `${facts.tables} tables restored, ${record.tables} in the backup`,
      });
      const want = (record.revision ?? []).join(',');
      const got = facts.revision.join(',');
      checks.push({ id: 'revision', status: want === got ? 'ok' : 'fail', detail: `revision ${got || '(none)'}, backup ${want || '(none)'}` });
    } catch (err) {
      // This run's failure (an interruption, the scratch side, a lost connection) is no drill of
      // the backup: thrown, with no record written.
      const failure = verdictOf(err, record.name, 'restore-test');
      if (failure) throw failure;
      checks.push({ id: 'restore-test', status: 'fail', detail: (err as Error).message });
    } finally {
      await target.drop();
    }
  }
  if (wasInterrupted()) throw interrupted(record.name);
  const finishedAt = new Date();
  const ok = checks.every((c) => c.status !== 'fail');
  // Never over another drill's record (two drills of one backup finishing in the same second).
  let written: string | undefined;
  const notRecorded = recordOrSay(() => (written = writeDrillRecord(path.dirname(record.manifestPath), record.name, finishedAt, {
    kind: 'cmmc-db restore drill',
    backup: { name: record.name, file: record.file, createdAt: record.createdAt, sha256: record.sha256, database: record.database, revision: record.revision, format: record.format, encrypted: record.encrypted },
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    scratchDatabase: scratch,
    scratchDropped: true,
    server: facts ? { host: facts.host, version: facts.serverVersion } : undefined,
    restored: facts ? { tables: facts.tables, revision: facts.revision } : undefined,
    checks,
    result: ok ? 'pass' : 'fail',
    operator: safeUser(),
    host: os.hostname(),
  })));
  return notRecorded ? { notRecorded } : { path: written };
}

/**
 * Where a restore test goes: a scratch database on the server, or for the embedded database a
 * scratch folder (its own PGlite); `drop()` always removes it (src/schema-as-code/scratch.ts, which
 * also drops it on an interruption and sweeps it after a kill).
 */
async function createScratch(config: CmmcConfig): Promise<{ config: CmmcConfig; name: string; label: string; drop(): Promise<void> }> {
  const { createScratchDatabase } = await import('../schema-as-code/scratch.js');
  const scratch = await createScratchDatabase(config, 'restoretest');
  return {
    config: scratch.config,
    name: scratch.name,
    label: scratch.kind === 'embedded' ? `folder ${scratch.config.embeddedDir}` : `database ${scratch.name}`,
    drop: () => scratch.drop(),
  };
}

function safeUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}

/**
 * The dump step and the restore step, each in one place, chosen by the configured target.
 * A server target runs the real pg_dump / pg_restore / psql; the embedded database (PGlite) will
 * plug its own dump and restore in here (see src/embedded).
 */
import { closeSync, createReadStream, lstatSync, openSync, readdirSync } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, gzipSync } from 'node:zlib';
import type { CmmcConfig } from '../config/config.js';
import { databaseName, withDatabase } from '../config/config.js';
import { connParamsOf, describeHosts } from '../config/conninfo.js';
import type postgres from 'postgres';
import { openDatabase, type DbHandle } from '../db/connection.js';
import { readServerPosition, type ServerPosition } from '../db/server-position.js';
import { CmmcError } from '../errors.js';
import { interruptSignal } from '../interrupt.js';
import { encryptStream, prepareEncryption } from './crypto.js';
import { findPgTools, lastLine, libpqEnv, runPg, type PgResult, type PgTools } from '../db/pg-tools.js';
import { backupNotWritten, type BackupContents, type BackupFormat, type DatabaseIdentity } from './store.js';
import path from 'node:path';

export function embeddedNotYet(what: string): CmmcError {
  return new CmmcError('backup.embedded', `${what} of the embedded database (PGlite) is not available yet`, {
    hint: 'point cmmc-db at a PostgreSQL server with DATABASE_URL to use backups',
  });
}

function serverUrl(config: CmmcConfig): string {
  if (config.kind === 'embedded') throw embeddedNotYet('backup');
  if (!config.url) throw new CmmcError('config.url', 'no database URL is configured', { hint: 'set DATABASE_URL' });
  return config.url;
}

/**
 * How backup, verify and restore open their short sessions: one connection, postgres.js only (a
 * backup has no use for Kysely, about 150 ms to load), and no fetch_types query at connect (a round
 * trip and a few hundred rows of pg_type per session; nothing here reads an array of a custom type).
 */
export const BACKUP_SESSION = { pool: { max: 1, min: 0 }, kysely: false, fetchTypes: false } as const;

/** What a backup records about the database besides the dump itself. */
export interface DatabaseFacts {
  database: string;
  host: string;
  serverVersion: string;
  serverVersionNum: number;
  /** Heads in the version table; empty when the table does not exist. */
  revision: string[];
  /** Tables (and partitioned tables) outside the system schemas. */
  tables: number;
  /** The BYPASSRLS role pg_dump should SET ROLE to, so forced tenant policies hide no rows (src/tenant/roles.ts). */
  rlsBypassRole: string | null;
  /** The cluster's system identifier (pg_control_system()); undefined when the role may not read it. */
  systemIdentifier?: string;
  /**
   * Where the dumped server stands in replication (withDumpSnapshot only): read in the dump's session
   * before its snapshot, so that a standby's dump holds every commit up to `position.replayLsn`.
   */
  position?: ServerPosition;
}

/** Reads the server version, the schema revision and the table count of `database` (default: the configured one). */
export async function databaseFacts(config: CmmcConfig, database?: string): Promise<DatabaseFacts> {
  // The embedded database is one database in a folder (src/embedded): no URL, no other databases.
  const url = config.kind === 'embedded' ? undefined : serverUrl(config);
  const target = database && url ? { ...config, url: withDatabase(url, database) } : config;
  // The facts are the session's first statements (instead of a SELECT 1 before them).
  let facts: DatabaseFacts | undefined;
  const handle = await openDatabase(target, {
    ...BACKUP_SESSION,
    applicationName: 'cmmc-db:backup',
    // A backup of an embedded database that is not there is an error, not a new empty database.
    mustExist: true,
    firstQuery: async (sql) => {
      facts = await readFacts(sql, config, url);
    },
  });
  await handle.close();
  return facts!;
}

/**
 * The facts of the database `sql` is connected to (or the transaction it is in: then they are of
 * that transaction's snapshot). `url` is the server's (undefined for the embedded database). With
 * `exportSnapshot` (a REPEATABLE READ transaction) the same statement exports the snapshot for
 * pg_dump and lets the session sit idle in its transaction while pg_dump runs.
 */
async function readFacts(
  sql: postgres.Sql | postgres.TransactionSql,
  config: CmmcConfig,
  url: string | undefined,
  exportSnapshot = false,
): Promise<DatabaseFacts & { snapshot?: string }> {
  const [{ getCurrentHeads }, { rlsBypassRole }] = await Promise.all([import('../migrate/status.js'), import('../tenant/roles.js')]);
  const facts = () => sql<{ database: string; version: string; num: string; tables: number; sysid: string | null; snapshot: string | null }[]>`
      SELECT current_database() AS database, current_setting('server_version') AS version,
             current_setting('server_version_num') AS num,
             (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                 AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%') AS tables,
             -- Asked first: a role without the right would fail the query (and abort a transaction).
             ${url ? sql`CASE WHEN has_function_privilege('pg_control_system()', 'EXECUTE')
                          THEN (SELECT system_identifier::text FROM pg_control_system()) END` : sql`NULL`} AS sysid,
             ${exportSnapshot ? sql`(SELECT pg_export_snapshot() FROM set_config('idle_in_transaction_session_timeout', '0', true))` : sql`NULL`} AS snapshot`;
  // The engine's own reading of the version table (heads; empty when the table is missing).
  const heads = () => getCurrentHeads({ sql, config } as unknown as DbHandle);
  let row: Awaited<ReturnType<typeof facts>>[number];
  let revision: string[];
  let bypass: string | null = null;
  if (config.kind === 'embedded') {
    [row] = await facts();
    revision = await heads();
  } else {
    // Sent together on a server (postgres.js pipelines them on the one session): a round trip each otherwise.
    [[row], revision, bypass] = await Promise.all([facts(), heads(), rlsBypassRole(sql as postgres.Sql)]);
  }
  return {
    ...(row.sysid ? { systemIdentifier: row.sysid } : {}),
    ...(row.snapshot ? { snapshot: row.snapshot } : {}),
    database: row.database,
    host: url ? describeHosts(connParamsOf(url)) : 'embedded',
    serverVersion: row.version,
    serverVersionNum: Number(row.num),
    revision,
    tables: row.tables,
    rlsBypassRole: bypass,
  };
}

/**
 * Runs `dump` with the facts of the configured server database and a snapshot exported from the
 * transaction they were read in (pg_export_snapshot), which `dump` hands to pg_dump (--snapshot):
 * the manifest's revision and table count then describe exactly what the archive holds, even when
 * an upgrade commits meanwhile. The transaction stays open until `dump` has finished (pg_dump and
 * its parallel workers import the snapshot when they start).
 */
export async function withDumpSnapshot<T>(config: CmmcConfig, dump: (facts: DatabaseFacts, snapshot: string) => Promise<T>): Promise<T> {
  const url = serverUrl(config);
  // The modules readFacts needs load while the connection is made.
  void import('../migrate/status.js');
  void import('../tenant/roles.js');
  // The session's first statement: a primary, or a standby and how far behind (the same session, one
  // connection, then takes the snapshot: what the dump holds is at least what this position says).
  let position: ServerPosition | undefined;
  const handle = await openDatabase(config, { ...BACKUP_SESSION, applicationName: 'cmmc-db:backup', firstQuery: async (sql) => void (position = await readServerPosition(sql)) });
  let done = false;
  let result!: T;
  try {
    await handle.sql.begin('ISOLATION LEVEL REPEATABLE READ READ ONLY', async (tx) => {
      // The session only holds the snapshot while pg_dump runs: a server-wide idle timeout must not
      // end it (set, with the snapshot's export, in readFacts' first statement).
      const { snapshot, ...facts } = await readFacts(tx, config, url, true);
      result = await dump({ ...facts, position }, snapshot!);
      done = true;
    });
  } catch (err) {
    // The dump is complete: a session lost afterwards (its COMMIT of a read-only transaction) changes nothing.
    if (!done) throw err;
  } finally {
    // Nothing waits on this session once the transaction has ended: the server's close is not awaited.
    await handle.close({ now: true });
  }
  return result;
}

/** pg_control_system()'s system identifier as text; undefined when the role may not call it. */
async function readSystemIdentifier(handle: { sql: import('postgres').Sql }): Promise<string | undefined> {
  try {
    const [row] = await handle.sql<{ id: string }[]>`SELECT system_identifier::text AS id FROM pg_control_system()`;
    return row?.id;
  } catch {
    return undefined;
  }
}

/** What a backup records as the database it is of (see DatabaseIdentity). */
export function identityFromFacts(config: CmmcConfig, facts: DatabaseFacts): DatabaseIdentity {
  if (config.kind === 'embedded') return { database: facts.database, host: 'embedded', embeddedDir: path.resolve(config.embeddedDir) };
  return { database: facts.database, host: facts.host, ...(facts.systemIdentifier ? { systemIdentifier: facts.systemIdentifier } : {}) };
}

function embeddedIdentity(dir: string): DatabaseIdentity {
  return { database: 'postgres', host: 'embedded', embeddedDir: path.resolve(dir) };
}

/**
 * The identity of the configured database through a connection already open on it (or, for a
 * database that does not exist, on the maintenance database of the same server): its name from
 * the configured URL, the server as host:port, and the cluster's system identifier when the role
 * may read it. The embedded database: its folder. Compare identities with `sameDatabase`
 * (src/backup/store.ts), the one rule every reader of the backup folder uses.
 */
export async function identityOfOpen(config: CmmcConfig, handle: { sql: import('postgres').Sql }): Promise<DatabaseIdentity> {
  if (config.kind === 'embedded') return embeddedIdentity(config.embeddedDir);
  const url = serverUrl(config);
  const systemIdentifier = await readSystemIdentifier(handle);
  return { database: databaseName(url), host: describeHosts(connParamsOf(url)), ...(systemIdentifier ? { systemIdentifier } : {}) };
}

/**
 * The identity of the configured database, for picking its backups. The embedded database is
 * named by its folder (no need to open it). On a server a database that does not exist (a lost
 * one, about to be restored) is named through the maintenance database of the same server.
 */
export async function currentIdentity(config: CmmcConfig): Promise<DatabaseIdentity> {
  if (config.kind === 'embedded') return embeddedIdentity(config.embeddedDir);
  const url = serverUrl(config);
  const host = describeHosts(connParamsOf(url));
  const database = databaseName(url);
  for (const target of [url, withDatabase(url, 'postgres')]) {
    let handle;
    try {
      handle = await openDatabase({ ...config, url: target }, { ...BACKUP_SESSION, applicationName: 'cmmc-db:backup' });
    } catch (err) {
      if (target !== url) throw err;
      continue;
    }
    try {
      return await identityOfOpen(config, handle);
    } finally {
      await handle.close();
    }
  }
  return { database, host };
}

/** The client programs for the configured server (at least as new as it). */
export async function toolsFor(config: CmmcConfig, serverVersionNum?: number): Promise<PgTools> {
  const num = serverVersionNum ?? (await databaseFacts(config)).serverVersionNum;
  return findPgTools(num);
}

export interface DumpRequest {
  tools: PgTools;
  format: BackupFormat;
  contents: BackupContents;
  compress?: string;
  jobs?: number;
  /** Where to write (a temporary name; the caller renames it). */
  out: string;
  /** Encrypt the output with this secret (not for the directory format). */
  encryptWith?: Buffer;
  /** Stops pg_dump (Ctrl-C). */
  signal?: AbortSignal;
  /** `--role` for pg_dump: the BYPASSRLS role of databaseFacts().rlsBypassRole. */
  role?: string | null;
  /** `--snapshot` for pg_dump: exported by withDumpSnapshot, where the manifest's facts were read. */
  snapshot?: string;
}

/** Runs the dump of the configured target into `request.out`. */
export async function dumpTarget(config: CmmcConfig, request: DumpRequest): Promise<void> {
  if (config.kind === 'embedded') {
    // pg_dump compiled for PGlite: always a plain SQL script (see docs/embedded.md).
    const { dumpEmbedded, dumpEmbeddedSql } = await import('../embedded/backup.js');
    const gzip = request.compress !== undefined && !/^(0|none)/.test(request.compress);
    // The archive's failure (a full disk) in the same one line as a server's: write(2) names no file,
    // a rename names the partial one (request.out with a suffix).
    const notWritten = (err: unknown): never => {
      const at = (err as NodeJS.ErrnoException | undefined)?.path;
      throw at === undefined || at.startsWith(request.out) ? backupNotWritten(err, request.out) : err;
    };
    if (!request.encryptWith) return void (await dumpEmbedded(config.embeddedDir, request.out, { gzip, contents: request.contents }).catch(notWritten));
    const text = Buffer.from(await dumpEmbeddedSql(config.embeddedDir, { contents: request.contents }));
    const encryption = await prepareEncryption(request.encryptWith);
    await encryptStream(Readable.from([gzip ? gzipSync(text) : text]), request.out, encryption).catch(notWritten);
    return;
  }
  const url = serverUrl(config);
  const args = [`--format=${request.format}`, '--no-password'];
  if (request.role) args.push(`--role=${request.role}`);
  if (request.snapshot) args.push(`--snapshot=${request.snapshot}`);
  if (request.contents === 'schema-only') args.push('--schema-only');
  if (request.contents === 'data-only') args.push('--data-only');
  // A plain script carries its own DROP … IF EXISTS so that it restores over an existing database.
  if (request.format === 'plain' && request.contents !== 'data-only') args.push('--clean', '--if-exists');
  if (request.compress !== undefined) args.push(`--compress=${request.compress}`);
  if (request.jobs && request.format === 'directory') args.push(`--jobs=${request.jobs}`);
  const pg = { env: libpqEnv(url) };
  if (request.encryptWith) {
    const encryption = await prepareEncryption(request.encryptWith);
    const child = runPg(request.tools.pgDump, args, pg.env, { stdout: 'stream', cancelSignal: request.signal });
    const [result, written] = await Promise.allSettled([child.done, encryptStream(child.stdout!, request.out, encryption)]);
    // The file's failure first: when the archive cannot be written (the disk is full), pg_dump is
    // stopped by the closed pipe (SIGPIPE), which is not the cause.
    if (written.status === 'rejected') throw backupNotWritten(written.reason, request.out);
    if (result.status === 'fulfilled' && result.value.exitCode !== 0) throw dumpFailed(result.value.stderr);
    if (result.status === 'rejected') throw result.reason;
  } else {
    const result = await runPg(request.tools.pgDump, [...args, `--file=${request.out}`], pg.env, { cancelSignal: request.signal }).done;
    if (result.exitCode !== 0) throw dumpFailed(result.stderr);
  }
}

function dumpFailed(stderr: string): CmmcError {
  const line = lastLine(stderr);
  // Forced tenant policies hide rows from every role but the bypass role, which only the schema
  // owner may SET ROLE to (docs/schema.md, Roles): the application role cannot back up.
  const rls = /row-level security/i.test(line);
  return new CmmcError('backup.pg-dump', `pg_dump failed: ${line}`, {
    hint: rls
      ? 'nothing was kept; back up as the schema owner: set DB_OWNER_USER (and DB_OWNER_PASSWORD), and backup connects as it through its row-level security bypass role'
      : 'nothing was kept; fix the cause and run the backup again',
  });
}

/** Lists the archive's table of contents with `pg_restore --list`; throws when it cannot be read. */
export async function listArchive(tools: PgTools, file: string): Promise<string[]> {
  const result = await runPg(tools.pgRestore, ['--list', file], {}).done;
  if (result.exitCode !== 0) {
    // The archive itself not readable here (gone, no permission) is this run's fault, told by its errno.
    if (lstatSync(file).isDirectory()) readdirSync(file);
    else closeSync(openSync(file, 'r'));
    // How the program ended goes with the error: a verdict on the archive only when it ran to its end (src/backup/verify.ts).
    throw new CmmcError('backup.unreadable', `pg_restore cannot read the archive: ${lastLine(result.stderr)}`, { hint: 'the archive is damaged; use another backup', cause: result });
  }
  return String(result.stdout)
    .split('\n')
    .filter((l) => l && !l.startsWith(';'));
}

export interface RestoreRequest {
  tools: PgTools;
  format: BackupFormat;
  /** A readable archive (decrypted already). */
  file: string;
  database: string;
  /** Drop the objects first (`--clean --if-exists`); false for a new database. */
  clean: boolean;
  jobs?: number;
  noOwner?: boolean;
  /**
   * Restore a custom, tar or directory archive through psql too (pg_restore writing the script):
   * one transaction, and a failure that carries the server's SQLSTATE (`RestoreFailure`). For a
   * restore test (src/backup/verify.ts), whose verdict depends on where a failure came from. Only
   * for a database dropped afterwards: when pg_restore fails half-way, psql commits the part it was given.
   */
  throughPsql?: boolean;
}

/**
 * How a failed restore ended (the `cause` of `backup.restore-failed`): the program that failed,
 * its exit code and signal, and for psql the SQLSTATE of the server error that stopped it. These,
 * not the wording of a message (which the server's lc_messages and each release change), say
 * whether the failure was the backup's or this run's (src/backup/verify.ts).
 */
export interface RestoreFailure extends PgResult {
  tool: 'psql' | 'pg_restore';
  /** The line that says what went wrong (psql: its error line, without the SQLSTATE). */
  said: string;
  /** psql: the SQLSTATE of the error that stopped the script (psql runs with VERBOSITY=verbose). */
  sqlstate?: string;
}

/** psql for a restore: one transaction, stop at the first error, each error with its SQLSTATE. */
const PSQL_RESTORE = ['--no-psqlrc', '--quiet', '--no-password', '--set', 'ON_ERROR_STOP=1', '--set', 'VERBOSITY=verbose', '--set', 'SHOW_CONTEXT=never', '--single-transaction', '--output=/dev/null'];

/**
 * Restores an archive into `request.database` on the configured server: pg_restore for custom,
 * tar and directory archives (one transaction unless --jobs), psql for plain scripts (one
 * transaction, stop at the first error), and for archives too with `throughPsql`. The embedded
 * database is rebuilt in a fresh folder and swapped in: `keptAs` names the folder (in the embedded
 * folder) that the data folder it replaced is kept as.
 * @throws CmmcError `backup.restore-failed` with a `RestoreFailure` as its cause.
 */
export async function restoreTarget(config: CmmcConfig, request: RestoreRequest): Promise<{ keptAs?: string }> {
  if (config.kind === 'embedded') {
    // Loaded into a fresh folder and swapped in whole once it has loaded (src/embedded/backup.ts).
    const { restoreEmbedded } = await import('../embedded/backup.js');
    const { keptAs } = await restoreEmbedded(request.file, config.embeddedDir, { replace: true });
    return keptAs ? { keptAs } : {};
  }
  const url = serverUrl(config);
  const pg = { env: libpqEnv(url, request.database) };
  const options = [...(request.clean ? ['--clean', '--if-exists'] : []), ...(request.noOwner ? ['--no-owner', '--no-privileges'] : [])];
  if (request.format === 'plain' || request.throughPsql) {
    const child = runPg(request.tools.psql, PSQL_RESTORE, pg.env, { stdin: 'pipe', cancelSignal: interruptSignal() });
    // An archive is turned into its script by pg_restore (no connection of its own).
    const writer = request.format === 'plain' ? undefined : runPg(request.tools.pgRestore, ['--file=-', ...options, request.file], {}, { stdout: 'stream', cancelSignal: interruptSignal() });
    const input = writer ? writer.stdout! : createReadStream(request.file);
    const source = request.file.endsWith('.gz') && !writer ? input.pipe(createGunzip()) : input;
    // psql stops reading at the first error; a closed pipe then is expected, not a failure.
    const feeding = pipeline(source, guardPreambleSettings(), child.stdin!).catch(() => {});
    const result = await child.done;
    await feeding;
    // Which failure is the one: pg_restore stopped (a signal) or not started; else psql's error (pg_restore
    // then fails writing to the pipe psql closed); else pg_restore's own (an archive it cannot read).
    const written = writer && (await writer.done);
    if (written?.ended) throw restoreFailed('pg_restore', written);
    if (result.exitCode !== 0) throw restoreFailed('psql', result);
    if (written && written.exitCode !== 0) throw restoreFailed('pg_restore', written);
    return {};
  }
  // As a connection string's value: a name with "=" or a URI's prefix would be read as one itself.
  const args = ['--no-password', '--exit-on-error', `--dbname=dbname='${request.database.replace(/[\\']/g, '\\$&')}'`, ...options];
  if (request.jobs && request.jobs > 1) args.push(`--jobs=${request.jobs}`);
  else args.push('--single-transaction');
  // Interrupted: pg_restore is stopped (its single transaction rolls back on the server).
  const result = await runPg(request.tools.pgRestore, [...args, request.file], pg.env, { cancelSignal: interruptSignal() }).done;
  if (result.exitCode !== 0) throw restoreFailed('pg_restore', result);
  return {};
}

/** A setting line of a plain script's preamble: `SET name = value;` (a quoted literal or one word). */
const PREAMBLE_SET = /^SET ([a-z_]+) = ('(?:[^']|'')*'|[\w.-]+);$/;
/** What else a preamble holds: comments, blank lines, set_config, psql meta-commands (`\restrict`). */
const PREAMBLE_OTHER = /^(?:--.*|\s*|SELECT pg_catalog\.set_config\(.*|\\.*)$/;

/**
 * Makes each session setting of a plain script's preamble apply only where the server has that
 * setting. A newer pg_dump's script sets ones an older server lacks (PGlite's pg_dump is 17's:
 * `SET transaction_timeout = 0;`, unknown before PostgreSQL 17), and ON_ERROR_STOP would end the
 * restore at that first line. Each becomes the same session setting through set_config, for the
 * rows of pg_settings that name it: plain SQL, because a script of a recent pg_dump forbids psql's
 * own commands after its `\restrict` line. Only the preamble is touched; past its first statement a
 * line that reads like a SET may be COPY data, and everything passes through unchanged.
 */
export function guardPreambleSettings(): Transform {
  let inPreamble = true;
  let pending: Buffer = Buffer.alloc(0);
  const guard = (line: string): string => {
    if (!inPreamble) return line + '\n';
    const set = PREAMBLE_SET.exec(line);
    if (set) {
      const value = set[2].startsWith("'") ? set[2] : `'${set[2]}'`;
      return `SELECT pg_catalog.set_config(name, ${value}, false) FROM pg_catalog.pg_settings WHERE name = '${set[1]}';\n`;
    }
    if (!PREAMBLE_OTHER.test(line)) inPreamble = false;
    return line + '\n';
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (!inPreamble) return done(null, chunk);
      // Bytes, not text: a chunk may end inside a character of the data that follows.
      let rest: Buffer = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let out = '';
      while (inPreamble) {
        const nl = rest.indexOf(10);
        if (nl < 0) {
          pending = rest;
          return done(null, out);
        }
        out += guard(rest.subarray(0, nl).toString('utf8'));
        rest = rest.subarray(nl + 1);
      }
      pending = Buffer.alloc(0);
      // Past the preamble the rest goes as it came.
      done(null, Buffer.concat([Buffer.from(out), rest]));
    },
    flush(done) {
      done(null, pending);
    },
  });
}

function restoreFailed(tool: RestoreFailure['tool'], result: PgResult): CmmcError {
  // psql's verbose error line, the first of its error: `psql:<stdin>:9: ERROR:  23514: new row ...`
  // (the severity word is translated, the code is not); said without the code, as psql says it.
  const coded = tool === 'psql' ? /^(.*?: {2})([0-9A-Z]{5}): (.*)$/m.exec(result.stderr) : null;
  const said = coded ? (coded[1] + coded[3]).trim().slice(0, 400) : lastLine(result.stderr);
  const cause: RestoreFailure = { ...result, tool, said, ...(coded ? { sqlstate: coded[2] } : {}) };
  return new CmmcError('backup.restore-failed', `${tool} failed: ${said}`, {
    hint: 'the restore ran in one transaction and was rolled back (unless --jobs was used)',
    cause,
  });
}

export { databaseName };

/** The embedded database is dumped in-process by pg_dump for PGlite: no programs on the PATH. */
export function embeddedTools(): PgTools {
  return { binDir: '', pgDump: '@electric-sql/pglite-tools/pg_dump', pgRestore: '', psql: '', version: 'pg_dump for PGlite (@electric-sql/pglite-tools)', major: 0 };
}

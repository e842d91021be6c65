/**
 * Restoring a backup so that the database ends exactly at the backup: refuse one that does not
 * verify, restore it into a new database on the same server, then swap names in one transaction.
 * The database it replaces is kept under a dated name (`<name>_pre_restore_<stamp>`) until the
 * user drops it, so there is never a moment with neither the old nor the restored database, and
 * nothing created after the backup survives in the restored one. Other sessions on the database
 * being replaced make it refuse, naming them (a rename needs the database to itself).
 *
 * The embedded database is rebuilt in a fresh folder and swapped in whole (src/embedded/backup.ts).
 * A data-only backup has no schema to build a new database from: it is loaded into the existing
 * database in one transaction, as before.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { CmmcConfig } from '../config/config.js';
import { databaseName, withDatabase } from '../config/config.js';
import { openDatabase, type DbHandle } from '../db/connection.js';
import { pinnedTarget, writableTarget } from '../db/writable.js';
import { CmmcError } from '../errors.js';
import { BACKUP_SESSION, currentIdentity, databaseFacts, identityOfOpen, restoreTarget, type DatabaseFacts } from './dump.js';
import { describeDatabase, findBackup, keptName, resolveBackupDir, sameDatabase, identityOf, type BackupRecord, type DatabaseIdentity } from './store.js';

export { keptName } from './store.js';
import { openArchive } from './verify.js';
import { warmPgTools } from '../db/pg-tools.js';
import type { ScratchDatabase } from '../schema-as-code/scratch.js';
import type postgres from 'postgres';

export interface RestoreOptions {
  dir?: string;
  keyFile?: string;
  /** Restore into this database (created when missing) instead of the configured one. */
  targetDb?: string;
  /** Parallel pg_restore jobs (gives up the single transaction). */
  jobs?: number;
  /** Skip ownership and grants (restoring as another user). */
  noOwner?: boolean;
  /**
   * Shown the plan before anything changes; return false to stop. Without it the restore goes
   * ahead (a library caller has decided already).
   */
  confirm?: (plan: RestorePlan) => Promise<boolean>;
  /** Only work out the plan (the backup is verified; nothing is changed). */
  dryRun?: boolean;
  /**
   * The answer is yes already (`--yes`): the new database is created while the backup is verified
   * instead of after (it is dropped again when the backup does not verify or the restore stops).
   * Without it nothing is created before `confirm` says yes.
   */
  confirmed?: boolean;
}

/** What a restore will do, for the confirmation and --dry-run. */
export interface RestorePlan {
  backup: string;
  backupCreatedAt: string;
  backupRevision: string[];
  /** The database the backup was taken of. */
  backupSource: string;
  /** The database that will hold the restore. */
  database: string;
  /** Whether that database exists now (and will be replaced). */
  exists: boolean;
  /** Tables in it now (when it exists). */
  tablesNow?: number;
  revisionNow?: string[];
  /** The name the replaced database is kept under (server, schema backups). */
  keepAs?: string;
  /** Set when the backup is of another database than the one it replaces: said, and asked. */
  otherDatabase?: string;
  /** data-only backups load into the existing database instead of a new one. */
  method: 'new-database-and-swap' | 'data-into-existing' | 'embedded-folder-swap';
}

export interface RestoreResult {
  name: string;
  database: string;
  /** True when there was no database of that name before. */
  created: boolean;
  /** True when an existing database was replaced (its old copy is `keptAs`). */
  replaced: boolean;
  /** The name the replaced database is kept under, until the user drops it. */
  keptAs?: string;
  /** The revision in the restored database's version table. */
  revision: string[];
  tables: number;
  durationMs: number;
  /** False when the user said no (or --dry-run). */
  restored: boolean;
  plan: RestorePlan;
  /** Things the restore could not carry over, each one line (database settings, owner). */
  notes: string[];
}

/**
 * Why PostgreSQL would not take `name` as a database's name (empty, a NUL byte, longer than
 * NAMEDATALEN - 1 = 63 bytes, which it would cut short); undefined when it would. Any other
 * character is fine: every statement quotes it, and the client programs get it as a value.
 */
export function databaseNameProblem(name: string): string | undefined {
  if (!name) return 'it is empty';
  if (name.includes('\0')) return 'it holds a NUL byte';
  const bytes = Buffer.byteLength(name);
  if (bytes > 63) return `it is ${bytes} bytes long, and PostgreSQL keeps 63`;
  return undefined;
}

/**
 * Why a restore must not replace `database` (by its name alone), or undefined. template0 and
 * template1 are what every CREATE DATABASE copies: replaced, the next new database would be cloned
 * from the backup (every tenant's data) and the replacement would no longer be a template.
 * `postgres` is the maintenance database: the restore itself, cmmc-db's other commands and the
 * server's tools connect to it, and it cannot be renamed while they do. Any other template
 * (datistemplate) is refused once the server is asked (`surveyTarget`).
 */
export function protectedDatabaseProblem(name: string): string | undefined {
  if (name === 'template0' || name === 'template1') return `"${name}" is the template every new database is copied from`;
  if (name === 'postgres') return `"postgres" is the maintenance database (the restore, other tools and other administrators connect to it)`;
  return undefined;
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** A session on the maintenance database of the configured server: never on the database being replaced. */
async function maintenanceHandle(config: CmmcConfig): Promise<DbHandle> {
  return openDatabase({ ...config, url: withDatabase(config.url!, 'postgres') }, { ...BACKUP_SESSION, applicationName: 'cmmc-db:restore', writes: true });
}

/** The first `keptName` not taken on the server: two restores within one second must not collide. */
async function freeKeptName(sql: DbHandle['sql'] | postgres.TransactionSql, database: string, at: Date): Promise<string> {
  for (let n = 1; ; n++) {
    const name = keptName(database, at, n);
    const [row] = await sql<{ taken: boolean }[]>`SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = ${name}) AS taken`;
    if (!row.taken) return name;
  }
}

/**
 * What keeps `database` from being renamed: the other sessions connected to it, one clause each
 * (pid, user, application, client), and its prepared transactions (PREPARE TRANSACTION: they hold
 * the database like a session, with no session to end; ALTER DATABASE … RENAME then fails as if a
 * session were there). The hint for sessions ends them whoever they are: `doctor kill-idle` would
 * not (it spares active sessions and superusers', and works on the configured database, not on a
 * --target-db); the one for prepared transactions names each by its gid.
 * @throws CmmcError `backup.restore-busy` naming them, when there are any.
 */
async function refuseIfBusy(admin: DbHandle, database: string): Promise<void> {
  const [rows, prepared] = await Promise.all([
    admin.sql<{ pid: number; usename: string | null; application_name: string; client_addr: string | null; state: string | null }[]>`
      SELECT pid, usename, application_name, host(client_addr) AS client_addr, state FROM pg_stat_activity
       WHERE datname = ${database} AND pid <> pg_backend_pid() ORDER BY backend_start`,
    admin.sql<{ gid: string; owner: string; prepared: Date }[]>`
      SELECT gid, owner, prepared FROM pg_prepared_xacts WHERE database = ${database} ORDER BY prepared`,
  ]);
  if (rows.length) {
    const who = rows
      .slice(0, 5)
      .map((r) => `pid ${r.pid} (${r.usename ?? '?'}${r.application_name ? `, ${r.application_name}` : ''}${r.client_addr ? `, from ${r.client_addr}` : ''}${r.state ? `, ${r.state}` : ''})`)
      .join(', ');
    throw new CmmcError(
      'backup.restore-busy',
      `database "${database}" has ${rows.length} other session${rows.length === 1 ? '' : 's'}: ${who}${rows.length > 5 ? ', ...' : ''}; nothing was restored`,
      {
        hint: `stop the application, or end them (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${literal(database)} AND pid <> pg_backend_pid()), and run the restore again`,
      },
    );
  }
  if (prepared.length) {
    const which = prepared
      .slice(0, 5)
      .map((p) => `${literal(p.gid)} (${p.owner}, prepared ${p.prepared.toISOString().replace(/\.\d+Z$/, 'Z')})`)
      .join(', ');
    const first = literal(prepared[0].gid);
    throw new CmmcError(
      'backup.restore-busy',
      `database "${database}" has ${prepared.length} prepared transaction${prepared.length === 1 ? '' : 's'} (PREPARE TRANSACTION), which hold${prepared.length === 1 ? 's' : ''} it as a session would: ${which}${prepared.length > 5 ? ', ...' : ''}; nothing was restored`,
      {
        hint: `let the application that prepared ${prepared.length === 1 ? 'it' : 'them'} finish, or connected to "${database}" run COMMIT PREPARED ${first} or ROLLBACK PREPARED ${first}${prepared.length > 1 ? ' (and so for each)' : ''}, and run the restore again`,
      },
    );
  }
}

/** Restores backup `name` (the newest backup of the target database when omitted). */
export async function restoreBackup(configured: CmmcConfig, name: string | undefined, options: RestoreOptions = {}): Promise<RestoreResult> {
  // Every session and client program of the restore on the primary, whichever host is listed first
  // (the maintenance session refuses a standby: src/db/writable.ts).
  const config = writableTarget(configured);
  const embedded = config.kind === 'embedded';
  if (embedded && options.targetDb) throw new CmmcError('usage', '--target-db needs a PostgreSQL server: the embedded database is one database in a folder', { hint: 'restore into another folder with CMMC_DB_DIR=<folder> instead', exitCode: 2 });
  const target = embedded ? 'postgres' : (options.targetDb ?? databaseName(config.url!));
  const badName = databaseNameProblem(target);
  if (badName) throw new CmmcError('usage', `"${target}" is not a database name: ${badName}`, { hint: 'name the database as PostgreSQL accepts it (at most 63 bytes; quoted where needed, any other character is fine)', exitCode: 2 });
  const guarded = embedded ? undefined : protectedDatabaseProblem(target);
  if (guarded) {
    throw new CmmcError('backup.restore-protected', `${guarded}: a restore does not replace it; nothing was restored`, {
      hint: 'restore into a database of its own: --target-db NAME',
      exitCode: 2,
    });
  }
  const dir = resolveBackupDir(options.dir);
  if (embedded) {
    const here = await currentIdentity(config);
    const record = findBackup(dir, name, name ? undefined : here);
    return withOpenedArchive(config, record, here, options, (opened, base) => restoreEmbeddedTarget(config, record, opened, base, options));
  }
  // A named backup is known before anything connects: with --yes, its new database is begun at once
  // (pg_restore can start no sooner than it exists), and the client programs are asked their version.
  warmPgTools();
  const named = name ? findBackup(dir, name, undefined) : undefined;
  let early = named ? beginBuilding(config, named, options) : undefined;
  try {
    // One session on the maintenance database serves every step that is not inside the target (the
    // server's identity, the plan, the swap): a restore starts as few connections as it can.
    const admin = await maintenanceHandle(config);
    try {
      const here = await identityOfOpen(config, admin);
      const targetSource: DatabaseIdentity = { ...here, database: target };
      // With no name, the newest backup of the database being restored; another database's only when named.
      const record = named ?? findBackup(dir, name, targetSource);
      early ??= beginBuilding(config, record, options);
      const handing = early;
      early = undefined;
      // Everything from here on (pg_restore, psql, the new database's sessions) on the primary that
      // session found, not the list: a standby listed first lacks the new database for a moment.
      return await restoreServerTarget(await pinnedTarget(config, admin.sql), admin, record, targetSource, target, options, handing);
    } finally {
      // The swap has committed (or nothing was done): the server's close is not awaited.
      await admin.close({ now: true });
    }
  } finally {
    // Begun but never handed over (the server did not answer, no such backup): it goes again.
    if (early) await early.then((b) => b.drop(), () => {});
  }
}

/**
 * The new database a full backup is restored into, begun before the plan is shown when the answer
 * is yes already (`confirmed`); undefined otherwise (then it is made after the yes).
 */
function beginBuilding(config: CmmcConfig, record: BackupRecord, options: RestoreOptions): Promise<ScratchDatabase> | undefined {
  if (!options.confirmed || options.dryRun || record.contents === 'data-only') return undefined;
  const begun = import('../schema-as-code/scratch.js').then((m) => m.createScratchDatabase(config, 'restore'));
  // Looked at later (or dropped): never an unhandled rejection meanwhile.
  begun.catch(() => {});
  return begun;
}

type BasePlan = Omit<RestorePlan, 'exists' | 'method'>;
type Opened = Awaited<ReturnType<typeof openArchive>>;

/** The plan's part that depends on the backup alone. */
function basePlanOf(record: BackupRecord, targetSource: DatabaseIdentity, database: string): BasePlan {
  const backupSource = identityOf(record);
  const otherDatabase = sameDatabase(backupSource, targetSource) ? undefined : `${record.name} is a backup of ${describeDatabase(backupSource)}, not of ${describeDatabase(targetSource)}`;
  return {
    backup: record.name,
    backupCreatedAt: record.createdAt,
    backupRevision: record.revision ?? [],
    backupSource: describeDatabase(backupSource),
    database,
    ...(otherDatabase ? { otherDatabase } : {}),
  };
}

/** A backup that does not verify is refused in one line naming the failed check. */
function refuseUnverified(record: BackupRecord, opened: Opened): void {
  if (opened.ok) return;
  const failed = opened.checks.find((c) => c.status === 'fail')!;
  throw new CmmcError('backup.does-not-verify', `${record.name} does not verify (${failed.id}: ${failed.detail}); refusing to restore it`, {
    hint: 'restore another backup (cmmc-db backup list)',
  });
}

/** Verifies the archive (refusing one that does not verify), runs `use`, and always removes any decrypted copy. */
async function withOpenedArchive<T>(config: CmmcConfig, record: BackupRecord, targetSource: DatabaseIdentity, options: RestoreOptions, use: (opened: Opened, base: BasePlan) => Promise<T>): Promise<T> {
  const opened = await openArchive(record, options.keyFile ?? process.env.CMMC_BACKUP_KEY_FILE, config);
  try {
    refuseUnverified(record, opened);
    return await use(opened, basePlanOf(record, targetSource, targetSource.database));
  } finally {
    opened.cleanup();
  }
}

function notRestored(record: BackupRecord, plan: RestorePlan): RestoreResult {
  return { name: record.name, database: plan.database, created: false, replaced: false, revision: [], tables: 0, durationMs: 0, restored: false, plan, notes: [] };
}

/**
 * The embedded database is rebuilt in a fresh folder and swapped in (src/embedded/backup.ts); the
 * data folder it replaces is kept beside it, as a server's replaced database is (`keepAs` in the
 * plan, `keptAs` in the result: a folder name in the embedded folder).
 */
async function restoreEmbeddedTarget(config: CmmcConfig, record: BackupRecord, opened: Opened, base: BasePlan, options: RestoreOptions): Promise<RestoreResult> {
  const { DATA_SUBDIR, keptDataFolder } = await import('../embedded/instance.js');
  const exists = existsSync(path.join(config.embeddedDir, DATA_SUBDIR, 'PG_VERSION'));
  const plan: RestorePlan = { ...base, database: `the embedded database in ${config.embeddedDir}`, exists, method: 'embedded-folder-swap' };
  if (exists) {
    const facts = await databaseFacts(config);
    plan.tablesNow = facts.tables;
    plan.revisionNow = facts.revision;
    plan.keepAs = keptDataFolder(config.embeddedDir, new Date());
  }
  if (options.dryRun || (options.confirm && !(await options.confirm(plan)))) return notRestored(record, plan);
  const t0 = performance.now();
  const { keptAs } = await restoreTarget(config, { tools: opened.tools!, format: record.format, file: opened.file, database: 'postgres', clean: exists });
  const durationMs = Math.round(performance.now() - t0);
  const facts = await databaseFacts(config);
  return { name: record.name, database: facts.database, created: !exists, replaced: exists, ...(keptAs ? { keptAs } : {}), revision: facts.revision, tables: facts.tables, durationMs, restored: true, plan, notes: [] };
}

async function restoreServerTarget(
  config: CmmcConfig,
  admin: DbHandle,
  record: BackupRecord,
  targetSource: DatabaseIdentity,
  target: string,
  options: RestoreOptions,
  early: Promise<ScratchDatabase> | undefined,
): Promise<RestoreResult> {
  const dataOnly = record.contents === 'data-only';
  const at = new Date();
  // These do not depend on each other and run at once: verifying the archive (sha256, pg_restore
  // --list), reading the database being replaced for the plan (through the maintenance session,
  // then one short session on it), and — when the answer is yes already — creating the database the
  // backup is restored into. Their outcomes are looked at in the order they always were.
  const verifying = openArchive(record, options.keyFile ?? process.env.CMMC_BACKUP_KEY_FILE, config);
  const surveying = surveyTarget(config, admin, record, target, at);
  let building: ScratchDatabase | undefined;
  let opened: Opened | undefined;
  try {
    const [verified, surveyed, created] = await Promise.allSettled([verifying, surveying, early]);
    if (created.status === 'fulfilled') building = created.value;
    // Every step has settled (allSettled): an archive that was opened is always cleaned up below.
    if (verified.status === 'rejected') throw verified.reason;
    opened = verified.value;
    refuseUnverified(record, opened);
    if (surveyed.status === 'rejected') throw surveyed.reason;
    const survey = surveyed.value;
    const plan: RestorePlan = {
      ...basePlanOf(record, targetSource, target),
      exists: survey.exists,
      method: dataOnly ? 'data-into-existing' : 'new-database-and-swap',
      ...(survey.keepAs ? { keepAs: survey.keepAs } : {}),
      ...(survey.facts ? { tablesNow: survey.facts.tables, revisionNow: survey.facts.revision } : {}),
    };
    if (options.dryRun || (options.confirm && !(await options.confirm(plan)))) return notRestored(record, plan);
    if (created.status === 'rejected') throw created.reason;
    const exists = survey.exists;

    const t0 = performance.now();
    if (dataOnly) {
      await refuseIfBusy(admin, target);
      await restoreTarget(config, { tools: opened.tools!, format: record.format, file: opened.file, database: target, clean: false, jobs: options.jobs, noOwner: options.noOwner });
      const facts = await databaseFacts(config, target);
      return { name: record.name, database: target, created: false, replaced: false, revision: facts.revision, tables: facts.tables, durationMs: Math.round(performance.now() - t0), restored: true, plan, notes: [] };
    }

    // Built aside under a scratch name (dropped if anything stops it, swept by a later run if this
    // process is killed), then swapped in.
    building ??= await (await import('../schema-as-code/scratch.js')).createScratchDatabase(config, 'restore');
    const notes: string[] = [];
    let facts: DatabaseFacts;
    let keptAs = plan.keepAs;
    try {
      await restoreTarget(config, { tools: opened.tools!, format: record.format, file: opened.file, database: building.name, clean: false, jobs: options.jobs, noOwner: options.noOwner });
      // What the result reports (tables, revision) is read in the restored database before the swap,
      // at the same time as its settings are carried over; that short session has ended before the
      // rename (which also waits a few seconds for a session that is still ending).
      const [carried, restoredFacts] = await Promise.all([exists ? carryOverDatabaseSettings(admin, target, building.name) : [], databaseFacts(config, building.name)]);
      notes.push(...carried);
      facts = restoredFacts;
      if (exists) notes.push(...(await carryOverConnectionRules(admin, target, building.name)));
      // The rename needs the database to itself: someone who connected meanwhile stops the swap.
      await refuseIfBusy(admin, target);
      await admin.sql.begin(async (tx) => {
        if (exists) {
          // Nothing else serializes two restores of one database (each checks for sessions only for
          // a moment): their swaps take turns here, and the kept name is chosen at the turn, free
          // then (the one in the plan, unless another restore took it meanwhile).
          await tx`SELECT pg_advisory_xact_lock(hashtext(${`cmmc-db restore swap ${target}`}))`;
          keptAs = await freeKeptName(tx, target, at);
          await tx.unsafe(`ALTER DATABASE ${quoteIdent(target)} RENAME TO ${quoteIdent(keptAs)}`);
        }
        await tx.unsafe(`ALTER DATABASE ${quoteIdent(building!.name)} RENAME TO ${quoteIdent(target)}`);
      });
      building.keep();
    } catch (err) {
      if ((err as { code?: string }).code === '55006') {
        // Someone connected (or prepared a transaction) between the last look and the rename: said as such when still there.
        await refuseIfBusy(admin, target);
        throw new CmmcError('backup.restore-busy', `database "${target}" gained a session while the backup was restored; nothing was changed`, { hint: 'stop the application and run the restore again' });
      }
      if ((err as { code?: string }).code === '42P04') {
        // Made by someone else (not a restore) between the choice of the name and the rename.
        throw new CmmcError('backup.restore-name-taken', `a database named "${keptAs}" was created while the backup was restored (the name the replaced database was to be kept under); nothing was changed`, {
          hint: 'run the restore again: it keeps the replaced database under a name free at that moment',
        });
      }
      throw err;
    }
    const durationMs = Math.round(performance.now() - t0);
    return { name: record.name, database: target, created: !exists, replaced: exists, ...(exists ? { keptAs } : {}), revision: facts.revision, tables: facts.tables, durationMs, restored: true, plan, notes };
  } finally {
    // Not kept (refused, declined, failed, interrupted): the database built aside goes.
    await building?.drop().catch(() => {});
    opened?.cleanup();
  }
}

/**
 * Gives `to` the grants of `from` (its datacl), after the owner: the default (NULL, PUBLIC's
 * CONNECT and TEMPORARY) stays the default; an explicit list replaces PUBLIC's default privileges
 * and is granted entry by entry, with grant options.
 */
async function carryOverGrants(admin: DbHandle, from: string, to: string): Promise<string[]> {
  const entries = await admin.sql<{ grantee: string | null; privilege: string; grantable: boolean }[]>`
    SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END AS grantee, a.privilege_type AS privilege, a.is_grantable AS grantable
      FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = ${from} AND d.datacl IS NOT NULL`;
  if (!entries.length) return [];
  const db = quoteIdent(to);
  const statements = [`REVOKE ALL ON DATABASE ${db} FROM PUBLIC`];
  for (const e of entries) statements.push(`GRANT ${e.privilege} ON DATABASE ${db} TO ${e.grantee === null ? 'PUBLIC' : quoteIdent(e.grantee)}${e.grantable ? ' WITH GRANT OPTION' : ''}`);
  try {
    await admin.sql.begin(async (tx) => {
      for (const statement of statements) await tx.unsafe(statement);
    });
    return [];
  } catch (err) {
    return [`the grants on the database were not carried over (${(err as Error).message}): grant them again (\\l+ in psql shows the old ones)`];
  }
}

/**
 * What the plan says about the database being replaced: whether it exists, the name it will be kept
 * under, and its tables and revision now. Refuses when a data-only backup has nothing to load into,
 * and when other sessions are on it (before this opens one of its own).
 */
async function surveyTarget(config: CmmcConfig, admin: DbHandle, record: BackupRecord, target: string, at: Date): Promise<{ exists: boolean; keepAs?: string; facts?: DatabaseFacts }> {
  const dataOnly = record.contents === 'data-only';
  const [row] = await admin.sql<{ exists: boolean; template: boolean }[]>`
    SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = ${target}) AS exists,
           EXISTS (SELECT 1 FROM pg_database WHERE datname = ${target} AND datistemplate) AS template`;
  const exists = row.exists;
  if (row.template) {
    // CREATE DATABASE … TEMPLATE it would then clone the backup (every tenant's data), and the
    // database put in its place would no longer be a template.
    throw new CmmcError('backup.restore-protected', `database "${target}" is a template (datistemplate): a restore does not replace it; nothing was restored`, {
      hint: `restore into another database (--target-db NAME); to replace the template on purpose, first run ALTER DATABASE ${quoteIdent(target)} IS_TEMPLATE false`,
    });
  }
  if (dataOnly && !exists) {
    throw new CmmcError('backup.data-only', `${record.name} holds data only, and database "${target}" does not exist to load it into`, {
      hint: 'restore a schema backup first, or pick a full backup',
    });
  }
  if (!exists) return { exists };
  const keepAs = dataOnly ? undefined : await freeKeptName(admin.sql, target, at);
  await refuseIfBusy(admin, target);
  const facts = await databaseFacts(config, target).catch(() => undefined);
  return { exists, ...(keepAs ? { keepAs } : {}), ...(facts ? { facts } : {}) };
}

/**
 * A backup (pg_dump of one database) does not hold the database itself: its owner, grants (GRANT …
 * ON DATABASE: the schema owner's CONNECT, CREATE, TEMPORARY from `init`), settings (ALTER
 * DATABASE … SET, and ALTER ROLE … IN DATABASE … SET) and comment. They are carried over from the
 * database being replaced, so that the restored one is used exactly as before. What cannot be
 * (a default tablespace, an encoding or locale the new database was not created with, security
 * labels) is said. Returns one note for each thing not carried over.
 */
async function carryOverDatabaseSettings(admin: DbHandle, from: string, to: string): Promise<string[]> {
  const notes: string[] = [];
  const [owner] = await admin.sql<{ owner: string }[]>`SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = ${from}`;
  if (owner) {
    await admin.sql.unsafe(`ALTER DATABASE ${quoteIdent(to)} OWNER TO ${quoteIdent(owner.owner)}`).catch((err: Error) => {
      notes.push(`the restored database is owned by the restoring role, not ${owner.owner} (${err.message})`);
    });
  }
  notes.push(...(await carryOverGrants(admin, from, to)));
  // setrole 0: ALTER DATABASE … SET; a role: ALTER ROLE … IN DATABASE … SET.
  const settings = await admin.sql<{ role: string | null; setting: string }[]>`
    SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_get_userbyid(s.setrole) END AS role, unnest(s.setconfig) AS setting
      FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
     WHERE d.datname = ${from} ORDER BY s.setrole`;
  for (const { role, setting } of settings) {
    const eq = setting.indexOf('=');
    const [key, value] = [setting.slice(0, eq), setting.slice(eq + 1)];
    // A list setting (search_path) is stored as its own SQL text; anything else as one literal.
    const sqlValue = /^[\w"$ .,-]+$/.test(value) && value.includes(',') ? value : literal(value);
    const alter = role === null ? `ALTER DATABASE ${quoteIdent(to)}` : `ALTER ROLE ${quoteIdent(role)} IN DATABASE ${quoteIdent(to)}`;
    await admin.sql.unsafe(`${alter} SET ${quoteIdent(key)} = ${sqlValue}`).catch((err: Error) => {
      notes.push(
        role === null
          ? `database setting ${key} was not carried over (${err.message}): ALTER DATABASE … SET it again`
          : `setting ${key} of role ${role} in this database was not carried over (${err.message}): ALTER ROLE ${quoteIdent(role)} IN DATABASE … SET it again`,
      );
    });
  }
  const [old] = await admin.sql<{ comment: string | null; labels: number; tablespace: string; newTablespace: string; locale: string; newLocale: string }[]>`
    SELECT shobj_description(o.oid, 'pg_database') AS comment,
           (SELECT count(*)::int FROM pg_shseclabel l WHERE l.classoid = 'pg_database'::regclass AND l.objoid = o.oid) AS labels,
           (SELECT spcname FROM pg_tablespace WHERE oid = o.dattablespace) AS tablespace,
           (SELECT spcname FROM pg_tablespace WHERE oid = n.dattablespace) AS "newTablespace",
           concat_ws(', ', pg_encoding_to_char(o.encoding), o.datcollate, o.datctype) AS locale,
           concat_ws(', ', pg_encoding_to_char(n.encoding), n.datcollate, n.datctype) AS "newLocale"
      FROM pg_database o, pg_database n WHERE o.datname = ${from} AND n.datname = ${to}`;
  if (!old) return notes;
  if (old.comment !== null) {
    await admin.sql.unsafe(`COMMENT ON DATABASE ${quoteIdent(to)} IS ${literal(old.comment)}`).catch((err: Error) => {
      notes.push(`the database's comment was not carried over (${err.message}): COMMENT ON DATABASE it again`);
    });
  }
  if (old.tablespace !== old.newTablespace) {
    notes.push(`the replaced database's default tablespace was ${old.tablespace}; the restored one's is ${old.newTablespace} (move it, with no one connected: ALTER DATABASE ${quoteIdent(from)} SET TABLESPACE ${quoteIdent(old.tablespace)})`);
  }
  if (old.locale !== old.newLocale) notes.push(`the replaced database's encoding and locale were ${old.locale}; the restored one's are ${old.newLocale}`);
  if (old.labels) notes.push(`the replaced database's security labels (${old.labels}) were not carried over: SECURITY LABEL ON DATABASE them again`);
  return notes;
}

/**
 * Who may connect to the restored database, as to the one it replaces: its CONNECTION LIMIT and
 * ALLOW_CONNECTIONS. Set after the restored database has been read (a limit of 0, or no
 * connections allowed, would keep that read out). Returns one note for each not carried over.
 */
async function carryOverConnectionRules(admin: DbHandle, from: string, to: string): Promise<string[]> {
  const [old] = await admin.sql<{ limit: number; allow: boolean }[]>`SELECT datconnlimit AS limit, datallowconn AS allow FROM pg_database WHERE datname = ${from}`;
  if (!old) return [];
  const notes: string[] = [];
  if (old.limit !== -1) {
    await admin.sql.unsafe(`ALTER DATABASE ${quoteIdent(to)} CONNECTION LIMIT ${Number(old.limit)}`).catch((err: Error) => {
      notes.push(`the database's CONNECTION LIMIT ${old.limit} was not carried over (${err.message}): ALTER DATABASE … CONNECTION LIMIT ${old.limit} again`);
    });
  }
  if (!old.allow) {
    await admin.sql.unsafe(`ALTER DATABASE ${quoteIdent(to)} ALLOW_CONNECTIONS false`).catch((err: Error) => {
      notes.push(`the database did not allow connections, and the restored one does (${err.message}): ALTER DATABASE … ALLOW_CONNECTIONS false again`);
    });
  }
  return notes;
}

/** A string as an SQL literal (standard_conforming_strings, the default since 9.1). */
const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;

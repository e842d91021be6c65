/**
 * Restoring a backup: refuse one that does not verify, then restore it over the configured
 * database (`--clean --if-exists`) or into another one, created when missing, and report the
 * revision restored.
 */
import type { CmmcConfig } from '../config/config.js';
import { databaseName, withDatabase } from '../config/config.js';
import { openDatabase, type DbHandle } from '../db/connection.js';
import { CmmcError } from '../errors.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { databaseFacts, restoreTarget } from './dump.js';
import { findBackup, resolveBackupDir } from './store.js';
import { openArchive } from './verify.js';

export interface RestoreOptions {
  dir?: string;
  keyFile?: string;
  /** Restore into this database (created when missing) instead of the configured one. */
  targetDb?: string;
  /** Parallel pg_restore jobs (gives up the single transaction). */
  jobs?: number;
  /** Skip ownership and grants (restoring as another user). */
  noOwner?: boolean;
  /** Asked before anything changes; return false to stop. Without it the restore goes ahead. */
  confirm?: (question: string) => Promise<boolean>;
}

export interface RestoreResult {
  name: string;
  database: string;
  /** True when the database was created for this restore. */
  created: boolean;
  /** Objects were dropped first (`--clean --if-exists`). */
  cleaned: boolean;
  /** The revision in the restored database's version table. */
  revision: string[];
  tables: number;
  durationMs: number;
  /** False when the user said no. */
  restored: boolean;
}

const DB_NAME = /^[A-Za-z0-9_][A-Za-z0-9_$-]{0,62}$/;

async function adminHandle(config: CmmcConfig): Promise<DbHandle> {
  const options = { pool: { max: 1, min: 0 }, applicationName: 'cmmc-db:restore', kysely: false };
  try {
    return await openDatabase(config, options);
  } catch (err) {
    // The configured database may not exist (restoring a lost one): use the maintenance database.
    return await openDatabase({ ...config, url: withDatabase(config.url!, 'postgres') }, options).catch(() => {
      throw err;
    });
  }
}

/** Restores backup `name` (the newest when omitted). */
export async function restoreBackup(config: CmmcConfig, name: string | undefined, options: RestoreOptions = {}): Promise<RestoreResult> {
  const embedded = config.kind === 'embedded';
  if (embedded && options.targetDb) throw new CmmcError('usage', '--target-db needs a PostgreSQL server: the embedded database is one database in a folder', { hint: 'restore into another folder with CMMC_DB_DIR=<folder> instead', exitCode: 2 });
  const dir = resolveBackupDir(options.dir);
  const record = findBackup(dir, name);
  const target = embedded ? 'postgres' : (options.targetDb ?? databaseName(config.url!));
  if (!DB_NAME.test(target)) throw new CmmcError('usage', `"${target}" is not a database name this tool creates`, { hint: 'use letters, digits and underscores', exitCode: 2 });

  const opened = await openArchive(record, options.keyFile ?? process.env.CMMC_BACKUP_KEY_FILE);
  try {
    if (!opened.ok) {
      const failed = opened.checks.find((c) => c.status === 'fail')!;
      throw new CmmcError('backup.does-not-verify', `${record.name} does not verify (${failed.id}: ${failed.detail}); refusing to restore it`, {
        hint: 'restore another backup (cmmc-db backup list)',
      });
    }
    let exists: boolean;
    if (embedded) {
      // The embedded database is rebuilt from the script in a fresh folder and swapped in whole.
      exists = existsSync(path.join(config.embeddedDir, 'pgdata', 'PG_VERSION'));
      const question = exists ? `Replace the embedded database in ${config.embeddedDir} with ${record.name}?` : `Restore ${record.name} into a new embedded database in ${config.embeddedDir}?`;
      if (options.confirm && !(await options.confirm(question))) {
        return { name: record.name, database: target, created: false, cleaned: false, revision: [], tables: 0, durationMs: 0, restored: false };
      }
      const t0 = performance.now();
      await restoreTarget(config, { tools: opened.tools!, format: record.format, file: opened.file, database: target, clean: exists });
      const durationMs = Math.round(performance.now() - t0);
      const facts = await databaseFacts(config);
      return { name: record.name, database: facts.database, created: !exists, cleaned: exists, revision: facts.revision, tables: facts.tables, durationMs, restored: true };
    }
    const admin = await adminHandle(config);
    try {
      const rows = await admin.sql`SELECT 1 FROM pg_database WHERE datname = ${target}`;
      exists = rows.length > 0;
      const question = exists
        ? `Restore ${record.name} over database "${target}"? Its objects are dropped and replaced`
        : `Restore ${record.name} into a new database "${target}"?`;
      if (options.confirm && !(await options.confirm(question))) {
        return { name: record.name, database: target, created: false, cleaned: false, revision: [], tables: 0, durationMs: 0, restored: false };
      }
      if (!exists) await admin.sql.unsafe(`CREATE DATABASE "${target}"`);
    } finally {
      await admin.close();
    }

    const cleaned = exists && record.contents !== 'data-only';
    const t0 = performance.now();
    try {
      await restoreTarget(config, { tools: opened.tools!, format: record.format, file: opened.file, database: target, clean: cleaned, jobs: options.jobs, noOwner: options.noOwner });
    } catch (err) {
      if (!exists) {
        const cleanupHandle = await adminHandle(config);
        await cleanupHandle.sql.unsafe(`DROP DATABASE IF EXISTS "${target}" WITH (FORCE)`).catch(() => {});
        await cleanupHandle.close();
      }
      throw err;
    }
    const durationMs = Math.round(performance.now() - t0);
    const facts = await databaseFacts(config, target);
    return { name: record.name, database: target, created: !exists, cleaned, revision: facts.revision, tables: facts.tables, durationMs, restored: true };
  } finally {
    opened.cleanup();
  }
}

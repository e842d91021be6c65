/**
 * cmmc-db as a library: configuration, the platform's connection pool, a health check.
 *
 * @example
 * ```ts
 * import { createPool, healthCheck } from 'cmmc-db';
 * const pool = await createPool();            // DATABASE_URL or DB_* from the environment
 * console.log(await healthCheck(pool));
 * await pool.close();
 * ```
 */
import { asOwner, checkConfigInput, resolveConfig, type CmmcConfig, type ConfigInput } from './config/config.js';
import { asSchemaOwner, openDatabase, type DbHandle, type OpenOptions } from './db/connection.js';
import * as engine from './migrate/engine.js';
import type { Operation, RunOptions, RunResult } from './migrate/engine.js';
import * as backup from './backup/create.js';
import type { CreateOptions } from './backup/create.js';
import type { BackupRecord } from './backup/store.js';

export { resolveConfig, redactUrl, describeTarget } from './config/config.js';
export type { CmmcConfig, ConfigInput } from './config/config.js';
export { defineConfig, findProjectRoot } from './config/project-root.js';
export type { ProjectFile, ProjectSettings, ProjectRoot } from './config/project-root.js';
export { openDatabase, healthCheck, POOL_SETTINGS } from './db/index.js';
export type { DbHandle, HealthReport, OpenOptions, PoolSettings } from './db/index.js';
export { CmmcError } from './errors.js';

/**
 * Opens the platform's connection pool (min 5 warm, max 20, idle 300 s, 10 s connect timeout unless
 * the URL or CMMC_CONNECT_TIMEOUT says otherwise, 60 s statement timeout, connections recycled) from
 * the environment or the given configuration.
 * Call `close()` when done: an open pool keeps Node running, a server's until its idle connections
 * time out (300 s), the embedded database's until it is closed.
 */
export async function createPool<DB = any>(input: ConfigInput = {}, options: OpenOptions = {}): Promise<DbHandle<DB>> {
  checkConfigInput(input, 'createPool');
  return openDatabase<DB>(resolveConfig(input), { warm: true, ...options });
}

// The platform schema: Kysely<Database> for typed queries, vector search over the HNSW indexes.
export {
  searchBySimilarity,
  similaritySearchQuery,
  indexedSimilaritySearchQuery,
  toVectorLiteral,
  EMBEDDING_DIMENSIONS,
  EMBEDDED_TABLES,
  SCHEMA_COLUMNS,
  VIEW_NAMES,
} from './schema/index.js';
export type {
  Database,
  Json,
  JsonValue,
  EmbeddedTable,
  SimilarityMatch,
  SimilaritySearchOptions,
  AssessmentStatus,
  FindingStatus,
  PoamStatus,
  AssessmentProgressView,
  OrganizationComplianceByDomainView,
} from './schema/index.js';

// What a distributed database (Citus) needs of the schema, checked on any database at head (docs/scale-out.md).
export { distributionViolations, distributionPlan } from './schema/distribution.js';
export type { DistributionViolation } from './schema/distribution.js';

// Acting for one tenant under row-level security.
export { withTenant, tenantId, TENANT_SETTING, NO_TENANT } from './tenant/index.js';

// The migration engine. What changes the schema runs as the schema owner when the configuration
// names one (DB_OWNER_USER), as the CLI does: an application's createPool() connects as the
// application role, which may not create or alter anything (README, Configuration).
export { loadScript, MigrationFailedError, getCurrentHeads, getStatus, offlineScript, offlineStamp } from './migrate/index.js';
export type { Script, Revision, RunOptions, RunResult, StepResult, FailedStep, Status } from './migrate/index.js';

/**
 * Runs upgrade, downgrade or stamp and returns what happened (a failed step is in the result, not
 * thrown), as the schema owner when DB_OWNER_USER is set (see `asSchemaOwner`).
 */
export function migrate(handle: DbHandle, operation: Operation, target: string | string[], options: RunOptions = {}): Promise<RunResult> {
  return asSchemaOwner(handle, (owner) => engine.migrate(owner, operation, target, options));
}

/** Applies revisions up to `target` (default `head`), as the schema owner when DB_OWNER_USER is set. Throws MigrationFailedError when a step fails. */
export function runUpgrade(handle: DbHandle, target = 'head', options: RunOptions = {}): Promise<RunResult> {
  return asSchemaOwner(handle, (owner) => engine.runUpgrade(owner, target, options));
}

/** Un-applies revisions down to `target` (`base`, an id, `-1`...), as the schema owner when DB_OWNER_USER is set. Throws MigrationFailedError when a step fails. */
export function runDowngrade(handle: DbHandle, target: string, options: RunOptions = {}): Promise<RunResult> {
  return asSchemaOwner(handle, (owner) => engine.runDowngrade(owner, target, options));
}

/** Moves the version rows to `target` without running any revision, as the schema owner when DB_OWNER_USER is set. */
export function runStamp(handle: DbHandle, target: string | string[], options: RunOptions = {}): Promise<RunResult> {
  return asSchemaOwner(handle, (owner) => engine.runStamp(owner, target, options));
}

// Backups around pg_dump / pg_restore. From their own modules, not src/backup/index.ts: that one
// also holds the crontab schedule (cron-parser), which no application asks for by importing this.
export { verifyBackup } from './backup/verify.js';
export { restoreBackup } from './backup/restore.js';
export { pruneBackups } from './backup/prune.js';
export { listBackups } from './backup/store.js';

/**
 * pg_dump of the configured database into `options.dir` (default backups/) with its manifest, as the
 * schema owner when DB_OWNER_USER is set (through its row-level security bypass role), as
 * `cmmc-db backup create`. Returns the manifest.
 */
export function createBackup(config: CmmcConfig, options: CreateOptions = {}): Promise<BackupRecord> {
  return backup.createBackup(asOwner(config), options);
}
export type { CreateOptions } from './backup/create.js';
export type { VerifyOptions, VerifyResult } from './backup/verify.js';
export type { RestoreOptions, RestoreResult, RestorePlan } from './backup/restore.js';
export type { PruneOptions, PruneResult } from './backup/prune.js';
export type { DatabaseIdentity } from './backup/store.js';

// An application that handles its own signals runs these on SIGINT/SIGTERM before it exits: running
// pg_dump and pg_restore are stopped, partial files and scratch databases removed. One that goes on
// running afterwards calls resetInterrupt(): until then every backup and migration stops as interrupted.
export { onInterrupt, runInterruptCleanups, runAtExit, interruptSignal, resetInterrupt } from './interrupt.js';

// Diagnostics.
export * as doctor from './doctor/index.js';

// The report: recorded doctor runs, the data of `cmmc-db report --json`, and its HTML page.
export * as report from './report/index.js';

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
import { resolveConfig, type ConfigInput } from './config/config.js';
import { openDatabase, type DbHandle, type OpenOptions } from './db/connection.js';

export { resolveConfig, redactUrl, describeTarget } from './config/config.js';
export type { CmmcConfig, ConfigInput } from './config/config.js';
export { defineConfig, findProjectRoot } from './config/project-root.js';
export type { ProjectFile, ProjectSettings, ProjectRoot } from './config/project-root.js';
export { openDatabase, healthCheck, POOL_SETTINGS } from './db/index.js';
export type { DbHandle, HealthReport, OpenOptions, PoolSettings } from './db/index.js';
export { CmmcError } from './errors.js';

/**
 * Opens the platform's connection pool (min 5 warm, max 20, idle 300 s, 30 s connect timeout,
 * 60 s statement timeout, connections recycled) from the environment or the given configuration.
 */
export async function createPool<DB = any>(input: ConfigInput = {}, options: OpenOptions = {}): Promise<DbHandle<DB>> {
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

// Acting for one tenant under row-level security.
export { withTenant, tenantId, TENANT_SETTING, NO_TENANT } from './tenant/index.js';

// The migration engine.
export { loadScript, migrate, MigrationFailedError, runUpgrade, runDowngrade, runStamp, getCurrentHeads, getStatus, offlineScript, offlineStamp } from './migrate/index.js';
export type { Script, Revision, RunOptions, RunResult, StepResult, FailedStep, Status } from './migrate/index.js';

// Backups around pg_dump / pg_restore.
export { createBackup, verifyBackup, restoreBackup, pruneBackups, listBackups } from './backup/index.js';
export type { CreateOptions, VerifyOptions, VerifyResult, RestoreOptions, RestoreResult, RestorePlan, PruneOptions, PruneResult, DatabaseIdentity } from './backup/index.js';

// An application that handles its own signals runs these on SIGINT/SIGTERM before it exits: running
// pg_dump and pg_restore are stopped, partial files and scratch databases removed.
export { onInterrupt, runInterruptCleanups, runAtExit, interruptSignal } from './interrupt.js';

// Diagnostics.
export * as doctor from './doctor/index.js';

// The report: recorded doctor runs, the data of `cmmc-db report --json`, and its HTML page.
export * as report from './report/index.js';

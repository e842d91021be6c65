/**
 * Backup and recovery around the real pg_dump, pg_restore and psql. No CLI here: the command in
 * src/cli/commands/backup.ts and `upgrade --backup` both call these functions.
 *
 * @example
 * ```ts
 * import { createBackup, verifyBackup } from './backup/index.js';
 * const manifest = await createBackup(config, { dir: 'backups' });
 * const result = await verifyBackup(config, manifest.name, { dir: 'backups' });
 * ```
 */
export { createBackup, checkCreateOptions, type CreateOptions } from './create.js';
export { verifyBackup, type VerifyOptions, type VerifyResult, type VerifyCheck } from './verify.js';
export { restoreBackup, type RestoreOptions, type RestoreResult, type RestorePlan } from './restore.js';
export { pruneBackups, checkPolicy, type PruneOptions, type PruneResult, type PruneEntry } from './prune.js';
export { planRetention, weekKey, datedInFuture, newestInPast, CLOCK_SKEW_MS, type RetentionPolicy, type RetentionItem, type PruneDecision } from './retention.js';
export {
  listBackups,
  scanBackups,
  invalidBackupLine,
  sameDatabase,
  identityOf,
  describeDatabase,
  listDrills,
  type DrillRecord,
  listPartials,
  sweepPartials,
  findBackup,
  resolveBackupDir,
  formatBytes,
  formatAge,
  type BackupManifest,
  type DatabaseIdentity,
  type InvalidManifest,
  type BackupRecord,
  type BackupFormat,
  type BackupContents,
} from './store.js';
export { dumpTarget, restoreTarget, databaseFacts, currentIdentity } from './dump.js';
export { findPgTools, type PgTools } from '../db/pg-tools.js';
export {
  validateCron,
  nextRuns,
  refuseControlCharacters,
  scheduleBlock,
  extractBlock,
  mergeBlock,
  readCrontab,
  writeCrontab,
  DEFAULT_BACKUP_AT,
  DEFAULT_PRUNE_AT,
  DEFAULT_KEEP_DAYS,
} from './schedule.js';
export { archivingSettings, recoveryRecipe, checkArchiving, pitrNeedsServer, type PitrReport } from './pitr.js';

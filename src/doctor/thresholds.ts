/**
 * Every threshold of the doctor, with where it comes from. Defaults are the documented values
 * (docs/doctor.md); `--threshold name=value` overrides one for a run (tests use low values rather
 * than waiting a minute).
 *
 * Sources:
 * - heroku pg-extras and its `diagnose` (ruby-pg-extras DiagnoseData), "pg-extras" below;
 * - PgHero (ankane/pghero), its default settings and queries;
 * - check_postgres (bucardo), its default warning/critical values;
 * - pgvector's README for the ivfflat `lists` rule;
 * - Crunchy Data pgMonitor's alert rules (PGReplicationByteLag, PGReplicationSlotsInactive) and the
 *   PostgreSQL manual for replication.
 */
import { parseDuration } from '../config/config.js';
import { usageError } from '../errors.js';

/** Cache hit ratio below this warns. PgHero `cache_hit_rate_threshold` 99 (%); pg-extras asks ≥ 0.99 in its docs. */
export const CACHE_HIT_RATIO_MIN = 0.99;
/**
 * No cache-hit verdict before this many blocks were read or hit: a new database has no sample (a
 * fresh `init` reads ~5,000 blocks, mostly cold, and would warn at once). Ours.
 */
export const CACHE_HIT_MIN_BLOCKS = 20_000;
/** Connections in use over the slots open to non-superusers (max_connections less the reserved ones): warn above 75 %, fail above 90 %. check_postgres `backends` style (it, too, subtracts superuser_reserved_connections). */
export const CONNECTIONS_WARN_RATIO = 0.75;
export const CONNECTIONS_FAIL_RATIO = 0.9;
/** A session idle in transaction longer than this warns. PgHero/pg-extras diagnose: 1 minute. */
export const IDLE_IN_TRANSACTION_MS = 60_000;
/** A query running longer than this warns. pg-extras `long_running_queries`: 5 minutes. */
export const LONG_QUERY_MS = 5 * 60_000;
/**
 * A transaction open longer than this warns, whatever its session is doing (check_postgres
 * `txn_time`, which has no default): it holds the xmin horizon, so vacuum keeps every row version
 * deleted since it began, in every table. Ours: the long-query budget.
 */
export const LONG_TRANSACTION_MS = LONG_QUERY_MS;
/** No unused-index verdict until statistics are this old. PgHero advises waiting after a stats reset; 7 days covers a weekly cycle. */
export const STATS_MIN_AGE_MS = 7 * 86_400_000;
/** Sequential-scan check: tables with at least this many live rows (PgHero missing_indexes: 10,000) ... */
export const SEQ_SCAN_MIN_ROWS = 10_000;
/** ... where indexes serve under this share of scans (PgHero: 95 %). */
export const SEQ_SCAN_INDEX_PERCENT_MIN = 95;
/** Slow statement: mean time above this (PgHero `slow_query_ms` 20) ... */
export const SLOW_QUERY_MS = 20;
/** ... with at least this many calls (PgHero `slow_query_calls` 100). */
export const SLOW_QUERY_CALLS = 100;
/** Statements listed by mean and by total time. pg-extras `outliers`/`calls` show 10. */
export const SLOW_QUERY_TOP = 10;
/** Transaction-id age: warn above 1.0 billion (≈ half of 2^31), fail above 1.3 billion (check_postgres `txn_wraparound` warning value; the issue asks it fail). */
export const XID_AGE_WARN = 1_000_000_000;
export const XID_AGE_FAIL = 1_300_000_000;
/**
 * Multixact-id age (mxid_age(datminmxid)): multixacts (row locks shared by several transactions,
 * foreign-key checks among them) wrap around at 2^31 as transaction ids do, and PostgreSQL stops
 * them the same way. The same values as for transaction ids; ours (check_postgres has no multixact action).
 */
export const MXID_AGE_WARN = XID_AGE_WARN;
export const MXID_AGE_FAIL = XID_AGE_FAIL;
/** A sequence used above 85 % of its maximum (the column type's, when smaller) warns, above 95 % fails. PgHero sequence_danger uses 90 %; check_postgres `sequence` warns 85 %, criticals 95 %. */
export const SEQUENCE_WARN_RATIO = 0.85;
export const SEQUENCE_FAIL_RATIO = 0.95;
/**
 * Dead tuples (and rows changed since the last analyze): warn when a table holds at least this many
 * and more than autovacuum's own trigger for it (threshold + scale factor × reltuples, from its
 * reloptions or the server's settings): autovacuum is not keeping up. Ours.
 */
export const DEAD_TUPLES_MIN = 10_000;
/** ivfflat lists: rows/1000 up to 1M rows, sqrt(rows) above (pgvector README); off by more than this factor warns. */
export const IVFFLAT_LISTS_TOLERANCE = 2;
/** No ivfflat lists verdict under this many rows (pgvector: build the index once the table has data). */
export const IVFFLAT_MIN_ROWS = 1000;
/**
 * The newest verified backup of the database: older than this warns (a nightly backup plus two
 * hours of slack; check_postgres has no backup check, pgBackRest's check_pgbackrest warns on the
 * age of the last backup with a user-set value), older than the second fails (a missed week).
 */
export const BACKUP_AGE_WARN_MS = 26 * 3_600_000;
export const BACKUP_AGE_FAIL_MS = 7 * 86_400_000;
/**
 * A database a restore replaced and kept (`<db>_pre_restore_<time>`, the way back): older than a
 * week warns. It holds the old data (for this platform, controlled unclassified information) for as
 * long as it is kept, outside every backup's retention; a week covers checking the restored one.
 */
export const KEPT_DATABASE_AGE_MS = 7 * 86_400_000;
/** A standby's replay lag in bytes: warn above 50 MB, fail above 100 MB (pgMonitor `PGReplicationByteLag`). */
export const REPLICATION_LAG_WARN_BYTES = 50 * 1024 * 1024;
export const REPLICATION_LAG_FAIL_BYTES = 100 * 1024 * 1024;
/**
 * A standby's replay lag in time (pg_stat_replication.replay_lag): warn above 1 minute, fail above
 * 5 minutes. Ours: pgMonitor alerts on bytes only; a minute is the `idle in transaction` budget above,
 * and five the long-query one.
 */
export const REPLICATION_LAG_WARN_MS = 60_000;
export const REPLICATION_LAG_FAIL_MS = 5 * 60_000;
/**
 * A replication slot retaining more WAL than this fails; 0 means the server's own max_wal_size
 * (the WAL a checkpoint cycle is sized for: a slot holding more is holding the disk). Ours.
 */
export const SLOT_RETAINED_BYTES = 0;
/** The doctor's own session: it must never hang the database it examines. */
export const DOCTOR_STATEMENT_TIMEOUT_MS = 10_000;
export const DOCTOR_LOCK_TIMEOUT_MS = 2_000;

export interface Thresholds {
  cacheHitRatio: number;
  cacheHitMinBlocks: number;
  connectionsWarn: number;
  connectionsFail: number;
  idleInTransactionMs: number;
  longQueryMs: number;
  longTransactionMs: number;
  statsMinAgeMs: number;
  seqScanMinRows: number;
  seqScanIndexPercent: number;
  slowQueryMs: number;
  slowQueryCalls: number;
  xidAgeWarn: number;
  xidAgeFail: number;
  mxidAgeWarn: number;
  mxidAgeFail: number;
  sequenceWarn: number;
  sequenceFail: number;
  deadTuplesMin: number;
  backupAgeWarnMs: number;
  backupAgeFailMs: number;
  keptDatabaseAgeMs: number;
  replicationLagWarnBytes: number;
  replicationLagFailBytes: number;
  replicationLagWarnMs: number;
  replicationLagFailMs: number;
  slotRetainedBytes: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  cacheHitRatio: CACHE_HIT_RATIO_MIN,
  cacheHitMinBlocks: CACHE_HIT_MIN_BLOCKS,
  connectionsWarn: CONNECTIONS_WARN_RATIO,
  connectionsFail: CONNECTIONS_FAIL_RATIO,
  idleInTransactionMs: IDLE_IN_TRANSACTION_MS,
  longQueryMs: LONG_QUERY_MS,
  longTransactionMs: LONG_TRANSACTION_MS,
  statsMinAgeMs: STATS_MIN_AGE_MS,
  seqScanMinRows: SEQ_SCAN_MIN_ROWS,
  seqScanIndexPercent: SEQ_SCAN_INDEX_PERCENT_MIN,
  slowQueryMs: SLOW_QUERY_MS,
  slowQueryCalls: SLOW_QUERY_CALLS,
  xidAgeWarn: XID_AGE_WARN,
  xidAgeFail: XID_AGE_FAIL,
  mxidAgeWarn: MXID_AGE_WARN,
  mxidAgeFail: MXID_AGE_FAIL,
  sequenceWarn: SEQUENCE_WARN_RATIO,
  sequenceFail: SEQUENCE_FAIL_RATIO,
  deadTuplesMin: DEAD_TUPLES_MIN,
  backupAgeWarnMs: BACKUP_AGE_WARN_MS,
  backupAgeFailMs: BACKUP_AGE_FAIL_MS,
  keptDatabaseAgeMs: KEPT_DATABASE_AGE_MS,
  replicationLagWarnBytes: REPLICATION_LAG_WARN_BYTES,
  replicationLagFailBytes: REPLICATION_LAG_FAIL_BYTES,
  replicationLagWarnMs: REPLICATION_LAG_WARN_MS,
  replicationLagFailMs: REPLICATION_LAG_FAIL_MS,
  slotRetainedBytes: SLOT_RETAINED_BYTES,
};

type Kind = 'ms' | 'number' | 'ratio';
/** The names accepted by `--threshold name=value` and what each value is. */
export const THRESHOLD_NAMES: Record<string, { key: keyof Thresholds; kind: Kind }> = {
  'cache-hit-ratio': { key: 'cacheHitRatio', kind: 'ratio' },
  'cache-hit-min-blocks': { key: 'cacheHitMinBlocks', kind: 'number' },
  'connections-warn': { key: 'connectionsWarn', kind: 'ratio' },
  'connections-fail': { key: 'connectionsFail', kind: 'ratio' },
  'idle-in-transaction': { key: 'idleInTransactionMs', kind: 'ms' },
  'long-query': { key: 'longQueryMs', kind: 'ms' },
  'long-transaction': { key: 'longTransactionMs', kind: 'ms' },
  'stats-age': { key: 'statsMinAgeMs', kind: 'ms' },
  'seq-scan-min-rows': { key: 'seqScanMinRows', kind: 'number' },
  'seq-scan-index-percent': { key: 'seqScanIndexPercent', kind: 'number' },
  'slow-query-ms': { key: 'slowQueryMs', kind: 'number' },
  'slow-query-calls': { key: 'slowQueryCalls', kind: 'number' },
  'xid-age-warn': { key: 'xidAgeWarn', kind: 'number' },
  'xid-age-fail': { key: 'xidAgeFail', kind: 'number' },
  'mxid-age-warn': { key: 'mxidAgeWarn', kind: 'number' },
  'mxid-age-fail': { key: 'mxidAgeFail', kind: 'number' },
  'sequence-warn': { key: 'sequenceWarn', kind: 'ratio' },
  'sequence-fail': { key: 'sequenceFail', kind: 'ratio' },
  'dead-tuples-min': { key: 'deadTuplesMin', kind: 'number' },
  'backup-age-warn': { key: 'backupAgeWarnMs', kind: 'ms' },
  'backup-age-fail': { key: 'backupAgeFailMs', kind: 'ms' },
  'kept-database-age': { key: 'keptDatabaseAgeMs', kind: 'ms' },
  'replication-lag-warn-bytes': { key: 'replicationLagWarnBytes', kind: 'number' },
  'replication-lag-fail-bytes': { key: 'replicationLagFailBytes', kind: 'number' },
  'replication-lag-warn': { key: 'replicationLagWarnMs', kind: 'ms' },
  'replication-lag-fail': { key: 'replicationLagFailMs', kind: 'ms' },
  'slot-retained-bytes': { key: 'slotRetainedBytes', kind: 'number' },
};

/** Applies `name=value` overrides (durations like 1s, 5min; ratios like 0.9 or 90%). Usage errors exit 2. */
export function resolveThresholds(overrides: string[] = []): Thresholds {
  const t: Thresholds = { ...DEFAULT_THRESHOLDS };
  for (const item of overrides) {
    const m = /^([a-z-]+)=(.+)$/.exec(item.trim());
    const spec = m ? THRESHOLD_NAMES[m[1]] : undefined;
    if (!m || !spec) {
      throw usageError(`unknown threshold "${item}"`, `use name=value with a name among: ${Object.keys(THRESHOLD_NAMES).join(', ')}`);
    }
    const raw = m[2].trim();
    let value: number | undefined;
    if (spec.kind === 'ms') value = parseDuration(raw);
    else if (spec.kind === 'ratio') value = raw.endsWith('%') ? Number(raw.slice(0, -1)) / 100 : Number(raw);
    else value = Number(raw);
    if (value === undefined || !Number.isFinite(value) || value < 0) {
      throw usageError(`threshold ${m[1]}: "${raw}" is not a ${spec.kind === 'ms' ? 'duration (1s, 5min)' : spec.kind === 'ratio' ? 'ratio (0.9 or 90%)' : 'number'}`);
    }
    t[spec.key] = value;
  }
  return t;
}

/** The shapes every doctor check shares. */
import type postgres from 'postgres';
import type { CmmcConfig } from '../config/config.js';
import type { DbHandle } from '../db/connection.js';
import type { Thresholds } from './thresholds.js';

/**
 * ok, warn, fail as Nagios' OK, WARNING, CRITICAL; unknown when the check could not look;
 * skipped when what it needs is absent by design (an extension not installed or not preloaded, no
 * backups kept here, `--skip`): not a fault, so it does not raise the exit code.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'unknown' | 'skipped';

export interface CheckResult {
  /** `family.name`, for example `indexes.unused`. */
  id: string;
  title: string;
  status: CheckStatus;
  /** The one figure the status rests on, in words. */
  figure: string;
  /** What to do about it, in one line ('' when there is nothing to do). */
  remedy: string;
  /** The rows behind the figure (shown with --verbose, always in --json). */
  rows?: Record<string, unknown>[];
  /** Set when the role could not see everything this check looks at. */
  partial?: string;
}

/** What the doctor's role may see. */
export interface Access {
  role: string;
  superuser: boolean;
  /** Member of pg_read_all_stats (pg_monitor includes it): sees every session's query and state. */
  readAllStats: boolean;
}

export interface DoctorContext {
  handle: DbHandle;
  sql: postgres.Sql;
  config: CmmcConfig;
  thresholds: Thresholds;
  /** The embedded database (PGlite): no server, no server statistics. */
  embedded: boolean;
  access: Access;
  /** The backup folder asked for (`report --dir`); undefined: the default one. */
  backupDir?: string;
  /** Where track_counts is off (`countersOff`), when a check of this run needs the counters; null when counting everywhere. */
  countersOff?: CountersOff | null;
}

/** Settings that keep PostgreSQL from counting some or all of this database's activity. */
export interface CountersOff {
  /** In words: "track_counts = off for the server", "... for role app in this database". */
  where: string[];
  /** The statements (or the postgresql.conf change) that turn counting back on. */
  fixes: string[];
}

/** What a check's `run` returns; the runner adds its id and title. */
export type Finding = Omit<CheckResult, 'id' | 'title'>;

export interface Check {
  /** `family.name`. */
  id: string;
  title: string;
  /** It reads server statistics (pg_stat_*, pg_stat_activity): not available on the embedded database. */
  needsServer: boolean;
  /**
   * It judges by PostgreSQL's activity counters (idx_scan, n_dead_tup, blocks hit): unknown where
   * track_counts is off for the server, this database or a role, since what it reads is then short.
   */
  needsCounters?: boolean;
  run(ctx: DoctorContext): Promise<Finding>;
}

/** A family of checks: one module. */
export interface CheckFamily {
  name: string;
  checks: Check[];
}

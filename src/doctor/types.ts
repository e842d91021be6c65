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
}

/** What a check's `run` returns; the runner adds its id and title. */
export type Finding = Omit<CheckResult, 'id' | 'title'>;

export interface Check {
  /** `family.name`. */
  id: string;
  title: string;
  /** It reads server statistics (pg_stat_*, pg_stat_activity): not available on the embedded database. */
  needsServer: boolean;
  run(ctx: DoctorContext): Promise<Finding>;
}

/** A family of checks: one module. */
export interface CheckFamily {
  name: string;
  checks: Check[];
}

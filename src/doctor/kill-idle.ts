/**
 * Ending idle connections. Lists the sessions that match and, only when asked, ends them with
 * pg_terminate_backend. Never: its own session, other databases (unless allDatabases), superusers'
 * sessions (unless includeSuperusers), anything but a client backend (no autovacuum, walsender,
 * replication or background workers), and listeners: a session whose last statement was LISTEN
 * waits for notifications while idle, and pg_listening_channels() only answers for the current
 * session, so a session whose last query starts with LISTEN counts as a listener.
 * Idleness is measured from state_change (when the session went idle), not backend_start.
 */
import type { DbHandle } from '../db/connection.js';

export type IdleState = 'idle' | 'idle-in-transaction';

export interface KillIdleOptions {
  olderThanMs: number;
  states: IdleState[];
  allDatabases?: boolean;
  includeSuperusers?: boolean;
  /** Terminate the matches; without it nothing is touched. */
  terminate?: boolean;
  /**
   * The sessions of a plan shown before (a listing's `matched`): only these are ended, each if it
   * still matches and is the same session (pid and backend start), never one that matched since.
   */
  only?: IdleSession[];
}

export interface IdleSession {
  pid: number;
  database: string;
  user: string;
  application: string;
  state: string;
  since: string;
  idleSeconds: number;
  /** When the session connected, as PostgreSQL prints it: with the pid, it tells the session from a later one given the same pid. */
  backendStart: string;
}

export interface KillIdleResult {
  matched: IdleSession[];
  terminated: number[];
  /** Matches that were no longer idle (or were gone) when it came to ending them. */
  skipped: number[];
  /** Matches the role may not end (it needs pg_signal_backend, or to be the session's role), with the reason. */
  failed: { pid: number; error: string }[];
  dryRun: boolean;
  suggestion: string;
}

const STATE_NAMES: Record<IdleState, string[]> = {
  idle: ['idle'],
  'idle-in-transaction': ['idle in transaction', 'idle in transaction (aborted)'],
};

export const TIMEOUT_SUGGESTION =
  "for a lasting fix set timeouts on the application role: ALTER ROLE app SET idle_in_transaction_session_timeout = '5min'; ALTER ROLE app SET idle_session_timeout = '1h' (PostgreSQL 14+)";

/** Lists (and, with terminate, ends) the idle sessions that match. */
export async function killIdle(handle: DbHandle, options: KillIdleOptions): Promise<KillIdleResult> {
  const states = options.states.flatMap((s) => STATE_NAMES[s]);
  const where = (sql: DbHandle['sql']) => sql`
         a.pid <> pg_backend_pid()
     AND a.backend_type = 'client backend'
     AND a.state = ANY(${states})
     AND now() - a.state_change > ${options.olderThanMs}::float8 * interval '1 millisecond'
     AND ltrim(coalesce(a.query, '')) !~* '^listen\\M'
     ${options.allDatabases ? sql`` : sql`AND a.datname = current_database()`}
     ${options.includeSuperusers ? sql`` : sql`AND NOT coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.oid = a.usesysid), false)`}`;
  const sql = handle.sql;
  const rows = options.only
    ? []
    : await sql<{ pid: number; database: string; user: string; application: string; state: string; since: Date; idle_s: number; backend_start: string }[]>`
    SELECT a.pid, a.datname AS database, a.usename AS "user", a.application_name AS application, a.state,
           a.state_change AS since, extract(epoch FROM now() - a.state_change)::float8 AS idle_s, a.backend_start::text AS backend_start
      FROM pg_stat_activity a
     WHERE ${where(sql)}
     ORDER BY a.state_change`;
  const matched: IdleSession[] =
    options.only ??
    rows.map((r) => ({
      pid: r.pid,
      database: r.database,
      user: r.user,
      application: r.application,
      state: r.state,
      since: r.since.toISOString(),
      idleSeconds: Math.round(r.idle_s),
      backendStart: r.backend_start,
    }));
  const result: KillIdleResult = { matched, terminated: [], skipped: [], failed: [], dryRun: !options.terminate, suggestion: TIMEOUT_SUGGESTION };
  if (!options.terminate || matched.length === 0) return result;
  // One at a time, with the same conditions again at the moment of ending: a session that woke up
  // since the listing is spared, and one the role may not signal is reported, not fatal.
  for (const m of matched) {
    try {
      const [row] = await sql<{ ok: boolean }[]>`
        SELECT pg_terminate_backend(a.pid) AS ok FROM pg_stat_activity a
         WHERE a.pid = ${m.pid}::int AND a.backend_start = ${m.backendStart}::text::timestamptz AND ${where(sql)}`;
      if (row?.ok) result.terminated.push(m.pid);
      else result.skipped.push(m.pid);
    } catch (err) {
      result.failed.push({ pid: m.pid, error: (err as Error).message });
    }
  }
  return result;
}

/**
 * The doctor's runner: picks the checks, runs each on its own (a failing check becomes `unknown`
 * and the others still run), and folds the statuses into one exit code in the convention of
 * Nagios and check_postgres (0 ok, 1 warning, 2 critical, 3 unknown).
 */
import type { DbHandle, OpenOptions } from '../db/connection.js';
import { isConnectionLost } from '../db/errors.js';
import { errorText, usageError } from '../errors.js';
import { DOCTOR_LOCK_TIMEOUT_MS, DOCTOR_STATEMENT_TIMEOUT_MS, DEFAULT_THRESHOLDS, type Thresholds } from './thresholds.js';
import { duration } from './format.js';
import type { Access, Check, CheckFamily, CheckResult, CheckStatus, CountersOff, DoctorContext } from './types.js';
import { schemaFamily } from './checks/schema.js';
import { sizesFamily } from './checks/sizes.js';
import { indexesFamily } from './checks/indexes.js';
import { slowQueriesFamily } from './checks/slow-queries.js';
import { connectionsFamily, gidLiteral, preparedLocks } from './checks/connections.js';
import { maintenanceFamily } from './checks/maintenance.js';
import { vectorFamily } from './checks/vector.js';
import { matviewsFamily } from './checks/matviews.js';
import { backupsFamily } from './checks/backups.js';
import { tenantFamily } from './checks/tenant-isolation.js';
import { replicationFamily } from './checks/replication.js';

export const FAMILIES: CheckFamily[] = [
  schemaFamily,
  sizesFamily,
  indexesFamily,
  slowQueriesFamily,
  connectionsFamily,
  maintenanceFamily,
  vectorFamily,
  matviewsFamily,
  backupsFamily,
  tenantFamily,
  replicationFamily,
];

export const ALL_CHECKS: Check[] = FAMILIES.flatMap((f) => f.checks);

/**
 * How the doctor opens its session: one connection (so session settings hold for every query),
 * and its own statement_timeout and lock_timeout so that it can never hang the database.
 */
export const DOCTOR_OPEN_OPTIONS: OpenOptions = {
  pool: { max: 1, min: 0 },
  // It reads: an absent embedded database is reported, not created.
  mustExist: true,
  connection: {
    statement_timeout: DOCTOR_STATEMENT_TIMEOUT_MS,
    lock_timeout: DOCTOR_LOCK_TIMEOUT_MS,
    idle_in_transaction_session_timeout: DOCTOR_STATEMENT_TIMEOUT_MS,
  },
};

/** Exit codes (Nagios / check_postgres): the worst status wins; a definite finding outranks "could not look". */
export const EXIT_CODES: Record<CheckStatus, number> = { ok: 0, skipped: 0, warn: 1, fail: 2, unknown: 3 };
const SEVERITY: CheckStatus[] = ['skipped', 'ok', 'unknown', 'warn', 'fail'];

export function overallStatus(results: { status: CheckStatus }[]): CheckStatus {
  const worst = results.reduce<CheckStatus>((w, r) => (SEVERITY.indexOf(r.status) > SEVERITY.indexOf(w) ? r.status : w), 'skipped');
  return worst === 'skipped' ? 'ok' : worst;
}

/** The checks a name stands for: a family (`indexes`) or one check (`indexes.unused`). */
function checksNamed(name: string, flag = ''): Check[] {
  const family = FAMILIES.find((f) => f.name === name);
  const hits = family ? family.checks : ALL_CHECKS.filter((c) => c.id === name);
  if (hits.length === 0) {
    throw usageError(`no check named "${name}"${flag}`, `use a family (${FAMILIES.map((f) => f.name).join(', ')}) or a check id such as indexes.unused (cmmc-db doctor --list)`);
  }
  return hits;
}

/**
 * The checks named on the command line (none = all), less those named by `--skip` (a family or a
 * check id; a skipped check is reported as `skipped`).
 */
export function selectChecks(names: string[] = [], skip: string[] = []): Check[] {
  const picked: Check[] = [];
  for (const name of names.length ? names : FAMILIES.map((f) => f.name)) for (const c of checksNamed(name)) if (!picked.includes(c)) picked.push(c);
  const skipped = new Set(skip.flatMap((name) => checksNamed(name, ' (--skip)')));
  return picked.filter((c) => !skipped.has(c));
}

export interface DoctorReport {
  status: CheckStatus;
  exitCode: number;
  database: string;
  role: string;
  /** Set when the role lacks pg_monitor / pg_read_all_stats: what it could not see. */
  limited: string | null;
  checks: CheckResult[];
}

export interface RunOptions {
  checks?: string[];
  /** Checks or families left out (`--skip`): reported as `skipped`. */
  skip?: string[];
  thresholds?: Thresholds;
  /** Called before each check (for a spinner). */
  onCheck?: (check: Check) => void;
  /** The backup folder backups.recent looks in (default: CMMC_BACKUP_DIR, else backups/ at the project root). */
  backupDir?: string;
}

export async function readAccess(handle: DbHandle): Promise<Access> {
  const [a] = await handle.sql<{ role: string; superuser: boolean; read_all_stats: boolean }[]>`
    SELECT current_user AS role,
           coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false) AS superuser,
           pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS read_all_stats`;
  return { role: a.role, superuser: a.superuser, readAllStats: a.superuser || a.read_all_stats };
}

/** Runs the checks on `handle` (open it with DOCTOR_OPEN_OPTIONS) and returns the report. */
export async function runDoctor(handle: DbHandle, options: RunOptions = {}): Promise<DoctorReport> {
  const checks = selectChecks(options.checks, []);
  const skipped = new Set(checks.filter((c) => !selectChecks(options.checks, options.skip ?? []).includes(c)));
  const embedded = handle.config.kind === 'embedded';
  const access = await readAccess(handle);
  if (access.superuser && !embedded) {
    // Keep the doctor's own catalogue reads out of the statement statistics it reports.
    await handle.sql`SET pg_stat_statements.track = 'none'`.catch(() => {});
  }
  const counted = !embedded && checks.some((c) => c.needsCounters && !skipped.has(c));
  const ctx: DoctorContext = {
    handle,
    sql: handle.sql,
    config: handle.config,
    thresholds: options.thresholds ?? DEFAULT_THRESHOLDS,
    embedded,
    access,
    backupDir: options.backupDir,
    countersOff: counted ? await countersOff(handle.sql).catch(() => null) : null,
  };
  const [{ database }] = await handle.sql<{ database: string }[]>`SELECT current_database() AS database`;
  const results: CheckResult[] = [];
  for (const check of checks) {
    if (skipped.has(check)) {
      results.push({ id: check.id, title: check.title, status: 'skipped', figure: 'skipped with --skip', remedy: '' });
      continue;
    }
    options.onCheck?.(check);
    results.push(await runOne(ctx, check));
  }
  const status = overallStatus(results);
  const partial = results.filter((r) => r.partial).map((r) => r.id);
  const limited = partial.length
    ? `role ${access.role} is not a member of pg_monitor (pg_read_all_stats): ${partial.join(', ')} could not see every session — GRANT pg_monitor TO ${access.role}`
    : null;
  return { status, exitCode: EXIT_CODES[status], database, role: access.role, limited, checks: results };
}

async function runOne(ctx: DoctorContext, check: Check): Promise<CheckResult> {
  const head = { id: check.id, title: check.title };
  if (ctx.embedded && check.needsServer) {
    return { ...head, status: 'unknown', figure: 'needs a PostgreSQL server: the embedded database keeps no server statistics', remedy: 'run it against a server (DATABASE_URL)' };
  }
  if (check.needsCounters && ctx.countersOff) {
    const off = ctx.countersOff;
    return {
      ...head,
      status: 'unknown',
      figure: `PostgreSQL's counters miss activity here: track_counts = off ${off.where.join(', ')}`,
      remedy: `${off.fixes.join('; ')}; then wait for the counters to cover a normal cycle (stats-age) before judging by them`,
    };
  }
  try {
    return { ...head, ...(await check.run(ctx)) };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (isConnectionLost(err)) {
      return { ...head, status: 'unknown', figure: `could not run: the connection to PostgreSQL was lost (${e.code ?? 'closed'})`, remedy: 'run the doctor again once the server accepts connections' };
    }
    const remedy =
      e.code === '57014'
        ? `timed out after ${DOCTOR_STATEMENT_TIMEOUT_MS / 1000}s (the doctor's statement_timeout): run it again when the server is less busy`
        : e.code === '55P03'
          ? `waited over ${DOCTOR_LOCK_TIMEOUT_MS / 1000}s for a lock (the doctor's lock_timeout): ${await lockHolders(ctx)}`
          : e.code === '42501'
            ? privilegeRemedy(e.message ?? '', ctx.access.role)
            : 'run with --debug, or report it';
    return { ...head, status: 'unknown', figure: `could not run: ${errorText(err).split('\n')[0]}`, remedy };
  }
}

/**
 * What lets the role do what it was refused. A table, schema or function names its own grant
 * (pg_monitor gives no SELECT on a table); anything else is a statistics view or function that
 * pg_monitor opens.
 */
export function privilegeRemedy(message: string, role: string): string {
  const m = /permission denied for (table|view|materialized view|sequence|schema|function) (.+)$/.exec(message.split('\n')[0]);
  if (!m) return `GRANT pg_monitor TO ${role}`;
  const [, kind, name] = m;
  const grant = kind === 'schema' ? `GRANT USAGE ON SCHEMA ${name}` : kind === 'function' ? `GRANT EXECUTE ON FUNCTION ${name}` : `GRANT SELECT ON ${kind === 'sequence' ? 'SEQUENCE ' : ''}${name}`;
  return `${grant} TO ${role}, or run the doctor as a role that may (its owner)`;
}

/**
 * Where track_counts is off: for the doctor's own session (the server's setting, or this
 * database's), or by ALTER ROLE [IN DATABASE] for roles whose sessions then go uncounted
 * (pg_db_role_setting, readable by every role). With any of them, an index scanned only by such
 * sessions shows idx_scan = 0 and indexes.unused would call it unused.
 */
export async function countersOff(sql: DoctorContext['sql']): Promise<CountersOff | null> {
  const [own] = await sql<{ on: boolean }[]>`SELECT current_setting('track_counts')::boolean AS on`;
  const settings = await sql<{ role: string | null; database: string | null }[]>`
    SELECT r.rolname AS role, d.datname AS database
      FROM pg_db_role_setting s
      LEFT JOIN pg_roles r ON r.oid = s.setrole
      LEFT JOIN pg_database d ON d.oid = s.setdatabase
     WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
       -- PostgreSQL takes any unique prefix of off, false, no, and 0.
       AND EXISTS (SELECT 1 FROM unnest(s.setconfig) c WHERE lower(c) ~ '^track_counts=(of|off|f|fa|fal|fals|false|n|no|0)$')
     ORDER BY 1 NULLS FIRST, 2`;
  const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
  const where: string[] = [];
  const fixes: string[] = [];
  for (const s of settings) {
    if (s.role === null && s.database) {
      where.push('for this database');
      fixes.push(`ALTER DATABASE ${ident(s.database)} RESET track_counts`);
    } else if (s.role) {
      where.push(`for role ${s.role}${s.database ? ' in this database' : ''}`);
      fixes.push(`ALTER ROLE ${ident(s.role)}${s.database ? ` IN DATABASE ${ident(s.database)}` : ''} RESET track_counts`);
    }
  }
  if (!own.on && where.length === 0) {
    where.push('for the server');
    fixes.push('set track_counts = on in postgresql.conf and reload (or drop -c track_counts=off from the connection options)');
  }
  return where.length ? { where, fixes } : null;
}

/**
 * Who kept a check from its locks, for its remedy: the sessions that hold (or wait in the queue for)
 * an ACCESS EXCLUSIVE lock on a relation of this database — the only mode that blocks the doctor's
 * reads (ACCESS SHARE), directly or by queueing ahead of them. Once the doctor's statement has given
 * up it no longer waits, so connections.blocked cannot show these: a session that holds the lock and
 * blocks no one else is seen only here. A prepared transaction holding one has no session: it is
 * named by its gid (`preparedLocks`).
 */
async function lockHolders(ctx: DoctorContext): Promise<string> {
  try {
    const rows = await ctx.sql<{ pid: number; granted: boolean; relation: string; user: string | null; application: string | null; state: string | null; xact_ms: number | null }[]>`
      SELECT l.pid, l.granted, l.relation::regclass::text AS relation, a.usename AS "user", a.application_name AS application, a.state,
             (extract(epoch FROM now() - a.xact_start) * 1000)::float8 AS xact_ms
        FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid()
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       ORDER BY l.granted DESC, a.xact_start NULLS LAST, l.pid
       LIMIT 5`;
    // A prepared transaction's locks have no session (pid null): named by its gid, and ended by COMMIT/ROLLBACK PREPARED.
    const prepared = (await preparedLocks(ctx.sql)).filter((l) => l.mode === 'AccessExclusiveLock');
    if (!rows.length && !prepared.length) return 'the lock was released meanwhile; run the doctor again';
    const who = [
      ...prepared.map((p) => `prepared transaction ${gidLiteral(p.gid)} (${p.owner}, prepared ${duration(p.age_ms)} ago, no session) holds ACCESS EXCLUSIVE on ${p.relation}`),
      ...rows.map((r) => {
        const about = [r.user, r.application, r.state ? `${r.state}${r.xact_ms !== null ? `, its transaction open ${duration(r.xact_ms)}` : ''}` : null].filter(Boolean).join(', ');
        return `pid ${r.pid}${about ? ` (${about})` : ''} ${r.granted ? 'holds' : 'waits for'} ACCESS EXCLUSIVE on ${r.relation}`;
      }),
    ].slice(0, 5);
    if (prepared.length) {
      const gid = gidLiteral(prepared[0].gid);
      return `${who.join('; ')}: let its transaction manager finish it, or end it (COMMIT PREPARED ${gid} or ROLLBACK PREPARED ${gid}), and run the doctor again`;
    }
    const pids = [...new Set(rows.map((r) => r.pid))];
    return `${who.join('; ')}: let it finish, or end it (SELECT pg_terminate_backend(${pids[0]})), and run the doctor again`;
  } catch {
    return 'see cmmc-db doctor connections.blocked';
  }
}

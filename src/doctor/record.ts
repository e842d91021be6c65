/**
 * `doctor --record`: keeps each doctor run in the engine's own schema (`cmmc_db.doctor_runs`), so
 * that `cmmc-db report` can draw sizes and statements over time. A run stores what the runner
 * reported (every check's status, figure, remedy and rows) plus the series the report charts:
 * table sizes (from `sizes.tables`), index sizes and scans, top statements (from `slow-queries.top`,
 * when pg_stat_statements is there), connection counts and replication figures (server only).
 * Runs older than the retention (default 90 days) are deleted in the same transaction.
 */
import type postgres from 'postgres';
import type { DbHandle } from '../db/connection.js';
import { CmmcError } from '../errors.js';
import { recordedTableRevokes } from '../tenant/roles.js';
import { checkDays, checkRetentionDays, DEFAULT_RETENTION_DAYS } from './days.js';
import { ALL_CHECKS, runDoctor, type DoctorReport } from './run.js';
import type { CheckResult, CheckStatus } from './types.js';

export { checkDays, checkRetentionDays, DEFAULT_RETENTION_DAYS, MAX_DAYS } from './days.js';

/** One table's sizes in a run (bytes; rows is the planner's estimate, reltuples, null before the table's first ANALYZE). */
export interface TableSize {
  table: string;
  rows: number | null;
  table_bytes: number;
  index_bytes: number;
  toast_bytes: number;
  total_bytes: number;
}

export interface IndexSize {
  index: string;
  table: string;
  bytes: number;
  /** idx_scan since statistics began; null on the embedded database (no statistics). */
  scans: number | null;
}

/** A statement of `slow-queries.top` (times in milliseconds, counters since the last reset). */
export interface StatementFigure {
  query: string;
  calls: number;
  mean_ms: number;
  total_ms: number;
  rows: number;
}

export interface ConnectionFigures {
  max: number;
  total: number;
  byState: Record<string, number>;
}

/** Replication as the doctor's replication checks saw it (rows of replication.role, .lag and .slots). */
export interface ReplicationFigures {
  role: 'primary' | 'standby';
  standbys: Record<string, unknown>[];
  lag: Record<string, unknown>[];
  slots: Record<string, unknown>[];
}

/** One recorded run, as stored and as read back. */
export interface RecordedRun {
  id: number;
  recordedAt: string;
  database: string;
  role: string;
  status: CheckStatus;
  embedded: boolean;
  checks: CheckResult[];
  tables: TableSize[];
  indexes: IndexSize[];
  /** null when pg_stat_statements is not available. */
  statements: StatementFigure[] | null;
  /** null on the embedded database. */
  connections: ConnectionFigures | null;
  /** null when the server neither streams to a standby, is one, nor has slots. */
  replication: ReplicationFigures | null;
}

export interface RecordOptions {
  /** Runs older than this many days are deleted (default 90). */
  retentionDays?: number;
  /** The meta schema (config.metaSchema, `cmmc_db` by default). */
  metaSchema?: string;
}

export interface RecordResult {
  id: number;
  recordedAt: string;
  /** Older runs deleted by the retention. */
  pruned: number;
  retentionDays: number;
  /** The runs table, qualified. */
  table: string;
}

/** Checks whose figures a record needs; run when the report at hand did not include them. */
const NEEDED = ['sizes.tables', 'slow-queries.top', 'connections.usage', 'replication.role', 'replication.lag', 'replication.slots'];

function runsTable(metaSchema: string): string {
  return `"${metaSchema.replace(/"/g, '""')}".doctor_runs`;
}

/** The statements that create the runs table when missing (idempotent). */
export function runsTableStatements(metaSchema: string): string[] {
  const t = runsTable(metaSchema);
  return [
    `CREATE SCHEMA IF NOT EXISTS "${metaSchema.replace(/"/g, '""')}"`,
    `CREATE TABLE IF NOT EXISTS ${t} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    database text NOT NULL,
    role text NOT NULL,
    status text NOT NULL CHECK (status IN ('ok', 'warn', 'fail', 'unknown', 'skipped')),
    embedded boolean NOT NULL DEFAULT false,
    checks jsonb NOT NULL,
    tables jsonb NOT NULL,
    indexes jsonb NOT NULL,
    statements jsonb,
    connections jsonb,
    replication jsonb
)`,
    `CREATE INDEX IF NOT EXISTS doctor_runs_recorded_at ON ${t} (recorded_at)`,
  ];
}

/**
 * Makes the runs table, when missing, as the owner of its schema when the recording role is another
 * role that may act as it (a superuser). Recorded first by a superuser (the doctor's advice for its
 * fullest view), the table was the superuser's, without the grants the owner's default privileges
 * give (its bypass role's SELECT), and every later `backup create` as the owner failed (pg_dump:
 * permission denied for table doctor_runs). Made as the owner, it is what the owner would have made.
 */
async function createRunsTable(tx: postgres.TransactionSql, metaSchema: string, table: string): Promise<void> {
  const [owner] = await tx<{ role: string; actAs: boolean }[]>`
    SELECT n.nspowner::regrole::text AS role,
           to_regclass(${table}) IS NULL AND n.nspowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user) AND pg_has_role(n.nspowner, 'MEMBER') AS "actAs"
      FROM pg_namespace n WHERE n.nspname = ${metaSchema}`;
  if (owner?.actAs) await tx.unsafe(`SET LOCAL ROLE ${owner.role}`);
  for (const statement of runsTableStatements(metaSchema)) await tx.unsafe(statement);
  if (owner?.actAs) await tx.unsafe('RESET ROLE');
}

/**
 * Stores `report` as one run in `<metaSchema>.doctor_runs` (created when missing) and deletes runs
 * older than the retention. Figures the report lacks (when only some checks were asked for) are
 * taken by running those checks. Throws a CmmcError when the role may not create or write the table.
 *
 * @example
 * ```ts
 * const handle = await openDatabase(config, DOCTOR_OPEN_OPTIONS);
 * const report = await runDoctor(handle);
 * const { id, pruned } = await recordRun(handle, report, { retentionDays: 90 });
 * ```
 */
export async function recordRun(handle: DbHandle, report: DoctorReport, options: RecordOptions = {}): Promise<RecordResult> {
  const retentionDays = checkRetentionDays(options.retentionDays ?? DEFAULT_RETENTION_DAYS);
  const metaSchema = options.metaSchema ?? handle.config.metaSchema;
  const embedded = handle.config.kind === 'embedded';
  const sql = handle.sql;

  const missing = NEEDED.filter((id) => ALL_CHECKS.some((c) => c.id === id) && !report.checks.some((c) => c.id === id));
  const extra = missing.length ? (await runDoctor(handle, { checks: missing })).checks : [];
  const find = (id: string) => report.checks.find((c) => c.id === id) ?? extra.find((c) => c.id === id);

  const tables = tablesFrom(find('sizes.tables'));
  const statements = statementsFrom(find('slow-queries.top'));
  const indexes = await indexSizes(handle, embedded);
  const connections = embedded ? null : await connectionFigures(handle, find('connections.usage'));
  const replication = replicationFrom(find('replication.role'), find('replication.lag'), find('replication.slots'));

  const table = runsTable(metaSchema);
  try {
    return await sql.begin(async (tx) => {
      await createRunsTable(tx, metaSchema, table);
      // The owner's default privileges in the schema gave the application role SELECT: a run holds
      // other roles' statements and every tenant's counts (RECORDED_TABLES).
      for (const statement of await recordedTableRevokes(tx, table)) await tx.unsafe(statement);
      const [row] = await tx.unsafe<{ id: string; recorded_at: Date }[]>(
        `INSERT INTO ${table} (database, role, status, embedded, checks, tables, indexes, statements, connections, replication)
         VALUES ($1, $2, $3, $4, $5::text::jsonb, $6::text::jsonb, $7::text::jsonb, $8::text::jsonb, $9::text::jsonb, $10::text::jsonb)
         RETURNING id, recorded_at`,
        [
          report.database,
          report.role,
          report.status,
          embedded,
          JSON.stringify(report.checks),
          JSON.stringify(tables),
          JSON.stringify(indexes),
          statements === null ? null : JSON.stringify(statements),
          connections === null ? null : JSON.stringify(connections),
          replication === null ? null : JSON.stringify(replication),
        ],
      );
      const pruned = await tx.unsafe(`DELETE FROM ${table} WHERE recorded_at < now() - make_interval(days => $1::int)`, [retentionDays]);
      return { id: Number(row.id), recordedAt: new Date(row.recorded_at).toISOString(), pruned: pruned.count, retentionDays, table };
    });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === '42501') {
      throw new CmmcError('doctor.record', `role ${report.role} may not write ${table}: ${e.message}`, {
        hint: `GRANT CREATE ON SCHEMA ${metaSchema} (or ownership of ${table}) to ${report.role}, or record as the migration role`,
      });
    }
    if (e.code === '25006') {
      throw new CmmcError('doctor.record', `cannot record on a read-only server (a standby): ${e.message}`, {
        hint: 'record on the primary; its runs replicate to the standbys',
      });
    }
    throw err;
  }
}

export interface ReadRunsOptions {
  metaSchema?: string;
  /** Only the runs of the last N days. */
  sinceDays?: number;
  /**
   * At most this many runs, spread over the window: the first, and the last of each of the
   * `atMost - 1` groups of consecutive runs (so the latest is always among them). A chart cannot
   * show more points than it is wide, and every 15 minutes for 90 days is 8,640 runs.
   */
  atMost?: number;
  /** Leave each run's `checks` out ([]): they are most of a run's size, and a chart draws none of them. */
  withoutChecks?: boolean;
}

/** How many runs are recorded in the window, and the first and last instants (ISO); runs 0 when nothing was ever recorded. */
export interface RunCount {
  runs: number;
  first: string | null;
  last: string | null;
}

const IN_WINDOW = 'recorded_at >= now() - make_interval(days => $1::int) OR $1::int IS NULL';

/** The runs table when it exists, having checked `sinceDays`. */
async function existingRunsTable(handle: DbHandle, options: Pick<ReadRunsOptions, 'metaSchema' | 'sinceDays'>): Promise<string | undefined> {
  const table = runsTable(options.metaSchema ?? handle.config.metaSchema);
  if (options.sinceDays !== undefined) checkDays(options.sinceDays, 'sinceDays', 'sinceDays: 30');
  const [exists] = await handle.sql<{ t: string | null }[]>`SELECT to_regclass(${table})::text AS t`;
  return exists?.t ? table : undefined;
}

/**
 * The recorded runs, oldest first; [] when nothing was ever recorded. `sinceDays` keeps the last
 * N days only; `atMost` and `withoutChecks` bound what is read (ReadRunsOptions).
 */
export async function readRuns(handle: DbHandle, options: ReadRunsOptions = {}): Promise<RecordedRun[]> {
  const table = await existingRunsTable(handle, options);
  if (!table) return [];
  if (options.atMost !== undefined && !(Number.isInteger(options.atMost) && options.atMost >= 2)) {
    throw new CmmcError('doctor.runs', `atMost ${options.atMost} is not a whole number of at least 2`, { hint: 'atMost: 500' });
  }
  const picked = options.atMost === undefined
    ? ''
    : `AND id IN (SELECT id FROM (SELECT id, n, row_number() OVER (PARTITION BY g ORDER BY n DESC) AS from_end
                                    FROM (SELECT id, row_number() OVER o AS n, ntile(${options.atMost - 1}) OVER o AS g
                                            FROM ${table} WHERE ${IN_WINDOW} WINDOW o AS (ORDER BY recorded_at, id)) numbered) grouped
                     WHERE n = 1 OR from_end = 1)`;
  const rows = await handle.sql.unsafe<(Omit<RecordedRun, 'id' | 'recordedAt'> & { id: string; recorded_at: Date })[]>(
    `SELECT id, recorded_at, database, role, status, embedded, ${options.withoutChecks ? "'[]'::jsonb AS checks" : 'checks'},
            tables, indexes, statements, connections, replication
       FROM ${table}
      WHERE (${IN_WINDOW}) ${picked}
      ORDER BY recorded_at, id`,
    [options.sinceDays ?? null],
  );
  return rows.map(({ id, recorded_at, ...r }) => ({ ...r, id: Number(id), recordedAt: new Date(recorded_at).toISOString() }));
}

/** How many runs are recorded (of the last `sinceDays` days), first and last: cheap, whatever their number. */
export async function countRuns(handle: DbHandle, options: Pick<ReadRunsOptions, 'metaSchema' | 'sinceDays'> = {}): Promise<RunCount> {
  const table = await existingRunsTable(handle, options);
  if (!table) return { runs: 0, first: null, last: null };
  const [row] = await handle.sql.unsafe<{ runs: number; first: Date | null; last: Date | null }[]>(
    `SELECT count(*)::float8 AS runs, min(recorded_at) AS first, max(recorded_at) AS last FROM ${table} WHERE ${IN_WINDOW}`,
    [options.sinceDays ?? null],
  );
  const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
  return { runs: row.runs, first: iso(row.first), last: iso(row.last) };
}

/** The table sizes of a run of `sizes.tables` (its rows); runs recorded before the estimate could be null say 0 for "never analysed" too. */
export function tablesFrom(check: CheckResult | undefined): TableSize[] {
  return (check?.rows ?? []).map((r) => ({
    table: String(r.table),
    rows: r.rows === null || r.rows === undefined ? null : Number(r.rows),
    table_bytes: Number(r.table_bytes ?? 0),
    index_bytes: Number(r.index_bytes ?? 0),
    toast_bytes: Number(r.toast_bytes ?? 0),
    total_bytes: Number(r.total_bytes ?? 0),
  }));
}

function statementsFrom(check: CheckResult | undefined): StatementFigure[] | null {
  if (!check || check.status === 'unknown' || check.status === ('skipped' as CheckStatus)) return null;
  return (check.rows ?? []).map((r) => ({
    query: String(r.query),
    calls: Number(r.calls),
    mean_ms: Number(r.mean_ms),
    total_ms: Number(r.total_ms),
    rows: Number(r.rows),
  }));
}

/** Every user index with its size, and its scans on a server. */
async function indexSizes(handle: DbHandle, embedded: boolean): Promise<IndexSize[]> {
  const rows = await handle.sql<{ index: string; table: string; bytes: number; scans: number | null }[]>`
    SELECT format('%I.%I', n.nspname, c.relname) AS "index",
           format('%I.%I', n.nspname, t.relname) AS "table",
           pg_relation_size(c.oid)::float8 AS bytes,
           s.idx_scan::float8 AS scans
      FROM pg_index i
      JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_class t ON t.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
      LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
     ORDER BY bytes DESC, 1`;
  return rows.map((r) => ({ ...r, scans: embedded ? null : r.scans }));
}

/** Client connections to the whole server by state (the rows of connections.usage), against max_connections. */
async function connectionFigures(handle: DbHandle, usage: CheckResult | undefined): Promise<ConnectionFigures | null> {
  if (!usage || usage.status === 'unknown' || (usage.status as string) === 'skipped') return null;
  const [s] = await handle.sql<{ max: number }[]>`SELECT current_setting('max_connections')::int AS max`;
  const byState = Object.fromEntries((usage.rows ?? []).map((r) => [String(r.state), Number(r.connections)]));
  return { max: s.max, total: Object.values(byState).reduce((a, n) => a + n, 0), byState };
}

/** Replication from its checks' rows; null on a server with no standby, no upstream and no slot (or when not looked at). */
function replicationFrom(role: CheckResult | undefined, lag: CheckResult | undefined, slots: CheckResult | undefined): ReplicationFigures | null {
  const looked = (c: CheckResult | undefined) => (c && c.status !== 'unknown' && (c.status as string) !== 'skipped' ? (c.rows ?? []) : []);
  const roleRows = looked(role);
  const self = roleRows[0];
  if (!self) return null;
  const standbys = roleRows.slice(1);
  const figures: ReplicationFigures = { role: self.role === 'standby' ? 'standby' : 'primary', standbys, lag: looked(lag), slots: looked(slots) };
  if (figures.role === 'primary' && standbys.length === 0 && figures.slots.length === 0) return null;
  return figures;
}

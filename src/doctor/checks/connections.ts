/**
 * Connections (pg_stat_activity). In use against max_connections (check_postgres `backends`:
 * warn above 75 %, fail above 90 %), by state; sessions idle in transaction too long (pg-extras
 * diagnose / PgHero: 1 minute); queries running too long (pg-extras `long_running_queries`:
 * 5 minutes); queries blocked and the sessions blocking them (pg-extras `blocking`, here through
 * pg_blocking_pids). Prepared transactions (check_postgres `prepared_txns`): a transaction left
 * prepared (PREPARE TRANSACTION) by a two-phase or XA client holds its locks and the xmin horizon
 * like a session idle in transaction, yet no session shows it: pg_stat_activity has no row for it,
 * and pg_blocking_pids says 0 for it. Counts are for the whole server (max_connections is); the
 * per-session checks look at this database only, and never at the doctor's own session.
 */
import type { CheckFamily, DoctorContext, Finding } from '../types.js';
import { duration, names, oneLine, percent, plural } from '../format.js';

function partialFor(ctx: DoctorContext): string | undefined {
  return ctx.access.readAllStats ? undefined : "without pg_monitor (pg_read_all_stats) the state and query of other roles' sessions are hidden";
}

/**
 * Without pg_monitor (pg_read_all_stats) PostgreSQL shows another role's session with its pid,
 * database and role but hides everything else, backend_type and state included. A hidden row with a
 * database and a role is a client session (or, briefly, a parallel worker); the server's own
 * processes have neither.
 */
const HIDDEN_SESSION = 'a.backend_type IS NULL AND a.datid IS NOT NULL AND a.usesysid IS NOT NULL';
const HIDDEN_STATE = 'hidden (no pg_monitor)';

async function usage(ctx: DoctorContext): Promise<Finding> {
  const rows = await ctx.sql<{ state: string | null; count: number }[]>`
    SELECT CASE WHEN a.backend_type IS NULL THEN ${HIDDEN_STATE} ELSE coalesce(a.state, 'starting') END AS state, count(*)::int AS count
      FROM pg_stat_activity a WHERE a.backend_type = 'client backend' OR (${ctx.sql.unsafe(HIDDEN_SESSION)})
     GROUP BY 1 ORDER BY 2 DESC, 1`;
  // Slots kept for superusers (and, from PostgreSQL 16, for pg_use_reserved_connections): once the rest
  // are taken, the application's roles are refused ("remaining connection slots are reserved").
  const [s] = await ctx.sql<{ max: number; reserved: number }[]>`
    SELECT current_setting('max_connections')::int AS max,
           current_setting('superuser_reserved_connections')::int + coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved`;
  const used = rows.reduce((a, r) => a + r.count, 0);
  const open = Math.max(1, s.max - s.reserved);
  const ratio = used / open;
  const t = ctx.thresholds;
  const byState = rows.map((r) => `${r.count} ${r.state}`).join(', ');
  const ordinary = s.reserved ? `; ${Math.min(used, open)} of the ${open} slots open to roles that are not superusers (${s.reserved} reserved)` : '';
  const figure = `${used} of ${s.max} (${percent(used / s.max, 0)})${ordinary}: ${byState}`;
  const remedy = 'put a pooler (PgBouncer) in front, lower the pools\' max, or end idle sessions (cmmc-db doctor kill-idle)';
  const status = ratio > t.connectionsFail ? 'fail' : ratio > t.connectionsWarn ? 'warn' : 'ok';
  return { status, figure, remedy: status === 'ok' ? '' : remedy, rows: rows.map((r) => ({ state: r.state, connections: r.count })), partial: partialFor(ctx) };
}

/**
 * Other roles' sessions of this database whose state the role may not see: a per-session check
 * that found nothing among the rest cannot say "none" (unknown, with the GRANT that lets it see).
 */
async function hiddenHere(ctx: DoctorContext): Promise<number> {
  if (ctx.access.readAllStats) return 0;
  const [{ n }] = await ctx.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM pg_stat_activity a
     WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND ${ctx.sql.unsafe(HIDDEN_SESSION)}`;
  return n;
}

/** The finding of a per-session check that saw no match: ok, or unknown when sessions were hidden from it. */
async function noneSeen(ctx: DoctorContext, none: string): Promise<Finding> {
  const hidden = await hiddenHere(ctx);
  if (hidden === 0) return { status: 'ok', figure: none, remedy: '', partial: partialFor(ctx) };
  return {
    status: 'unknown',
    figure: `${plural(hidden, 'session')} of other roles in this database hidden from ${ctx.access.role} (no pg_monitor); among the others, ${none}`,
    remedy: `GRANT pg_monitor TO ${ctx.access.role}`,
    partial: partialFor(ctx),
  };
}

async function idleInTransaction(ctx: DoctorContext): Promise<Finding> {
  const ms = ctx.thresholds.idleInTransactionMs;
  const rows = await ctx.sql<{ pid: number; user: string; application: string; state: string; for_ms: number; query: string | null }[]>`
    SELECT pid, usename AS "user", application_name AS application, state,
           (extract(epoch FROM now() - state_change) * 1000)::float8 AS for_ms, query
      FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid()
       AND state IN ('idle in transaction', 'idle in transaction (aborted)')
       AND now() - state_change > ${ms}::float8 * interval '1 millisecond'
     ORDER BY state_change`;
  const shaped = rows.map((r) => ({ pid: r.pid, user: r.user, application: r.application, state: r.state, for: duration(r.for_ms), last_query: oneLine(r.query) }));
  if (rows.length === 0) return noneSeen(ctx, `no session idle in transaction over ${duration(ms)}`);
  return {
    status: 'warn',
    figure: `${plural(rows.length, 'session')} idle in transaction over ${duration(ms)}: ${names(rows.map((r) => `pid ${r.pid} (${r.user}, ${duration(r.for_ms)})`))}`,
    remedy: "fix the client that leaves transactions open; end them with cmmc-db doctor kill-idle --state idle-in-transaction; set idle_in_transaction_session_timeout",
    rows: shaped,
    partial: partialFor(ctx),
  };
}

async function longRunning(ctx: DoctorContext): Promise<Finding> {
  const ms = ctx.thresholds.longQueryMs;
  const rows = await ctx.sql<{ pid: number; user: string; application: string; for_ms: number; query: string | null }[]>`
    SELECT pid, usename AS "user", application_name AS application,
           (extract(epoch FROM now() - query_start) * 1000)::float8 AS for_ms, query
      FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid()
       AND backend_type = 'client backend' AND state = 'active'
       AND now() - query_start > ${ms}::float8 * interval '1 millisecond'
     ORDER BY query_start`;
  const shaped = rows.map((r) => ({ pid: r.pid, user: r.user, application: r.application, running: duration(r.for_ms), query: oneLine(r.query) }));
  if (rows.length === 0) return noneSeen(ctx, `no query running over ${duration(ms)}`);
  return {
    status: 'warn',
    figure: `${plural(rows.length, 'query', 'queries')} running over ${duration(ms)}: ${names(rows.map((r) => `pid ${r.pid} (${duration(r.for_ms)})`))}`,
    remedy: 'EXPLAIN the query; cancel it with SELECT pg_cancel_backend(pid); set statement_timeout for the application role',
    rows: shaped,
    partial: partialFor(ctx),
  };
}

/**
 * Transactions open longer than the threshold, whatever the session does now (check_postgres
 * `txn_time`): one that runs a short statement every few seconds is neither idle in transaction
 * nor a long query, yet holds the xmin horizon (backend_xmin) for as long as it stays open.
 */
async function longTransactions(ctx: DoctorContext): Promise<Finding> {
  const ms = ctx.thresholds.longTransactionMs;
  const rows = await ctx.sql<{ pid: number; user: string; application: string; state: string; for_ms: number; xmin_age: number | null; query: string | null }[]>`
    SELECT pid, usename AS "user", application_name AS application, state,
           (extract(epoch FROM now() - xact_start) * 1000)::float8 AS for_ms,
           -- The horizon it holds: its own xid (once it wrote) or its snapshot's xmin (while a statement runs, or all along at REPEATABLE READ).
           greatest(age(backend_xid), age(backend_xmin))::float8 AS xmin_age, query
      FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid()
       AND backend_type = 'client backend'
       AND now() - xact_start > ${ms}::float8 * interval '1 millisecond'
     ORDER BY xact_start`;
  const shaped = rows.map((r) => ({ pid: r.pid, user: r.user, application: r.application, state: r.state, open: duration(r.for_ms), xmin_age: r.xmin_age, last_query: oneLine(r.query) }));
  if (rows.length === 0) return noneSeen(ctx, `no transaction open over ${duration(ms)}`);
  return {
    status: 'warn',
    figure: `${plural(rows.length, 'transaction')} open over ${duration(ms)}: ${names(
      rows.map((r) => `pid ${r.pid} (${[r.user, r.application, `open ${duration(r.for_ms)}`, r.state, r.xmin_age !== null ? `holds vacuum back ${r.xmin_age} xids` : ''].filter(Boolean).join(', ')})`),
    )}`,
    remedy: `let it commit, or end it (SELECT pg_terminate_backend(${rows[0].pid})); make the client commit in smaller transactions: idle_in_transaction_session_timeout does not end it while it keeps sending statements (transaction_timeout does, from PostgreSQL 17)`,
    rows: shaped,
    partial: partialFor(ctx),
  };
}

async function blocked(ctx: DoctorContext): Promise<Finding> {
  // pg_locks.waitstart: when the wait for the lock began (the statement may have worked long before), visible to every role.
  const rows = await ctx.sql<{ pid: number; user: string; waiting_ms: number | null; query: string | null; blocked_by: number[]; blocker_states: string | null; blocker_queries: string | null }[]>`
    SELECT a.pid, a.usename AS "user",
           (SELECT (extract(epoch FROM now() - min(l.waitstart)) * 1000)::float8 FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted) AS waiting_ms,
           a.query,
           pg_blocking_pids(a.pid) AS blocked_by,
           (SELECT string_agg(b.pid || ' ' || coalesce(b.state, '?'), '; ') FROM pg_stat_activity b WHERE b.pid = ANY(pg_blocking_pids(a.pid))) AS blocker_states,
           (SELECT string_agg(b.pid || ': ' || coalesce(b.query, '?'), '; ') FROM pg_stat_activity b WHERE b.pid = ANY(pg_blocking_pids(a.pid))) AS blocker_queries
      FROM pg_stat_activity a
     WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
       AND cardinality(pg_blocking_pids(a.pid)) > 0
     ORDER BY waiting_ms DESC NULLS LAST, a.pid`;
  const shaped = rows.map((r) => ({
    blocked_pid: r.pid,
    user: r.user,
    // null: blocked in a way pg_locks has no waiting row for (rare); not a wait of 0.
    waiting: r.waiting_ms === null ? null : duration(r.waiting_ms),
    waiting_ms: r.waiting_ms === null ? null : Math.round(r.waiting_ms),
    query: oneLine(r.query),
    blocked_by: r.blocked_by,
    blockers: r.blocker_states,
    blocker_queries: oneLine(r.blocker_queries, 120),
  }));
  if (rows.length === 0) return { status: 'ok', figure: 'no query blocked', remedy: '', partial: partialFor(ctx) };
  const heads = queueHeads(rows.map((r) => ({ pid: r.pid, blockedBy: r.blocked_by })));
  const allHeads = [...new Set([...heads.values()].flat())];
  // Deeper than one: some blocked session is blocked by another blocked session (a waiting ALTER TABLE, typically).
  const waiting = new Set(rows.map((r) => r.pid));
  const deep = rows.some((r) => r.blocked_by.some((pid) => waiting.has(pid)));
  const about = await ctx.sql<{ pid: number; state: string | null; xact_ms: number | null }[]>`
    SELECT pid, state, (extract(epoch FROM now() - xact_start) * 1000)::float8 AS xact_ms
      FROM pg_stat_activity WHERE pid = ANY(${allHeads.filter((p) => p !== 0)}::int[])`;
  const headText = (pid: number) => {
    if (pid === 0) return 'a prepared transaction';
    const a = about.find((x) => x.pid === pid);
    const what = [a?.state, a?.xact_ms !== null && a?.xact_ms !== undefined ? `its transaction open ${duration(a.xact_ms)}` : null].filter(Boolean).join(', ');
    return `pid ${pid}${what ? ` (${what})` : ''}`;
  };
  // pg_blocking_pids says 0 for a prepared transaction: there is no session to end.
  const by = (pids: number[]) => pids.map((pid) => (pid === 0 ? 'a prepared transaction' : String(pid))).join(', ');
  const byPrepared = allHeads.includes(0);
  const ends = allHeads.filter((p) => p !== 0).map((p) => `SELECT pg_terminate_backend(${p})`);
  const headFigure = deep ? `; head of the queue: ${allHeads.map(headText).join(', ')}` : '';
  return {
    status: 'warn',
    figure: `${plural(rows.length, 'query', 'queries')} blocked: ${names(rows.map((r) => `pid ${r.pid} by ${by(r.blocked_by)}`))}${headFigure}`,
    remedy: [
      ends.length ? `${deep ? 'end the session at the head of the queue to release all of it' : 'finish or end the blocking session'} (${ends.join('; ')})${deep ? ', or a waiting one to release those queued behind it' : ''}` : '',
      byPrepared ? 'a prepared transaction has no session: COMMIT PREPARED or ROLLBACK PREPARED it (connections.prepared names it)' : '',
      'keep transactions short; set lock_timeout',
    ]
      .filter(Boolean)
      .join('; '),
    rows: shaped.map((r) => ({ ...r, head_of_queue: heads.get(r.blocked_pid) ?? [] })),
    partial: partialFor(ctx),
  };
}

/**
 * Pure: for each blocked session, the sessions at the head of its queue: following who blocks whom
 * until a session that is not blocked itself (0, a prepared transaction, is one). A cycle (a
 * deadlock, until the detector ends it) has no head outside itself and gives none.
 */
export function queueHeads(blocked: { pid: number; blockedBy: number[] }[]): Map<number, number[]> {
  const blockers = new Map(blocked.map((b) => [b.pid, b.blockedBy]));
  const heads = new Map<number, number[]>();
  for (const b of blocked) {
    const found = new Set<number>();
    const seen = new Set<number>([b.pid]);
    const walk = (pids: number[]) => {
      for (const pid of pids) {
        if (seen.has(pid)) continue;
        seen.add(pid);
        const next = blockers.get(pid);
        if (next) walk(next);
        else found.add(pid);
      }
    };
    walk(b.blockedBy);
    heads.set(b.pid, [...found].sort((x, y) => x - y));
  }
  return heads;
}

/** One relation lock of a prepared transaction of this database (relation and mode null for one that holds none). */
export interface PreparedLock {
  gid: string;
  owner: string;
  age_ms: number;
  relation: string | null;
  mode: string | null;
}

/**
 * The prepared transactions of this database, oldest first, each with the relation locks it holds:
 * their locks in pg_locks have no pid, and are told apart by the virtual transaction that holds the
 * prepared transaction's xid (pg_prepared_xacts.transaction). Also read by the doctor's lock-holder
 * line (run.ts), where such a holder has no pid to end.
 */
export async function preparedLocks(sql: DoctorContext['sql']): Promise<PreparedLock[]> {
  return sql<PreparedLock[]>`
    SELECT p.gid, p.owner, (extract(epoch FROM now() - p.prepared) * 1000)::float8 AS age_ms,
           l.relation::regclass::text AS relation, l.mode
      FROM pg_prepared_xacts p
      LEFT JOIN pg_locks x ON x.pid IS NULL AND x.locktype = 'transactionid' AND x.transactionid = p.transaction
      LEFT JOIN pg_locks l ON l.pid IS NULL AND l.locktype = 'relation' AND l.virtualtransaction = x.virtualtransaction
     WHERE p.database = current_database()
     ORDER BY p.prepared, p.gid, 4`;
}

/** `'gid'` as an SQL literal, for COMMIT PREPARED / ROLLBACK PREPARED. */
export const gidLiteral = (gid: string) => `'${gid.replace(/'/g, "''")}'`;

async function prepared(ctx: DoctorContext): Promise<Finding> {
  const ms = ctx.thresholds.idleInTransactionMs;
  const byGid = new Map<string, { gid: string; owner: string; age_ms: number; relations: string | null }>();
  for (const l of await preparedLocks(ctx.sql)) {
    const seen = byGid.get(l.gid) ?? byGid.set(l.gid, { gid: l.gid, owner: l.owner, age_ms: l.age_ms, relations: null }).get(l.gid)!;
    if (l.relation && !(seen.relations ?? '').split(', ').includes(l.relation)) seen.relations = seen.relations ? `${seen.relations}, ${l.relation}` : l.relation;
  }
  const all = [...byGid.values()];
  const rows = all.filter((r) => r.age_ms > ms);
  const shaped = all.map((r) => ({ gid: r.gid, owner: r.owner, for: duration(r.age_ms), locks: r.relations ?? '' }));
  if (rows.length === 0) {
    return { status: 'ok', figure: all.length ? `${plural(all.length, 'prepared transaction')}, none older than ${duration(ms)}` : 'no prepared transaction', remedy: '', ...(all.length ? { rows: shaped } : {}) };
  }
  const gid = gidLiteral(rows[0].gid);
  return {
    status: 'warn',
    figure: `${plural(rows.length, 'prepared transaction')} older than ${duration(ms)}, holding ${rows.some((r) => r.relations) ? 'locks and ' : ''}the xmin horizon (vacuum cannot clean after them): ${names(rows.map((r) => `'${r.gid}' (${r.owner}, ${duration(r.age_ms)}${r.relations ? `, locks ${r.relations}` : ''})`))}`,
    remedy: `let the transaction manager that prepared ${rows.length === 1 ? 'it' : 'them'} finish; an orphan has no session to end: COMMIT PREPARED ${gid} or ROLLBACK PREPARED ${gid}${rows.length > 1 ? ' (and so for each)' : ''}, connected to this database`,
    rows: shaped,
  };
}

export const connectionsFamily: CheckFamily = {
  name: 'connections',
  checks: [
    { id: 'connections.usage', title: 'connections in use against max_connections', needsServer: true, run: usage },
    { id: 'connections.idle-in-transaction', title: 'sessions idle in transaction', needsServer: true, run: idleInTransaction },
    { id: 'connections.long-running', title: 'long-running queries', needsServer: true, run: longRunning },
    { id: 'connections.long-transactions', title: 'transactions open for long (the xmin horizon)', needsServer: true, run: longTransactions },
    { id: 'connections.blocked', title: 'blocked queries and their blockers', needsServer: true, run: blocked },
    { id: 'connections.prepared', title: 'prepared transactions left open (two-phase commit)', needsServer: true, run: prepared },
  ],
};

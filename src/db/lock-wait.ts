/**
 * Who a session waits for: a statement queued for a lock (ALTER TABLE behind an open transaction)
 * waits silently, and while it waits every later query on that table queues behind it. Named as
 * soon as a wait shows, so that the wait is never silent.
 */
import type postgres from 'postgres';

export interface LockBlocker {
  pid: number;
  user: string | null;
  application: string | null;
  /** pg_stat_activity.state: `idle in transaction`, `active`... */
  state: string | null;
  /** How long its transaction has been open, in seconds (null outside a transaction). */
  transactionSeconds: number | null;
}

export interface LockWait {
  /** The relations the session waits to lock (`public.widgets`); empty for other lock types. */
  relations: string[];
  blockers: LockBlocker[];
}

/** What the session `pid` waits for, through another connection `sql`; null when it is not waiting for a lock. */
export async function lockWaitOf(sql: postgres.Sql, pid: number): Promise<LockWait | null> {
  const rows = await sql.unsafe<{ relations: string[] | null; pid: number | null; usename: string | null; application_name: string | null; state: string | null; xact_seconds: number | null }[]>(
    `SELECT (SELECT array_agg(DISTINCT format('%I.%I', n.nspname, c.relname)) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE l.pid = a.pid AND NOT l.granted) AS relations,
            b.pid, b.usename, b.application_name, b.state, floor(extract(epoch FROM now() - b.xact_start))::int AS xact_seconds
       FROM pg_stat_activity a
       LEFT JOIN LATERAL unnest(pg_blocking_pids(a.pid)) AS bp(pid) ON true
       LEFT JOIN pg_stat_activity b ON b.pid = bp.pid
      WHERE a.pid = ${Math.trunc(pid)} AND a.wait_event_type = 'Lock'
      ORDER BY b.pid`,
  );
  if (rows.length === 0) return null;
  return {
    relations: rows[0].relations ?? [],
    blockers: rows
      .filter((r) => r.pid !== null)
      .map((r) => ({ pid: r.pid!, user: r.usename, application: r.application_name || null, state: r.state, transactionSeconds: r.xact_seconds })),
  };
}

/**
 * Watches the session `pid` while `fn` runs: from `afterMs` on, once a second, and calls `onWait`
 * each time it finds the session waiting for a lock behind other sessions than last time. Never
 * fails `fn`: a watch query that fails is let go.
 */
export async function watchLockWait<T>(sql: postgres.Sql, pid: number, onWait: (wait: LockWait) => void | Promise<void>, fn: () => Promise<T>, afterMs = 1000): Promise<T> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let seen = '';
  const poll = async () => {
    const wait = await lockWaitOf(sql, pid).catch(() => null);
    if (stopped) return;
    const key = wait ? wait.blockers.map((b) => b.pid).join(',') : '';
    if (wait && wait.blockers.length && key !== seen) await Promise.resolve(onWait(wait)).catch(() => {});
    seen = key;
    if (!stopped) (timer = setTimeout(() => void poll(), 1000)).unref();
  };
  timer = setTimeout(() => void poll(), afterMs);
  timer.unref();
  try {
    return await fn();
  } finally {
    stopped = true;
    clearTimeout(timer);
  }
}

/** "server pid 4242 (user app, psql, idle in transaction, transaction open 12 s)" */
export function describeBlocker(b: LockBlocker): string {
  const parts = [b.user ? `user ${b.user}` : '', b.application ?? '', b.state ?? '', b.transactionSeconds !== null ? `transaction open ${b.transactionSeconds} s` : ''].filter(Boolean);
  return `server pid ${b.pid}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

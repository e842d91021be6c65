/**
 * Slow statements from pg_stat_statements: the top statements of this database by mean and by
 * total execution time, with calls (pg-extras `outliers` and `calls`, PgHero `slow_queries`). A
 * statement is slow when its mean time is above slow-query-ms over at least slow-query-calls calls
 * (PgHero: 20 ms, 100 calls). When the extension is not installed in the database or not preloaded
 * by the server, the check is `skipped` (a prerequisite absent by choice, not a fault: a monitoring
 * wrapper must not alert for ever on a stock server) and says exactly how to enable it.
 */
import type { CheckFamily, DoctorContext, Finding } from '../types.js';
import { SLOW_QUERY_TOP } from '../thresholds.js';
import { names, oneLine, plural } from '../format.js';

export const ENABLE_PG_STAT_STATEMENTS =
  "add pg_stat_statements to shared_preload_libraries (ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements', keeping any libraries already listed), restart PostgreSQL, then run CREATE EXTENSION pg_stat_statements in this database";

interface Statement {
  queryid: string;
  query: string;
  calls: number;
  mean_ms: number;
  total_ms: number;
  rows: number;
}

async function slowQueries(ctx: DoctorContext): Promise<Finding> {
  const [state] = await ctx.sql<{ installed: boolean; preloaded: boolean; schema: string | null }[]>`
    SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS installed,
           'pg_stat_statements' = ANY(string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')) AS preloaded,
           (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements') AS schema`;
  if (!state.preloaded) {
    return {
      status: 'skipped',
      figure: `pg_stat_statements is not in shared_preload_libraries${state.installed ? '' : ' and not installed in this database'}`,
      remedy: ENABLE_PG_STAT_STATEMENTS,
    };
  }
  if (!state.installed) {
    return {
      status: 'skipped',
      figure: 'pg_stat_statements is preloaded but not installed in this database',
      remedy: 'run CREATE EXTENSION pg_stat_statements in this database (as a superuser or the database owner)',
    };
  }
  const view = ctx.sql(`${state.schema}.pg_stat_statements`);
  const top = SLOW_QUERY_TOP;
  // The doctor's session turns tracking off where it may (superuser); its own reads of this view are left out anyway.
  const rows = await ctx.sql<Statement[]>`
    WITH s AS (
      SELECT queryid::text AS queryid, query, calls::float8 AS calls,
             mean_exec_time::float8 AS mean_ms, total_exec_time::float8 AS total_ms, rows::float8 AS rows
        FROM ${view}
       WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
         AND query NOT ILIKE '%pg_stat_statements%'
    )
    (SELECT * FROM s ORDER BY mean_ms DESC LIMIT ${top})
    UNION
    (SELECT * FROM s ORDER BY total_ms DESC LIMIT ${top})
    ORDER BY total_ms DESC`;
  const t = ctx.thresholds;
  const slow = rows.filter((r) => r.mean_ms > t.slowQueryMs && r.calls >= t.slowQueryCalls).sort((a, b) => b.mean_ms - a.mean_ms);
  const shaped = rows.map((r) => ({
    query: oneLine(r.query, 120),
    calls: r.calls,
    mean_ms: Math.round(r.mean_ms * 100) / 100,
    total_ms: Math.round(r.total_ms),
    rows: r.rows,
    slow: slow.includes(r),
  }));
  const partial = ctx.access.readAllStats ? undefined : "other roles' statement texts show as <insufficient privilege>";
  if (slow.length === 0) {
    const worst = rows.slice().sort((a, b) => b.mean_ms - a.mean_ms)[0];
    return {
      status: 'ok',
      figure: worst
        ? `no statement above ${t.slowQueryMs} ms mean over ${t.slowQueryCalls}+ calls; worst mean ${worst.mean_ms.toFixed(1)} ms (${worst.calls} calls)`
        : 'no statements recorded yet',
      remedy: '',
      rows: shaped,
      partial,
    };
  }
  return {
    status: 'warn',
    figure: `${plural(slow.length, 'statement')} above ${t.slowQueryMs} ms mean over ${t.slowQueryCalls}+ calls: ${names(slow.map((r) => `${r.mean_ms.toFixed(0)} ms × ${r.calls} "${oneLine(r.query, 40)}"`), 2)}`,
    remedy: 'EXPLAIN (ANALYZE, BUFFERS) the statement and add the index or rewrite it; pg_stat_statements_reset() after a fix',
    rows: shaped,
    partial,
  };
}

export const slowQueriesFamily: CheckFamily = {
  name: 'slow-queries',
  checks: [{ id: 'slow-queries.top', title: 'slowest statements (pg_stat_statements)', needsServer: true, run: slowQueries }],
};

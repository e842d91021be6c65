/**
 * Maintenance. Cache hit ratio of tables and indexes (pg-extras `cache_hit`, PgHero: below 0.99
 * warns); dead tuples and the last (auto)vacuum and (auto)analyze per table (pg-extras
 * `vacuum_stats`); transaction-id wraparound age per database (check_postgres `txn_wraparound`);
 * sequences near their maximum, the owning column's type maximum when that is smaller
 * (check_postgres `sequence`, PgHero `sequence_danger`).
 */
import type { CheckFamily, DoctorContext, Finding } from '../types.js';
import { names, percent, plural } from '../format.js';

/** autovacuum_vacuum_threshold's default: the fixed part of autovacuum's trigger. */
const AUTOVACUUM_BASE_THRESHOLD = 50;
/** 2^31: where transaction ids wrap around. */
const XID_WRAP = 2 ** 31;

async function cacheHit(ctx: DoctorContext): Promise<Finding> {
  const [r] = await ctx.sql<{ heap_hit: number; heap_read: number; idx_hit: number; idx_read: number }[]>`
    SELECT coalesce(sum(heap_blks_hit), 0)::float8 AS heap_hit, coalesce(sum(heap_blks_read), 0)::float8 AS heap_read,
           coalesce(sum(idx_blks_hit), 0)::float8 AS idx_hit, coalesce(sum(idx_blks_read), 0)::float8 AS idx_read
      FROM pg_statio_user_tables`;
  const t = ctx.thresholds;
  const heapTotal = r.heap_hit + r.heap_read;
  const idxTotal = r.idx_hit + r.idx_read;
  const heap = heapTotal ? r.heap_hit / heapTotal : null;
  const idx = idxTotal ? r.idx_hit / idxTotal : null;
  const rows = [
    { name: 'table hit rate', ratio: heap, blocks: heapTotal },
    { name: 'index hit rate', ratio: idx, blocks: idxTotal },
  ];
  const fmt = (v: number | null) => (v === null ? 'n/a' : v.toFixed(4));
  const figure = `tables ${fmt(heap)} (${heapTotal} blocks), indexes ${fmt(idx)} (${idxTotal} blocks)`;
  const low = rows.filter((x) => x.ratio !== null && x.blocks >= t.cacheHitMinBlocks && x.ratio < t.cacheHitRatio);
  if (heapTotal + idxTotal < t.cacheHitMinBlocks) return { status: 'ok', figure: `no verdict under ${t.cacheHitMinBlocks} blocks read: ${figure}`, remedy: '', rows };
  if (low.length === 0) return { status: 'ok', figure, remedy: '', rows };
  return {
    status: 'warn',
    figure: `${low.map((x) => x.name).join(' and ')} under ${t.cacheHitRatio}: ${figure}`,
    remedy: 'the working set does not fit in memory: raise shared_buffers (about 25% of RAM), add RAM, or drop unused indexes',
    rows,
  };
}

async function vacuum(ctx: DoctorContext): Promise<Finding> {
  const rows = await ctx.sql<{ table: string; live: number; dead: number; last_vacuum: Date | null; last_autovacuum: Date | null; last_analyze: Date | null; last_autoanalyze: Date | null }[]>`
    SELECT format('%I.%I', schemaname, relname) AS "table",
           n_live_tup::float8 AS live, n_dead_tup::float8 AS dead,
           last_vacuum, last_autovacuum, last_analyze, last_autoanalyze
      FROM pg_stat_user_tables
     ORDER BY n_dead_tup DESC, 1`;
  const t = ctx.thresholds;
  const behind = rows.filter((r) => r.dead >= t.deadTuplesMin && r.dead > AUTOVACUUM_BASE_THRESHOLD + 0.2 * r.live);
  const shaped = rows.map((r) => ({
    table: r.table,
    live: r.live,
    dead: r.dead,
    dead_percent: r.live + r.dead ? Math.round((1000 * r.dead) / (r.live + r.dead)) / 10 : 0,
    last_vacuum: latest(r.last_vacuum, r.last_autovacuum),
    last_analyze: latest(r.last_analyze, r.last_autoanalyze),
  }));
  const dead = rows.reduce((a, r) => a + r.dead, 0);
  if (behind.length === 0) {
    return { status: 'ok', figure: `${dead} dead tuples in ${plural(rows.length, 'table')}; none over autovacuum's trigger with ${t.deadTuplesMin}+ dead`, remedy: '', rows: shaped };
  }
  return {
    status: 'warn',
    figure: `${plural(behind.length, 'table')} with dead tuples beyond autovacuum's trigger: ${names(behind.map((r) => `${r.table} ${r.dead} dead`))}`,
    remedy: 'VACUUM (ANALYZE) the table; check for long transactions holding the xmin horizon; tune autovacuum_vacuum_scale_factor for big tables',
    rows: shaped,
  };
}

function latest(a: Date | null, b: Date | null): string | null {
  const d = !a ? b : !b ? a : a > b ? a : b;
  return d ? d.toISOString() : null;
}

async function wraparound(ctx: DoctorContext): Promise<Finding> {
  const rows = await ctx.sql<{ database: string; age: number }[]>`
    SELECT datname AS database, age(datfrozenxid)::float8 AS age FROM pg_database WHERE datallowconn ORDER BY 2 DESC, 1`;
  const t = ctx.thresholds;
  const worst = rows[0];
  const shaped = rows.map((r) => ({ database: r.database, xid_age: r.age, of_wraparound: percent(r.age / XID_WRAP) }));
  const figure = worst ? `oldest: ${worst.database} at ${worst.age.toLocaleString('en-US')} (${percent(worst.age / XID_WRAP)} of 2^31)` : 'no database';
  const remedy = 'VACUUM (FREEZE) the oldest tables of that database now; find what blocks autovacuum (long transactions, prepared transactions, replication slots)';
  if (worst && worst.age > t.xidAgeFail) return { status: 'fail', figure, remedy, rows: shaped };
  if (worst && worst.age > t.xidAgeWarn) return { status: 'warn', figure, remedy, rows: shaped };
  return { status: 'ok', figure, remedy: '', rows: shaped };
}

async function sequences(ctx: DoctorContext): Promise<Finding> {
  const rows = await ctx.sql<{ sequence: string; last_value: number | null; max: number; column: string | null; type: string | null }[]>`
    SELECT format('%I.%I', s.schemaname, s.sequencename) AS sequence,
           s.last_value::float8 AS last_value,
           least(s.max_value::numeric,
                 CASE col.typname WHEN 'int2' THEN 32767 WHEN 'int4' THEN 2147483647 ELSE 9223372036854775807 END)::float8 AS max,
           col.name AS "column", col.typname AS type
      FROM pg_sequences s
      LEFT JOIN LATERAL (
        SELECT format('%I.%I.%I', tn.nspname, t.relname, a.attname) AS name, ty.typname
          FROM pg_class sc
          JOIN pg_namespace sn ON sn.oid = sc.relnamespace
          JOIN pg_depend d ON d.objid = sc.oid AND d.classid = 'pg_class'::regclass
                          AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
          JOIN pg_class t ON t.oid = d.refobjid
          JOIN pg_namespace tn ON tn.oid = t.relnamespace
          JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
          JOIN pg_type ty ON ty.oid = a.atttypid
         WHERE sn.nspname = s.schemaname AND sc.relname = s.sequencename
         LIMIT 1) col ON true
     WHERE s.increment_by > 0`;
  const t = ctx.thresholds;
  const shaped = rows
    .filter((r) => r.last_value !== null)
    .map((r) => ({ sequence: r.sequence, column: r.column, type: r.type, last_value: r.last_value!, max: r.max, used: r.last_value! / r.max }))
    .sort((a, b) => b.used - a.used);
  const out = shaped.map((r) => ({ ...r, used: percent(r.used, 2) }));
  const failing = shaped.filter((r) => r.used > t.sequenceFail);
  const warning = shaped.filter((r) => r.used > t.sequenceWarn);
  const remedy = 'ALTER the column (and the sequence) to bigint before it runs out';
  const top = (list: typeof shaped) => names(list.map((r) => `${r.sequence} ${percent(r.used)}${r.type ? ` of ${r.type}` : ''}`));
  if (failing.length) return { status: 'fail', figure: `${plural(failing.length, 'sequence')} above ${percent(t.sequenceFail, 0)} of its maximum: ${top(failing)}`, remedy, rows: out };
  if (warning.length) return { status: 'warn', figure: `${plural(warning.length, 'sequence')} above ${percent(t.sequenceWarn, 0)} of its maximum: ${top(warning)}`, remedy, rows: out };
  return { status: 'ok', figure: shaped.length ? `${plural(rows.length, 'sequence')}; fullest ${top(shaped.slice(0, 1))}` : `${plural(rows.length, 'sequence')}, none used yet`, remedy: '', rows: out };
}

export const maintenanceFamily: CheckFamily = {
  name: 'maintenance',
  checks: [
    { id: 'maintenance.cache-hit', title: 'cache hit ratio', needsServer: true, run: cacheHit },
    { id: 'maintenance.vacuum', title: 'dead tuples, last vacuum and analyze', needsServer: true, run: vacuum },
    { id: 'maintenance.wraparound', title: 'transaction-id wraparound age', needsServer: false, run: wraparound },
    { id: 'maintenance.sequences', title: 'sequences near their maximum', needsServer: false, run: sequences },
  ],
};

/**
 * Maintenance. Cache hit ratio of tables and indexes (pg-extras `cache_hit`, PgHero: below 0.99
 * warns); dead tuples and the last (auto)vacuum and (auto)analyze per table (pg-extras
 * `vacuum_stats`); transaction-id wraparound age per database (check_postgres `txn_wraparound`);
 * sequences near their maximum, the owning column's type maximum when that is smaller
 * (check_postgres `sequence`, PgHero `sequence_danger`).
 */
import type { CheckFamily, DoctorContext, Finding } from '../types.js';
import { names, percent, plural } from '../format.js';

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

interface VacuumRow {
  table: string;
  live: number;
  dead: number;
  changed: number;
  reltuples: number;
  /** autovacuum_enabled of the table (reloption; true when unset). */
  enabled: boolean;
  vac_base: number;
  vac_scale: number;
  anl_base: number;
  anl_scale: number;
  last_vacuum: Date | null;
  last_autovacuum: Date | null;
  last_analyze: Date | null;
  last_autoanalyze: Date | null;
}

/**
 * Dead tuples and changes since the last analyze against the triggers autovacuum itself computes
 * (PostgreSQL's relation_needs_vacanalyze): base threshold + scale factor × pg_class.reltuples (0
 * before the first VACUUM or ANALYZE), each from the table's reloptions, else the server's
 * settings. A table at least dead-tuples-min past a trigger is one autovacuum is not keeping up with
 * (or may not touch: autovacuum off on the server or for the table, which the figure says).
 */
async function vacuum(ctx: DoctorContext): Promise<Finding> {
  const rows = await ctx.sql<VacuumRow[]>`
    SELECT format('%I.%I', s.schemaname, s.relname) AS "table",
           s.n_live_tup::float8 AS live, s.n_dead_tup::float8 AS dead, s.n_mod_since_analyze::float8 AS changed,
           greatest(c.reltuples, 0)::float8 AS reltuples,
           coalesce(o.enabled, true) AS enabled,
           coalesce(o.vac_base, current_setting('autovacuum_vacuum_threshold')::float8) AS vac_base,
           coalesce(o.vac_scale, current_setting('autovacuum_vacuum_scale_factor')::float8) AS vac_scale,
           coalesce(o.anl_base, current_setting('autovacuum_analyze_threshold')::float8) AS anl_base,
           coalesce(o.anl_scale, current_setting('autovacuum_analyze_scale_factor')::float8) AS anl_scale,
           s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze
      FROM pg_stat_user_tables s
      JOIN pg_class c ON c.oid = s.relid
      CROSS JOIN LATERAL (
        SELECT bool_or(option_value::boolean) FILTER (WHERE option_name = 'autovacuum_enabled') AS enabled,
               -- -1 in a reloption means "use the server's setting".
               max(nullif(option_value::float8, -1)) FILTER (WHERE option_name = 'autovacuum_vacuum_threshold') AS vac_base,
               max(nullif(option_value::float8, -1)) FILTER (WHERE option_name = 'autovacuum_vacuum_scale_factor') AS vac_scale,
               max(nullif(option_value::float8, -1)) FILTER (WHERE option_name = 'autovacuum_analyze_threshold') AS anl_base,
               max(nullif(option_value::float8, -1)) FILTER (WHERE option_name = 'autovacuum_analyze_scale_factor') AS anl_scale
          FROM pg_options_to_table(c.reloptions)) o
     ORDER BY s.n_dead_tup DESC, 1`;
  const [server] = await ctx.sql<{ autovacuum: boolean }[]>`SELECT current_setting('autovacuum')::boolean AS autovacuum`;
  const t = ctx.thresholds;
  const judged = rows.map((r) => {
    const vacTrigger = Math.round(r.vac_base + r.vac_scale * r.reltuples);
    const anlTrigger = Math.round(r.anl_base + r.anl_scale * r.reltuples);
    const analyzed = r.last_analyze !== null || r.last_autoanalyze !== null;
    return {
      ...r,
      vacTrigger,
      anlTrigger,
      analyzed,
      needsVacuum: r.dead >= t.deadTuplesMin && r.dead > vacTrigger,
      needsAnalyze: r.changed >= t.deadTuplesMin && r.changed > anlTrigger,
    };
  });
  const autovacuumOf = (r: VacuumRow) => [server.autovacuum ? '' : 'off on the server', r.enabled ? '' : 'off for this table'].filter(Boolean).join(' and ') || 'on';
  const shaped = judged.map((r) => ({
    table: r.table,
    live: r.live,
    dead: r.dead,
    dead_percent: r.live + r.dead ? Math.round((1000 * r.dead) / (r.live + r.dead)) / 10 : 0,
    vacuum_trigger: r.vacTrigger,
    changed_since_analyze: r.changed,
    analyze_trigger: r.anlTrigger,
    autovacuum: autovacuumOf(r),
    last_vacuum: latest(r.last_vacuum, r.last_autovacuum),
    last_analyze: latest(r.last_analyze, r.last_autoanalyze),
  }));
  const off = server.autovacuum ? '' : '; autovacuum is off on this server';
  const behind = judged.filter((r) => r.needsVacuum || r.needsAnalyze);
  const dead = rows.reduce((a, r) => a + r.dead, 0);
  if (behind.length === 0) {
    return { status: 'ok', figure: `${dead} dead tuples in ${plural(rows.length, 'table')}; none ${t.deadTuplesMin}+ past autovacuum's trigger${off}`, remedy: '', rows: shaped };
  }
  const what = (r: (typeof judged)[number]) =>
    [r.needsVacuum ? `${r.dead} dead (trigger ${r.vacTrigger})` : '', r.needsAnalyze ? `${r.changed} changed ${r.analyzed ? `since its last analyze (trigger ${r.anlTrigger})` : 'and never analyzed'}` : '']
      .filter(Boolean)
      .join(', ');
  const disabled = behind.filter((r) => !r.enabled);
  const remedy = [
    behind.map((r) => `${r.needsVacuum ? 'VACUUM (ANALYZE)' : 'ANALYZE'} ${r.table}`).join('; '),
    server.autovacuum ? '' : "autovacuum is off on this server: turn it on (ALTER SYSTEM SET autovacuum = on; SELECT pg_reload_conf())",
    disabled.length ? `autovacuum is off for ${disabled.length === 1 ? 'the table' : 'these tables'}: ${disabled.map((r) => `ALTER TABLE ${r.table} RESET (autovacuum_enabled)`).join('; ')}` : '',
    server.autovacuum && disabled.length < behind.length ? 'check for long transactions holding the xmin horizon; lower autovacuum_vacuum_scale_factor for big tables' : '',
  ]
    .filter(Boolean)
    .join('; ');
  return {
    status: 'warn',
    figure: `${plural(behind.length, 'table')} ${t.deadTuplesMin}+ past autovacuum's trigger: ${names(behind.map((r) => `${r.table} ${what(r)}`))}${off}`,
    remedy,
    rows: shaped,
  };
}

function latest(a: Date | null, b: Date | null): string | null {
  const d = !a ? b : !b ? a : a > b ? a : b;
  return d ? d.toISOString() : null;
}

/**
 * Transaction-id and multixact-id age of every database that accepts connections (PostgreSQL stops
 * assigning either before it wraps at 2^31). The remedy is a vacuumdb --freeze of each database
 * over a threshold, limited to its tables past it.
 */
async function wraparound(ctx: DoctorContext): Promise<Finding> {
  const rows = await ctx.sql<{ database: string; age: number; mxid_age: number }[]>`
    SELECT datname AS database, age(datfrozenxid)::float8 AS age, mxid_age(datminmxid)::float8 AS mxid_age
      FROM pg_database WHERE datallowconn ORDER BY 2 DESC, 1`;
  const t = ctx.thresholds;
  const level = (r: (typeof rows)[number]) =>
    r.age > t.xidAgeFail || r.mxid_age > t.mxidAgeFail ? 2 : r.age > t.xidAgeWarn || r.mxid_age > t.mxidAgeWarn ? 1 : 0;
  const worst = rows[0];
  const worstMxid = [...rows].sort((a, b) => b.mxid_age - a.mxid_age)[0];
  const shaped = rows.map((r) => ({ database: r.database, xid_age: r.age, of_wraparound: percent(r.age / XID_WRAP), mxid_age: r.mxid_age, mxid_of_wraparound: percent(r.mxid_age / XID_WRAP) }));
  const figure = worst
    ? `oldest: ${worst.database} at ${worst.age.toLocaleString('en-US')} (${percent(worst.age / XID_WRAP)} of 2^31); multixact ids: ${worstMxid.database} at ${worstMxid.mxid_age.toLocaleString('en-US')} (${percent(worstMxid.mxid_age / XID_WRAP)})`
    : 'no database';
  const over = rows.filter((r) => level(r) > 0);
  if (over.length === 0) return { status: 'ok', figure, remedy: '', rows: shaped };
  // vacuumdb (PostgreSQL 12+) freezes only the tables at least this old; its two age options are ANDed, hence one command per kind.
  const minXid = Math.max(1, Math.min(t.xidAgeWarn, t.xidAgeFail));
  const minMxid = Math.max(1, Math.min(t.mxidAgeWarn, t.mxidAgeFail));
  const quoted = (db: string) => (/^[A-Za-z0-9_.-]+$/.test(db) ? db : `'${db.replace(/'/g, "'\\''")}'`);
  const commands = over.flatMap((r) => [
    ...(r.age >= minXid ? [`vacuumdb --freeze --min-xid-age=${minXid} --dbname=${quoted(r.database)}`] : []),
    ...(r.mxid_age >= minMxid ? [`vacuumdb --freeze --min-mxid-age=${minMxid} --dbname=${quoted(r.database)}`] : []),
  ]);
  const remedy = `${commands.join('; ')} (with this connection's host and user); find what holds autovacuum back (long transactions, prepared transactions, replication slots)`;
  return { status: Math.max(...over.map(level)) === 2 ? 'fail' : 'warn', figure, remedy, rows: shaped };
}

async function sequences(ctx: DoctorContext): Promise<Finding> {
  // pg_sequences.last_value is NULL both for a sequence never used and for one the role may not read.
  const rows = await ctx.sql<{ sequence: string; last_value: number | null; readable: boolean; max: number; column: string | null; type: string | null }[]>`
    SELECT format('%I.%I', s.schemaname, s.sequencename) AS sequence,
           s.last_value::float8 AS last_value,
           has_sequence_privilege(format('%I.%I', s.schemaname, s.sequencename), 'SELECT, USAGE') AS readable,
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
  const unreadable = rows.filter((r) => !r.readable).map((r) => r.sequence);
  const hidden = unreadable.length ? `; ${plural(unreadable.length, 'sequence')} ${ctx.access.role} may not read: ${names(unreadable)}` : '';
  const grant = unreadable.length ? `GRANT SELECT ON SEQUENCE ${unreadable.join(', ')} TO ${ctx.access.role} (or run the doctor as their owner)` : '';
  const fix = [remedy, grant].filter(Boolean).join('; ');
  if (failing.length) return { status: 'fail', figure: `${plural(failing.length, 'sequence')} above ${percent(t.sequenceFail, 0)} of its maximum: ${top(failing)}${hidden}`, remedy: fix, rows: out };
  if (warning.length) return { status: 'warn', figure: `${plural(warning.length, 'sequence')} above ${percent(t.sequenceWarn, 0)} of its maximum: ${top(warning)}${hidden}`, remedy: fix, rows: out };
  if (unreadable.length) {
    const seen = shaped.length ? `fullest of the others ${top(shaped.slice(0, 1))}` : 'none of the others used yet';
    return { status: 'unknown', figure: `${hidden.slice(2)}; ${seen}`, remedy: grant, rows: out };
  }
  return { status: 'ok', figure: shaped.length ? `${plural(rows.length, 'sequence')}; fullest ${top(shaped.slice(0, 1))}` : `${plural(rows.length, 'sequence')}, none used yet`, remedy: '', rows: out };
}

export const maintenanceFamily: CheckFamily = {
  name: 'maintenance',
  checks: [
    { id: 'maintenance.cache-hit', title: 'cache hit ratio', needsServer: true, needsCounters: true, run: cacheHit },
    { id: 'maintenance.vacuum', title: 'dead tuples, last vacuum and analyze', needsServer: true, needsCounters: true, run: vacuum },
    { id: 'maintenance.wraparound', title: 'transaction-id wraparound age', needsServer: false, run: wraparound },
    { id: 'maintenance.sequences', title: 'sequences near their maximum', needsServer: false, run: sequences },
  ],
};

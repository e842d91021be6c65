/**
 * Index usage. Unused indexes (pg-extras `unused_indexes`, PgHero `unused_indexes`): no scans since
 * statistics began, not unique, not primary, not backing a constraint; no verdict while the
 * statistics are younger than the stats-age threshold. Duplicate and overlapping indexes (PgHero
 * `duplicate_indexes`): same table, access method, predicate and expressions, and key columns equal
 * to, or (btree) a leading prefix of, another index's. Invalid indexes (PgHero `invalid_indexes`):
 * `indisvalid` false, skipping indexes still being built (pg_stat_progress_create_index).
 * Sequential scans (PgHero `missing_indexes`): tables with enough rows that indexes serve less than
 * the threshold share of scans.
 */
import type { CheckFamily, DoctorContext, Finding } from '../types.js';
import { bytes, duration, names, plural } from '../format.js';

interface StatsWindow {
  since: Date | null;
  source: string;
  ageMs: number;
}

/**
 * Since when the index counters have been counting. `pg_stat_database.stats_reset` when it is set;
 * NULL means never reset, and then the counters go back to the later of the server start (a crash
 * or an immediate shutdown discards them) and the database's creation (read from its PG_VERSION
 * file when the role may, else unknown).
 */
export async function statsWindow(ctx: DoctorContext): Promise<StatsWindow> {
  const [row] = await ctx.sql<{ stats_reset: Date | null; started: Date; now: Date }[]>`
    SELECT d.stats_reset, pg_postmaster_start_time() AS started, now() AS now
      FROM pg_stat_database d WHERE d.datname = current_database()`;
  if (row?.stats_reset) return { since: row.stats_reset, source: 'statistics reset', ageMs: row.now.getTime() - row.stats_reset.getTime() };
  let created: Date | null = null;
  try {
    const [c] = await ctx.sql<{ created: Date }[]>`
      SELECT (pg_stat_file('base/' || oid || '/PG_VERSION')).modification AS created FROM pg_database WHERE datname = current_database()`;
    created = c?.created ?? null;
  } catch {
    created = null;
  }
  if (created && created > row.started) return { since: created, source: 'database created (never reset)', ageMs: row.now.getTime() - created.getTime() };
  return { since: row.started, source: 'server started (never reset)', ageMs: row.now.getTime() - row.started.getTime() };
}

async function unused(ctx: DoctorContext): Promise<Finding> {
  const window = await statsWindow(ctx);
  const rows = await ctx.sql<{ table: string; index: string; size: number; scans: number }[]>`
    SELECT format('%I.%I', s.schemaname, s.relname) AS "table",
           format('%I.%I', s.schemaname, s.indexrelname) AS "index",
           pg_relation_size(s.indexrelid)::float8 AS size,
           s.idx_scan::float8 AS scans
      FROM pg_stat_user_indexes s
      JOIN pg_index i ON i.indexrelid = s.indexrelid
     WHERE s.idx_scan = 0
       AND NOT i.indisunique AND NOT i.indisprimary AND i.indisvalid
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid)
     ORDER BY size DESC, 2`;
  const since = `statistics since ${window.since?.toISOString()} (${window.source}, ${duration(window.ageMs)} ago)`;
  const shaped = rows.map((r) => ({ index: r.index, table: r.table, scans: r.scans, size: bytes(r.size) }));
  if (window.ageMs < ctx.thresholds.statsMinAgeMs) {
    return {
      status: 'ok',
      figure: `no verdict: ${since}, under ${duration(ctx.thresholds.statsMinAgeMs)}; ${plural(rows.length, 'index', 'indexes')} unscanned so far`,
      remedy: '',
      rows: shaped,
    };
  }
  if (rows.length === 0) return { status: 'ok', figure: `every index scanned; ${since}`, remedy: '' };
  return {
    status: 'warn',
    figure: `${plural(rows.length, 'index', 'indexes')} never scanned (${bytes(rows.reduce((a, r) => a + r.size, 0))}): ${names(rows.map((r) => r.index))}`,
    remedy: 'check replicas too, then DROP INDEX CONCURRENTLY each unused index',
    rows: shaped,
  };
}

interface IndexRow {
  table: string;
  index: string;
  am: string;
  keys: number[];
  nkeys: number;
  opclasses: number[];
  exprs: string | null;
  pred: string | null;
  unique: boolean;
  primary: boolean;
  def: string;
  size: number;
}

/** The index of a duplicate pair that can go: the non-unique one, else the non-primary one, else the later name. */
function redundantOfEqual(a: IndexRow, b: IndexRow): IndexRow {
  if (a.unique !== b.unique) return a.unique ? b : a;
  if (a.primary !== b.primary) return a.primary ? b : a;
  return a.index > b.index ? a : b;
}

function isPrefix(short: number[], long: number[]): boolean {
  return short.length <= long.length && short.every((v, i) => v === long[i]);
}

/** Pure: duplicate and overlapping pairs among one database's indexes. */
export function findDuplicates(indexes: IndexRow[]): { index: string; covered_by: string; table: string; kind: string; size: number; definition: string }[] {
  const found = new Map<string, { index: string; covered_by: string; table: string; kind: string; size: number; definition: string }>();
  for (const a of indexes) {
    for (const b of indexes) {
      if (a === b || a.table !== b.table || a.am !== b.am || a.exprs !== b.exprs || a.pred !== b.pred) continue;
      const ak = a.keys.slice(0, a.nkeys);
      const bk = b.keys.slice(0, b.nkeys);
      const aOps = a.opclasses.slice(0, a.nkeys);
      const bOps = b.opclasses.slice(0, b.nkeys);
      if (!isPrefix(ak, bk) || !isPrefix(aOps, bOps)) continue;
      if (ak.length === bk.length && a.keys.length === b.keys.length && isPrefix(a.keys, b.keys)) {
        const drop = redundantOfEqual(a, b);
        const keep = drop === a ? b : a;
        if (!found.has(drop.index)) found.set(drop.index, { index: drop.index, covered_by: keep.index, table: a.table, kind: 'duplicate', size: drop.size, definition: drop.def });
      } else if (ak.length < bk.length && a.am === 'btree' && !a.unique) {
        if (!found.has(a.index)) found.set(a.index, { index: a.index, covered_by: b.index, table: a.table, kind: 'overlapping (leading columns of the other)', size: a.size, definition: a.def });
      }
    }
  }
  return [...found.values()].sort((x, y) => y.size - x.size || x.index.localeCompare(y.index));
}

/**
 * Overlapping indexes the platform keeps on purpose: the design names them, although the unique
 * index beside each one also serves its leading column. Reported, not warned about.
 * (idx_findings_assessment_id no longer overlaps: since revision c0290a8b76a4 the unique key of
 * control_findings leads with organization_id, so the index is the only one serving assessment_id.)
 */
export const INTENDED_OVERLAPS: ReadonlyMap<string, string> = new Map([
  ['public.idx_provider_inheritance_provider', 'named in the platform design beside unique (provider, control_id)'],
]);

async function duplicates(ctx: DoctorContext): Promise<Finding> {
  const raw = await ctx.sql<{ table: string; index: string; am: string; keys: string; nkeys: number; opclasses: string; exprs: string | null; pred: string | null; unique: boolean; primary: boolean; def: string; size: number }[]>`
    SELECT format('%I.%I', n.nspname, t.relname) AS "table",
           format('%I.%I', n.nspname, c.relname) AS "index",
           am.amname AS am,
           i.indkey::text AS keys,
           i.indnkeyatts::int AS nkeys,
           i.indclass::text AS opclasses,
           pg_get_expr(i.indexprs, i.indrelid) AS exprs,
           pg_get_expr(i.indpred, i.indrelid) AS pred,
           i.indisunique AS "unique",
           i.indisprimary AS "primary",
           pg_get_indexdef(i.indexrelid) AS def,
           pg_relation_size(i.indexrelid)::float8 AS size
      FROM pg_index i
      JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_class t ON t.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
      JOIN pg_am am ON am.oid = c.relam
     WHERE i.indisvalid
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`;
  const indexes: IndexRow[] = raw.map((r) => ({ ...r, keys: r.keys.split(' ').map(Number), opclasses: r.opclasses.split(' ').map(Number) }));
  const found = findDuplicates(indexes);
  const intended = found.filter((d) => d.kind !== 'duplicate' && INTENDED_OVERLAPS.has(d.index));
  const dups = found.filter((d) => !intended.includes(d));
  const rows = dups.map((d) => ({ index: d.index, covered_by: d.covered_by, table: d.table, kind: d.kind, size: bytes(d.size), definition: d.definition }));
  if (dups.length === 0) {
    const kept = intended.length ? ` (${plural(intended.length, 'overlapping index', 'overlapping indexes')} kept by design: ${intended.map((d) => d.index).join(', ')})` : '';
    return {
      status: 'ok',
      figure: `no duplicate or overlapping index among ${plural(indexes.length, 'index', 'indexes')}${kept}`,
      remedy: '',
      rows: intended.map((d) => ({ index: d.index, covered_by: d.covered_by, table: d.table, kind: d.kind, kept: INTENDED_OVERLAPS.get(d.index), size: bytes(d.size), definition: d.definition })),
    };
  }
  return {
    status: 'warn',
    figure: `${plural(dups.length, 'index', 'indexes')} covered by another: ${names(dups.map((d) => `${d.index} (by ${d.covered_by})`), 2)}`,
    remedy: 'DROP INDEX CONCURRENTLY the covered index (keep the one named in covered_by)',
    rows,
  };
}

async function invalid(ctx: DoctorContext): Promise<Finding> {
  const rows = await ctx.sql<{ index: string; table: string; unique: boolean; size: number; definition: string }[]>`
    SELECT format('%I.%I', n.nspname, c.relname) AS "index",
           format('%I.%I', n.nspname, t.relname) AS "table",
           i.indisunique AS "unique",
           pg_relation_size(i.indexrelid)::float8 AS size,
           pg_get_indexdef(i.indexrelid) AS definition
      FROM pg_index i
      JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_class t ON t.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE NOT i.indisvalid
       AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid)
     ORDER BY 1`;
  const shaped = rows.map((r) => ({ index: r.index, table: r.table, unique: r.unique, size: bytes(r.size), definition: r.definition }));
  const partial = ctx.access.readAllStats ? undefined : 'builds by other roles may not show in pg_stat_progress_create_index';
  if (rows.length === 0) return { status: 'ok', figure: 'no invalid index', remedy: '', partial };
  return {
    status: 'warn',
    figure: `${plural(rows.length, 'invalid index', 'invalid indexes')} (a failed CREATE INDEX CONCURRENTLY): ${names(rows.map((r) => r.index))}`,
    remedy: 'DROP INDEX CONCURRENTLY it, fix the cause (for a unique index: the duplicate rows), then create it again',
    rows: shaped,
    partial,
  };
}

async function seqScans(ctx: DoctorContext): Promise<Finding> {
  const t = ctx.thresholds;
  const rows = await ctx.sql<{ table: string; seq_scan: number; idx_scan: number | null; rows: number; index_percent: number | null }[]>`
    SELECT format('%I.%I', schemaname, relname) AS "table",
           seq_scan::float8 AS seq_scan,
           idx_scan::float8 AS idx_scan,
           n_live_tup::float8 AS rows,
           CASE WHEN coalesce(idx_scan, 0) + seq_scan = 0 THEN NULL
                ELSE round(100.0 * coalesce(idx_scan, 0) / (coalesce(idx_scan, 0) + seq_scan), 1)::float8 END AS index_percent
      FROM pg_stat_user_tables
     WHERE n_live_tup >= ${t.seqScanMinRows}::float8
       AND seq_scan > 0
       AND 100.0 * coalesce(idx_scan, 0) / (coalesce(idx_scan, 0) + seq_scan) < ${t.seqScanIndexPercent}::float8
     ORDER BY seq_scan DESC, 1`;
  const shaped = rows.map((r) => ({ table: r.table, rows: r.rows, seq_scans: r.seq_scan, index_scans: r.idx_scan ?? 0, index_percent: r.index_percent }));
  if (rows.length === 0) {
    return { status: 'ok', figure: `no table of ${t.seqScanMinRows}+ rows read mostly by sequential scans`, remedy: '' };
  }
  return {
    status: 'warn',
    figure: `${plural(rows.length, 'table')} of ${t.seqScanMinRows}+ rows read by sequential scans (index use under ${t.seqScanIndexPercent}%): ${names(rows.map((r) => `${r.table} ${r.index_percent ?? 0}%`))}`,
    remedy: 'find the queries on it (doctor slow-queries), EXPLAIN them, and index the columns they filter on',
    rows: shaped,
  };
}

export const indexesFamily: CheckFamily = {
  name: 'indexes',
  checks: [
    { id: 'indexes.unused', title: 'indexes never scanned', needsServer: true, run: unused },
    { id: 'indexes.duplicate', title: 'duplicate and overlapping indexes', needsServer: false, run: duplicates },
    { id: 'indexes.invalid', title: 'invalid indexes', needsServer: false, run: invalid },
    { id: 'indexes.seq-scans', title: 'tables read mostly by sequential scans', needsServer: true, run: seqScans },
  ],
};

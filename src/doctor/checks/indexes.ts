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

/** An index that can serve a foreign key's lookups: its leading key columns are the key's columns. */
export interface ForeignKeyIndex {
  index: string;
  /** `name on table`. */
  foreignKey: string;
  size: number;
}

/**
 * Pure: of the unscanned indexes (`unscanned`, by name), those to keep because a foreign key needs
 * them, with the foreign keys each serves. Deleting a parent row (or changing its key) looks up the
 * referencing rows through such an index; with none, each such statement scans the child table.
 * A foreign key that another index serves (scanned, or kept for a constraint) needs none of the
 * unscanned ones; one served only by unscanned indexes keeps the smallest (then the first by name).
 */
export function keptForForeignKeys(unscanned: Set<string>, serving: ForeignKeyIndex[]): Map<string, string[]> {
  const byKey = new Map<string, ForeignKeyIndex[]>();
  for (const s of serving) byKey.set(s.foreignKey, [...(byKey.get(s.foreignKey) ?? []), s]);
  const kept = new Map<string, string[]>();
  for (const [fk, list] of byKey) {
    if (list.some((x) => !unscanned.has(x.index))) continue;
    const keep = [...list].sort((a, b) => a.size - b.size || a.index.localeCompare(b.index))[0];
    kept.set(keep.index, [...(kept.get(keep.index) ?? []), fk]);
  }
  return kept;
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
  // Valid, non-partial btree indexes whose leading key columns are exactly a foreign key's columns (any order).
  const serving = await ctx.sql<ForeignKeyIndex[]>`
    SELECT format('%I.%I', n.nspname, c.relname) AS "index",
           format('%s on %s', k.conname, k.conrelid::regclass) AS "foreignKey",
           pg_relation_size(i.indexrelid)::float8 AS size
      FROM pg_constraint k
      JOIN pg_index i ON i.indrelid = k.conrelid
      JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_am am ON am.oid = c.relam
     WHERE k.contype = 'f' AND i.indisvalid AND i.indpred IS NULL AND am.amname = 'btree'
       AND cardinality(k.conkey) <= i.indnkeyatts
       AND (i.indkey::int2[])[0:cardinality(k.conkey) - 1] @> k.conkey
       AND (i.indkey::int2[])[0:cardinality(k.conkey) - 1] <@ k.conkey`;
  const kept = keptForForeignKeys(new Set(rows.map((r) => r.index)), serving);
  const reported = rows.filter((r) => !kept.has(r.index));
  const since = `statistics since ${window.since?.toISOString()} (${window.source}, ${duration(window.ageMs)} ago)`;
  const shaped = rows.map((r) => ({
    index: r.index,
    table: r.table,
    scans: r.scans,
    size: bytes(r.size),
    ...(kept.has(r.index) ? { kept: `serves foreign key ${kept.get(r.index)!.join(', ')}, which no used index serves: deleting or re-keying a referenced row looks up the referencing rows through it` } : {}),
  }));
  const keptNote = kept.size ? `; ${plural(kept.size, 'unscanned index', 'unscanned indexes')} kept for foreign keys` : '';
  if (window.ageMs < ctx.thresholds.statsMinAgeMs) {
    return {
      status: 'ok',
      figure: `no verdict: ${since}, under ${duration(ctx.thresholds.statsMinAgeMs)}; ${plural(reported.length, 'index', 'indexes')} unscanned so far${keptNote}`,
      remedy: '',
      rows: shaped,
    };
  }
  if (reported.length === 0) return { status: 'ok', figure: `every index scanned${keptNote}; ${since}`, remedy: '', ...(kept.size ? { rows: shaped } : {}) };
  return {
    status: 'warn',
    figure: `${plural(reported.length, 'index', 'indexes')} never scanned (${bytes(reported.reduce((a, r) => a + r.size, 0))}): ${names(reported.map((r) => r.index))}${keptNote}`,
    remedy: 'check replicas too, then DROP INDEX CONCURRENTLY each unused index (not those kept for foreign keys)',
    rows: shaped,
  };
}

interface IndexRow {
  table: string;
  index: string;
  am: string;
  /** pg_index.indkey: the key columns, then the INCLUDE columns (0 for an expression). */
  keys: number[];
  nkeys: number;
  /** Per key column: operator class, collation and sort options (indoption: DESC, NULLS FIRST). */
  opclasses: number[];
  collations: number[];
  options: number[];
  exprs: string | null;
  pred: string | null;
  unique: boolean;
  primary: boolean;
  def: string;
  size: number;
  /** The constraint the index implements (primary key, unique, exclusion), by name; null for a plain index. */
  constraint: string | null;
  /** Foreign keys (of any table) that reference the table through this index. */
  foreignKeys: string[];
}

/** One index another one makes redundant, with the statement that removes it (null when none can: foreign keys depend on it). */
export interface Redundant {
  index: string;
  covered_by: string;
  table: string;
  kind: string;
  size: number;
  definition: string;
  drop: string | null;
}

/** Constraints need it: dropping it means dropping (or moving) them. */
const needed = (x: IndexRow) => x.constraint !== null || x.foreignKeys.length > 0;

/**
 * The index of a duplicate pair that can go: one no constraint needs, else the non-unique one,
 * else the non-primary one, else the later name.
 */
function redundantOfEqual(a: IndexRow, b: IndexRow): IndexRow {
  if (needed(a) !== needed(b)) return needed(a) ? b : a;
  if (a.unique !== b.unique) return a.unique ? b : a;
  if (a.primary !== b.primary) return a.primary ? b : a;
  return a.index > b.index ? a : b;
}

function isPrefix(short: number[], long: number[]): boolean {
  return short.length <= long.length && short.every((v, i) => v === long[i]);
}

/** btree reads an index backwards too: DESC NULLS FIRST backwards is ASC NULLS LAST, so flipping both bits of every column serves the same orders. */
const BACKWARD = 3;

/**
 * Whether `a`'s key columns are `b`'s, or their leading ones, with the same operator classes,
 * collations and sort orders (all reversed counts the same: a backward scan).
 */
function keysLead(a: IndexRow, b: IndexRow): boolean {
  const n = a.nkeys;
  if (n > b.nkeys || !isPrefix(a.keys.slice(0, n), b.keys.slice(0, n))) return false;
  if (!isPrefix(a.opclasses.slice(0, n), b.opclasses) || !isPrefix(a.collations.slice(0, n), b.collations)) return false;
  const ao = a.options.slice(0, n);
  return isPrefix(ao, b.options) || (a.am === 'btree' && isPrefix(ao.map((o) => o ^ BACKWARD), b.options));
}

const included = (x: IndexRow) => x.keys.slice(x.nkeys);
const sameSet = (x: number[], y: number[]) => x.length === y.length && x.every((v) => y.includes(v));

/** The statement that removes a redundant index: DROP INDEX, or ALTER TABLE ... DROP CONSTRAINT for a constraint's own index. */
function dropStatement(x: IndexRow): string | null {
  if (x.foreignKeys.length) return null;
  if (x.constraint) return `ALTER TABLE ${x.table} DROP CONSTRAINT ${quoteIdent(x.constraint)}`;
  return `DROP INDEX CONCURRENTLY ${x.index}`;
}

function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/**
 * Pure: duplicate and overlapping pairs among one database's indexes. Duplicates: same table, access
 * method, expressions, predicate, key columns with their operator classes, collations and sort
 * orders, and the same INCLUDE columns. Overlapping (btree only, never a unique index nor one a
 * constraint needs): the keys lead another's keys, and its INCLUDE columns are among the other's
 * columns, or the keys are equal and its INCLUDE columns a subset of the other's.
 */
export function findDuplicates(indexes: IndexRow[]): Redundant[] {
  const found = new Map<string, Redundant>();
  const add = (drop: IndexRow, keep: IndexRow, kind: string) => {
    if (!found.has(drop.index)) found.set(drop.index, { index: drop.index, covered_by: keep.index, table: drop.table, kind, size: drop.size, definition: drop.def, drop: dropStatement(drop) });
  };
  for (const a of indexes) {
    for (const b of indexes) {
      if (a === b || a.table !== b.table || a.am !== b.am || a.exprs !== b.exprs || a.pred !== b.pred || !keysLead(a, b)) continue;
      const equalKeys = a.nkeys === b.nkeys;
      if (equalKeys && sameSet(included(a), included(b))) {
        const drop = redundantOfEqual(a, b);
        add(drop, drop === a ? b : a, 'duplicate');
      } else if (a.am === 'btree' && !a.unique && !needed(a) && included(a).every((c) => b.keys.includes(c))) {
        add(a, b, equalKeys ? 'overlapping (the other has the same keys and more INCLUDE columns)' : 'overlapping (leading columns of the other)');
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
  const raw = await ctx.sql<(Omit<IndexRow, 'keys' | 'opclasses' | 'collations' | 'options'> & { keys: string; opclasses: string; collations: string; options: string })[]>`
    SELECT format('%I.%I', n.nspname, t.relname) AS "table",
           format('%I.%I', n.nspname, c.relname) AS "index",
           am.amname AS am,
           i.indkey::text AS keys,
           i.indnkeyatts::int AS nkeys,
           i.indclass::text AS opclasses,
           i.indcollation::text AS collations,
           i.indoption::text AS options,
           pg_get_expr(i.indexprs, i.indrelid) AS exprs,
           pg_get_expr(i.indpred, i.indrelid) AS pred,
           i.indisunique AS "unique",
           i.indisprimary AS "primary",
           pg_get_indexdef(i.indexrelid) AS def,
           pg_relation_size(i.indexrelid)::float8 AS size,
           (SELECT k.conname FROM pg_constraint k
             WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')
             LIMIT 1) AS "constraint",
           ARRAY(SELECT format('%s on %s', k.conname, k.conrelid::regclass) FROM pg_constraint k
                  WHERE k.conindid = i.indexrelid AND k.contype = 'f' ORDER BY 1) AS "foreignKeys"
      FROM pg_index i
      JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_class t ON t.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
      JOIN pg_am am ON am.oid = c.relam
     WHERE i.indisvalid
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`;
  const vector = (v: string) => (v ? v.split(' ').map(Number) : []);
  const indexes: IndexRow[] = raw.map((r) => ({ ...r, keys: vector(r.keys), opclasses: vector(r.opclasses), collations: vector(r.collations), options: vector(r.options) }));
  const found = findDuplicates(indexes);
  const intended = found.filter((d) => d.kind !== 'duplicate' && INTENDED_OVERLAPS.has(d.index));
  const dups = found.filter((d) => !intended.includes(d));
  const rows = dups.map((d) => ({ index: d.index, covered_by: d.covered_by, table: d.table, kind: d.kind, size: bytes(d.size), definition: d.definition, drop: d.drop }));
  if (dups.length === 0) {
    const kept = intended.length ? ` (${plural(intended.length, 'overlapping index', 'overlapping indexes')} kept by design: ${intended.map((d) => d.index).join(', ')})` : '';
    return {
      status: 'ok',
      figure: `no duplicate or overlapping index among ${plural(indexes.length, 'index', 'indexes')}${kept}`,
      remedy: '',
      rows: intended.map((d) => ({ index: d.index, covered_by: d.covered_by, table: d.table, kind: d.kind, kept: INTENDED_OVERLAPS.get(d.index), size: bytes(d.size), definition: d.definition })),
    };
  }
  const statements = dups.filter((d) => d.drop).map((d) => d.drop);
  const pinned = dups.filter((d) => !d.drop).map((d) => `${d.index} (foreign keys use it: ${indexes.find((x) => x.index === d.index)!.foreignKeys.join(', ')})`);
  return {
    status: 'warn',
    figure: `${plural(dups.length, 'index', 'indexes')} covered by another: ${names(dups.map((d) => `${d.index} (by ${d.covered_by})`), 2)}`,
    remedy: [
      statements.length ? `keep the index named in covered_by and remove the other: ${statements.join('; ')}` : '',
      pinned.length ? `${pinned.join('; ')}: drop the index only together with those foreign keys, and add them again after it (they then use the covering index)` : '',
    ]
      .filter(Boolean)
      .join('; '),
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
    { id: 'indexes.unused', title: 'indexes never scanned', needsServer: true, needsCounters: true, run: unused },
    { id: 'indexes.duplicate', title: 'duplicate and overlapping indexes', needsServer: false, run: duplicates },
    { id: 'indexes.invalid', title: 'invalid indexes', needsServer: false, run: invalid },
    { id: 'indexes.seq-scans', title: 'tables read mostly by sequential scans', needsServer: true, needsCounters: true, run: seqScans },
  ],
};

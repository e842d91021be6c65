/**
 * Refreshing materialized views. CONCURRENTLY (readers are not blocked) needs the view to be
 * populated already and to have a unique index on plain columns with no WHERE clause; otherwise
 * the refresh takes an ACCESS EXCLUSIVE lock for its duration, and says so.
 */
import type postgres from 'postgres';
import { CmmcError } from '../errors.js';

export interface MaterializedView {
  /** schema.name, quoted where needed. */
  name: string;
  schema: string;
  view: string;
  populated: boolean;
  /** A unique index that allows REFRESH ... CONCURRENTLY, if any. */
  concurrentIndex: string | null;
}

export interface RefreshResult {
  view: string;
  mode: 'concurrently' | 'blocking';
  why?: string;
  ms: number;
}

export async function listMaterializedViews(sql: postgres.Sql): Promise<MaterializedView[]> {
  const rows = await sql<{ schema: string; view: string; name: string; populated: boolean; concurrent_index: string | null }[]>`
    SELECT n.nspname AS schema, c.relname AS view, format('%I.%I', n.nspname, c.relname) AS name,
           c.relispopulated AS populated,
           (SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
             WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid
               AND i.indexprs IS NULL AND i.indpred IS NULL
             ORDER BY 1 LIMIT 1) AS concurrent_index
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'm' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
     ORDER BY 3`;
  return rows.map((r) => ({ name: r.name, schema: r.schema, view: r.view, populated: r.populated, concurrentIndex: r.concurrent_index }));
}

/**
 * Refreshes the named materialized views (`name` or `schema.name`), or all of them, one after the
 * other, each in its own statement. Concurrently where allowed.
 */
export async function refreshMaterializedViews(sql: postgres.Sql, wanted: string[] = [], onStart?: (v: MaterializedView, mode: RefreshResult['mode']) => void): Promise<RefreshResult[]> {
  const all = await listMaterializedViews(sql);
  const pick: MaterializedView[] = [];
  for (const w of wanted) {
    const hits = all.filter((v) => v.name === w || `${v.schema}.${v.view}` === w || v.view === w);
    if (hits.length === 0) {
      throw new CmmcError('refresh.unknown', `no materialized view named "${w}"`, {
        hint: all.length ? `the materialized views are: ${all.map((v) => v.name).join(', ')}` : 'this database has no materialized view',
      });
    }
    if (hits.length > 1) {
      throw new CmmcError('refresh.ambiguous', `"${w}" names ${hits.length} materialized views: ${hits.map((v) => v.name).join(', ')}`, { hint: 'write it as schema.name', exitCode: 2 });
    }
    if (!pick.includes(hits[0])) pick.push(hits[0]);
  }
  const targets = wanted.length ? pick : all;
  const results: RefreshResult[] = [];
  for (const v of targets) {
    const concurrent = v.populated && v.concurrentIndex !== null;
    const mode = concurrent ? 'concurrently' : 'blocking';
    const why = concurrent ? undefined : !v.populated ? 'never populated' : 'no unique index on plain columns';
    onStart?.(v, mode);
    const started = performance.now();
    const target = sql(`${v.schema}.${v.view}`);
    if (concurrent) await sql`REFRESH MATERIALIZED VIEW CONCURRENTLY ${target}`;
    else await sql`REFRESH MATERIALIZED VIEW ${target}`;
    results.push({ view: v.name, mode, why, ms: Math.round(performance.now() - started) });
  }
  return results;
}

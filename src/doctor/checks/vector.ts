/**
 * Vector indexes (pgvector). Each ivfflat and hnsw index with its parameters against the table's
 * rows: pgvector's README sets ivfflat `lists` to rows / 1000 up to 1M rows and sqrt(rows) above;
 * off by more than a factor of IVFFLAT_LISTS_TOLERANCE warns. HNSW has no row rule; its m and
 * ef_construction are shown (defaults 16 and 64). Rows with no embedding are invisible to a
 * similarity search and are counted per vector column.
 */
import type { CheckFamily, DoctorContext, Finding } from '../types.js';
import { IVFFLAT_LISTS_TOLERANCE, IVFFLAT_MIN_ROWS } from '../thresholds.js';
import { names, plural } from '../format.js';

/** pgvector's README: lists = rows / 1000 up to 1M rows, sqrt(rows) above (at least 1). */
export function recommendedLists(rows: number): number {
  return Math.max(1, Math.round(rows <= 1_000_000 ? rows / 1000 : Math.sqrt(rows)));
}

function option(reloptions: string[] | null, name: string): number | undefined {
  const hit = (reloptions ?? []).find((o) => o.startsWith(name + '='));
  return hit ? Number(hit.slice(name.length + 1)) : undefined;
}

async function indexes(ctx: DoctorContext): Promise<Finding> {
  const raw = await ctx.sql<{ index: string; table: string; am: string; reloptions: string[] | null; reltuples: number; nspname: string; relname: string; definition: string; readable: boolean; rls: boolean }[]>`
    SELECT format('%I.%I', n.nspname, c.relname) AS "index",
           format('%I.%I', n.nspname, t.relname) AS "table",
           am.amname AS am, c.reloptions, t.reltuples::float8 AS reltuples, n.nspname, t.relname,
           has_table_privilege(t.oid, 'SELECT') AS readable, row_security_active(t.oid) AS rls,
           pg_get_indexdef(c.oid) AS definition
      FROM pg_index i
      JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_class t ON t.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
      JOIN pg_am am ON am.oid = c.relam
     WHERE am.amname IN ('ivfflat', 'hnsw')
     ORDER BY 1`;
  if (raw.length === 0) return { status: 'ok', figure: 'no ivfflat or hnsw index', remedy: '' };
  const rows = [];
  const off: string[] = [];
  for (const r of raw) {
    let count: number | null = r.reltuples;
    if (count < 0) {
      // Never analyzed: count for real (bounded by the doctor's statement_timeout), where the role's count is the table's.
      if (notCounted(r, ctx.access.role)) count = null;
      else {
        const [c] = await ctx.sql<{ n: number }[]>`SELECT count(*)::float8 AS n FROM ${ctx.sql(`${r.nspname}.${r.relname}`)}`;
        count = c.n;
      }
    }
    const shownRows = count === null ? null : Math.round(count);
    if (r.am === 'ivfflat') {
      const lists = option(r.reloptions, 'lists') ?? 100;
      const rec = count === null ? null : recommendedLists(count);
      const judged = count !== null && rec !== null && count >= IVFFLAT_MIN_ROWS;
      const bad = judged && (lists > rec * IVFFLAT_LISTS_TOLERANCE || lists < rec / IVFFLAT_LISTS_TOLERANCE);
      if (bad) off.push(`${r.index} lists=${lists} for ${shownRows} rows (about ${rec})`);
      const recommended = judged ? `lists=${rec}` : count === null ? `no verdict: never analyzed, and ${notCounted(r, ctx.access.role)}` : `no verdict under ${IVFFLAT_MIN_ROWS} rows`;
      rows.push({ index: r.index, table: r.table, type: 'ivfflat', parameters: `lists=${lists}`, rows: shownRows, recommended, verdict: bad ? 'warn' : 'ok' });
    } else {
      const m = option(r.reloptions, 'm') ?? 16;
      const ef = option(r.reloptions, 'ef_construction') ?? 64;
      rows.push({ index: r.index, table: r.table, type: 'hnsw', parameters: `m=${m}, ef_construction=${ef}`, rows: shownRows, recommended: 'no row rule (raise hnsw.ef_search for recall)', verdict: 'ok' });
    }
  }
  const summary = rows.map((r) => `${r.index} ${r.type} ${r.parameters}`);
  if (off.length) {
    return {
      status: 'warn',
      figure: `${plural(off.length, 'ivfflat index', 'ivfflat indexes')} with lists far from the rows: ${names(off, 2)}`,
      remedy: 'REINDEX INDEX CONCURRENTLY after ALTER INDEX ... SET (lists = N), or recreate it with the recommended lists',
      rows,
    };
  }
  return { status: 'ok', figure: `${plural(rows.length, 'vector index', 'vector indexes')}: ${names(summary, 3)}`, remedy: '', rows };
}

/**
 * Why the role's count of a table would not be the table's: it may not read it, or row-level
 * security shows it some rows only (a tenant's, or none). Null when its count is the table's.
 */
function notCounted(t: { readable: boolean; rls: boolean }, role: string): string | null {
  if (!t.readable) return `${role} has no SELECT on it`;
  if (t.rls) return `row-level security shows ${role} only some rows`;
  return null;
}

async function missingEmbeddings(ctx: DoctorContext): Promise<Finding> {
  const cols = await ctx.sql<{ schema: string; table: string; column: string; type: string; readable: boolean; rls: boolean }[]>`
    SELECT n.nspname AS schema, t.relname AS "table", a.attname AS "column", ty.typname AS type,
           has_table_privilege(t.oid, 'SELECT') AS readable, row_security_active(t.oid) AS rls
      FROM pg_attribute a
      JOIN pg_class t ON t.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
      JOIN pg_type ty ON ty.oid = a.atttypid
     WHERE ty.typname IN ('vector', 'halfvec', 'sparsevec') AND t.relkind IN ('r', 'p', 'm')
       AND a.attnum > 0 AND NOT a.attisdropped
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
     ORDER BY 1, 2, 3`;
  if (cols.length === 0) return { status: 'ok', figure: 'no vector column', remedy: '' };
  const rows: { column: string; type: string; rows: number | null; without_embedding: number | null; not_counted?: string }[] = [];
  for (const c of cols) {
    const column = `${c.schema}.${c.table}.${c.column}`;
    const why = notCounted(c, ctx.access.role);
    if (why) {
      rows.push({ column, type: c.type, rows: null, without_embedding: null, not_counted: why });
      continue;
    }
    const [r] = await ctx.sql<{ total: number; missing: number }[]>`
      SELECT count(*)::float8 AS total, count(*) FILTER (WHERE ${ctx.sql(c.column)} IS NULL)::float8 AS missing
        FROM ${ctx.sql(`${c.schema}.${c.table}`)}`;
    rows.push({ column, type: c.type, rows: r.total, without_embedding: r.missing });
  }
  const missing = rows.filter((r) => (r.without_embedding ?? 0) > 0);
  const uncounted = cols.filter((c) => notCounted(c, ctx.access.role));
  const table = (c: (typeof cols)[number]) => `${c.schema}.${c.table}`;
  const grants = [...new Set(uncounted.filter((c) => !c.readable).map(table))];
  const note = uncounted.length ? `${plural(uncounted.length, 'vector column')} not counted (${[...new Set(rows.filter((r) => r.not_counted).map((r) => r.not_counted))].join('; ')}): ${names(rows.filter((r) => r.not_counted).map((r) => r.column))}` : '';
  const see = [
    grants.length ? `GRANT SELECT ON ${grants.join(', ')} TO ${ctx.access.role}` : '',
    uncounted.some((c) => c.readable) ? "run the doctor as the tables' owner or a role with BYPASSRLS (the migration role) to count every tenant's rows" : '',
  ]
    .filter(Boolean)
    .join('; ');
  if (missing.length) {
    return {
      status: 'warn',
      figure: `rows without an embedding (unseen by similarity search): ${names(missing.map((r) => `${r.column} ${r.without_embedding} of ${r.rows}`))}${note ? `; ${note}` : ''}`,
      remedy: ['run the embedding job for those rows', see].filter(Boolean).join('; '),
      rows,
    };
  }
  if (uncounted.length) {
    return { status: 'unknown', figure: `${note}; every row counted has an embedding`, remedy: see, rows };
  }
  return { status: 'ok', figure: `every row has an embedding in ${plural(rows.length, 'vector column')}`, remedy: '', rows };
}

export const vectorFamily: CheckFamily = {
  name: 'vector',
  checks: [
    { id: 'vector.indexes', title: 'vector index parameters against rows', needsServer: false, run: indexes },
    { id: 'vector.embeddings', title: 'rows without an embedding', needsServer: false, run: missingEmbeddings },
  ],
};

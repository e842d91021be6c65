/**
 * Similarity search over the platform's embeddings (evidence, documents, document_chunks), written
 * with exactly the expression the HNSW indexes are built on: `embedding::halfvec(3072)` with the
 * cosine operator `<=>`. pgvector cannot index a `vector` of more than 2000 dimensions, so the
 * indexes cover the half-precision cast; a query ordering by `embedding <=> $1` (without the cast)
 * would not use them and would scan the whole table. The indexes hold every tenant's rows: only a
 * search over every row uses them (`indexedSimilaritySearchQuery`); a tenant's is exact over its own
 * rows (`similaritySearchQuery`); `searchBySimilarity` tells which from the options and the role.
 */
import { sql, type Kysely, type Selectable } from 'kysely';
import { CmmcError } from '../errors.js';
import { SCHEMA_COLUMNS, type Database } from './database.js';
import { tenantId } from '../tenant/with-tenant.js';

/** The dimension of every embedding column (text-embedding-3-large). */
export const EMBEDDING_DIMENSIONS = 3072;

/** The tables that carry an indexed embedding. */
export type EmbeddedTable = 'evidence' | 'documents' | 'document_chunks';
export const EMBEDDED_TABLES: readonly EmbeddedTable[] = ['evidence', 'documents', 'document_chunks'];

export interface SimilaritySearchOptions<T extends EmbeddedTable = EmbeddedTable> {
  table: T;
  /** The query embedding: 3072 numbers, or their pgvector text form '[0.1,0.2,...]'. */
  embedding: readonly number[] | string;
  /**
   * The tenant whose rows are searched (`organizations.id`, a UUID), or `null` to search every row the
   * connected role may see (cross-tenant jobs run by the owner). Required, so that every tenant query
   * carries an explicit `organization_id = …` filter besides the row-level security policy: on a
   * distributed database (Citus, docs/scale-out.md) that filter routes the query to the tenant's shard
   * instead of fanning it out to all of them.
   */
  organizationId: string | null;
  /** How many nearest rows to return (default 10, at most 1000). */
  limit?: number;
}

/** A row of the searched table without its embedding, with its cosine distance (0 = same direction, 2 = opposite). */
export type SimilarityMatch<T extends EmbeddedTable> = Omit<Selectable<Database[T]>, 'embedding'> & { distance: number };

/** The query embedding in pgvector's text form, checked for its dimension. */
export function toVectorLiteral(embedding: readonly number[] | string): string {
  const values = typeof embedding === 'string' ? parseVectorLiteral(embedding) : embedding;
  if (values.length !== EMBEDDING_DIMENSIONS) {
    throw new CmmcError('schema.embedding_dimensions', `the query embedding has ${values.length} dimensions, the platform stores ${EMBEDDING_DIMENSIONS}`, {
      hint: 'embed the query with the same model as the stored rows (3072 dimensions)',
    });
  }
  if (!values.every((v) => Number.isFinite(v))) {
    throw new CmmcError('schema.embedding_values', 'the query embedding holds a value that is not a finite number');
  }
  return `[${values.join(',')}]`;
}

function parseVectorLiteral(text: string): number[] {
  const inner = text.trim().replace(/^\[/, '').replace(/\]$/, '');
  return inner === '' ? [] : inner.split(',').map((v) => Number(v));
}

/**
 * The search through the table's HNSW index, as a Kysely query (not executed): `ORDER BY
 * embedding::halfvec(3072) <=> $1::halfvec(3072) LIMIT $n`, the indexed expression. Only for a
 * search over every row, by a role row-level security does not bind (the bypass role, a superuser;
 * `organizationId: null`): the index holds every tenant's rows and its scan reads `hnsw.ef_search`
 * nearest candidates before any filter applies, so under a filter (a tenant's organization_id,
 * row-level security, a condition added) the answer depends on other tenants' rows. A tenant's
 * search is `similaritySearchQuery`'s.
 */
export function indexedSimilaritySearchQuery<T extends EmbeddedTable>(db: Kysely<Database>, options: SimilaritySearchOptions<T>) {
  const { table } = options;
  if (!EMBEDDED_TABLES.includes(table)) {
    throw new CmmcError('schema.not_embedded', `"${table}" has no embedding to search`, { hint: `search one of ${EMBEDDED_TABLES.join(', ')}` });
  }
  const limit = options.limit ?? 10;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new CmmcError('schema.search_limit', `limit must be an integer from 1 to 1000 (got ${limit})`);
  }
  if (options.organizationId === undefined) {
    throw new CmmcError('schema.search_tenant', 'the similarity search names no organizationId', {
      hint: 'pass the tenant\'s organizations.id, or organizationId: null to search every row the role may see',
    });
  }
  const organizationId = options.organizationId === null ? null : tenantId(options.organizationId);
  const literal = toVectorLiteral(options.embedding);
  const distance = sql<number>`(${sql.ref('embedding')}::halfvec(3072) <=> ${literal}::halfvec(3072))`;
  const columns = Object.keys(SCHEMA_COLUMNS[table]).filter((c) => c !== 'embedding');
  const anyDb = db as unknown as Kysely<any>;
  let query = anyDb
    .selectFrom(table as string)
    .select(columns)
    .select(distance.as('distance'))
    // A row without an embedding is no match (the index leaves it out; a sort would put it last).
    .where('embedding', 'is not', null)
    .orderBy(distance)
    .limit(limit);
  if (organizationId !== null) query = query.where('organization_id', '=', organizationId);
  return query;
}

/**
 * The search as a Kysely query (not executed), for callers that add conditions or EXPLAIN it: the
 * nearest rows ranked exactly over the rows the filters leave (the tenant's `organizationId`, and
 * row-level security inside `withTenant`, where `organizationId: null` is the tenant's rows too). The
 * subquery (OFFSET 0 keeps the planner from merging it) has no ORDER BY that the shared HNSW index
 * could serve, so the planner reads the tenant's rows (through its organization_id index) and sorts
 * them: the answer never depends on other tenants' rows, whatever the role and the conditions added.
 * A search over every row that may use the index is `indexedSimilaritySearchQuery`'s.
 */
export function similaritySearchQuery<T extends EmbeddedTable>(db: Kysely<Database>, options: SimilaritySearchOptions<T>) {
  const candidates = indexedSimilaritySearchQuery(db, options).clearOrderBy().clearLimit().offset(0);
  return (db as unknown as Kysely<any>)
    .selectFrom(candidates.as('candidates'))
    .selectAll()
    .orderBy('distance')
    .limit(options.limit ?? 10);
}

/**
 * The rows nearest to a query embedding by cosine distance, nearest first. A tenant's search (an
 * `organizationId`, or a role bound by row-level security) is exact over that tenant's rows; a search
 * over every row (`organizationId: null` as a role that row-level security does not bind: the bypass
 * role, a superuser) goes through the table's HNSW index.
 *
 * Why a tenant's search never uses the index: the HNSW indexes hold every tenant's rows, and an index
 * scan reads `hnsw.ef_search` (40) nearest candidates before the tenant's filter applies. Where another
 * tenant held that many nearer rows, a tenant got fewer of its own rows, or none, and which of them
 * depended on the other tenant's rows (iterative scans only lessen it): by choosing its queries and
 * comparing the answers with its own rows, a tenant learnt where another tenant's documents lie. The
 * exact search reads the tenant's rows alone (its cost grows with them: docs/schema.md).
 *
 * @example
 * ```ts
 * const matches = await searchBySimilarity(handle.db, { table: 'document_chunks', embedding, organizationId, limit: 5 });
 * for (const m of matches) console.log(m.distance.toFixed(3), m.heading);
 * ```
 */
export async function searchBySimilarity<T extends EmbeddedTable>(
  db: Kysely<Database>,
  options: SimilaritySearchOptions<T>,
): Promise<SimilarityMatch<T>[]> {
  // Both built (and the options checked) before any SQL runs.
  const indexed = indexedSimilaritySearchQuery(db, options);
  const exact = similaritySearchQuery(db, options);
  const filtered =
    options.organizationId !== null ||
    (await sql<{ bound: boolean }>`SELECT row_security_active(${options.table}::text) AS bound`.execute(db)).rows[0].bound;
  const rows = await (filtered ? exact : indexed).execute();
  return rows.map((r: any) => ({ ...r, distance: Number(r.distance) })) as SimilarityMatch<T>[];
}

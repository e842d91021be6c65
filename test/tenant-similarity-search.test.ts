/**
 * The similarity search of one tenant must not depend on another tenant's rows. The HNSW indexes are
 * shared by every tenant, and an index scan reads a fixed number of nearest candidates (hnsw.ef_search,
 * 40) before the tenant's filter (its organization_id, and the row-level security policy) is applied:
 * when another tenant held 40 rows nearer to the query, tenant A got none of its own rows back, and
 * got them all for a query pointing away from that tenant's rows. So A learnt, by choosing query
 * embeddings, where another tenant's documents lie, and lost its own results. The planner takes the
 * index scan when the tenant is large (here it is told to, with enable_sort off).
 */
import { sql as ksql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from './helpers/server.js';
import { dropSetup, initWithTwoTenants, newSetup, rolesOf, TWO_TENANTS } from './helpers/tenant-setup.js';
import { openDatabase, type DbHandle } from '../src/db/connection.js';
import { resolveConfig } from '../src/config/config.js';
import { withTenant } from '../src/tenant/index.js';
import { searchBySimilarity, similaritySearchQuery } from '../src/schema/vector-search.js';
import type { Database } from '../src/schema/database.js';

const { A, B } = TWO_TENANTS;
const ones = (sign: 1 | -1) => `[${Array.from({ length: 3072 }, () => sign).join(',')}]`;
/** B's rows: near (1, 1, …), each with a little noise. */
const rowsOfB = (n: number) => `
  INSERT INTO evidence (organization_id, file_name, file_path, evidence_type, embedding)
  SELECT '${B}', 'b' || i, 'p', 'Log', (SELECT array_agg((1 + random() * 0.1)::real)::vector(3072) FROM generate_series(1, 3072) WHERE g.i > 0)
    FROM generate_series(1, ${n}) AS g(i)`;
/** A's rows: row i has its first 40·i components 1 and the rest -1, so every distance to (±1, …) is its own. */
const rowsOfA = (n: number) => `
  INSERT INTO evidence (organization_id, file_name, file_path, evidence_type, embedding)
  SELECT '${A}', 'a' || i, 'p', 'Log', (SELECT array_agg(CASE WHEN j <= 40 * i THEN 1 ELSE -1 END)::vector(3072) FROM generate_series(1, 3072) AS j)
    FROM generate_series(1, ${n}) AS g(i)`;

describe('similarity search of one tenant beside another', () => {
  const s = newSetup('tsim');
  let handle: DbHandle<Database>;

  beforeAll(async () => {
    await initWithTwoTenants(s);
    await query(s.adminUrl, `${rowsOfB(80)}; ${rowsOfA(8)}; ANALYZE evidence`);
    handle = await openDatabase<Database>(resolveConfig({ url: s.appUrl, env: {} }), { pool: { max: 1, min: 0 } });
  });
  afterAll(async () => {
    await handle?.close();
    await dropSetup({ db: s.db, roles: rolesOf(s) });
  });

  /** As the application role with tenant A set, the index scan preferred (a large tenant's plan). */
  const searchAsA = (embedding: string, organizationId: string | null = A) =>
    withTenant(handle.db, A, async (trx) => {
      await ksql.raw('SET LOCAL enable_sort = off').execute(trx);
      const plan = await ksql.raw<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT id FROM evidence WHERE organization_id = '${A}' ORDER BY embedding::halfvec(3072) <=> '${embedding}'::halfvec(3072) LIMIT 5`,
      ).execute(trx);
      const found = await searchBySimilarity(trx, { table: 'evidence', embedding, organizationId, limit: 5 });
      return { plan: plan.rows.map((r) => r['QUERY PLAN']).join('\n'), names: found.map((r) => r.file_name), found };
    });

  it("A gets its own 5 nearest rows, exactly, whichever way it points the query: the answer says nothing of B's rows", async () => {
    const towardB = await searchAsA(ones(1));
    expect(towardB.plan).toContain('Index Scan using idx_evidence_embedding');
    expect(towardB.names).toEqual(['a8', 'a7', 'a6', 'a5', 'a4']);
    expect((await searchAsA(ones(-1))).names).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    const distances = towardB.found.map((r) => r.distance);
    expect(distances).toEqual([...distances].sort((x, y) => x - y));
    for (const r of towardB.found) expect(r.organization_id).toBe(A);
  });

  it('organizationId null inside the tenant\'s transaction: row-level security is the filter, the answer is the same', async () => {
    expect((await searchAsA(ones(1), null)).names).toEqual(['a8', 'a7', 'a6', 'a5', 'a4']);
  });

  it('the query similaritySearchQuery builds (to add conditions or EXPLAIN) is as exact and tenant-bound, with the organizationId or null inside withTenant', async () => {
    // It still ordered by the shared index: the index scan read 40 candidates, all of B's, and the
    // filters left A none of its own rows (or all of them for a query pointed away from B).
    for (const organizationId of [A, null]) {
      const { names, plan } = await withTenant(handle.db, A, async (trx) => {
        await ksql.raw('SET LOCAL enable_sort = off').execute(trx);
        const query = similaritySearchQuery(trx, { table: 'evidence', embedding: ones(1), organizationId, limit: 5 });
        const explained = await query.explain<{ 'QUERY PLAN': string }>();
        const rows = await query.execute();
        return { names: rows.map((r: any) => r.file_name), plan: explained.map((r) => r['QUERY PLAN']).join('\n') };
      });
      expect(names, String(organizationId)).toEqual(['a8', 'a7', 'a6', 'a5', 'a4']);
      expect(plan).not.toContain('idx_evidence_embedding');
    }
  });

  it("a search over every row (organizationId null, as a role row-level security does not bind) finds every tenant's rows", async () => {
    const admin = await openDatabase<Database>(resolveConfig({ url: s.adminUrl, env: {} }), { pool: { max: 1, min: 0 } });
    try {
      const found = await searchBySimilarity(admin.db, { table: 'evidence', embedding: ones(1), organizationId: null, limit: 3 });
      expect(found.map((r) => r.organization_id)).toEqual([B, B, B]);
    } finally {
      await admin.close();
    }
  });
});

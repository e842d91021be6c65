/**
 * doctor's schema, vector and size checks against the platform schema as `cmmc-db upgrade head`
 * builds it from the project's migrations/, in a database of the test's own. A revision "changed
 * after it was applied" is shown by changing the checksum the engine recorded for it (the files
 * are shared with everyone else's tests and stay untouched).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT, runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, createTestDatabase, query, type TestDatabase } from './helpers/server.js';

function check(data: any, id: string): any {
  return data.checks.find((c: any) => c.id === id);
}

describe('doctor on the platform schema', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase('doctor_schema');
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  it('an empty database: not at head (warn), extensions and tables missing (fail), exit 2', async () => {
    const r = await runCliJson(['doctor', 'schema'], { url: tdb.url });
    expect(r.exitCode).toBe(2);
    expect(check(r.data, 'schema.migrations')).toMatchObject({ status: 'warn', remedy: 'cmmc-db upgrade head' });
    expect(check(r.data, 'schema.migrations').figure).toContain('base (nothing applied)');
    expect(check(r.data, 'schema.extensions')).toMatchObject({ status: 'fail', figure: 'missing: uuid-ossp, vector' });
    expect(check(r.data, 'schema.tables').status).toBe('fail');
    expect(check(r.data, 'schema.tables').figure).toContain('15 of 15 missing');
  });

  it('after upgrade head: schema ok, the hnsw indexes listed with their parameters, rows without an embedding counted', async () => {
    const up = await runCli(['upgrade', 'head'], { url: tdb.url });
    expect(up.exitCode, up.stderr).toBe(0);
    const r = await runCliJson(['doctor', 'schema', 'vector', 'sizes'], { url: tdb.url });
    expect(check(r.data, 'schema.migrations').status).toBe('ok');
    expect(check(r.data, 'schema.migrations').figure).toMatch(/^at head [0-9a-f]{12}/);
    expect(check(r.data, 'schema.extensions').status).toBe('ok');
    expect(check(r.data, 'schema.tables')).toMatchObject({ status: 'ok', figure: 'all 15 present' });
    expect(check(r.data, 'schema.functions').status).toBe('ok');
    const v = check(r.data, 'vector.indexes');
    expect(v.status).toBe('ok');
    expect(v.rows.length).toBeGreaterThan(0);
    for (const row of v.rows) expect(row).toMatchObject({ type: 'hnsw', parameters: expect.stringMatching(/^m=\d+, ef_construction=\d+$/) });
    const sizes = check(r.data, 'sizes.tables');
    expect(sizes.rows.map((x: any) => x.table)).toContain('public.organizations');
    const totals = sizes.rows.map((x: any) => x.total_bytes);
    expect([...totals].sort((a, b) => b - a)).toEqual(totals);
    expect(r.exitCode).toBe(0);

    // A row without an embedding is invisible to similarity search.
    await query(tdb.url, 'CREATE TABLE public.scratch_vectors (id int PRIMARY KEY, embedding vector(3))');
    await query(tdb.url, "INSERT INTO public.scratch_vectors VALUES (1, '[1,2,3]'), (2, NULL)");
    const e = await runCliJson(['doctor', 'vector.embeddings', 'schema.tables'], { url: tdb.url });
    const emb = check(e.data, 'vector.embeddings');
    expect(emb.status).toBe('warn');
    expect(emb.figure).toContain('public.scratch_vectors.embedding 1 of 2');
    // A table that is not the platform's in public is pointed out.
    expect(check(e.data, 'schema.tables')).toMatchObject({ status: 'warn' });
    expect(check(e.data, 'schema.tables').figure).toContain('scratch_vectors');
    await query(tdb.url, 'DROP TABLE public.scratch_vectors');
  });

  it('a function of the platform\'s schemas without a pinned search_path warns, naming it and the fix', async () => {
    await query(tdb.url, 'ALTER FUNCTION delete_assessment(uuid, uuid) RESET search_path');
    try {
      const r = await runCliJson(['doctor', 'schema.functions'], { url: tdb.url });
      const f = check(r.data, 'schema.functions');
      expect(f).toMatchObject({ status: 'warn', rows: [{ function: 'delete_assessment(uuid,uuid)', owner: 'postgres', problem: 'no pinned search_path' }] });
      expect(f.figure).toBe("1 function without a pinned search_path (run with the caller's): delete_assessment(uuid,uuid)");
      expect(f.remedy).toContain('ALTER FUNCTION delete_assessment(uuid,uuid) SET search_path = pg_catalog, public, pg_temp');
      expect(r.exitCode).toBe(1);
    } finally {
      await query(tdb.url, 'ALTER FUNCTION delete_assessment(uuid, uuid) SET search_path = pg_catalog, public, pg_temp');
    }
  });

  it('an ivfflat index whose lists are far from rows/1000 warns', async () => {
    await query(tdb.url, 'CREATE SCHEMA IF NOT EXISTS lab');
    await query(tdb.url, 'CREATE TABLE lab.items (id int PRIMARY KEY, embedding vector(3))');
    await query(tdb.url, "INSERT INTO lab.items SELECT g, ('[' || g || ',1,2]')::vector FROM generate_series(1, 5000) g");
    await query(tdb.url, 'CREATE INDEX items_ivf ON lab.items USING ivfflat (embedding vector_l2_ops) WITH (lists = 100)');
    await query(tdb.url, 'ANALYZE lab.items');
    const r = await runCliJson(['doctor', 'vector.indexes'], { url: tdb.url });
    const v = check(r.data, 'vector.indexes');
    expect(v.status).toBe('warn');
    const row = v.rows.find((x: any) => x.index === 'lab.items_ivf');
    expect(row).toMatchObject({ type: 'ivfflat', parameters: 'lists=100', rows: 5000, recommended: 'lists=5', verdict: 'warn' });
    expect(r.exitCode).toBe(1);
    await query(tdb.url, 'DROP SCHEMA lab CASCADE');
  });

  it('an applied revision file changed afterwards fails, naming the revision', async () => {
    const file = readdirSync(path.join(ROOT, 'migrations')).sort().find((f) => /^[0-9a-f]{12}_/.test(f))!;
    await query(tdb.url, `UPDATE cmmc_db.revision_log SET checksum = repeat('0', 64) WHERE revision = $1`, [file.slice(0, 12)]);
    const r = await runCliJson(['doctor', 'schema.migrations'], { url: tdb.url });
    const m = check(r.data, 'schema.migrations');
    expect(m.status).toBe('fail');
    expect(m.rows).toEqual([expect.objectContaining({ revision: file.slice(0, 12), problem: expect.stringContaining('file changed since applied') })]);
    expect(r.exitCode).toBe(2);
  });
});

describe('doctor vector checks as a role that does not see every row', () => {
  let tdb: TestDatabase;
  const role = `doctor_vec_${Date.now().toString(36)}`;
  beforeAll(async () => {
    tdb = await createTestDatabase('doctor_vec_rls');
    await adminQuery(`CREATE ROLE ${role} LOGIN`);
    await query(
      tdb.url,
      `CREATE EXTENSION vector;
       GRANT USAGE ON SCHEMA public TO ${role};
       -- 100 rows over 4 tenants, half without an embedding; the role sees one tenant's at most.
       CREATE TABLE notes (id int PRIMARY KEY, org int, embedding vector(3));
       INSERT INTO notes SELECT g, g % 4, CASE WHEN g % 2 = 0 THEN NULL ELSE '[1,2,3]'::vector END FROM generate_series(1, 100) g;
       ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
       CREATE POLICY tenant ON notes USING (org = nullif(current_setting('app.org', true), '')::int);
       GRANT SELECT ON notes TO ${role};
       -- A table it may not read at all.
       CREATE TABLE secrets (id int PRIMARY KEY, embedding vector(3));
       INSERT INTO secrets VALUES (1, NULL);`,
    );
  });
  afterAll(async () => {
    await tdb?.drop();
    await adminQuery(`DROP ROLE IF EXISTS ${role}`);
  });

  it('counts under row-level security, or a table it may not read, make vector.embeddings unknown with how to see them (it said "every row has an embedding", or "GRANT pg_monitor")', async () => {
    const u = new URL(tdb.url);
    u.username = role;
    const r = await runCliJson(['doctor', 'vector.embeddings'], { url: u.toString() });
    const e = check(r.data, 'vector.embeddings');
    expect(e.status).toBe('unknown');
    const byColumn = Object.fromEntries(e.rows.map((x: any) => [x.column, x]));
    expect(byColumn['public.notes.embedding']).toMatchObject({ rows: null, without_embedding: null });
    expect(byColumn['public.notes.embedding'].not_counted).toContain('row-level security');
    expect(byColumn['public.secrets.embedding'].not_counted).toContain('no SELECT');
    expect(e.figure).toContain('2 vector columns not counted');
    expect(e.remedy).not.toContain('pg_monitor');
    expect(e.remedy).toContain(`GRANT SELECT ON public.secrets TO ${role}`);
    expect(r.exitCode).toBe(3);

    // Its owner sees every row: 50 of 100 without an embedding.
    const owner = await runCliJson(['doctor', 'vector.embeddings'], { url: tdb.url });
    const o = check(owner.data, 'vector.embeddings');
    expect(o.status).toBe('warn');
    expect(o.figure).toContain('public.notes.embedding 50 of 100');
  });
});

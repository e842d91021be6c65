/**
 * A query that fails after the server has sent some of its rows (a division by zero on the fourth
 * row, a lock_timeout met half-way through a catalogue scan, a statement_timeout while streaming)
 * must leave the next query on the same connection its own rows, and only those. postgres.js
 * 3.4.9 reset its row counter only when a statement completed, so the next query's rows were
 * stored after as many empty slots as the failed one had received (porsager/postgres issues 1119,
 * 1181): `const [row] = await sql...` read an empty slot, and `rows.map` made blank entries. The
 * doctor's lock-holder line came out as "; ; ; … pid 123 holds … (SELECT pg_terminate_backend(undefined))"
 * (test/doctor-connections.test.ts). Patched in patches/postgres+3.4.9.patch.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPool } from '../src/db/driver.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('cmmc_rows_after_error');
});
afterAll(async () => {
  await db?.drop();
});

it('the query after one that failed mid-stream gets exactly its own rows, sent after it or pipelined behind it', async () => {
  const sql = createPool(db.url, { max: 1 });
  try {
    // Three rows reach the client, then the fourth fails.
    const failing = () => sql`SELECT i, 1 / (4 - i) AS boom FROM generate_series(1, 10) i`;
    await expect(failing()).rejects.toMatchObject({ code: '22012' });
    const after = await sql<{ x: number }[]>`SELECT x FROM generate_series(1, 2) x`;
    expect(after.length).toBe(2);
    expect([...after]).toEqual([{ x: 1 }, { x: 2 }]);

    // Pipelined on the one connection, as Promise.all sends them.
    const [a, b] = await Promise.allSettled([failing(), sql<{ x: number }[]>`SELECT x FROM generate_series(1, 2) x`]);
    expect(a.status).toBe('rejected');
    expect(b.status === 'fulfilled' && [...b.value]).toEqual([{ x: 1 }, { x: 2 }]);
    const [row] = await sql<{ one: number }[]>`SELECT 1 AS one`;
    expect(row).toEqual({ one: 1 });
  } finally {
    await sql.end({ timeout: 1 });
  }
});

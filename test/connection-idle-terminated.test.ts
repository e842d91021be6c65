/**
 * A session the server ends while the pool holds it idle (pg_terminate_backend, a failover): the
 * queries that meet the dying socket fail (CONNECTION_CLOSED, ECONNRESET, 57P01) and a later one
 * runs on a new session. postgres.js left a query written to the socket between its error and its
 * close waiting for ever (and the next session's answers went to the wrong queries), so a run
 * hung. A hang fails this test by its timeout; nothing here is timed.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPool } from '../src/db/driver.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('cmmc_idle_terminated');
});
afterAll(async () => {
  await db?.drop();
});

it('every query after a termination settles, and the pool serves again', async () => {
  const name = `cmmc-db:idle-terminated:${process.pid}`;
  const sql = createPool(db.url, { max: 1, applicationName: name });
  const admin = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    const LOST = ['CONNECTION_CLOSED', 'ECONNRESET', 'EPIPE', '57P01', 'CONNECTION_DESTROYED'];
    /** A query that runs once the loss has been seen (the first after it may still meet the old socket). */
    const serves = async () => {
      for (let tries = 0; ; tries++) {
        try {
          return (await sql`SELECT 1 AS one`)[0].one;
        } catch (err) {
          if (tries > 3 || !LOST.includes((err as { code?: string }).code ?? '')) throw err;
        }
      }
    };
    for (let round = 0; round < 8; round++) {
      expect(await serves()).toBe(1);
      await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${name}`;
      // Queries at once, while the socket is closing: each fails as lost or runs; none waits for ever.
      const settled = await Promise.allSettled([sql`SELECT 1 AS one`, sql`SELECT 1 AS one`, sql`SELECT 1 AS one`]);
      for (const s of settled) if (s.status === 'rejected') expect(LOST).toContain(s.reason.code);
    }
  } finally {
    await sql.end({ timeout: 1 });
    await admin.end();
  }
}, 60_000);

/**
 * The application_name an application gives its database (README: DATABASE_URL takes
 * `application_name`; PGAPPNAME) names its sessions. The pool replaced it with `cmmc-db:<pid>:<n>`
 * (its sessions are counted by a name of their own, for healthCheck): the platform's API showed as
 * "cmmc-db" in pg_stat_activity and in the server's log. Now the pool's name is led by the
 * target's (`platform-api:<pid>:<n>`), still one per pool and still counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, healthCheck } from '../src/index.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

describe("the application's application_name", () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase('cmmc_lib_appname');
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  async function seen(input: Parameters<typeof createPool>[0]): Promise<{ names: string[]; own: string; size: number }> {
    const pool = await createPool(input, { pool: { min: 2, max: 3 } });
    try {
      const rows = await pool.sql<{ name: string }[]>`SELECT application_name AS name FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() ORDER BY 1`;
      const health = await healthCheck(pool);
      return { names: [...new Set(rows.map((r) => r.name))], own: pool.applicationName, size: health.pool.size };
    } finally {
      await pool.close();
    }
  }

  it("the URL's application_name leads the pool's sessions' name; healthCheck still counts them", async () => {
    const r = await seen({ url: `${tdb.url}?application_name=platform-api` });
    expect(r.own).toMatch(new RegExp(`^platform-api:${process.pid}:\\d+$`));
    expect(r.names).toEqual([r.own]);
    expect(r.size).toBe(2);
  });

  it("PGAPPNAME too; a long or non-ASCII name is kept as the server keeps it, and counted", async () => {
    expect((await seen({ env: { DATABASE_URL: tdb.url, PGAPPNAME: 'platform-worker' } })).own).toMatch(/^platform-worker:\d+:\d+$/);
    const r = await seen({ url: `${tdb.url}?application_name=${encodeURIComponent('plateforme-é-' + 'x'.repeat(80))}` });
    expect(Buffer.byteLength(r.own)).toBeLessThanOrEqual(63);
    expect(r.own.startsWith('plateforme-?')).toBe(true);
    expect(r.names).toEqual([r.own]);
    expect(r.size).toBe(2);
  });

  it('without one, the pool is named cmmc-db:<pid>:<n>, as before', async () => {
    expect((await seen({ url: tdb.url })).own).toMatch(new RegExp(`^cmmc-db:${process.pid}:\\d+$`));
  });
});

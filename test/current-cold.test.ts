/**
 * `current` on a server, as it runs cold: how many statements it sends (each one a round trip it
 * waits for), and the engine's state read in one go giving what the per-table reads gave.
 * Counts, never times: the times are in bench/cold-start.mjs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, createTestDatabase, query, type TestDatabase } from './helpers/server.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('cold');
  const up = await runCli(['upgrade', 'head'], { url: db.url });
  expect(up.exitCode, up.stderr).toBe(0);
});
afterAll(async () => {
  await db?.drop();
});

/**
 * Transactions the server counted in `database` while `fn` ran: one per statement outside an
 * explicit transaction, plus the session's own start. Read once the CLI's sessions are gone, since
 * a session hands in its counts when it ends.
 */
async function transactionsDuring(database: string, fn: () => Promise<void>): Promise<number> {
  const count = async () => {
    for (;;) {
      const [row] = await adminQuery<{ n: string; sessions: number }>(
        `SELECT pg_stat_clear_snapshot(), (xact_commit + xact_rollback)::text AS n, numbackends AS sessions FROM pg_stat_database WHERE datname = '${database}'`,
      );
      if (row.sessions === 0) return Number(row.n);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const before = await count();
  await fn();
  return (await count()) - before;
}

describe('current at head on a server', () => {
  it('sends three statements: the connection check that also lists scratch databases to sweep, which engine tables exist, and their rows', async () => {
    const n = await transactionsDuring(db.name, async () => {
      const r = await runCli(['current'], { url: db.url });
      expect(r.exitCode, r.stderr).toBe(0);
    });
    // Three statements and the session's start (it was seven: SELECT 1, the sweep's list, and
    // to_regclass + a read for each of the version table and the revision log).
    expect(n).toBeLessThanOrEqual(4);
  });

  it('reads the version rows (ordered) and the checksums as the per-table reads do, also with two heads and a stamp row with no log', async () => {
    const other = await createTestDatabase('cold_state');
    try {
      await query(other.url, `CREATE TABLE public.cmmc_schema_version (version_num varchar(64) PRIMARY KEY); INSERT INTO public.cmmc_schema_version VALUES ('zz_unknown'), ('aa_unknown')`);
      // The version table alone (no revision log yet): its rows, sorted, and nothing changed.
      let r = await runCliJson(['current'], { url: other.url });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.data.current).toEqual(['aa_unknown', 'zz_unknown']);
      // Both tables: the same rows, in the same order, from the one statement.
      const up = await runCli(['stamp', 'head', '--purge', '--yes'], { url: other.url });
      expect(up.exitCode, up.stderr).toBe(0);
      await query(other.url, `INSERT INTO public.cmmc_schema_version VALUES ('zz_unknown'), ('aa_unknown')`);
      r = await runCliJson(['current'], { url: other.url });
      expect(r.exitCode, r.stderr).toBe(0);
      const [head] = (await runCliJson(['heads'], { url: other.url })).data.map((h: { revision: string }) => h.revision);
      expect(r.data.current).toEqual(['aa_unknown', head, 'zz_unknown'].sort());
    } finally {
      await other.drop();
    }
  });
});

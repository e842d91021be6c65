/**
 * A session lost in the middle of a revision (pg_terminate_backend here; a failover in
 * test/high-availability.test.ts): the run ends with exit 1 and one line naming what was applied,
 * never a hang or Node's exit 13 (a postgres.js end() and a second statement on the lost reserved
 * connection never settled), and the database is left at the last applied revision.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { adminQuery, createTestDatabase, query, type TestDatabase } from './helpers/server.js';

describe('a session lost during a revision', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase('cmmc_lost');
    dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-lost-'));
    writeFileSync(path.join(dir, 'cccc00000001_one.sql'), '-- revision: cccc00000001\n-- down_revision: none\n-- message: one\n-- migrate:up\nCREATE TABLE lost_one (id int);\n-- migrate:down\nDROP TABLE lost_one;\n');
    writeFileSync(path.join(dir, 'cccc00000002_two.sql'), '-- revision: cccc00000002\n-- down_revision: cccc00000001\n-- message: two\n-- migrate:up\nCREATE TABLE lost_two (id int);\nSELECT pg_sleep(30);\n-- migrate:down\nDROP TABLE lost_two;\n');
  });
  afterAll(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ends the run with one line and exit 1, at the last applied revision', async () => {
    const env = { CMMC_MIGRATIONS_DIR: dir };
    const running = runCli(['upgrade', 'head'], { url: db.url, env, timeoutMs: 60_000 });
    for (let i = 0; ; i++) {
      const [{ n }] = await adminQuery<{ n: number }>(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = '${db.name}' AND query LIKE '%pg_sleep(30)%' AND state = 'active'`,
      );
      if (n > 0) break;
      if (i > 400) throw new Error('the slow revision never started');
      await new Promise((r) => setTimeout(r, 50));
    }
    const first = await running;
    expect(first.exitCode, first.stderr).toBe(1);
    const errors = first.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toEqual([expect.stringMatching(/^error: the connection to PostgreSQL was lost during upgrade of revision cccc00000002 \(cccc00000002_two\.sql\): .*; cccc00000002 was rolled back and the database is consistent; applied before it in this run: cccc00000001 — /)]);

    // The database is consistent: the first revision applied and logged once, the second not at all.
    const [state] = await query<{ log: string; heads: string; two: boolean }>(
      db.url,
      `SELECT (SELECT string_agg(revision || ' ' || operation, ', ' ORDER BY id) FROM cmmc_db.revision_log) AS log,
              (SELECT string_agg(version_num, ',') FROM cmmc_schema_version) AS heads, to_regclass('lost_two') IS NOT NULL AS two`,
    );
    expect(state).toEqual({ log: 'cccc00000001 upgrade', heads: 'cccc00000001', two: false });
  });
});

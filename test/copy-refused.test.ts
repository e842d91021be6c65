/**
 * A COPY ... FROM stdin whose data the server refuses part-way (a row that breaks a CHECK, a column
 * too many) must fail, not wait for ever. postgres.js 3.4.9 settled the COPY's writable only on
 * CommandComplete: once the data had gone with CopyDone, the server's ErrorResponse rejected nothing
 * and the stream never finished (porsager/postgres issue 1173, PR 1183). `cmmc-db seed` of a file
 * whose COPY data had one bad row hung until killed, its transaction open on the server; inside
 * sql.begin no ROLLBACK was ever sent. Patched in patches/postgres+3.4.9.patch (scripts/postinstall.mjs).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';
import { createPool } from '../src/db/driver.js';
import { executeStatement } from '../src/sql/execute.js';
import { splitSql } from '../src/sql/lexer.js';

const SCRIPT = `CREATE TABLE things (i int CHECK (i < 3));
COPY things (i) FROM stdin;
1
2
3
4
\\.
`;

/** `p`, or a rejection after `ms` (the defect: it never settled). */
const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms).unref())]);

describe('COPY data refused part-way', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase('cmmc_copy_refused');
    dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-copy-refused-'));
  });
  afterAll(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails with the server error inside a transaction, which rolls back; the connection then answers its next query with its own rows', async () => {
    const sql = createPool(db.url, { max: 1 });
    try {
      const [create, copy] = splitSql(SCRIPT);
      const run = sql.begin(async (tx) => {
        await executeStatement(tx, create, { kind: 'server' });
        await executeStatement(tx, copy, { kind: 'server' });
      });
      await expect(within(run, 10_000)).rejects.toMatchObject({ code: '23514' });
      const after = await sql<{ x: number }[]>`SELECT x FROM generate_series(1, 2) x`;
      expect([...after]).toEqual([{ x: 1 }, { x: 2 }]);
      const [{ there }] = await sql<{ there: boolean }[]>`SELECT to_regclass('things') IS NOT NULL AS there`;
      expect(there).toBe(false);
      // No session left idle in an aborted transaction.
      const stuck = await query(db.url, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`);
      expect(stuck).toEqual([]);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it('cmmc-db seed of a file whose COPY data has a bad row: one line naming the constraint, exit 1, nothing of the file kept', async () => {
    writeFileSync(path.join(dir, '01_things.sql'), SCRIPT);
    const r = await runCli(['seed'], { url: db.url, env: { CMMC_SEEDS_DIR: dir }, timeoutMs: 60_000 });
    expect(r.stderr).not.toContain('SIGTERM');
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toContain('things_i_check');
    const [{ there }] = await query<{ there: boolean }>(db.url, `SELECT to_regclass('things') IS NOT NULL AS there`);
    expect(there).toBe(false);
  });
});

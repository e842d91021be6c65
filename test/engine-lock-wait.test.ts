/**
 * A revision whose statement waits for a lock another session holds. Before, the run said nothing
 * for as long as it waited (up to the statement timeout, 60 s by default) while every other query on
 * that table queued behind it; a lock timeout's hint sent the user to `doctor connections.blocked`,
 * which by then finds no one blocked. Now the wait is said within a second (or half the lock
 * timeout), naming the holder, and the failure names it too.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

const REVISIONS: Record<string, string> = {
  '3c0000000001_items.sql': '-- revision: 3c0000000001\n-- down_revision: none\n-- message: items\n-- migrate:up\nCREATE TABLE items (id int PRIMARY KEY);\n-- migrate:down\nDROP TABLE items;\n',
  '3c0000000002_item_name.sql': '-- revision: 3c0000000002\n-- down_revision: 3c0000000001\n-- message: item name\n-- migrate:up\nALTER TABLE items ADD COLUMN name text;\n-- migrate:down\nALTER TABLE items DROP COLUMN name;\n',
};

describe('a revision waiting for a lock', () => {
  let tdb: TestDatabase;
  let dir: string;
  let holder: postgres.Sql;
  let pid: number;
  const env = () => ({ CMMC_MIGRATIONS_DIR: dir });

  beforeAll(async () => {
    tdb = await createTestDatabase();
    dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-lock-wait-'));
    for (const [name, text] of Object.entries(REVISIONS)) writeFileSync(path.join(dir, name), text);
    expect((await runCli(['upgrade', '3c0000000001'], { url: tdb.url, env: env() })).exitCode).toBe(0);
    holder = postgres(tdb.url, { max: 1, onnotice: () => {}, connection: { application_name: 'report-job' } });
    [{ pid }] = await holder<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
  });
  afterAll(async () => {
    await holder.end({ timeout: 1 });
    await tdb.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Holds ACCESS SHARE on items in an open transaction until `release` resolves. */
  async function holdLock(release: Promise<void>): Promise<void> {
    let locked!: () => void;
    const ready = new Promise<void>((r) => (locked = r));
    const done = holder.begin(async (tx) => {
      await tx`LOCK TABLE items IN ACCESS SHARE MODE`;
      locked();
      await release;
    });
    await ready;
    void done.catch(() => {});
  }

  it('a lock timeout: the wait is said while it lasts, and the failure names who held the lock', async () => {
    let release!: () => void;
    await holdLock(new Promise<void>((r) => (release = r)));
    try {
      const r = await runCliJson(['upgrade', 'head', '--lock-timeout', '2s'], { url: tdb.url, env: env() });
      expect(r.exitCode).toBe(1);
      expect(r.data.status).toBe('failed');
      expect(r.stderr).toContain(`warning: upgrade 3c0000000001 -> 3c0000000002 is waiting for a lock on public.items held by server pid ${pid} (user postgres, report-job, idle in transaction, transaction open `);
      expect(r.stderr).toContain('every other query on that table now waits too');
      expect(r.stderr).toContain('the run gives up at its lock timeout');
      expect(r.data.failed.error.sqlState).toBe('55P03');
      expect(r.data.failed.error.hint).toContain(`the lock on public.items was held by server pid ${pid} (user postgres, report-job, idle in transaction`);
      expect(r.data.failed.error.hint).toContain(`SELECT pg_terminate_backend(${pid})`);
    } finally {
      release();
    }
  });

  it('no lock timeout: the wait is said once, and the run goes on when the lock is released', async () => {
    let release!: () => void;
    await holdLock(new Promise<void>((r) => (release = r)));
    const timer = setTimeout(() => release(), 3000);
    try {
      const r = await runCli(['upgrade', 'head'], { url: tdb.url, env: env() });
      expect(r.exitCode, r.stderr).toBe(0);
      const waits = r.stderr.split('\n').filter((l) => l.includes('is waiting for a lock'));
      expect(waits).toHaveLength(1);
      expect(waits[0]).toContain(`held by server pid ${pid}`);
      expect(waits[0]).toContain('--lock-timeout 5s makes a run give up by itself');
      expect(r.stderr).toContain('applied 1 revision');
    } finally {
      clearTimeout(timer);
      release();
    }
  });
});

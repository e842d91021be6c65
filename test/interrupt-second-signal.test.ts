/**
 * A second signal while the first is being handled. `timeout -s INT` signals the process and its
 * group, so a run may get the same signal twice at once: that is one interruption, handled in full
 * (its one line, its cleanups). A second Ctrl-C that comes later, while a cleanup is still under way
 * (here: the DROP of a restore's half-built database, kept waiting by a lock), exits at once, but
 * still with the one closing line. Before, the
 * second signal exited silently (130/143 and nothing said). Real processes, signals and server.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { BIN, cleanEnv, runCliJson } from './helpers/cli.js';
import { ADMIN_URL, adminQuery, dropDatabase, trackedDatabases, query, type TestDatabase } from './helpers/server.js';

async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleeping = async (database: string) =>
  (await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${database}' AND wait_event = 'PgSleep'`))[0].n > 0;

describe('a second signal while the first is handled', () => {
  let work: string;
  const dbs = trackedDatabases();

  beforeAll(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-second-signal-'));
  });
  afterAll(async () => {
    rmSync(work, { recursive: true, force: true });
  });

  /** A database and one revision that sleeps for thirty seconds. */
  async function slowRevision(name: string): Promise<{ db: TestDatabase; dir: string }> {
    const db = await dbs.create(`cmmc_sig2_${name}`);
    const dir = path.join(work, name);
    mkdirSync(dir);
    const lines = ['-- revision: s1', '-- down_revision: none', '-- message: s1', '-- migrate:up', 'CREATE TABLE slow (id int);', 'SELECT pg_sleep(30);', '-- migrate:down', 'SELECT 1;', ''];
    writeFileSync(path.join(dir, 's1.sql'), lines.join('\n'));
    return { db, dir };
  }

  it('a second Ctrl-C while a cleanup is still under way exits at once with the one closing line (exit 130), never silently', async () => {
    // A restore interrupted while pg_restore loads: its cleanup drops the database being built, and
    // a session holding a lock on that database (COMMENT ON DATABASE in an open transaction) keeps
    // the DROP waiting, so the cleanup is still under way when the second Ctrl-C comes.
    const db = await dbs.create('cmmc_sig2_restore');
    await query(db.url, 'CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 400000) g');
    const dir = path.join(work, 'restore');
    const made = await runCliJson(['backup', '--dir', dir], { url: db.url });
    expect(made.exitCode, made.stderr).toBe(0);
    const before = new Set((await adminQuery<{ datname: string }>('SELECT datname FROM pg_database')).map((r) => r.datname));
    const child = execa('node', [BIN, 'backup', 'restore', made.data.name, '--dir', dir, '--target-db', `${db.name}_copy`, '--yes'], {
      env: cleanEnv({ DATABASE_URL: db.url }),
      extendEnv: false,
      reject: false,
    });
    let building: string | undefined;
    await waitUntil(async () => {
      const now = await adminQuery<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'cmmc\_scratch\_restore%'");
      building = now.map((r) => r.datname).find((n) => !before.has(n));
      return Boolean(building) && (await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE datname = '${building}' AND query ILIKE '%COPY%'`)).length > 0;
    }, 30_000, 'pg_restore loading');
    const holder = postgres(ADMIN_URL, { max: 1 });
    const reserved = await holder.reserve();
    try {
      await reserved.unsafe('BEGIN');
      await reserved.unsafe(`COMMENT ON DATABASE "${building}" IS 'held by the test'`);
      const t0 = Date.now();
      child.kill('SIGINT');
      // Well after the first (not the same signal delivered twice), while the DROP waits.
      await new Promise((r) => setTimeout(r, 400));
      child.kill('SIGINT');
      const r = await child;
      expect(r.exitCode).toBe(130);
      const lines = r.stderr.split('\n').filter((l) => /interrupted \(Ctrl-C\)/.test(l));
      expect(lines, r.stderr).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at |Error:/);
      // At once: not after the first signal's whole wait.
      expect(Date.now() - t0).toBeLessThan(3_000);
    } finally {
      await reserved.unsafe('ROLLBACK').catch(() => {});
      reserved.release();
      await holder.end({ timeout: 1 });
      if (building) await dropDatabase(building);
      await dropDatabase(`${db.name}_copy`);
    }
  });

  it('the same signal delivered to the process and to its group at once (timeout -s INT) is one interruption: one line, exit 130', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const { db, dir } = await slowRevision(`group${attempt}`);
      const child = execa('node', [BIN, 'upgrade', 'head', '--migrations-dir', dir], { env: cleanEnv({ DATABASE_URL: db.url }), extendEnv: false, reject: false, detached: true });
      await waitUntil(() => sleeping(db.name), 30_000, 'the slow revision');
      // As timeout(1) does: the process, then its process group (the process again).
      process.kill(child.pid!, 'SIGINT');
      process.kill(-child.pid!, 'SIGINT');
      const r = await child;
      expect(r.exitCode).toBe(130);
      expect(r.stderr.split('\n').filter((l) => /interrupted \(Ctrl-C\)/.test(l)), r.stderr).toHaveLength(1);
      // Handled in full: the cleanup's own state, not cut short.
      expect(r.stderr).not.toMatch(/not waited for/);
    }
  });
});

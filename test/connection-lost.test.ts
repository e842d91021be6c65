/**
 * pg_terminate_backend on the tool's own session in the middle of a command (what a failover or a
 * restart does): upgrade, revision --autogenerate, check, backup and doctor each end with one line
 * naming what was interrupted, exit 1, no stack trace, and a consistent state. The session is caught
 * mid-command deterministically: sleeping in a revision, or waiting on a lock the test holds.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from './helpers/cli.js';
import { adminQuery, createTestDatabase, type TestDatabase } from './helpers/server.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-lost-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Terminates, until `until` settles, every backend that `where` (SQL over pg_stat_activity) selects. */
async function terminateWhile(where: string, until: Promise<unknown>): Promise<number> {
  let done = false;
  void until.finally(() => (done = true));
  let killed = 0;
  while (!done) {
    const rows = await adminQuery<{ t: boolean }>(`SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND ${where}`);
    killed += rows.filter((r) => r.t).length;
    await new Promise((r) => setTimeout(r, 30));
  }
  return killed;
}

/** Runs `fn` while the test holds ACCESS EXCLUSIVE on `table` of `url`'s database (released after). */
async function whileLocked<T>(url: string, table: string, fn: () => Promise<T>): Promise<T> {
  const lock = postgres(url, { max: 1, onnotice: () => {} });
  const reserved = await lock.reserve();
  try {
    await reserved`BEGIN`;
    await reserved.unsafe(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    return await fn();
  } finally {
    await reserved`ROLLBACK`.catch(() => {});
    reserved.release();
    await lock.end();
  }
}

function oneLine(r: CliResult): void {
  expect(r.exitCode, r.stderr).toBe(1);
  expect(r.stderr.split('\n').filter((l) => l.startsWith('error'))).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr).not.toMatch(/TypeError|Unhandled|uncaught/i);
}

/** Three plain-SQL revisions: a table, a 30-second sleep, another table. */
function sleepyMigrations(dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const bodies = ['CREATE TABLE lost_a (id int);\n\n-- migrate:down\nDROP TABLE lost_a;', 'SELECT pg_sleep(30);\n\n-- migrate:down\n', 'CREATE TABLE lost_c (id int);\n\n-- migrate:down\nDROP TABLE lost_c;'];
  return (async () => {
    const ids: string[] = [];
    for (const [i, body] of bodies.entries()) {
      const before = new Set(readdirSync(dir));
      const r = await runCli(['revision', '-m', `step ${i + 1}`, '--sql', '--migrations-dir', dir], { cwd: work });
      expect(r.exitCode, r.stderr).toBe(0);
      const file = path.join(dir, readdirSync(dir).find((f) => !before.has(f))!);
      const text = readFileSync(file, 'utf8').replace(/-- migrate:up\n[\s\S]*$/, `-- migrate:up\n${body}\n`);
      writeFileSync(file, text);
      ids.push(/^-- revision: (\S+)/m.exec(text)![1]);
    }
    return ids;
  })();
}

describe('the server terminates the tool\'s session mid-command', () => {
  let tdb: TestDatabase;
  let ids: string[];
  const dir = path.join(work, 'migrations');
  beforeAll(async () => {
    tdb = await createTestDatabase();
    ids = await sleepyMigrations(dir);
  });
  afterAll(async () => {
    await tdb.drop();
  });

  /** The version table exists (each test can run alone): at least the first revision applied. */
  async function atFirstRevision(): Promise<void> {
    const r = await runCli(['current', '--migrations-dir', dir], { url: tdb.url, cwd: work });
    if (!r.stdout.includes(ids[0])) expect((await runCli(['upgrade', ids[0], '--migrations-dir', dir], { url: tdb.url, cwd: work })).exitCode).toBe(0);
  }

  it('upgrade: names the revision in flight, says it was rolled back and which were applied; the version table agrees', async () => {
    const run = runCli(['upgrade', 'head', '--migrations-dir', dir], { url: tdb.url, cwd: work });
    const killed = await terminateWhile(`datname = '${tdb.name}' AND query LIKE '%pg_sleep(30)%'`, run);
    const r = await run;
    expect(killed).toBeGreaterThan(0);
    oneLine(r);
    expect(r.stderr).toContain(`the connection to PostgreSQL was lost during upgrade of revision ${ids[1]}`);
    expect(r.stderr).toContain(`${ids[1]} was rolled back and the database is consistent; applied before it in this run: ${ids[0]}`);
    const sql = postgres(tdb.url, { max: 1, onnotice: () => {} });
    try {
      expect((await sql`SELECT version_num FROM public.cmmc_schema_version`).map((x) => x.version_num)).toEqual([ids[0]]);
      expect((await sql`SELECT to_regclass('public.lost_c') AS t`)[0].t).toBeNull();
    } finally {
      await sql.end();
    }
  });

  it('check: waiting on the version table when terminated: one line naming the command', async () => {
    await atFirstRevision();
    await whileLocked(tdb.url, 'public.cmmc_schema_version', async () => {
      const run = runCli(['check', '--migrations-dir', dir], { url: tdb.url, cwd: work });
      const killed = await terminateWhile(`datname = '${tdb.name}' AND application_name LIKE 'cmmc-db%' AND wait_event_type = 'Lock'`, run);
      const r = await run;
      expect(killed).toBeGreaterThan(0);
      oneLine(r);
      expect(r.stderr).toContain('the connection to PostgreSQL was lost during "cmmc-db check"');
    });
  });

  it('backup: pg_dump terminated while it waits for its table locks: one line, no backup kept', async () => {
    await atFirstRevision();
    const backups = path.join(work, 'backups');
    await whileLocked(tdb.url, 'public.lost_a', async () => {
      const run = runCli(['backup', '--dir', backups], { url: tdb.url, cwd: work });
      const killed = await terminateWhile(`datname = '${tdb.name}' AND application_name = 'pg_dump' AND wait_event_type = 'Lock'`, run);
      const r = await run;
      expect(killed).toBeGreaterThan(0);
      oneLine(r);
      expect(r.stderr).toMatch(/pg_dump failed: .*(terminat|server closed the connection)/);
      const kept = existsSync(backups) ? readdirSync(backups).filter((f) => !f.startsWith('.')) : [];
      expect(kept.filter((f) => /\.(dump|sql|json)$/.test(f))).toEqual([]);
    });
  });

  it('doctor: the check whose session was terminated is unknown, naming the lost connection; the others still run; no stack', async () => {
    await atFirstRevision();
    await whileLocked(tdb.url, 'public.cmmc_schema_version', async () => {
      const run = runCli(['doctor', '--migrations-dir', dir, '--json'], { url: tdb.url, cwd: work });
      const killed = await terminateWhile(`datname = '${tdb.name}' AND application_name LIKE 'cmmc-db%' AND wait_event_type = 'Lock'`, run);
      const r = await run;
      expect(killed).toBeGreaterThan(0);
      // The doctor speaks the monitoring convention (docs/doctor.md): a report, never a crash.
      expect(r.stderr).not.toMatch(/\n\s+at |TypeError|Unhandled/);
      const report = JSON.parse(r.stdout) as { exitCode: number; checks: { id: string; status: string; figure: string }[] };
      expect(r.exitCode).toBe(report.exitCode);
      expect(r.exitCode).toBeGreaterThan(0);
      const lost = report.checks.filter((c) => c.figure.includes('the connection to PostgreSQL was lost'));
      expect(lost.length).toBeGreaterThan(0);
      expect(lost.every((c) => c.status === 'unknown')).toBe(true);
      expect(report.checks.filter((c) => c.status === 'ok').length).toBeGreaterThan(0);
    });
  });

  it('revision --autogenerate: terminated while building its scratch head: one line, no revision written, no scratch database left', async () => {
    const schemaFile = path.join(work, 'schema.sql');
    writeFileSync(schemaFile, 'CREATE TABLE lost_a (id int);\nCREATE TABLE lost_c (id int);\nCREATE TABLE lost_new (id int);\n');
    const before = readdirSync(dir).sort();
    const tag = `lost${process.pid}`;
    const run = runCli(['revision', '--autogenerate', '-m', 'x', '--schema-file', schemaFile, '--migrations-dir', dir], { url: tdb.url, cwd: work, env: { CMMC_SCRATCH_TAG: tag } });
    const killed = await terminateWhile(`datname LIKE 'cmmc_scratch_${tag}%' AND query LIKE '%pg_sleep(30)%'`, run);
    const r = await run;
    expect(killed).toBeGreaterThan(0);
    oneLine(r);
    expect(r.stderr).toContain('the connection to PostgreSQL was lost');
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(await adminQuery(`SELECT datname FROM pg_database WHERE datname LIKE 'cmmc_scratch_${tag}%'`)).toEqual([]);
  });
});

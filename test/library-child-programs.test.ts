/**
 * pg_dump (and pg_restore, psql) started by the library in an application that handles no signal
 * itself. The programs ran in a session of their own (detached), which suits the CLI, whose signal
 * handler stops them; the application, with Node's default, died of Ctrl-C (SIGINT to its process
 * group) and its pg_dump ran on alone, holding its session and its locks and writing the partial
 * file. Now they share the application's process group when nothing in it handles SIGINT, SIGTERM or
 * SIGHUP, so the same Ctrl-C stops them; an application with its own handler still has them stopped
 * by runInterruptCleanups, as the CLI does, and goes on running.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, ROOT } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';

describe("pg_dump started by the library, and the application's Ctrl-C", () => {
  let tdb: TestDatabase;
  let locker: postgres.Sql;
  const work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-lib-children-'));
  beforeAll(async () => {
    tdb = await createTestDatabase('cmmc_lib_children');
    await query(tdb.url, 'CREATE TABLE held (id int)');
  });
  afterAll(async () => {
    await tdb?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  /** The server sessions of pg_dump on the test database. */
  const dumps = async () => (await query<{ n: number }>(tdb.url, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${tdb.name}' AND application_name = 'pg_dump'`))[0].n;

  async function until(what: () => Promise<boolean>, ms = 20_000): Promise<boolean> {
    for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (await what()) return true;
    return false;
  }

  /** Runs an application that backs up the database while `held` is locked (pg_dump waits), then Ctrl-C to its process group. */
  async function ctrlC(handler: string) {
    locker = postgres(tdb.url, { max: 1, onnotice: () => {} });
    const reserved = await locker.reserve();
    await reserved`BEGIN`;
    await reserved`LOCK TABLE held IN ACCESS EXCLUSIVE MODE`;
    const dir = path.join(work, `backups-${handler ? 'handled' : 'default'}`);
    const file = path.join(work, `app-${handler ? 'handled' : 'default'}.mjs`);
    writeFileSync(
      file,
      `import { createBackup, resolveConfig, runInterruptCleanups } from ${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))};
${handler}
createBackup(resolveConfig({ url: process.env.TARGET }), { dir: ${JSON.stringify(dir)} }).then(() => console.log('backed up'), (e) => console.log('backup: ' + e.code));
setInterval(() => {}, 1000);`,
    );
    // Its own process group, as a shell gives a foreground job: the terminal's Ctrl-C goes to the group.
    const app = execa('node', [file], { cwd: work, env: cleanEnv({ TARGET: tdb.url }), extendEnv: false, reject: false, detached: true });
    try {
      expect(await until(async () => (await dumps()) > 0)).toBe(true);
      process.kill(-app.pid!, 'SIGINT');
      const stoppedAlone = await until(async () => (await dumps()) === 0);
      return { stoppedAlone, app, dir };
    } finally {
      await reserved`ROLLBACK`.catch(() => {});
      reserved.release();
      await locker.end({ timeout: 1 });
    }
  }

  it('an application with no signal handler dies of Ctrl-C, and its pg_dump with it', async () => {
    const { stoppedAlone, app } = await ctrlC('');
    const r = await app;
    expect(r.signal).toBe('SIGINT');
    expect(stoppedAlone).toBe(true);
  });

  it('an application with its own handler has runInterruptCleanups stop pg_dump, and goes on running', async () => {
    const { stoppedAlone, app, dir } = await ctrlC(
      `process.on('SIGINT', async () => { const { states } = await runInterruptCleanups(2000); console.log('cleaned: ' + states.join('; ')); setTimeout(() => process.exit(0), 500); });`,
    );
    const r = await app;
    expect(stoppedAlone).toBe(true);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('backup: interrupted');
    // Nothing kept: no backup, no partial file.
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
  });
});

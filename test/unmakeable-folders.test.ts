/**
 * A folder cmmc-db must create where none can be made (under /proc/self: mkdir answers ENOENT while
 * the parent exists). Node 20's recursive mkdirSync loops for ever there and takes no signal, so a
 * command hung, deaf to Ctrl-C: the code cache's folder (XDG_CACHE_HOME), a backup folder, the
 * embedded database's folder, the migrations folder of a new revision. Now: the cache is skipped
 * (the command works), the others are one line naming the folder, exit 1, at once.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

const DEADLINE = { timeoutMs: 30_000 };

describe.runIf(fs.existsSync('/proc/self'))('folders that cannot be made', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('unmakeable');
  });
  afterAll(async () => {
    await db?.drop();
  });

  function oneLine(r: { exitCode: number; stderr: string }, folder: string): void {
    expect(r.exitCode, r.stderr).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(folder);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }

  it('XDG_CACHE_HOME=/proc/self: history, upgrade and seed work without their caches', async () => {
    const env = { XDG_CACHE_HOME: '/proc/self' };
    const history = await runCli(['history'], { env, ...DEADLINE });
    expect(history.exitCode, history.stderr).toBe(0);
    expect(history.stdout).toContain('3f1c0a9e5b01');
    const up = await runCli(['upgrade', 'head'], { url: db.url, env, ...DEADLINE });
    expect(up.exitCode, up.stderr).toBe(0);
    const seeded = await runCli(['seed'], { url: db.url, env, ...DEADLINE });
    expect(seeded.exitCode, seeded.stderr).toBe(0);
  });

  it('backup --dir under /proc/self: one line naming the folder', async () => {
    oneLine(await runCli(['backup', '--dir', '/proc/self/cmmc-backups'], { url: db.url, ...DEADLINE }), '/proc/self/cmmc-backups');
  });

  it('CMMC_DB_DIR under /proc/self (the embedded database): one line naming the folder', async () => {
    oneLine(await runCli(['current'], { env: { CMMC_DB_DIR: '/proc/self/cmmc-db-data' }, ...DEADLINE }), '/proc/self/cmmc-db-data');
  });

  it('revision into a migrations folder under /proc/self: one line naming the folder', async () => {
    oneLine(await runCli(['revision', '-m', 'nowhere', '--migrations-dir', '/proc/self/cmmc-migrations'], { ...DEADLINE }), '/proc/self/cmmc-migrations');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';
import { startScramCluster, type ScramCluster } from './helpers/scram-cluster.js';

describe('connecting', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb.drop();
  });

  it('names the target on stderr and reports pool health as JSON', async () => {
    const r = await runCliJson(['health'], { url: tdb.url });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain(`database: postgres@127.0.0.1:5432/${tdb.name} (from DATABASE_URL)`);
    expect(r.data.status).toBe('ok');
    expect(r.data.database).toBe(tdb.name);
    expect(r.data.pool).toMatchObject({ min: 5, max: 20 });
    expect(r.data.pool.size).toBeGreaterThanOrEqual(5);
    expect(r.data.pool.inUse + r.data.pool.free).toBe(r.data.pool.size);
  });

  it('builds the URL from DB_* parts', async () => {
    const r = await runCliJson(['health'], { env: { DB_HOST: '127.0.0.1', DB_PORT: '5432', DB_USER: 'postgres', DB_NAME: tdb.name } });
    expect(r.exitCode).toBe(0);
    expect(r.data.database).toBe(tdb.name);
    expect(r.stderr).toContain('(from DB_*)');
  });

  it('reads DATABASE_URL from .env in the working folder', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-env-'));
    try {
      writeFileSync(path.join(dir, '.env'), `DATABASE_URL=${tdb.url}\n`);
      const r = await runCliJson(['health'], { cwd: dir });
      expect(r.exitCode).toBe(0);
      expect(r.data.database).toBe(tdb.name);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing database: one line with the fix, exit 1, no stack', async () => {
    const r = await runCli(['health'], { url: 'postgres://postgres:hunter2@127.0.0.1:5432/no_such_db_here' });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('database "no_such_db_here" does not exist');
    expect(r.stderr).toContain('createdb');
    expect(r.stderr).not.toContain('hunter2');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('the hint names the setting the target came from: --url, DATABASE_URL, DB_*, PG*', async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['health', '--url', 'postgres://postgres@127.0.0.1:5432/no_such_db_here'], {}, /fix the database name in --url$/m],
      [['health'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/no_such_db_here' }, /fix the database name in DATABASE_URL$/m],
      [['health'], { DB_HOST: '127.0.0.1', DB_USER: 'postgres', DB_NAME: 'no_such_db_here' }, /fix DB_NAME$/m],
      [['health'], { PGHOST: '127.0.0.1', PGUSER: 'postgres', PGDATABASE: 'no_such_db_here' }, /fix PGDATABASE$/m],
      [['health', '--url', 'postgres://postgres@127.0.0.1:1/x'], {}, /fix the host or port in --url$/m],
    ];
    for (const [args, env, hint] of cases) {
      const r = await runCli(args, { env });
      expect(r.exitCode).toBe(1);
      expect(r.stderr, JSON.stringify(env)).toMatch(hint);
    }
  });

  it('upgrade on one host that refuses says so at once: with no other host listed, no primary can appear meanwhile', async () => {
    const r = await runCli(['upgrade', 'head', '--url', 'postgres://postgres@127.0.0.1:1/x'], { timeoutMs: 30_000 });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('connection refused');
    expect(r.stderr).not.toContain('waiting up to');
  }, 40_000);

  it('a refused connection says so', async () => {
    const r = await runCli(['health'], { url: 'postgres://postgres:hunter2@127.0.0.1:1/x' });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('connection refused');
    expect(r.stderr).not.toContain('hunter2');
  });

  it('a malformed URL is a usage error (exit 2)', async () => {
    const r = await runCli(['health'], { url: 'mysql://root:hunter2@localhost/db' });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('must start with postgresql:// or postgres://, not mysql://');
    expect(r.stderr).not.toContain('hunter2');
  });

  it('--debug shows the stack trace, still without the password', async () => {
    const r = await runCli(['health', '--debug'], { url: 'postgres://postgres:hunter2@127.0.0.1:1/x' });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/\n\s+at /);
    expect(r.stderr).not.toContain('hunter2');
  });
});

describe('authentication against a cluster that checks passwords', () => {
  let cluster: ScramCluster;
  beforeAll(async () => {
    cluster = await startScramCluster('s3cret-pass');
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('the right password connects', async () => {
    const r = await runCliJson(['health'], { url: cluster.url() });
    expect(r.exitCode).toBe(0);
    expect(r.data.status).toBe('ok');
    expect(r.stderr).not.toContain('s3cret-pass');
  });

  it('a wrong password gets its own error and is never printed', async () => {
    const r = await runCli(['health'], { url: cluster.url('wrong-pass-123') });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('password authentication failed for user "postgres"');
    expect(r.stderr).not.toContain('wrong-pass-123');
  });
});

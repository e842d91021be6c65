/**
 * A connection error's hint names the setting that actually holds the value to fix. libpq fills in
 * what the URL or DB_* leave out from PGHOST, PGPORT, PGDATABASE and PGPASSWORD, so when the refused
 * port is PGPORT's the fix is PGPORT, not "the port in DATABASE_URL" (which has none).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { ADMIN_URL, createTestDatabase } from './helpers/server.js';
import { execa } from 'execa';

// A project folder of its own: no .env or config file of the repository's is read.
const project = mkdtempSync(path.join(os.tmpdir(), 'cmmc-conn-hints-'));
writeFileSync(path.join(project, 'package.json'), '{}\n');
afterAll(() => rmSync(project, { recursive: true, force: true }));

async function hintOf(env: Record<string, string>, args: string[] = ['current']): Promise<string> {
  const r = await runCliJson(args, { cwd: project, env });
  expect(r.exitCode, r.stderr).toBe(1);
  return r.data.error.hint as string;
}

describe('connection hints name where each setting came from', () => {
  it('a refused port: the PG* variable that supplied it, else the URL or DB_* setting that holds it', async () => {
    // The URL names the host only: the port is PGPORT's.
    expect(await hintOf({ DATABASE_URL: 'postgres://postgres@127.0.0.1/x', PGPORT: '1' })).toBe(
      'start PostgreSQL at 127.0.0.1:1, or fix PGPORT or the host in DATABASE_URL, or unset DATABASE_URL to use the embedded database',
    );
    // The URL's own port wins over PGPORT, and is what to fix.
    expect(await hintOf({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x', PGPORT: '5432' })).toBe(
      'start PostgreSQL at 127.0.0.1:1, or fix the host or port in DATABASE_URL, or unset DATABASE_URL to use the embedded database',
    );
    expect(await hintOf({ DB_USER: 'postgres', DB_HOST: '127.0.0.1', PGPORT: '1' })).toBe(
      'start PostgreSQL at 127.0.0.1:1, or fix PGPORT or DB_HOST, or unset the DB_* variables to use the embedded database',
    );
    expect(await hintOf({ DB_USER: 'postgres', DB_HOST: '127.0.0.1', DB_PORT: '1' })).toBe(
      'start PostgreSQL at 127.0.0.1:1, or fix DB_HOST/DB_PORT, or unset the DB_* variables to use the embedded database',
    );
    expect(await hintOf({ PGHOST: '127.0.0.1', PGPORT: '1', PGUSER: 'postgres' })).toBe(
      'start PostgreSQL at 127.0.0.1:1, or fix PGHOST/PGPORT, or unset the PG* variables to use the embedded database',
    );
    // Both host and port from PG* under a URL that names neither.
    expect(await hintOf({ DATABASE_URL: 'postgres:///x?user=postgres', PGHOST: '127.0.0.1', PGPORT: '1' })).toBe(
      'start PostgreSQL at 127.0.0.1:1, or fix PGHOST/PGPORT, or unset DATABASE_URL to use the embedded database',
    );
  });

  it('a missing database: PGDATABASE when it supplied the name', async () => {
    const url = 'postgres://postgres@127.0.0.1:5432';
    expect(await hintOf({ DATABASE_URL: url, PGDATABASE: 'cmmc_hint_nosuch' })).toBe(
      'create it with "cmmc-db init" or "createdb cmmc_hint_nosuch", or fix PGDATABASE',
    );
    expect(await hintOf({ DATABASE_URL: `${url}/cmmc_hint_nosuch`, PGDATABASE: 'postgres' })).toBe(
      'create it with "cmmc-db init" or "createdb cmmc_hint_nosuch", or fix the database name in DATABASE_URL',
    );
    expect(await hintOf({ DB_USER: 'postgres', DB_HOST: '127.0.0.1', DB_PORT: '5432', PGDATABASE: 'cmmc_hint_nosuch' })).toBe(
      'create it with "cmmc-db init" or "createdb cmmc_hint_nosuch", or fix PGDATABASE',
    );
    // --url names a database: the same rule under the flag.
    const flag = await runCli(['current', '--url', url], { cwd: project, env: { PGDATABASE: 'cmmc_hint_nosuch' } });
    expect(flag.stderr).toContain('or fix PGDATABASE');
  });

  it('connections beside the configured one name their setting too: the scratch database, --from, each host of a failover list', async () => {
    // schema dump makes its scratch database on the configured server (PGPORT completing the URL).
    expect(await hintOf({ DATABASE_URL: 'postgres://postgres@127.0.0.1/x', PGPORT: '1' }, ['schema', 'dump'])).toBe(
      'start PostgreSQL at 127.0.0.1:1, or fix PGPORT or the host in DATABASE_URL, or unset DATABASE_URL to use the embedded database',
    );
    // revision --autogenerate --from: the flag (and PGPORT, which completed it), not DATABASE_URL.
    const from = ['revision', '--autogenerate', '-m', 'x', '--from'];
    expect(await hintOf({ DATABASE_URL: ADMIN_URL }, [...from, 'postgres://postgres@127.0.0.1:1/postgres'])).toBe('start PostgreSQL at 127.0.0.1:1, or fix the host or port in --from');
    expect(await hintOf({ DATABASE_URL: ADMIN_URL, PGPORT: '1' }, [...from, 'postgres://postgres@127.0.0.1/postgres'])).toBe('start PostgreSQL at 127.0.0.1:1, or fix PGPORT or the host in --from');
    // doctor asks each host of a failover list on its own: the unreachable one's fix names the list's setting.
    const db = await createTestDatabase('cmmc_hint_roles');
    try {
      const r = await runCliJson(['doctor', 'replication.role'], { cwd: project, env: { DATABASE_URL: `postgres://postgres@127.0.0.1:5432,127.0.0.1:1/${db.name}` } });
      const check = r.data.checks.find((c: { id: string }) => c.id === 'replication.role');
      expect(check.remedy).toMatch(/^bring the unreachable host back, or take it out of the host list \(the host or port in DATABASE_URL\);/);
      expect(check.rows[1]).toEqual({
        host: '127.0.0.1:1',
        role: 'unreachable',
        error: 'cannot connect to PostgreSQL at 127.0.0.1:1: connection refused — start PostgreSQL at 127.0.0.1:1, or fix the host or port in DATABASE_URL',
      });
    } finally {
      await db.drop();
    }
  });
});

describe('several hosts, none of which answers', () => {
  it('one line says what each host gave, in libpq\'s words, as psql does; the password never appears', async () => {
    const url = 'postgres://postgres:Hosts-s3cret@127.0.0.1:1,127.0.0.1:2,nonexistent.invalid:5432/postgres?connect_timeout=2';
    const r = await runCliJson(['current'], { cwd: project, env: { DATABASE_URL: url } });
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.data.error).toEqual({
      code: 'connect.hosts',
      message: 'cannot connect to PostgreSQL at any of the 3 hosts tried: 127.0.0.1:1: connection refused; 127.0.0.1:2: connection refused; nonexistent.invalid:5432: could not translate host name',
      hint: 'start PostgreSQL at one of them, or fix the host or port in DATABASE_URL, or unset DATABASE_URL to use the embedded database',
    });
    expect(JSON.stringify(r)).not.toContain('Hosts-s3cret');
    // psql reports the same failure for each host.
    const psql = await execa('psql', [url, '-XAtc', 'select 1'], { reject: false });
    expect(psql.stderr).toMatch(/port 1 failed: Connection refused[^]*port 2 failed: Connection refused[^]*could not translate host name "nonexistent.invalid"/);
    // One kind of failure everywhere keeps that kind's code (a failover wait retries it).
    const refused = await runCliJson(['current'], { cwd: project, env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:1,127.0.0.1:2/postgres' } });
    expect(refused.data.error.code).toBe('connect.refused');
    expect(refused.data.error.message).toBe('cannot connect to PostgreSQL at any of the 2 hosts tried: 127.0.0.1:1: connection refused; 127.0.0.1:2: connection refused');
  });

  it('a host that answers and refuses the session (no such database, an unknown user) is said as such, not "not tried" with the hint to start PostgreSQL', async () => {
    // Through a failover list, a database missing (or not replayed yet on a standby listed first) read
    // "cannot connect to PostgreSQL at any of the 2 hosts tried: 127.0.0.1:5432: not tried; ...".
    for (const hosts of ['127.0.0.1:5432,127.0.0.1:1', '127.0.0.1:1,127.0.0.1:5432']) {
      const missing = await runCliJson(['current'], { cwd: project, env: { DATABASE_URL: `postgres://postgres@${hosts}/cmmc_no_such_db` } });
      expect(missing.exitCode).toBe(1);
      expect(missing.data.error.code, hosts).toBe('connect.database');
      expect(missing.data.error.message).toMatch(/^database "cmmc_no_such_db" does not exist on /);
      expect(missing.data.error.message).not.toContain('not tried');
    }
    const user = await runCliJson(['current'], { cwd: project, env: { DATABASE_URL: 'postgres://cmmc_no_such_role@127.0.0.1:5432,127.0.0.1:1/postgres' } });
    expect(user.data.error.message).toMatch(/rejected user "cmmc_no_such_role"/);
  });

  it('a host that does not answer times out and the next host is tried, as libpq does', async () => {
    // Accepts connections and never says a word: connect_timeout is what ends its turn.
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const down = await runCliJson(['current'], { cwd: project, env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${port},127.0.0.1:1/postgres?connect_timeout=2` } });
      expect(down.data.error.message).toBe(`cannot connect to PostgreSQL at any of the 2 hosts tried: 127.0.0.1:${port}: timeout expired; 127.0.0.1:1: connection refused`);
      const db = await createTestDatabase('cmmc_hint_silent');
      try {
        const up = await runCli(['current'], { cwd: project, env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${port},127.0.0.1:5432/${db.name}?connect_timeout=2` } });
        expect(up.exitCode, up.stderr).toBe(0);
      } finally {
        await db.drop();
      }
    } finally {
      silent.close();
    }
  });
});

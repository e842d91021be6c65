/**
 * Every connection-string form, read by this tool and by libpq (psql), must reach the same server,
 * user and database: table-driven, against the shared server, a throwaway cluster listening on its
 * unix socket only, and one on the IPv6 loopback (::1, where the machine has it). Forms libpq refuses
 * must be refused here too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnString, resolveConnOptions } from '../src/config/conninfo.js';
import { connectPool } from '../src/db/driver.js';
import { cleanEnv, runCliJson } from './helpers/cli.js';
import { adminQuery, uniqueName } from './helpers/server.js';
import { startTempCluster, type TempCluster } from './helpers/temp-cluster.js';

const QUERY = "select coalesce(inet_server_port()::text, 'socket') || '|' || current_user || '|' || current_database() || '|' || current_setting('search_path') as r";

const home = mkdtempSync(path.join(os.tmpdir(), 'cmmc-libpq-home-'));
/** The environment both sides see: no PG* of the developer's, an empty HOME (no ~/.pgpass), plus the case's. */
function caseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { ...(cleanEnv({ HOME: home, ...extra }) as Record<string, string>) };
}

async function viaPsql(conn: string, env: Record<string, string>): Promise<string> {
  const r = await execa('psql', [conn, '-XAtc', QUERY], { env: caseEnv(env), extendEnv: false, reject: false, timeout: 30_000 });
  return r.exitCode === 0 ? r.stdout.trim() : 'error';
}

async function viaTool(conn: string, env: Record<string, string>): Promise<string> {
  let sql;
  try {
    sql = await connectPool(resolveConnOptions(parseConnString(conn, 'the URL'), caseEnv(env)));
  } catch {
    return 'error';
  }
  try {
    const [row] = await sql.unsafe<{ r: string }[]>(QUERY);
    return row.r;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function hasIpv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(0, '::1', () => srv.close(() => resolve(true)));
  });
}

describe('connection strings: this tool reaches what psql reaches', () => {
  // A database name that needs percent-encoding in a URL and quoting in keyword=value.
  const db = `${uniqueName('cmmc conn')}-é/x`;
  const enc = encodeURIComponent(db);
  const quoted = `'${db.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  let sock: TempCluster;
  let v6: TempCluster | undefined;
  let ipv6 = false;

  beforeAll(async () => {
    ipv6 = await hasIpv6Loopback();
    await adminQuery(`CREATE DATABASE "${db}"`);
    [sock, v6] = await Promise.all([startTempCluster({}, { listen: '' }), ipv6 ? startTempCluster({}, { listen: '::1' }) : Promise.resolve(undefined)]);
  });
  afterAll(async () => {
    await Promise.all([sock?.stop(), v6?.stop()]);
    await adminQuery(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
    rmSync(home, { recursive: true, force: true });
  });

  const cases: { name: string; conn: () => string; env?: () => Record<string, string>; expect: () => string; ipv6?: boolean }[] = [
    { name: 'URL with a percent-encoded database name', conn: () => `postgresql://postgres@127.0.0.1:5432/${enc}`, expect: () => `5432|postgres|${db}|"$user", public` },
    { name: 'postgres:// without a port', conn: () => `postgres://postgres@127.0.0.1/${enc}`, expect: () => `5432|postgres|${db}|"$user", public` },
    { name: 'keyword=value with a quoted name', conn: () => `host=127.0.0.1 port=5432 user=postgres dbname=${quoted}`, expect: () => `5432|postgres|${db}|"$user", public` },
    { name: 'URL without a user: PGUSER', conn: () => `postgresql://127.0.0.1/${enc}`, env: () => ({ PGUSER: 'postgres' }), expect: () => `5432|postgres|${db}|"$user", public` },
    { name: 'URL without a database: PGDATABASE', conn: () => 'postgresql://postgres@127.0.0.1', env: () => ({ PGDATABASE: db }), expect: () => `5432|postgres|${db}|"$user", public` },
    { name: 'socket folder as ?host=', conn: () => `postgresql:///${enc}?host=/var/run/postgresql&user=postgres`, expect: () => `socket|postgres|${db}|"$user", public` },
    { name: 'socket folder percent-encoded as the host', conn: () => `postgresql://%2Fvar%2Frun%2Fpostgresql/${enc}?user=postgres`, expect: () => `socket|postgres|${db}|"$user", public` },
    { name: 'two hosts, the first down', conn: () => `postgresql://postgres@127.0.0.1:1,127.0.0.1:5432/${enc}`, expect: () => `5432|postgres|${db}|"$user", public` },
    {
      name: 'options, application_name, connect_timeout, sslmode',
      conn: () => `postgresql://postgres@127.0.0.1:5432/${enc}?options=-c%20search_path%3Dfoo%2Cpublic&application_name=abc&connect_timeout=5&sslmode=disable`,
      expect: () => `5432|postgres|${db}|foo,public`,
    },
    { name: 'socket-only cluster: ?host= and ?port=', conn: () => `postgresql:///postgres?host=${sock.socketDir}&port=${sock.port}&user=postgres`, expect: () => 'socket|postgres|postgres|"$user", public' },
    { name: 'socket-only cluster: encoded path host', conn: () => `postgresql://${encodeURIComponent(sock.socketDir)}:${sock.port}/postgres?user=postgres`, expect: () => 'socket|postgres|postgres|"$user", public' },
    { name: 'socket-only cluster: keyword=value', conn: () => `host=${sock.socketDir} port=${sock.port} user=postgres dbname=postgres`, expect: () => 'socket|postgres|postgres|"$user", public' },
    { name: 'socket-only cluster: PGHOST/PGPORT', conn: () => 'postgresql:///postgres', env: () => ({ PGHOST: sock.socketDir, PGPORT: String(sock.port), PGUSER: 'postgres' }), expect: () => 'socket|postgres|postgres|"$user", public' },
    { name: 'IPv6 host in brackets', ipv6: true, conn: () => `postgresql://postgres@[::1]:${v6!.port}/postgres`, expect: () => `${v6!.port}|postgres|postgres|"$user", public` },
    { name: 'IPv6 as the second host', ipv6: true, conn: () => `postgresql://postgres@127.0.0.1:1,[::1]:${v6!.port}/postgres`, expect: () => `${v6!.port}|postgres|postgres|"$user", public` },
    { name: 'malformed %-escape (refused)', conn: () => 'postgresql://postgres@127.0.0.1/%zz', expect: () => 'error' },
    { name: 'unclosed IPv6 bracket (refused)', conn: () => 'postgresql://postgres@[::1/postgres', expect: () => 'error' },
    { name: 'unknown query parameter (refused)', conn: () => `postgresql://postgres@127.0.0.1/${enc}?nonsense=1`, expect: () => 'error' },
    { name: 'three ports for two hosts (refused)', conn: () => `host=127.0.0.1,127.0.0.1 port=5432,5432,5432 user=postgres dbname=postgres`, expect: () => 'error' },
  ];

  for (const c of cases) {
    it(c.name, async (ctx) => {
      if (c.ipv6 && !ipv6) ctx.skip(true, 'this machine has no IPv6 loopback (::1): cannot test an IPv6 host');
      const conn = c.conn();
      const env = c.env?.() ?? {};
      const [libpq, ours] = await Promise.all([viaPsql(conn, env), viaTool(conn, env)]);
      expect(libpq, `psql ${conn}`).toBe(c.expect());
      expect(ours, conn).toBe(libpq);
    });
  }

  it('DB_HOST=::1 is used as given (never replaced by localhost); the CLI names it', async (ctx) => {
    if (!ipv6) ctx.skip(true, 'this machine has no IPv6 loopback (::1)');
    const r = await runCliJson(['health'], { env: { DB_HOST: '::1', DB_PORT: String(v6!.port), DB_USER: 'postgres', DB_NAME: 'postgres' } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain(`postgres@[::1]:${v6!.port}/postgres (from DB_*)`);
  });

  it('the CLI reaches the socket-only cluster through DATABASE_URL', async () => {
    const r = await runCliJson(['health'], { url: `postgresql://postgres@${encodeURIComponent(sock.socketDir)}:${sock.port}/postgres` });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.data.status).toBe('ok');
  });
});

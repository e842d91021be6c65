/**
 * Targets as operators hand them out: a failover pair with target_session_attrs (the first host a
 * standby), passwords from ~/.pgpass and PGPASSFILE on a cluster that checks them (scram-sha-256),
 * the PG* variables, a port where something other than PostgreSQL answers, and schema dump with an
 * older pg_dump first on PATH.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPool } from '../src/db/driver.js';
import { runCli, runCliJson } from './helpers/cli.js';
import { ADMIN_URL } from './helpers/server.js';
import { freePort, startTempCluster, type TempCluster } from './helpers/temp-cluster.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-targets-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a primary and its standby, in either order', () => {
  let primary: TempCluster;
  let standby: TempCluster;
  beforeAll(async () => {
    primary = await startTempCluster();
    standby = await startTempCluster({}, { standbyOf: primary });
  });
  afterAll(async () => {
    await standby?.stop();
    await primary?.stop();
  });

  async function answeredBy(url: string): Promise<{ port: number; recovery: boolean }> {
    const sql = await connectPool(url);
    try {
      const [row] = await sql<{ port: number; recovery: boolean }[]>`SELECT inet_server_port() AS port, pg_is_in_recovery() AS recovery`;
      return row;
    } finally {
      await sql.end({ timeout: 1 });
    }
  }

  it('target_session_attrs=read-write skips the standby listed first; =standby picks it; psql agrees', async () => {
    const rw = `postgresql://postgres@127.0.0.1:${standby.port},127.0.0.1:${primary.port}/postgres?target_session_attrs=read-write`;
    expect(await answeredBy(rw)).toEqual({ port: primary.port, recovery: false });
    const ro = `postgresql://postgres@127.0.0.1:${primary.port},127.0.0.1:${standby.port}/postgres?target_session_attrs=standby`;
    expect(await answeredBy(ro)).toEqual({ port: standby.port, recovery: true });
    const psql = await execa('psql', [rw, '-XAtc', 'select inet_server_port()']);
    expect(Number(psql.stdout.trim())).toBe(primary.port);
  });

  it('target_session_attrs=prefer-standby takes a listed standby, and with none (as libpq) the primary; psql agrees', async () => {
    const both = `postgresql://postgres@127.0.0.1:${primary.port},127.0.0.1:${standby.port}/postgres?target_session_attrs=prefer-standby`;
    expect(await answeredBy(both)).toEqual({ port: standby.port, recovery: true });
    // No standby among the hosts: the primary alone, or the primary and a host that is down.
    const down = await freePort();
    for (const url of [
      `postgresql://postgres@127.0.0.1:${primary.port}/postgres?target_session_attrs=prefer-standby`,
      `postgresql://postgres@127.0.0.1:${primary.port},127.0.0.1:${down}/postgres?target_session_attrs=prefer-standby&connect_timeout=5`,
    ]) {
      expect(await answeredBy(url)).toEqual({ port: primary.port, recovery: false });
      const psql = await execa('psql', [url, '-XAtc', 'select inet_server_port()']);
      expect(Number(psql.stdout.trim())).toBe(primary.port);
    }
    const cli = await runCli(['current'], { url: primary.url(), env: { PGTARGETSESSIONATTRS: 'prefer-standby' } });
    expect(cli.exitCode, cli.stderr).toBe(0);
  });

  it('a target\'s own target_session_attrs=any wins over PGTARGETSESSIONATTRS, and process.env is never changed', async () => {
    const real = process.env;
    const changed: string[] = [];
    process.env = new Proxy(
      { ...real, PGTARGETSESSIONATTRS: 'standby' },
      {
        set: (t, k, v) => (changed.push(`set ${String(k)}`), Reflect.set(t, k, v)),
        deleteProperty: (t, k) => (changed.push(`delete ${String(k)}`), Reflect.deleteProperty(t, k)),
      },
    );
    try {
      expect(await answeredBy(`postgresql://postgres@127.0.0.1:${primary.port}/postgres?target_session_attrs=any`)).toEqual({ port: primary.port, recovery: false });
    } finally {
      process.env = real;
    }
    expect(changed).toEqual([]);
  });

  it('the CLI writes through the failover URL: upgrade reaches the primary although the standby comes first', async () => {
    const dir = path.join(work, 'migrations-ha');
    mkdirSync(dir, { recursive: true });
    const made = await runCli(['revision', '-m', 'one table', '--sql', '--migrations-dir', dir], { cwd: work });
    expect(made.exitCode, made.stderr).toBe(0);
    const rw = `postgresql://postgres@127.0.0.1:${standby.port},127.0.0.1:${primary.port}/postgres?target_session_attrs=read-write`;
    const up = await runCliJson(['upgrade', 'head', '--migrations-dir', dir], { url: rw, cwd: work });
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stderr).toContain(`postgres@127.0.0.1:${standby.port},127.0.0.1:${primary.port}/postgres`);
  });

  it('revision --autogenerate --from the failover URL: the diff library (one host only) reads the primary', async () => {
    const dir = path.join(work, 'migrations-ha');
    const sql = await connectPool(`postgresql://postgres@127.0.0.1:${primary.port}/postgres`);
    try {
      await sql`CREATE TABLE ha_made (id int PRIMARY KEY)`;
    } finally {
      await sql.end({ timeout: 1 });
    }
    const before = new Set(readdirSync(dir));
    const rw = `postgresql://postgres@127.0.0.1:${standby.port},127.0.0.1:${primary.port}/postgres?target_session_attrs=read-write`;
    const r = await runCli(['revision', '--autogenerate', '-m', 'from ha', '--from', rw, '--migrations-dir', dir], { url: ADMIN_URL, cwd: work });
    expect(r.exitCode, r.stderr).toBe(0);
    const made = readdirSync(dir).filter((f) => !before.has(f));
    expect(made).toHaveLength(1);
    expect(readFileSync(path.join(dir, made[0]), 'utf8')).toContain('ha_made');
  });
});

describe('passwords from the password file on a cluster that checks them', () => {
  const PASSWORD = 'pgpass-Secr3t:x';
  let cluster: TempCluster;
  const home = path.join(work, 'home');
  beforeAll(async () => {
    cluster = await startTempCluster({}, { password: PASSWORD });
    mkdirSync(home, { recursive: true });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const escaped = PASSWORD.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
  function writePass(file: string, lines: string[], mode = 0o600): void {
    writeFileSync(file, lines.join('\n') + '\n');
    chmodSync(file, mode);
  }

  it('~/.pgpass: the first matching line, for the CLI and for pg_dump (backup); the password is never printed', async () => {
    writePass(path.join(home, '.pgpass'), ['# comment', `127.0.0.1:1:*:postgres:wrong`, `127.0.0.1:${cluster.port}:*:postgres:${escaped}`, `*:*:*:*:also-wrong`]);
    const url = `postgresql://postgres@127.0.0.1:${cluster.port}/postgres`;
    const health = await runCliJson(['health'], { url, env: { HOME: home } });
    expect(health.exitCode, health.stderr).toBe(0);
    const backup = await runCliJson(['backup', '--dir', path.join(work, 'bk')], { url, env: { HOME: home } });
    expect(backup.exitCode, backup.stderr).toBe(0);
    expect(health.stderr + backup.stderr + JSON.stringify(backup.data)).not.toContain(PASSWORD);
  });

  it('PGPASSFILE wins over ~/.pgpass; no matching line, or a file others can read, gives the password error with its fix', async () => {
    const file = path.join(work, 'other-pass');
    writePass(file, [`*:${cluster.port}:postgres:postgres:${escaped}`]);
    const url = `postgresql://postgres@127.0.0.1:${cluster.port}/postgres`;
    const empty = path.join(work, 'empty-home');
    mkdirSync(empty, { recursive: true });
    expect((await runCli(['health'], { url, env: { HOME: empty, PGPASSFILE: file } })).exitCode).toBe(0);
    const none = await runCli(['health'], { url, env: { HOME: empty } });
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toContain('password authentication failed for user "postgres"');
    expect(none.stderr).toContain('no password was given and none matched in the password file');
    expect(none.stderr).not.toMatch(/\n\s+at /);
    chmodSync(file, 0o644);
    const open = await runCli(['health'], { url, env: { HOME: empty, PGPASSFILE: file } });
    expect(open.exitCode).toBe(1);
    // The password file library's warning as one line of its own, like ours.
    expect(open.stderr).toMatch(new RegExp(`^warning: password file "${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" has group or world access; permissions should be u=rw \\(0600\\) or less$`, 'm'));
  });

  it('a refused password is blamed on where it came from: the password file\'s line, or PGPASSWORD', async () => {
    const file = path.join(work, 'stale-pass');
    writePass(file, [`*:*:*:postgres:stale-password`]);
    const url = `postgresql://postgres@127.0.0.1:${cluster.port}/postgres`;
    const stale = await runCliJson(['health'], { url, env: { HOME: path.join(work, 'empty-home'), PGPASSFILE: file } });
    expect(stale.exitCode).toBe(1);
    expect(stale.data.error).toMatchObject({ code: 'connect.password' });
    expect(stale.data.error.hint).toBe(
      `the password for "postgres" came from the password file ${file}: fix its line for this host, port, database and user, or give the password in DATABASE_URL or PGPASSWORD`,
    );
    const env = await runCliJson(['health'], { url, env: { HOME: path.join(work, 'empty-home'), PGPASSWORD: 'stale-password' } });
    expect(env.data.error.hint).toBe('check PGPASSWORD');
    expect(stale.stderr + env.stderr + JSON.stringify([stale.data, env.data])).not.toContain('stale-password');
  });

  it('a refused password names the one setting that gave it: the URL, init\'s POSTGRES_PASSWORD or --admin-url, the URL under a scratch database', async () => {
    const empty = path.join(work, 'empty-home');
    mkdirSync(empty, { recursive: true });
    const hint = async (args: string[], env: Record<string, string>) => {
      const r = await runCliJson(args, { cwd: work, env: { HOME: empty, ...env } });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.data.error.code).toBe('connect.password');
      expect(r.stderr + JSON.stringify(r.data)).not.toContain('wrong-pw');
      return r.data.error.hint as string;
    };
    const wrong = `postgresql://postgres:wrong-pw@127.0.0.1:${cluster.port}/postgres`;
    // A password the URL gives is the one sent: PGPASSWORD and ~/.pgpass are not read for it.
    expect(await hint(['health'], { DATABASE_URL: wrong, PGPASSWORD: PASSWORD })).toBe('check the password in DATABASE_URL');
    expect(await hint(['schema', 'dump'], { DATABASE_URL: wrong })).toBe('check the password in DATABASE_URL');
    // init's admin is POSTGRES_USER/POSTGRES_PASSWORD on the target's host (PGPASSWORD is not read for it), or --admin-url.
    const target = { DATABASE_URL: `postgresql://postgres:${encodeURIComponent(PASSWORD)}@127.0.0.1:${cluster.port}/cmmc_hint_never_made` };
    expect(await hint(['init'], { ...target, PGPASSWORD: 'wrong-pw' })).toBe('no password was given and none matched in the password file: put it in POSTGRES_PASSWORD or ~/.pgpass (PGPASSFILE)');
    expect(await hint(['init'], { ...target, POSTGRES_PASSWORD: 'wrong-pw' })).toBe('check POSTGRES_PASSWORD');
    expect(await hint(['init', '--admin-url', wrong], target)).toBe('check the password in --admin-url');
    expect(await hint(['init', '--admin-url', `postgresql://postgres@127.0.0.1:${cluster.port}/postgres`], target)).toBe(
      'no password was given and none matched in the password file: put it in --admin-url, PGPASSWORD or ~/.pgpass (PGPASSFILE)',
    );
  });

  it('the PG* variables alone name the target (PGPASSWORD never printed)', async () => {
    const r = await runCliJson(['health'], { env: { PGHOST: '127.0.0.1', PGPORT: String(cluster.port), PGUSER: 'postgres', PGPASSWORD: PASSWORD, PGDATABASE: 'postgres' } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain(`postgres@127.0.0.1:${cluster.port}/postgres (from PG*)`);
    expect(r.stderr).not.toContain(PASSWORD);
  });
});

describe('a port where PostgreSQL does not answer', () => {
  let httpServer: http.Server;
  let silent: net.Server;
  let httpPort = 0;
  let silentPort = 0;
  const sockets = new Set<net.Socket>();
  beforeAll(async () => {
    // An HTTP server that replies 400 and closes, as any web server does to PostgreSQL's first bytes.
    httpServer = http.createServer((_, res) => res.end());
    silent = net.createServer((s) => sockets.add(s));
    await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    httpPort = (httpServer.address() as net.AddressInfo).port;
    silentPort = (silent.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    httpServer.closeAllConnections();
    await new Promise((r) => httpServer.close(r));
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  });

  it('an HTTP server: one line "did not answer as PostgreSQL", exit 1, no stack', async () => {
    const r = await runCli(['health'], { url: `postgres://app:hunter2@127.0.0.1:${httpPort}/db`, timeoutMs: 60_000 });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`the server at 127.0.0.1:${httpPort} did not answer as PostgreSQL`);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('error'))).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).not.toContain('hunter2');
  });

  it('a peer that accepts and never answers: timed out after connect_timeout, exit 1', async () => {
    const r = await runCli(['health'], { url: `postgres://app@127.0.0.1:${silentPort}/db?connect_timeout=2`, timeoutMs: 60_000 });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`connecting to PostgreSQL at 127.0.0.1:${silentPort} timed out`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

/**
 * Settings beyond the target's name, side by side with psql on a cluster that checks passwords
 * (scram-sha-256): the deprecated requiressl, channel_binding and gssencmode that libpq insists on,
 * integer settings libpq refuses, a URL's host list without ports beside PGPORT, the connection
 * service file, and the password file's rules (a password ending at the next ":", an empty
 * PGPASSWORD, socket folders). Each case is run by psql and by this tool: both connect to the same
 * port, user and database, or both refuse. test/unit/conninfo-libpq-rules.test.ts has the rules.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliJson } from './helpers/cli.js';
import { libpqComparison, type LibpqCase } from './helpers/libpq-compare.js';
import { startTempCluster, type TempCluster } from './helpers/temp-cluster.js';

const PASSWORD = 'Svc-Secr3t';
const work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-libpq-options-'));
const home = path.join(work, 'home');
mkdirSync(home);
const { itEach } = libpqComparison(home, path.join(work, 'no-sysconf'));

function writePrivate(file: string, text: string): string {
  writeFileSync(file, text);
  chmodSync(file, 0o600);
  return file;
}

describe('settings and files: this tool does what psql does', () => {
  let cluster: TempCluster;
  beforeAll(async () => {
    cluster = await startTempCluster({}, { password: PASSWORD });
  });
  afterAll(async () => {
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const tcp = () => `postgresql://postgres:${PASSWORD}@127.0.0.1:${cluster.port}/postgres`;
  const ok = () => `${cluster.port}|postgres|postgres`;
  const pass = (name: string, text: string) => writePrivate(path.join(work, name), text);
  const service = (text: string) => pass('services.conf', text);

  const cases: LibpqCase[] = [
    { name: 'requiressl=1 at a server without TLS (refused)', conn: () => `${tcp()}?requiressl=1`, expect: () => 'error' },
    { name: 'requiressl=1 then sslmode=disable: the later wins', conn: () => `host=127.0.0.1 port=${cluster.port} user=postgres password=${PASSWORD} requiressl=1 sslmode=disable`, expect: ok },
    { name: 'PGREQUIRESSL=1 at a server without TLS (refused)', conn: tcp, env: () => ({ PGREQUIRESSL: '1' }), expect: () => 'error' },
    { name: 'channel_binding=require without TLS (refused)', conn: () => `${tcp()}?channel_binding=require`, expect: () => 'error' },
    { name: 'channel_binding=bogus (refused)', conn: () => `${tcp()}?channel_binding=bogus`, expect: () => 'error' },
    { name: 'gssencmode=require without Kerberos (refused)', conn: () => `${tcp()}?gssencmode=require`, expect: () => 'error' },
    { name: 'gssencmode=disable', conn: () => `${tcp()}?gssencmode=disable&channel_binding=prefer`, expect: ok },
    { name: 'keepalives=junk (refused)', conn: () => `${tcp()}?keepalives=junk`, expect: () => 'error' },
    { name: 'tcp_user_timeout=x (refused)', conn: () => `${tcp()}?tcp_user_timeout=x`, expect: () => 'error' },
    { name: 'connect_timeout too large for an int (refused)', conn: () => `${tcp()}?connect_timeout=99999999999`, expect: () => 'error' },
    { name: 'connect_timeout at the largest int', conn: () => `${tcp()}?connect_timeout=2147483647&keepalives=1&keepalives_idle=30`, expect: ok },
    {
      name: 'a URL with two hosts and no ports: 5432 for each, not PGPORT',
      conn: () => `postgresql://postgres:${PASSWORD}@127.0.0.1,127.0.0.1/postgres?connect_timeout=3`,
      env: () => ({ PGPORT: String(cluster.port) }),
      expect: () => '5432|postgres|postgres',
    },
    { name: 'query with an empty parameter (refused)', conn: () => `${tcp()}?&sslmode=disable`, expect: () => 'error' },
    { name: 'password file: the password ends at the next ":"', conn: () => `postgresql://postgres@127.0.0.1:${cluster.port}/postgres`, env: () => ({ PGPASSFILE: pass('p1', `127.0.0.1:${cluster.port}:*:postgres:${PASSWORD}:old\n`) }), expect: ok },
    { name: 'password file read when PGPASSWORD is empty', conn: () => `postgresql://postgres@127.0.0.1:${cluster.port}/postgres`, env: () => ({ PGPASSWORD: '', PGPASSFILE: pass('p2', `*:*:*:*:${PASSWORD}\n`) }), expect: ok },
    { name: 'password file: a socket folder of its own matches its path', conn: () => `host=${cluster.socketDir} port=${cluster.port} user=postgres dbname=postgres`, env: () => ({ PGPASSFILE: pass('p3', `localhost:*:*:*:wrong\n${cluster.socketDir}:*:*:*:${PASSWORD}\n`) }), expect: () => 'socket|postgres|postgres' },
    { name: 'password file: a socket folder of its own is not localhost', conn: () => `host=${cluster.socketDir} port=${cluster.port} user=postgres dbname=postgres`, env: () => ({ PGPASSFILE: pass('p4', `localhost:*:*:*:${PASSWORD}\n`) }), expect: () => 'error' },
    {
      name: 'service file: the section over PG*, the string over the section',
      conn: () => 'service=app dbname=postgres',
      env: () => ({ PGSERVICEFILE: service(`[app]\nhost=127.0.0.1\nport=${cluster.port}\nuser=postgres\npassword=${PASSWORD}\ndbname=template1\n`), PGPORT: '1', PGDATABASE: 'nope' }),
      expect: ok,
    },
    { name: 'PGSERVICE beside a URL', conn: () => 'postgresql:///postgres', env: () => ({ PGSERVICE: 'app', PGSERVICEFILE: service(`[app]\nhost=127.0.0.1\nport=${cluster.port}\nuser=postgres\npassword=${PASSWORD}\n`) }), expect: ok },
    {
      name: '~/.pg_service.conf, then pg_service.conf in PGSYSCONFDIR',
      conn: () => 'service=sys',
      env: () => {
        const sys = path.join(work, 'sysconf');
        mkdirSync(sys, { recursive: true });
        writeFileSync(path.join(home, '.pg_service.conf'), '[other]\nhost=nowhere\n');
        writeFileSync(path.join(sys, 'pg_service.conf'), `[sys]\nhost=127.0.0.1\nport=${cluster.port}\nuser=postgres\npassword=${PASSWORD}\ndbname=postgres\n`);
        return { PGSYSCONFDIR: sys };
      },
      expect: ok,
    },
    { name: 'service file: an unknown service (refused)', conn: () => 'service=nope', env: () => ({ PGSERVICEFILE: service('[app]\nhost=127.0.0.1\n') }), expect: () => 'error' },
    { name: 'service file: "keyword = value" (refused)', conn: () => 'service=app', env: () => ({ PGSERVICEFILE: service(`[app]\nhost = 127.0.0.1\n`) }), expect: () => 'error' },
  ];

  itEach(cases);

  it('backup through a service: pg_dump reaches the same server; the password in the file is never printed', async () => {
    const file = service(`[app]\nhost=127.0.0.1\nport=${cluster.port}\nuser=postgres\npassword=${PASSWORD}\ndbname=postgres\n`);
    // PGPORT would send pg_dump elsewhere if the service were handed on beside the resolved settings.
    const r = await runCliJson(['backup', '--dir', path.join(work, 'backups')], { cwd: work, env: { HOME: home, DATABASE_URL: 'service=app', PGSERVICEFILE: file, PGPORT: '1' } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain(`postgres@127.0.0.1:${cluster.port}/postgres (from DATABASE_URL)`);
    expect(r.stderr + JSON.stringify(r.data)).not.toContain(PASSWORD);
  });
});

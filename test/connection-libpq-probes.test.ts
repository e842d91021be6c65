/**
 * What a user who knows libpq tries, side by side with psql (libpq 15) on the same input: empty values
 * (a template whose variable was unset), the TLS protocol versions, a client certificate under the
 * default sslmode=prefer at a server without TLS, and connection strings that are not libpq's at all
 * (a JDBC URL, `postgresql:/` with one slash), whose password must not be echoed. Each case: both
 * connect to the same port, user and database, or both refuse.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { libpqComparison, type LibpqCase } from './helpers/libpq-compare.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';
import type { TempCluster } from './helpers/temp-cluster.js';
import { startTlsCluster } from './helpers/tls-cluster.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-libpq-probes-'));
const { itEach } = libpqComparison(work, path.join(work, 'no-sysconf'));

describe('libpq settings a careful user tries: this tool does what psql does', () => {
  let db: TestDatabase;
  let tls: TempCluster;
  let clientCert: string;
  let clientKey: string;
  beforeAll(async () => {
    db = await createTestDatabase('cmmc_probe');
    // A server that speaks TLS 1.2 at most: a client asking for 1.3 at least must be refused.
    const started = await startTlsCluster(work, 'tls12', ['-subj', '/CN=localhost'], { ssl_max_protocol_version: 'TLSv1.2' });
    tls = started.cluster;
    clientCert = path.join(started.dir, 'server.crt');
    clientKey = path.join(started.dir, 'client.key');
    await execa('cp', [path.join(started.dir, 'server.key'), clientKey]);
  });
  afterAll(async () => {
    await tls?.stop();
    await db?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  // The shared server (no TLS), as the database this file made.
  const plain = () => `postgresql://postgres@127.0.0.1:5432/${db.name}`;
  const plainOk = () => `5432|postgres|${db.name}`;
  const tls12 = () => `postgresql://postgres@127.0.0.1:${tls.port}/postgres`;
  const tlsOk = () => `${tls.port}|postgres|postgres`;

  const cases: LibpqCase[] = [
    // Empty values: libpq refuses them (they were read as absent, and sslmode= connected with prefer).
    { name: 'sslmode= (empty, refused)', conn: () => `${plain()}?sslmode=`, expect: () => 'error' },
    { name: 'PGSSLMODE set to "" (refused)', conn: plain, env: () => ({ PGSSLMODE: '' }), expect: () => 'error' },
    { name: 'target_session_attrs= (empty, refused)', conn: () => `host=127.0.0.1 dbname=${db.name} user=postgres target_session_attrs=`, expect: () => 'error' },
    { name: 'connect_timeout= (empty, refused)', conn: () => `${plain()}?connect_timeout=`, expect: () => 'error' },
    { name: 'PGCONNECT_TIMEOUT set to "" (refused)', conn: plain, env: () => ({ PGCONNECT_TIMEOUT: '' }), expect: () => 'error' },
    { name: 'service= (empty, refused)', conn: () => `${plain()}?service=`, expect: () => 'error' },
    { name: 'PGSERVICE set to "" (refused)', conn: plain, env: () => ({ PGSERVICE: '' }), expect: () => 'error' },
    { name: "an empty port means the default (port='', PGPORT set to \"\")", conn: () => `host=127.0.0.1 port='' dbname=${db.name} user=postgres`, env: () => ({ PGPORT: '' }), expect: plainOk },
    // A client certificate under the default sslmode=prefer: plain text at a server without TLS (it failed).
    { name: 'sslcert and sslkey under sslmode=prefer at a server without TLS', conn: () => `${plain()}?sslcert=${clientCert}&sslkey=${clientKey}`, expect: plainOk },
    { name: 'PGSSLCERT and PGSSLKEY under sslmode=prefer at a server without TLS', conn: plain, env: () => ({ PGSSLCERT: clientCert, PGSSLKEY: clientKey }), expect: plainOk },
    // The TLS protocol versions (ignored: TLS 1.2 was accepted under ssl_min_protocol_version=TLSv1.3).
    { name: 'ssl_min_protocol_version=TLSv1.3 at a TLS 1.2 server (refused)', conn: () => `${tls12()}?sslmode=require&ssl_min_protocol_version=TLSv1.3`, expect: () => 'error' },
    // libpq's prefer retries in plain text when the TLS handshake fails: a version bound never refuses there.
    { name: 'ssl_min_protocol_version=TLSv1.3 under prefer at a TLS 1.2 server', conn: () => `${tls12()}?ssl_min_protocol_version=TLSv1.3`, expect: tlsOk },
    { name: 'PGSSLMINPROTOCOLVERSION=TLSv1.3 at a TLS 1.2 server (refused)', conn: () => `${tls12()}?sslmode=require`, env: () => ({ PGSSLMINPROTOCOLVERSION: 'TLSv1.3' }), expect: () => 'error' },
    { name: 'ssl_min_protocol_version in lower case', conn: () => `${tls12()}?sslmode=require&ssl_min_protocol_version=tlsv1.2`, expect: tlsOk },
    { name: 'ssl_min_protocol_version=TLSv1.4 (refused)', conn: () => `${tls12()}?sslmode=require&ssl_min_protocol_version=TLSv1.4`, expect: () => 'error' },
    { name: 'a minimum above the maximum (refused)', conn: () => `${tls12()}?sslmode=require&ssl_min_protocol_version=TLSv1.2&ssl_max_protocol_version=TLSv1.1`, expect: () => 'error' },
  ];

  itEach(cases);

  it('an empty sslmode is refused in one line naming the variable, exit 2', async () => {
    const r = await runCli(['current'], { url: plain(), env: { PGSSLMODE: '' } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^error: PGSSLMODE has an empty sslmode, which libpq refuses — .*unset PGSSLMODE/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('pg_dump gets the TLS version bound the sessions have: every session of a backup is TLS 1.2 under ssl_max_protocol_version', async () => {
    const { cluster } = await startTlsCluster(work, 'tls13', ['-subj', '/CN=localhost'], { log_connections: 'on' });
    try {
      const r = await runCliJson(['backup', '--dir', path.join(work, 'backups')], { cwd: work, env: { HOME: work, DATABASE_URL: `${cluster.url()}?sslmode=require&ssl_max_protocol_version=TLSv1.2` } });
      expect(r.exitCode, r.stderr).toBe(0);
      const authorized = readFileSync(path.join(cluster.socketDir, 'log'), 'utf8').split('\n').filter((l) => l.includes('connection authorized'));
      // The tool's own sessions and pg_dump's (its application_name), each TLS 1.2, none 1.3.
      expect(authorized.some((l) => l.includes('pg_dump')), authorized.join('\n')).toBe(true);
      for (const line of authorized) expect(line).toMatch(/SSL enabled \(protocol=TLSv1\.2,/);
    } finally {
      await cluster.stop();
    }
  });
});

describe('a connection string that is not libpq\'s: one line, exit 2, the password never echoed', () => {
  const secret = 'Hunter2-Secret';
  const forms = [
    `jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres&password=${secret}`,
    `jdbc:postgresql://postgres:${secret}@127.0.0.1/postgres`,
    `postgresql:/postgres:${secret}@127.0.0.1/postgres`,
    `postgres:${secret}@127.0.0.1:5432/postgres`,
    `jdbc:sqlserver://h;user=u;Password=${secret}`,
  ];
  for (const url of forms) {
    it(url.replace(secret, '****'), async () => {
      for (const r of [await runCli(['current'], { url }), await runCli(['current', '--url', url])]) {
        expect(r.exitCode).toBe(2);
        expect(r.stderr).toMatch(/neither a postgresql:\/\/ URL nor keyword=value settings/);
        expect(r.stderr + r.stdout).not.toContain(secret);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
    });
  }
});

/**
 * TLS sessions (sslmode=require) from the read commands' bundle, where postgres.js loads node:tls
 * only when a TLS session is opened (scripts/bundle-cli.mjs), and from the ES modules (upgrade):
 * the server's pg_stat_ssl shows the session encrypted. What libpq names when TLS cannot be had is
 * named too: a server without TLS under sslmode=require (the shared server has none), a certificate for
 * another name under verify-full, a certificate the sslrootcert did not sign; and a server that does
 * not suit target_session_attrs.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { connectPool } from '../src/db/driver.js';
import { ROOT, runCli } from './helpers/cli.js';
import { startTempCluster, type TempClusterOptions } from './helpers/temp-cluster.js';
import { startTlsCluster } from './helpers/tls-cluster.js';

const certs = mkdtempSync(path.join(os.tmpdir(), 'cmmc-tls-'));
afterAll(() => rmSync(certs, { recursive: true, force: true }));

/** A cluster serving TLS with a certificate for `subject`, under this file's folder of certificates. */
const tlsCluster = (label: string, subject: string[], settings: Record<string, string> = {}, options: TempClusterOptions = {}) => startTlsCluster(certs, label, subject, settings, options);

describe('TLS sessions', () => {
  it('upgrade, current and history connect with sslmode=require, encrypted', async () => {
    const { cluster } = await tlsCluster('require', ['-subj', '/CN=localhost'], { log_connections: 'on' });
    try {
      const url = `${cluster.url()}?sslmode=require`;
      const env = { CMMC_MIGRATIONS_DIR: path.join(ROOT, 'test', 'fixtures', 'engine', 'linear') };
      const up = await runCli(['upgrade', 'head'], { url, env });
      expect(up.exitCode, up.stderr).toBe(0);
      const current = await runCli(['current'], { url, env });
      expect(current.exitCode, current.stderr).toBe(0);
      expect(current.stdout).toContain('1a0000000005');
      const history = await runCli(['history', '--indicate-current'], { url, env });
      expect(history.exitCode, history.stderr).toBe(0);
      expect(history.stdout).toContain('1a0000000001');
      // Every session of the three commands was encrypted (log_connections names SSL on each).
      const authorized = readFileSync(path.join(cluster.socketDir, 'log'), 'utf8').split('\n').filter((l) => l.includes('connection authorized'));
      expect(authorized.length).toBeGreaterThanOrEqual(3);
      for (const line of authorized) expect(line).toMatch(/SSL enabled/);
    } finally {
      await cluster.stop();
    }
  });
});

const lastLine = (r: { stderr: string }) => r.stderr.trim().split('\n').at(-1);

describe('what libpq names, named: TLS refused by the server, target_session_attrs not met', () => {
  const local = 'postgres://postgres@127.0.0.1:5432/postgres';

  it('sslmode=require, verify-ca or verify-full against a server without TLS: "server does not support SSL", and the fix', async () => {
    for (const mode of ['require', 'verify-ca', 'verify-full']) {
      const r = await runCli(['current'], { env: { DATABASE_URL: `${local}?sslmode=${mode}` } });
      expect(r.exitCode).toBe(1);
      expect(lastLine(r)).toBe(`error: the server at 127.0.0.1:5432 does not support SSL, but SSL was required (sslmode=${mode}) — enable ssl on the server (ssl = on in postgresql.conf, with a certificate and key), or set sslmode= in DATABASE_URL to prefer or disable`);
    }
    const env = await runCli(['current'], { env: { DATABASE_URL: local, PGSSLMODE: 'require' } });
    expect(lastLine(env)).toMatch(/does not support SSL, but SSL was required \(sslmode=require\) — .* or set PGSSLMODE to prefer or disable$/);
    // Several hosts: postgres.js would retry them until the deadline (2 x 10 s); named within seconds.
    const two = await runCli(['current'], { env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432,127.0.0.1:5432/postgres?sslmode=require' }, timeoutMs: 15_000 });
    expect(lastLine(two)).toMatch(/^error: the server at 127\.0\.0\.1:5432,127\.0\.0\.1:5432 does not support SSL, but SSL was required/);
  });

  it('target_session_attrs=standby, read-only or prefer-standby against a primary: libpq\'s reason, and the fix', async () => {
    const standby = await runCli(['current'], { url: `${local}?target_session_attrs=standby` });
    expect(lastLine(standby)).toBe('error: the server at 127.0.0.1:5432 does not suit target_session_attrs=standby: server is not in hot standby mode — point the connection at a standby (the host or port in DATABASE_URL), or drop target_session_attrs= in DATABASE_URL');
    const readOnly = await runCli(['current'], { url: local, env: { PGTARGETSESSIONATTRS: 'read-only' } });
    expect(lastLine(readOnly)).toBe('error: the server at 127.0.0.1:5432 does not suit target_session_attrs=read-only: session is not read-only — point the connection at a standby (or a server with default_transaction_read_only = on) (the host or port in DATABASE_URL), or drop PGTARGETSESSIONATTRS');
    // libpq takes the primary when no standby is listed, and so do we (test/connection-targets.test.ts).
    const prefer = await runCli(['current'], { url: `${local}?target_session_attrs=prefer-standby` });
    expect(prefer.exitCode, prefer.stderr).toBe(0);
    const two = await runCli(['current'], { url: 'postgres://postgres@127.0.0.1:5432,127.0.0.1:5432/postgres?target_session_attrs=standby', timeoutMs: 15_000 });
    expect(lastLine(two)).toMatch(/^error: no server at 127\.0\.0\.1:5432,127\.0\.0\.1:5432 suits target_session_attrs=standby: 127\.0\.0\.1:5432: server is not in hot standby mode; 127\.0\.0\.1:5432: server is not in hot standby mode — /);
  });

  it('verify-full with a certificate for another name, and an sslrootcert that did not sign it: each named', async () => {
    const { dir, cert, cluster } = await tlsCluster('verify', ['-subj', '/CN=localhost']);
    const other = path.join(dir, 'other.crt');
    await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', path.join(dir, 'other.key'), '-out', other]);
    try {
      const base = `postgres://postgres@127.0.0.1:${cluster.port}/postgres`;
      const name = await runCli(['current'], { url: `${base}?sslmode=verify-full&sslrootcert=${cert}` });
      expect(name.exitCode).toBe(1);
      expect(lastLine(name)).toMatch(new RegExp(`^error: the server certificate at 127\\.0\\.0\\.1:${cluster.port} does not match the host name: .*127\\.0\\.0\\.1.* — connect by a name the certificate holds \\(the host or port in DATABASE_URL\\), or use sslmode=verify-ca`));
      // The same certificate by the name it holds: connects.
      const ok = await runCli(['current'], { url: `postgres://postgres@localhost:${cluster.port}/postgres?sslmode=verify-full&sslrootcert=${cert}` });
      expect(ok.exitCode, ok.stderr).toBe(0);
      for (const mode of ['verify-ca', 'verify-full']) {
        const wrong = await runCli(['current'], { url: `postgres://postgres@localhost:${cluster.port}/postgres?sslmode=${mode}&sslrootcert=${other}` });
        expect(wrong.exitCode).toBe(1);
        expect(lastLine(wrong)).toMatch(new RegExp(`^error: the server certificate at localhost:${cluster.port} failed verification \\(certificate verify failed\\): .* — set sslrootcert \\(PGSSLROOTCERT\\) to the certificate of the authority`));
      }
    } finally {
      await cluster.stop();
    }
  });

  it('verify-full with several IP hosts checks the certificate against the host connected to, and a mismatch ends the connect, as libpq', async () => {
    // A certificate for 127.0.0.2 only, served on 127.0.0.1 and 127.0.0.2 alike.
    const { cert, cluster } = await tlsCluster('ips', ['-subj', '/CN=127.0.0.2', '-addext', 'subjectAltName=IP:127.0.0.2'], {}, { listen: '127.0.0.1,127.0.0.2' });
    const urlOf = (first: string, second: string) => `postgres://postgres@${first}:${cluster.port},${second}:${cluster.port}/postgres?sslmode=verify-full&sslrootcert=${cert}`;
    try {
      // 127.0.0.2 first: its own certificate, connected there.
      const good = urlOf('127.0.0.2', '127.0.0.1');
      const sql = await connectPool(good);
      try {
        const [row] = await sql<{ addr: string; ssl: boolean }[]>`SELECT host(inet_server_addr()) AS addr, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`;
        expect(row).toEqual({ addr: '127.0.0.2', ssl: true });
      } finally {
        await sql.end({ timeout: 1 });
      }
      expect((await execa('psql', [good, '-XAtc', 'select host(inet_server_addr())'])).stdout.trim()).toBe('127.0.0.2');
      // 127.0.0.1 first: its certificate is 127.0.0.2's, refused there; libpq then stops, and so do we.
      const bad = urlOf('127.0.0.1', '127.0.0.2');
      const refused = await connectPool(bad).then(
        () => undefined,
        (err: Error & { code?: string; hint?: string }) => err,
      );
      expect(refused?.code).toBe('connect.ssl-name');
      expect(refused?.message).toMatch(/does not match the host name: .*127\.0\.0\.1/);
      const psql = await execa('psql', [bad, '-XAtc', 'select 1'], { reject: false });
      expect(psql.exitCode).toBe(2);
      expect(psql.stderr).toMatch(/server certificate for "127\.0\.0\.2" does not match host name "127\.0\.0\.1"/);
      // The CLI's bundled driver the same.
      const cli = await runCli(['current'], { url: bad });
      expect(cli.exitCode).toBe(1);
      expect(lastLine(cli)).toMatch(/^error: the server certificate at .* does not match the host name: .*127\.0\.0\.1/);
    } finally {
      await cluster.stop();
    }
  });
});

/**
 * A certificate revocation list of the authority `cert` (key `key`), made with `openssl ca`: revoking
 * the certificate file `revoke` when given, else listing nothing.
 */
async function crlFor(dir: string, cert: string, key: string, revoke: string | undefined, name: string): Promise<string> {
  const ca = mkdtempSync(path.join(dir, `${name}-`));
  const f = (x: string) => path.join(ca, x);
  writeFileSync(f('index.txt'), '');
  writeFileSync(f('crlnumber'), '01\n');
  writeFileSync(f('ca.cnf'), `[ ca ]\ndefault_ca = d\n[ d ]\ndatabase = ${f('index.txt')}\ncrlnumber = ${f('crlnumber')}\ndefault_md = sha256\ndefault_crl_days = 1\n`);
  const common = ['-config', f('ca.cnf'), '-keyfile', key, '-cert', cert];
  if (revoke) await execa('openssl', ['ca', ...common, '-revoke', revoke]);
  const out = path.join(dir, `${name}.crl`);
  await execa('openssl', ['ca', ...common, '-gencrl', '-out', out]);
  return out;
}

describe('sslcrl and sslcrldir: a revoked server certificate is refused, as libpq refuses it', () => {
  it('verify-ca with a CRL that revokes the server certificate fails as psql does; a CRL that does not, or a missing CRL file, connects', async () => {
    // The sessions of the tool ignored sslcrl (only pg_dump, pg_restore and psql got it): a revoked
    // server certificate was accepted where psql refused it.
    const { dir, cert, cluster } = await tlsCluster('crl', ['-subj', '/CN=localhost']);
    try {
      const key = path.join(dir, 'server.key');
      const revoked = await crlFor(dir, cert, key, cert, 'revoked');
      const clean = await crlFor(dir, cert, key, undefined, 'clean');
      const base = `postgres://postgres@localhost:${cluster.port}/postgres?sslmode=verify-ca&sslrootcert=${cert}`;
      const psql = (url: string) => execa('psql', [url, '-XAtc', 'select 1'], { reject: false, env: { HOME: dir } });

      const refusedByPsql = await psql(`${base}&sslcrl=${revoked}`);
      expect(refusedByPsql.exitCode).toBe(2);
      expect(refusedByPsql.stderr).toMatch(/certificate verify failed/);
      const refused = await runCli(['current'], { url: `${base}&sslcrl=${revoked}` });
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr.trim().split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
      expect(refused.stderr).toContain('revokes the server\'s certificate');
      expect(lastLine(refused)).toMatch(/^error: the server certificate at localhost:\d+ failed verification \(certificate verify failed\): certificate revoked — /);
      // PGSSLCRL the same.
      const byEnv = await runCli(['current'], { url: base, env: { PGSSLCRL: revoked } });
      expect(lastLine(byEnv)).toMatch(/certificate revoked/);
      // The library's pool too.
      await expect(connectPool(`${base}&sslcrl=${revoked}`)).rejects.toThrow(/certificate revoked/);

      // A directory of CRLs named by their issuer's hash (openssl rehash), as libpq's sslcrldir.
      const crlDir = mkdtempSync(path.join(dir, 'crldir-'));
      const hash = (await execa('openssl', ['crl', '-hash', '-noout', '-in', revoked])).stdout.trim();
      writeFileSync(path.join(crlDir, `${hash}.r0`), readFileSync(revoked));
      expect((await psql(`${base}&sslcrldir=${crlDir}`)).exitCode).toBe(2);
      const refusedByDir = await runCli(['current'], { url: `${base}&sslcrldir=${crlDir}` });
      expect(lastLine(refusedByDir)).toMatch(/certificate revoked/);

      // A CRL that revokes nothing, and a CRL file that is not there (libpq ignores it), connect.
      for (const crl of [clean, path.join(dir, 'no-such.crl')]) {
        expect((await psql(`${base}&sslcrl=${crl}`)).exitCode).toBe(0);
        const ok = await runCli(['current'], { url: `${base}&sslcrl=${crl}` });
        expect(ok.exitCode, ok.stderr).toBe(0);
      }
      // Under require without a root certificate nothing is verified, the CRL neither (libpq the same).
      expect((await psql(`postgres://postgres@localhost:${cluster.port}/postgres?sslmode=require&sslcrl=${revoked}`)).exitCode).toBe(0);
      const unverified = await runCli(['current'], { url: `postgres://postgres@localhost:${cluster.port}/postgres?sslmode=require&sslcrl=${revoked}` });
      expect(unverified.exitCode, unverified.stderr).toBe(0);
    } finally {
      await cluster.stop();
    }
  });
});

describe('sslcrl holding one list per authority of a chain (root, intermediate), as libpq reads it', () => {
  it('a file of both lists connects when neither revokes, is refused as revoked when the intermediate\'s does; a file without a list is one line', async () => {
    // Node's crl option read only the first list of a file: the root's and the intermediate's lists in one
    // file failed as 'unable to get certificate CRL' where psql connected; a file of no CRL crashed the
    // command with a stack trace ('Failed to parse CRL', uncaught).
    chmodSync(certs, 0o755);
    const dir = mkdtempSync(path.join(certs, 'chain-'));
    chmodSync(dir, 0o755);
    const f = (x: string) => path.join(dir, x);
    const ssl = (...args: string[]) => execa('openssl', args);
    const ext = f('ext.cnf');
    writeFileSync(ext, '[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n[leaf]\nbasicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\n');
    await ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=Root', '-keyout', f('root.key'), '-out', f('root.crt'), '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    const signed = async (name: string, cn: string, by: string, section: string) => {
      await ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
      await ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${by}.crt`), '-CAkey', f(`${by}.key`), '-CAcreateserial', '-days', '1', '-extfile', ext, '-extensions', section, '-out', f(`${name}.crt`));
    };
    await signed('inter', 'Intermediate', 'root', 'ca');
    await signed('server', 'localhost', 'inter', 'leaf');
    writeFileSync(f('chain.crt'), readFileSync(f('server.crt'), 'utf8') + readFileSync(f('inter.crt'), 'utf8'));
    if (process.getuid?.() === 0) await execa('chown', ['postgres', f('chain.crt'), f('server.key')]);
    chmodSync(f('server.key'), 0o600);
    const cluster = await startTempCluster({ ssl: 'on', ssl_cert_file: `'${f('chain.crt')}'`, ssl_key_file: `'${f('server.key')}'` });
    try {
      const rootList = readFileSync(await crlFor(dir, f('root.crt'), f('root.key'), undefined, 'root'), 'utf8');
      const interClean = readFileSync(await crlFor(dir, f('inter.crt'), f('inter.key'), undefined, 'inter-clean'), 'utf8');
      const interRevoking = readFileSync(await crlFor(dir, f('inter.crt'), f('inter.key'), f('server.crt'), 'inter-revoked'), 'utf8');
      writeFileSync(f('clean.crl'), rootList + interClean);
      writeFileSync(f('revoked.crl'), rootList + interRevoking);
      writeFileSync(f('garbage.crl'), 'not a list\n');
      const url = (crl: string) => `postgres://postgres@localhost:${cluster.port}/postgres?sslmode=verify-full&sslrootcert=${f('root.crt')}&sslcrl=${f(crl)}`;
      const psql = (crl: string) => execa('psql', [url(crl), '-XAtc', 'select 1'], { reject: false, env: { HOME: dir } });

      expect((await psql('clean.crl')).exitCode).toBe(0);
      const ok = await runCli(['current'], { url: url('clean.crl') });
      expect(ok.exitCode, ok.stderr).toBe(0);

      expect((await psql('revoked.crl')).exitCode).toBe(2);
      const refused = await runCli(['current'], { url: url('revoked.crl') });
      expect(refused.exitCode).toBe(1);
      expect(lastLine(refused)).toMatch(/certificate revoked — /);

      const garbage = await runCli(['current'], { url: url('garbage.crl') });
      expect(garbage.exitCode).toBe(2);
      expect(garbage.stderr).not.toMatch(/\n\s+at /);
      expect(lastLine(garbage)).toMatch(/^error: sslcrl .*garbage\.crl holds no PEM certificate revocation list/);
      await expect(connectPool(url('garbage.crl'))).rejects.toThrow(/holds no PEM certificate revocation list/);
    } finally {
      await cluster.stop();
    }
  });
});

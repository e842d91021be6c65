/**
 * The command npm installs, bin/cmmc-db: a shell script that starts bin/cmmc-db.js with Node. It is
 * found through npm's link in node_modules/.bin or by name on PATH, hands every argument over as
 * given, and keeps the exit code. It defers NODE_EXTRA_CA_CERTS, which Node would parse at start
 * (four fifths of its start-up work with a system bundle): Node does not see the file at start, yet
 * a TLS session checked against Node's default certificates still trusts the file's certificates.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, ROOT } from './helpers/cli.js';
import { startTempCluster } from './helpers/temp-cluster.js';

const WRAPPER = path.join(ROOT, 'bin', 'cmmc-db');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'cmmc-wrapper-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const version = (await import(path.join(ROOT, 'package.json'), { with: { type: 'json' } })).default.version as string;

function runAs(file: string, args: string[], env: Record<string, string | undefined> = {}, cwd = scratch) {
  return execa(file, args, { cwd, env: cleanEnv(env), extendEnv: false, reject: false, timeout: 60_000 });
}

describe('bin/cmmc-db, the command npm installs', () => {
  it('runs through npm\'s relative link, by name on PATH, and from its own folder, with the arguments as given', async () => {
    const bin = path.join(scratch, 'project', 'node_modules', '.bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(path.relative(bin, WRAPPER), path.join(bin, 'cmmc-db'));

    const linked = await runAs(path.join(bin, 'cmmc-db'), ['--version']);
    expect(linked.stdout).toBe(version);
    const onPath = await runAs('cmmc-db', ['--version'], { PATH: `${bin}:${process.env.PATH}` });
    expect(onPath.stdout).toBe(version);
    const direct = await execa('sh', ['cmmc-db', '--version'], { cwd: path.dirname(WRAPPER), reject: false });
    expect(direct.stdout).toBe(version);

    // An argument with blanks and quotes reaches the program whole; the exit code is the program's.
    const odd = await runAs(path.join(bin, 'cmmc-db'), ['history', '-r', `a b "c'`]);
    expect(odd.exitCode).toBe(2);
    expect(odd.stderr).toContain(`a b "c'`);
  });

  it('does not hand NODE_EXTRA_CA_CERTS to Node at start, and gives it back to the programs it starts', async () => {
    // Node warns at start about a file it cannot load: through the wrapper it never tries.
    const missing = path.join(scratch, 'no-such-bundle.pem');
    const plain = await runAs('node', [path.join(ROOT, 'bin', 'cmmc-db.js'), '--version'], { NODE_EXTRA_CA_CERTS: missing });
    expect(plain.stderr).toContain('Ignoring extra certs');
    const wrapped = await runAs(WRAPPER, ['--version'], { NODE_EXTRA_CA_CERTS: missing });
    expect(wrapped.stdout).toBe(version);
    expect(wrapped.stderr).toBe('');
    // With --use-openssl-ca Node's default certificates are the system's: nothing is deferred.
    const openssl = await runAs(WRAPPER, ['--version'], { NODE_EXTRA_CA_CERTS: missing, NODE_OPTIONS: '--use-openssl-ca' });
    expect(openssl.stderr).toContain('Ignoring extra certs');

    // A program it starts (here a pg_dump that writes down its environment) sees the variable as the user set it.
    const tools = path.join(scratch, 'tools');
    mkdirSync(tools);
    const seen = path.join(scratch, 'pg_dump.env');
    writeFileSync(path.join(tools, 'pg_dump'), `#!/bin/sh\nif [ "$1" = --version ]; then echo "pg_dump (PostgreSQL) 99.0"; exit 0; fi\nenv > '${seen}'\nexit 1\n`, { mode: 0o755 });
    for (const other of ['pg_restore', 'psql']) symlinkSync(path.join('/usr/lib/postgresql/15/bin', other), path.join(tools, other));
    const database = `cmmc_wrapper_${process.pid}`;
    await execa('createdb', ['-h', '127.0.0.1', '-U', 'postgres', database]);
    try {
      const backup = await runAs(WRAPPER, ['backup', 'create', '--dir', path.join(scratch, 'backups')], {
        DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
        CMMC_PG_BIN_DIR: tools,
        NODE_EXTRA_CA_CERTS: missing,
      });
      expect(backup.exitCode).toBe(1);
      const env = readFileSync(seen, 'utf8').split('\n');
      expect(env).toContain(`NODE_EXTRA_CA_CERTS=${missing}`);
      expect(env.filter((line) => line.startsWith('CMMC_NODE_EXTRA_CA_CERTS='))).toEqual([]);
    } finally {
      await execa('dropdb', ['-h', '127.0.0.1', '-U', 'postgres', '--if-exists', database]);
    }
  });

  it('a TLS session checked against Node\'s default certificates still trusts those of NODE_EXTRA_CA_CERTS', async () => {
    const dir = mkdtempSync(path.join(scratch, 'tls-'));
    chmodSync(scratch, 0o755);
    chmodSync(dir, 0o755);
    const f = (name: string) => path.join(dir, name);
    // A private CA and a server certificate it signed for 127.0.0.1: trusted only through the extra file.
    await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=cmmc-test-ca', '-keyout', f('ca.key'), '-out', f('ca.crt')]);
    await execa('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', f('server.key'), '-out', f('server.csr')]);
    writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    await execa('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f('san.ext'), '-out', f('server.crt')]);
    if (process.getuid?.() === 0) await execa('chown', ['postgres', f('server.crt'), f('server.key')]);
    chmodSync(f('server.key'), 0o600);
    const cluster = await startTempCluster({ ssl: 'on', ssl_cert_file: `'${f('server.crt')}'`, ssl_key_file: `'${f('server.key')}'` });
    try {
      // sslrootcert=system: the chain is checked against the default certificates, and the host name.
      const url = `${cluster.url()}?sslmode=verify-full&sslrootcert=system`;
      const trusted = await runAs(WRAPPER, ['current'], { DATABASE_URL: url, NODE_EXTRA_CA_CERTS: f('ca.crt') });
      expect(trusted.exitCode, trusted.stderr).toBe(0);
      // Without the extra file the same session is refused: the check is real.
      const untrusted = await runAs(WRAPPER, ['current'], { DATABASE_URL: url });
      expect(untrusted.exitCode).toBe(1);
      expect(untrusted.stderr).toMatch(/certificate/);
      // A file that cannot be read: Node's own warning (which Node gives at start) comes when a session needs it.
      const unreadable = await runAs(WRAPPER, ['current'], { DATABASE_URL: url, NODE_EXTRA_CA_CERTS: path.join(dir, 'gone.pem') });
      expect(unreadable.exitCode).toBe(1);
      expect(unreadable.stderr).toContain(`Warning: Ignoring extra certs from \`${path.join(dir, 'gone.pem')}\`, load failed: ENOENT`);
      // With --use-openssl-ca (Node takes every spelling with underscores) Node's default certificates
      // are OpenSSL's (here SSL_CERT_FILE, the private CA) plus the extra file's: nothing is deferred,
      // else the session is checked against Node's bundled certificates and the extra file only.
      const other = f('other-ca.crt');
      await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=cmmc-other-ca', '-keyout', f('other-ca.key'), '-out', other]);
      for (const spelling of ['--use-openssl-ca', '--use_openssl_ca', '--use-openssl_ca']) {
        const env = { DATABASE_URL: url, SSL_CERT_FILE: f('ca.crt'), NODE_EXTRA_CA_CERTS: other, NODE_OPTIONS: spelling };
        const direct = await runAs('node', [path.join(ROOT, 'bin', 'cmmc-db.js'), 'current'], env);
        expect(direct.exitCode, `${spelling}: ${direct.stderr}`).toBe(0);
        const wrapped = await runAs(WRAPPER, ['current'], env);
        expect(wrapped.exitCode, `${spelling}: ${wrapped.stderr}`).toBe(0);
      }
    } finally {
      await cluster.stop();
    }
  });
});

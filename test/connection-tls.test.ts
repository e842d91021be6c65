/**
 * TLS sessions (sslmode=require) from the read commands' bundle, where postgres.js loads node:tls
 * only when a TLS session is opened (scripts/bundle-cli.mjs), and from the ES modules (upgrade):
 * the server's pg_stat_ssl shows the session encrypted.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from './helpers/cli.js';
import { startTempCluster } from './helpers/temp-cluster.js';

const certs = mkdtempSync(path.join(os.tmpdir(), 'cmmc-tls-'));
afterAll(() => rmSync(certs, { recursive: true, force: true }));

describe('TLS sessions', () => {
  it('upgrade, current and history connect with sslmode=require, encrypted', async () => {
    chmodSync(certs, 0o755);
    const cert = path.join(certs, 'server.crt');
    const key = path.join(certs, 'server.key');
    await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert]);
    if (process.getuid?.() === 0) await execa('chown', ['postgres', cert, key]);
    chmodSync(key, 0o600);
    const cluster = await startTempCluster({ ssl: 'on', ssl_cert_file: `'${cert}'`, ssl_key_file: `'${key}'`, log_connections: 'on' });
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
      const { readFileSync } = await import('node:fs');
      const authorized = readFileSync(path.join(cluster.socketDir, 'log'), 'utf8').split('\n').filter((l) => l.includes('connection authorized'));
      expect(authorized.length).toBeGreaterThanOrEqual(3);
      for (const line of authorized) expect(line).toMatch(/SSL enabled/);
    } finally {
      await cluster.stop();
    }
  });
});

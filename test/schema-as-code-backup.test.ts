import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { query } from './helpers/server.js';
import { useServerWorkspace } from './fixtures/schema-as-code/workspace.js';

describe('upgrade --backup', () => {
  const s = useServerWorkspace();
  let env: Record<string, string>;
  const manifests = () => readdirSync(env.CMMC_BACKUP_DIR).filter((f) => f.endsWith('.manifest.json'));
  beforeAll(async () => {
    env = { ...s.ws.env, CMMC_BACKUP_DIR: path.join(s.ws.dir, 'backups') };
  });

  it('takes a verified backup before applying anything, names it, and the backup verifies and holds the old schema', async () => {
    expect((await runCli(['upgrade', '0a0000000001'], { url: s.tdb.url, env })).exitCode).toBe(0);
    await query(s.tdb.url, `INSERT INTO widgets (name) VALUES ('kept')`);
    const r = await runCliJson(['upgrade', 'head', '--backup'], { url: s.tdb.url, env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.data.backup).toMatchObject({ status: 'verified' });
    expect(r.stderr).toContain(`backup ${r.data.backup.name}`);
    expect(r.stderr).toContain(`cmmc-db backup restore ${r.data.backup.name}`);
    // The backup line comes before the first applied revision.
    expect(r.stderr.indexOf('verified')).toBeLessThan(r.stderr.indexOf('0a0000000002'));
    expect(r.data.to).toEqual(['0a0000000002']);
    const verify = await runCliJson(['backup', 'verify', r.data.backup.name], { url: s.tdb.url, env });
    expect(verify.exitCode, verify.stderr).toBe(0);
    expect(verify.data.status).toBe('verified');
    // Restored elsewhere, it is the database as it was before the upgrade.
    const restoredName = `${s.tdb.name}_r`;
    try {
      const restore = await runCli(['backup', 'restore', r.data.backup.name, '--target-db', restoredName, '--yes'], { url: s.tdb.url, env });
      expect(restore.exitCode, restore.stderr).toBe(0);
      const url = s.tdb.url.replace(/\/[^/]+$/, `/${restoredName}`);
      expect(await query(url, 'SELECT version_num FROM cmmc_schema_version')).toEqual([{ version_num: '0a0000000001' }]);
      expect(await query(url, 'SELECT name FROM widgets')).toEqual([{ name: 'kept' }]);
      expect(await query(url, `SELECT to_regclass('public.widget_names') AS v`)).toEqual([{ v: null }]);
    } finally {
      await query(s.tdb.url.replace(/\/[^/]+$/, '/postgres'), `DROP DATABASE IF EXISTS "${restoredName}" WITH (FORCE)`);
    }
  });

  it('is the default in production, and --no-backup turns it off', async () => {
    expect((await runCli(['downgrade', 'base', '--yes'], { url: s.tdb.url, env })).exitCode).toBe(0);
    const before = manifests().length;
    const off = await runCli(['upgrade', '0a0000000001', '--no-backup'], { url: s.tdb.url, env: { ...env, NODE_ENV: 'production' } });
    expect(off.exitCode, off.stderr).toBe(0);
    expect(manifests().length).toBe(before);
    const on = await runCli(['upgrade', 'head'], { url: s.tdb.url, env: { ...env, CMMC_ENV: 'production' } });
    expect(on.exitCode, on.stderr).toBe(0);
    expect(on.stderr).toMatch(/backup \S+ \(.*\) verified/);
    expect(manifests().length).toBe(before + 1);
    // Nothing pending: nothing applied, so no backup either.
    const none = await runCli(['upgrade', 'head', '--backup'], { url: s.tdb.url, env });
    expect(none.stderr).toContain('no backup taken');
    expect(manifests().length).toBe(before + 1);
  });

  it('is encrypted with the key of CMMC_BACKUP_KEY_FILE when it names one (it was a plaintext dump beside the encrypted nightly ones)', async () => {
    expect((await runCli(['downgrade', 'base', '--yes'], { url: s.tdb.url, env })).exitCode).toBe(0);
    await query(s.tdb.url, `CREATE TABLE plaintext_probe (v text); INSERT INTO plaintext_probe VALUES ('cui-row-in-the-clear')`);
    const key = path.join(s.ws.dir, 'backup.key');
    writeFileSync(key, randomBytes(48).toString('base64') + '\n', { mode: 0o600 });
    const keyed = { ...env, CMMC_BACKUP_KEY_FILE: key };
    const before = new Set(manifests());
    const r = await runCliJson(['upgrade', 'head'], { url: s.tdb.url, env: { ...keyed, CMMC_ENV: 'production' } });
    expect(r.exitCode, r.stderr).toBe(0);
    const [made] = manifests().filter((m) => !before.has(m));
    const manifest = JSON.parse(readFileSync(path.join(env.CMMC_BACKUP_DIR, made), 'utf8'));
    expect(manifest).toMatchObject({ name: r.data.backup.name, encrypted: true, verified: { status: 'verified' } });
    const data = readFileSync(path.join(env.CMMC_BACKUP_DIR, manifest.file));
    expect(data.subarray(0, 7).toString()).toBe('CMMCENC');
    expect(data.includes('plaintext_probe')).toBe(false);
    const verify = await runCliJson(['backup', 'verify', manifest.name, '--key-file', key], { url: s.tdb.url, env });
    expect(verify.exitCode, verify.stderr).toBe(0);
    await query(s.tdb.url, 'DROP TABLE plaintext_probe');
  });
});

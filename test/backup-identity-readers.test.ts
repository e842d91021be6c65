/**
 * The doctor's backups.recent, status's newest backup and the report's backups section and evidence pick this database's
 * backups by the same identity rule as `backup list` (src/backup/store.ts sameDatabase): a
 * same-named database of another server (another system identifier) sharing the backup folder is
 * not counted; an old manifest without an identity is matched by its database and host (counted
 * when it is of this host, not counted when of another).
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

let db: TestDatabase;
let backups: string;
let ours: string;
const env = () => ({ CMMC_BACKUP_DIR: backups });
/** This database's backups, newest first: the one made here and the old one without identity. */
const mine = () => [ours, `${ours}-old-same-host`];

/** Copies a backup (its dump file and manifest) under a new name with `change` applied to the manifest. */
function copyBackup(from: string, name: string, change: (m: any) => void): void {
  const m = JSON.parse(readFileSync(path.join(backups, `${from}.manifest.json`), 'utf8'));
  const file = name + m.file.slice(from.length);
  copyFileSync(path.join(backups, m.file), path.join(backups, file));
  m.name = name;
  m.file = file;
  change(m);
  writeFileSync(path.join(backups, `${name}.manifest.json`), JSON.stringify(m));
}

beforeAll(async () => {
  db = await createTestDatabase('ident');
  backups = mkdtempSync(path.join(os.tmpdir(), 'cmmc-ident-'));
  const up = await runCli(['upgrade', 'head'], { url: db.url });
  expect(up.exitCode, up.stderr).toBe(0);
  const b = await runCli(['backup', 'create', '--verify'], { url: db.url, env: env() });
  expect(b.exitCode, b.stderr).toBe(0);
  const made = readdirSync(backups).filter((f) => f.endsWith('.manifest.json'));
  expect(made).toHaveLength(1);
  ours = made[0].slice(0, -'.manifest.json'.length);
  // The same-named database of another server: another system identifier, made later (the newest).
  copyBackup(ours, `${ours}-other-server`, (m) => {
    expect(m.identity?.systemIdentifier).toMatch(/^\d+$/);
    m.identity.systemIdentifier = String(BigInt(m.identity.systemIdentifier) + 1n);
    m.identity.host = 'db2.example.internal:5432';
    m.server = { ...m.server, host: 'db2.example.internal:5432' };
    m.createdAt = new Date(Date.now() + 60_000).toISOString();
  });
  // An old manifest without identity on this host, made earlier: this database (as `backup list`).
  copyBackup(ours, `${ours}-old-same-host`, (m) => {
    delete m.identity;
    m.createdAt = new Date(Date.now() - 3_600_000).toISOString();
  });
  // An old manifest without identity, same name, another host: not this database (as `backup list`).
  copyBackup(ours, `${ours}-old-other-host`, (m) => {
    delete m.identity;
    m.server = { ...m.server, host: 'db3.example.internal:5432' };
  });
}, 120_000);
afterAll(async () => {
  await db?.drop();
  if (backups) rmSync(backups, { recursive: true, force: true });
});

describe('readers of the backup folder match backups by database identity', () => {
  it('backup list: this database\'s two backups, two of other servers (the rule the others follow)', async () => {
    const r = await runCliJson(['backup', 'list'], { url: db.url, env: env() });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.data.invalid).toEqual([]);
    expect(r.data.backups.map((b: any) => b.name)).toEqual(mine());
    expect(r.data.otherDatabases).toBe(2);
  });

  it('doctor backups.recent --json: only this database\'s backups count', async () => {
    const r = await runCliJson(['doctor', 'backups.recent'], { url: db.url, env: env() });
    const recent = r.data.checks.find((c: any) => c.id === 'backups.recent');
    expect(recent.status, recent.figure).toBe('ok');
    expect(recent.figure).toContain(ours);
    expect(recent.figure).not.toContain('other-server');
    expect(recent.rows.map((x: any) => x.name)).toEqual(mine());
  });

  it('status --json: the newest verified backup is this database\'s, not the same-named one of another server', async () => {
    const r = await runCliJson(['status'], { url: db.url, env: env() });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.data.backup.newest.name).toBe(ours);
  });

  it('report --json: the backups section and its evidence count only this database\'s backups', async () => {
    const r = await runCliJson(['report'], { url: db.url, env: env() });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.data.backups.backups.map((b: any) => b.name)).toEqual(mine());
    expect(r.data.backups.newestVerified.name).toBe(ours);
    const item = r.data.evidence.items.find((i: any) => i.figures.some((f: any) => f.label === 'backups'));
    expect(item.figures.find((f: any) => f.label === 'backups').value).toBe(2);
    const recent = r.data.health.checks.find((c: any) => c.id === 'backups.recent');
    expect(recent.figure).toContain(ours);
  });
});

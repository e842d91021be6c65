/**
 * A backup dated in the future (made while a clock was wrong: a VM resumed with a bad clock, a host
 * whose NTP failed) is not the newest backup anywhere: restore and verify without a name take the
 * real newest, prune keeps it without letting it push out the real newest, doctor and status do not
 * count it as fresh, and list says which are dated in the future. One rule: `newestInPast`
 * (src/backup/retention.ts).
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

let db: TestDatabase;
let backups: string;
/** This database's two real backups, newest first, and the copy dated next year. */
let real: string[];
let future: string;
const env = () => ({ CMMC_BACKUP_DIR: backups });

beforeAll(async () => {
  db = await createTestDatabase('cmmc_clock');
  backups = mkdtempSync(path.join(os.tmpdir(), 'cmmc-clock-'));
  for (let i = 0; i < 2; i++) {
    const b = await runCli(['backup', 'create', '--verify'], { url: db.url, env: env() });
    expect(b.exitCode, b.stderr).toBe(0);
  }
  real = readdirSync(backups)
    .filter((f) => f.endsWith('.manifest.json'))
    .map((f) => f.slice(0, -'.manifest.json'.length))
    .sort()
    .reverse();
  expect(real).toHaveLength(2);
  // The older one, as a wrong clock would have named and dated it: next year, verified.
  const m = JSON.parse(readFileSync(path.join(backups, `${real[1]}.manifest.json`), 'utf8'));
  const at = new Date(Date.now() + 400 * 86_400_000);
  future = `${db.name}-${at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}`;
  copyFileSync(path.join(backups, m.file), path.join(backups, `${future}.dump`));
  writeFileSync(path.join(backups, `${future}.manifest.json`), JSON.stringify({ ...m, name: future, file: `${future}.dump`, createdAt: at.toISOString() }));
}, 120_000);
afterAll(async () => {
  await db?.drop();
  if (backups) rmSync(backups, { recursive: true, force: true });
});

describe('a backup dated in the future is not the newest', () => {
  it('prune --keep-last 1 keeps the real newest (and the future one, counted by no rule)', async () => {
    const r = await runCliJson(['backup', 'prune', '--keep-last', '1', '--dry-run'], { url: db.url, env: env() });
    expect(r.exitCode, r.stderr).toBe(0);
    const by = Object.fromEntries(r.data.entries.map((e: any) => [e.name, `${e.action} ${e.reasons.join(', ')}`.trim()]));
    expect(by).toEqual({ [future]: 'keep dated in the future', [real[0]]: 'keep last, newest verified', [real[1]]: 'delete' });
  });

  it('verify and restore without a name take the real newest', async () => {
    const v = await runCliJson(['backup', 'verify'], { url: db.url, env: env() });
    expect(v.exitCode, v.stderr).toBe(0);
    expect(v.data.name).toBe(real[0]);
    const r = await runCliJson(['backup', 'restore', '--dry-run'], { url: db.url, env: env() });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.data.plan.backup).toBe(real[0]);
  });

  it('doctor backups.recent and status count the real newest; list marks the future one and says why', async () => {
    const d = await runCliJson(['doctor', 'backups.recent'], { url: db.url, env: env() });
    const recent = d.data.checks.find((c: any) => c.id === 'backups.recent');
    expect(recent.figure).toContain(real[0]);
    const s = await runCliJson(['status'], { url: db.url, env: env() });
    expect(s.data.backup.newest.name).toBe(real[0]);
    const l = await runCli(['backup', 'list'], { url: db.url, env: env() });
    expect(l.exitCode, l.stderr).toBe(0);
    expect(l.stdout).toMatch(new RegExp(`^${future}\\t.*\\t\\d+d ahead \\(clock\\?\\)\\t`, 'm'));
    expect(l.stderr).toContain(`warning: 1 backup(s) dated in the future (${future}): a clock is wrong`);
  });

  it('doctor backups.recent warns when every verified backup is dated in the future (it would count as fresh for a year)', async () => {
    const only = mkdtempSync(path.join(os.tmpdir(), 'cmmc-clock-only-'));
    try {
      for (const f of readdirSync(backups).filter((f) => f.startsWith(future))) copyFileSync(path.join(backups, f), path.join(only, f));
      const d = await runCliJson(['doctor', 'backups.recent'], { url: db.url, env: { CMMC_BACKUP_DIR: only } });
      const recent = d.data.checks.find((c: any) => c.id === 'backups.recent');
      expect(recent.status).toBe('warn');
      expect(recent.figure).toMatch(/are all dated in the future .*a clock is wrong/);
    } finally {
      rmSync(only, { recursive: true, force: true });
    }
  });
});

/**
 * `status` (revisions with applied at/by/duration from the revision log, seeds, the newest verified
 * backup) and the doctor's `skipped`: on a stock server (no pg_stat_statements) a full doctor run of
 * a database at head exits 0; `--skip`; `backups.recent` from the age of the newest verified backup.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';

let db: TestDatabase;
let backups: string;
const env = () => ({ CMMC_BACKUP_DIR: backups });

beforeAll(async () => {
  db = await createTestDatabase('status');
  backups = mkdtempSync(path.join(os.tmpdir(), 'cmmc-status-'));
  const up = await runCli(['upgrade', 'head'], { url: db.url });
  expect(up.exitCode, up.stderr).toBe(0);
});
afterAll(async () => {
  await db?.drop();
  rmSync(backups, { recursive: true, force: true });
});

/** Moves the creation time of every backup manifest in the folder `hours` into the past. */
function ageBackups(hours: number): void {
  for (const f of readdirSync(backups).filter((x) => x.endsWith('.manifest.json'))) {
    const file = path.join(backups, f);
    const m = JSON.parse(readFileSync(file, 'utf8'));
    m.createdAt = new Date(Date.now() - hours * 3_600_000).toISOString();
    writeFileSync(file, JSON.stringify(m));
  }
}

describe('doctor on a stock server', () => {
  it('a full run of a database at head exits 0 but for tenant isolation, slow-queries skipped with how to enable it', async () => {
    // Upgraded as the superuser postgres with no application role (no init): only a superuser can read
    // the tenant tables, so the platform would connect as one and nothing would be isolated.
    const all = await runCliJson(['doctor'], { url: db.url, env: env() });
    const tenant = all.data.checks.find((c: any) => c.id === 'tenant.isolation');
    expect(tenant.status).toBe('fail');
    expect(tenant.remedy).toContain('set DB_USER');
    expect(all.exitCode).toBe(2);
    const r = await runCliJson(['doctor', '--skip', 'tenant'], { url: db.url, env: env() });
    const notOk = r.data.checks.filter((c: any) => c.status !== 'ok').map((c: any) => `${c.id}:${c.status}`);
    expect(r.exitCode, notOk.join(' ')).toBe(0);
    const slow = r.data.checks.find((c: any) => c.id === 'slow-queries.top');
    expect(slow.status).toBe('skipped');
    expect(slow.remedy).toContain('shared_preload_libraries');
    const recent = r.data.checks.find((c: any) => c.id === 'backups.recent');
    expect(recent.status).toBe('skipped');
    expect(recent.remedy).toContain('cmmc-db backup create');
  });

  it('--skip leaves out a check or a family; an unknown name is a usage error', async () => {
    const r = await runCliJson(['doctor', 'schema', 'connections', '--skip', 'connections', '--skip', 'schema.tables'], { url: db.url });
    const byId = Object.fromEntries(r.data.checks.map((c: any) => [c.id, c]));
    expect(byId['schema.tables'].status).toBe('skipped');
    expect(byId['connections.usage'].status).toBe('skipped');
    expect(byId['schema.migrations'].status).toBe('ok');
    const bad = await runCli(['doctor', '--skip', 'nonsense'], { url: db.url });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('no check named "nonsense" (--skip)');
  });
});

describe('status and backups.recent', () => {
  it('status --json: applied revisions with at/by/duration, nothing pending, seeds pending, no backup', async () => {
    const r = await runCliJson(['status'], { url: db.url, env: env() });
    expect(r.exitCode).toBe(0);
    const log = await query<{ revision: string; applied_by: string; applied_at: Date; duration_ms: number }>(
      db.url,
      'SELECT revision, applied_by, applied_at, duration_ms FROM cmmc_db.revision_log ORDER BY id',
    );
    const rev = r.data.revisions;
    expect(rev.atHead).toBe(true);
    expect(rev.pending).toEqual([]);
    expect(rev.applied.map((a: any) => a.revision).sort()).toEqual(log.map((l) => l.revision).sort());
    expect(rev.applied[0].revision).toBe(rev.current[0]);
    for (const a of rev.applied) {
      const entry = log.find((l) => l.revision === a.revision)!;
      expect(a.appliedBy).toBe(entry.applied_by);
      expect(a.appliedBy).toMatch(/^postgres\b/);
      expect(a.appliedAt).toBe(entry.applied_at.toISOString());
      expect(a.durationMs).toBe(entry.duration_ms);
    }
    expect(r.data.seeds.status).toBe('pending');
    expect(r.data.backup).toEqual({ dir: backups, newest: null });
  });

  it('after a verified backup: status shows it with its age; backups.recent is ok, then warns and fails as it ages', async () => {
    expect((await runCli(['backup', 'create'], { url: db.url, env: env() })).exitCode).toBe(0);
    const unverified = await runCliJson(['doctor', 'backups'], { url: db.url, env: env() });
    expect(unverified.data.checks[0].status).toBe('warn');
    expect((await runCli(['backup', 'verify'], { url: db.url, env: env() })).exitCode).toBe(0);

    const s = await runCliJson(['status'], { url: db.url, env: env() });
    expect(s.data.backup.newest.name).toMatch(new RegExp(`^${db.name}-`));
    expect(s.data.backup.newest.ageSeconds).toBeGreaterThanOrEqual(0);

    const fresh = await runCliJson(['doctor', 'backups.recent'], { url: db.url, env: env() });
    expect(fresh.data.checks[0].status).toBe('ok');
    expect(fresh.exitCode).toBe(0);
    ageBackups(30);
    const old = await runCliJson(['doctor', 'backups.recent'], { url: db.url, env: env() });
    expect(old.data.checks[0].status).toBe('warn');
    expect(old.exitCode).toBe(1);
    ageBackups(24 * 8);
    const stale = await runCliJson(['doctor', 'backups.recent'], { url: db.url, env: env() });
    expect(stale.data.checks[0].status).toBe('fail');
    expect(stale.exitCode).toBe(2);
    const aged = await runCliJson(['status'], { url: db.url, env: env() });
    expect(aged.data.backup.newest.ageSeconds).toBeGreaterThanOrEqual(8 * 86_400 - 60);
  });

  it('status in text names the revisions, seeds and backup', async () => {
    const r = await runCli(['status'], { url: db.url, env: env() });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^revisions: at head /m);
    expect(r.stdout).toMatch(/^seeds: pending /m);
    expect(r.stdout).toMatch(new RegExp(`^backup: newest verified ${db.name}-`, 'm'));
  });
});

/**
 * The seed loader through the CLI: idempotence, checksum skipping and --force, --status, --dry-run,
 * the production guard for demo data, and a broken file rolled back alone and named.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ROOT, runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, createTestDatabase, dropDatabase, query, uniqueName, urlFor, type TestDatabase } from './helpers/server.js';

const TABLES = [
  'organizations', 'users', 'cmmc_controls', 'provider_inheritance', 'assessments', 'control_findings', 'evidence', 'poam_items',
  'documents', 'document_chunks', 'ai_analysis_results', 'comments', 'notifications', 'audit_logs', 'system_config',
];

async function counts(url: string): Promise<Record<string, number>> {
  const sql = TABLES.map((t) => `SELECT '${t}' AS t, count(*)::int AS n FROM ${t}`).join(' UNION ALL ');
  const rows = await query<{ t: string; n: number }>(url, sql);
  return Object.fromEntries(rows.map((r) => [r.t, r.n]));
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A database at head with no seeds, copied from a template migrated once (faster than upgrading each time). */
async function cloneOf(template: string): Promise<TestDatabase> {
  const name = uniqueName('cmmc_seed');
  for (let attempt = 0; ; attempt++) {
    try {
      await adminQuery(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
      break;
    } catch (err) {
      // The CLI that migrated the template may still be disconnecting.
      if (attempt > 20 || !/being accessed by other users/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return { name, url: urlFor(name), drop: () => dropDatabase(name) };
}

describe('cmmc-db seed', () => {
  let template: TestDatabase;
  let tdb: TestDatabase;
  beforeAll(async () => {
    template = await createTestDatabase('cmmc_seed_tpl');
    const up = await runCli(['upgrade', 'head'], { url: template.url });
    expect(up.exitCode, up.stderr).toBe(0);
  });
  afterAll(async () => {
    await template?.drop();
  });
  beforeEach(async () => {
    tdb = await cloneOf(template.name);
  });
  afterEach(async () => {
    await tdb?.drop();
  });

  it('loads everything with --sample, and a second (forced) run duplicates nothing', async () => {
    const first = await runCli(['seed', '--sample'], { url: tdb.url });
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stderr).toContain('03_sample_data.sql: applied');
    const after1 = await counts(tdb.url);
    // Every table shows something, and both views too.
    for (const t of TABLES) expect(after1[t], t).toBeGreaterThan(0);
    expect(after1.cmmc_controls).toBe(110);
    expect(after1.provider_inheritance).toBe(330);
    expect(after1.users).toBe(4);
    const [progress] = await query(tdb.url, 'SELECT findings_total, findings_met, findings_not_met, findings_in_progress, findings_not_started, findings_not_applicable, evidence_count, open_poam_items FROM v_assessment_progress');
    expect(progress.findings_total).toBe(110);
    for (const k of ['findings_met', 'findings_not_met', 'findings_in_progress', 'findings_not_started', 'findings_not_applicable', 'evidence_count', 'open_poam_items']) {
      expect(progress[k], k).toBeGreaterThan(0);
    }
    const [byDomain] = await query(tdb.url, 'SELECT count(*)::int AS n FROM v_organization_compliance_by_domain');
    expect(byDomain.n).toBe(14);
    const roles = await query<{ role: string }>(tdb.url, 'SELECT role FROM users ORDER BY role');
    expect(roles.map((r) => r.role)).toEqual(['Admin', 'Assessor', 'Auditor', 'Viewer']);

    const second = await runCli(['seed', '--sample', '--force'], { url: tdb.url });
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stderr).toContain('3 seed files applied');
    expect(await counts(tdb.url)).toEqual(after1);
  });

  it('the demo passwords are bcrypt hashes of the documented passwords', async () => {
    const bcrypt = (await import('bcryptjs')).default;
    expect((await runCli(['seed', '--sample'], { url: tdb.url })).exitCode).toBe(0);
    const users = await query<{ email: string; role: string; password_hash: string }>(tdb.url, 'SELECT email, role, password_hash FROM users');
    const docs = readFileSync(path.join(ROOT, 'docs', 'seeds.md'), 'utf8');
    for (const u of users) {
      const password = `Demo-${u.role}-2026!`;
      expect(docs).toContain(password);
      expect(u.password_hash).toMatch(/^\$2b\$12\$/);
      expect(bcrypt.compareSync(password, u.password_hash), u.email).toBe(true);
    }
  });

  it('skips files whose checksum matches the last applied record, reruns them with --force, and lists them with --status', async () => {
    const pending = await runCliJson(['seed', '--status'], { url: tdb.url });
    expect(pending.data.files.map((f: any) => [f.file, f.status, f.sample])).toEqual([
      ['01_cmmc_controls.sql', 'pending', false],
      ['02_provider_inheritance.sql', 'pending', false],
      ['03_sample_data.sql', 'pending', true],
    ]);

    const first = await runCliJson(['seed'], { url: tdb.url });
    expect(first.exitCode).toBe(0);
    expect(first.data.files.map((f: any) => [f.file, f.outcome, f.reason])).toEqual([
      ['01_cmmc_controls.sql', 'applied', 'pending'],
      ['02_provider_inheritance.sql', 'applied', 'pending'],
      ['03_sample_data.sql', 'skipped', 'sample'],
    ]);
    const log = await query<{ file_name: string; checksum: string }>(tdb.url, 'SELECT file_name, checksum FROM cmmc_db.seed_log ORDER BY id');
    expect(log).toEqual([
      { file_name: '01_cmmc_controls.sql', checksum: sha256(path.join(ROOT, 'seeds', '01_cmmc_controls.sql')) },
      { file_name: '02_provider_inheritance.sql', checksum: sha256(path.join(ROOT, 'seeds', '02_provider_inheritance.sql')) },
    ]);
    // The loader's bookkeeping stays out of public.
    const [inPublic] = await query(tdb.url, "SELECT to_regclass('public.seed_log') AS t");
    expect(inPublic.t).toBeNull();

    const again = await runCli(['seed'], { url: tdb.url });
    expect(again.exitCode).toBe(0);
    expect(again.stderr).toContain('01_cmmc_controls.sql: skipped (unchanged');
    expect(again.stderr).toContain('nothing to do');
    expect((await query(tdb.url, 'SELECT count(*)::int AS n FROM cmmc_db.seed_log'))[0].n).toBe(2);

    const forced = await runCliJson(['seed', '01', '--force'], { url: tdb.url });
    expect(forced.data.files).toEqual([expect.objectContaining({ file: '01_cmmc_controls.sql', outcome: 'applied', reason: 'forced' })]);
    const forcedLog = await query(tdb.url, 'SELECT file_name, forced FROM cmmc_db.seed_log ORDER BY id DESC LIMIT 1');
    expect(forcedLog[0]).toEqual({ file_name: '01_cmmc_controls.sql', forced: true });

    const status = await runCliJson(['seed', '--status'], { url: tdb.url });
    expect(status.data.files.map((f: any) => f.status)).toEqual(['applied', 'applied', 'pending']);
  });

  it('a changed file shows as changed and is applied again', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-seeds-changed-'));
    try {
      const file = path.join(dir, '10_config.sql');
      writeFileSync(file, "INSERT INTO system_config (key, value) VALUES ('demo.flag', '1') ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;\n");
      const env = { CMMC_SEEDS_DIR: dir };
      expect((await runCli(['seed'], { url: tdb.url, env })).exitCode).toBe(0);
      writeFileSync(file, "INSERT INTO system_config (key, value) VALUES ('demo.flag', '2') ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;\n");
      const status = await runCliJson(['seed', '--status'], { url: tdb.url, env });
      expect(status.data.files[0]).toMatchObject({ file: '10_config.sql', status: 'changed' });
      const rerun = await runCliJson(['seed'], { url: tdb.url, env });
      expect(rerun.data.files[0]).toMatchObject({ outcome: 'applied', reason: 'changed' });
      const [row] = await query(tdb.url, "SELECT value FROM system_config WHERE key = 'demo.flag'");
      expect(row.value).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--dry-run prints what would run and changes nothing', async () => {
    const r = await runCli(['seed', '--sample', '--dry-run'], { url: tdb.url });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain('01_cmmc_controls.sql: would apply (pending, 110 statements)');
    expect(r.stderr).toContain('03_sample_data.sql: would apply');
    expect(r.stderr).toContain('dry run: nothing was changed');
    const [row] = await query(tdb.url, "SELECT (SELECT count(*)::int FROM cmmc_controls) AS controls, to_regclass('cmmc_db.seed_log') AS log");
    expect(row).toEqual({ controls: 0, log: null });
  });

  it('refuses demo data in production unless explicitly allowed, and without --sample', async () => {
    // The word in any case, with stray spaces (a hand-edited .env): before, only the exact bytes
    // 'production' refused, and CMMC_ENV=Production loaded demo users with known passwords.
    for (const env of [{ NODE_ENV: 'production' }, { CMMC_ENV: 'production' }, { CMMC_ENV: 'Production' }, { NODE_ENV: 'PRODUCTION ' }]) {
      const r = await runCli(['seed', '--sample'], { url: tdb.url, env });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain('refusing to load sample data in production');
      expect(r.stderr).toContain('--allow-production-sample');
    }
    expect((await query(tdb.url, 'SELECT count(*)::int AS n FROM cmmc_controls'))[0].n).toBe(0);

    const named = await runCli(['seed', '03'], { url: tdb.url });
    expect(named.exitCode).toBe(2);
    expect(named.stderr).toContain('03_sample_data.sql holds demo data with known passwords');

    // Without --sample, production seeds the reference data as usual.
    const plain = await runCli(['seed'], { url: tdb.url, env: { NODE_ENV: 'production' } });
    expect(plain.exitCode, plain.stderr).toBe(0);
    expect((await query(tdb.url, 'SELECT count(*)::int AS n FROM users'))[0].n).toBe(0);

    const allowed = await runCli(['seed', '--sample', '--allow-production-sample'], { url: tdb.url, env: { NODE_ENV: 'production' } });
    expect(allowed.exitCode, allowed.stderr).toBe(0);
    expect((await query(tdb.url, 'SELECT count(*)::int AS n FROM users'))[0].n).toBe(4);
  });

  it('a broken file is rolled back alone and the error names the file and the statement', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-seeds-broken-'));
    try {
      copyFileSync(path.join(ROOT, 'seeds', '01_cmmc_controls.sql'), path.join(dir, '01_cmmc_controls.sql'));
      writeFileSync(
        path.join(dir, '02_broken.sql'),
        [
          '-- a good statement first: it must be rolled back with the file',
          "INSERT INTO system_config (key, value) VALUES ('demo.partial', 'true');",
          '',
          "INSERT INTO provider_inheritance (provider, control_id, inheritance_type, customer_responsibility) VALUES ('NOT_A_CLOUD', 'AC.L2-3.1.1', 'Shared', 'x');",
          '',
        ].join('\n'),
      );
      writeFileSync(path.join(dir, '03_after.sql'), "INSERT INTO system_config (key, value) VALUES ('demo.after', 'true');\n");
      const env = { CMMC_SEEDS_DIR: dir };
      const r = await runCli(['seed'], { url: tdb.url, env });
      expect(r.exitCode).toBe(1);
      const errorLine = r.stderr.split('\n').find((l) => l.startsWith('error:'))!;
      expect(errorLine).toContain('seed 02_broken.sql failed at statement 2 (line 4: INSERT INTO provider_inheritance');
      expect(errorLine).toContain('violates check constraint');
      expect(errorLine).toContain('02_broken.sql was rolled back');
      expect(r.stderr).not.toMatch(/\n\s+at /);

      const [state] = await query(
        tdb.url,
        "SELECT (SELECT count(*)::int FROM cmmc_controls) AS controls, (SELECT count(*)::int FROM system_config) AS config, (SELECT array_agg(file_name ORDER BY id) FROM cmmc_db.seed_log) AS log",
      );
      expect(state).toEqual({ controls: 110, config: 0, log: ['01_cmmc_controls.sql'] });

      const json = await runCliJson(['seed'], { url: tdb.url, env });
      expect(json.exitCode).toBe(1);
      expect(json.data.failure).toMatchObject({ file: '02_broken.sql', statement: 2, line: 4, code: '23514' });
      expect(json.data.files.map((f: any) => [f.file, f.outcome])).toEqual([
        ['01_cmmc_controls.sql', 'skipped'],
        ['02_broken.sql', 'failed'],
        ['03_after.sql', 'skipped'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unknown seed name is a usage error listing the files', async () => {
    const r = await runCli(['seed', '99_nope'], { url: tdb.url });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('no seed file matches "99_nope"');
    expect(r.stderr).toContain('01_cmmc_controls.sql');
  });
});

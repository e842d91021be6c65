/**
 * `doctor --record` keeps each run in cmmc_db.doctor_runs: every check's rows, among them the text of
 * the statements the connections checks saw (other roles' sessions, when the recording role has
 * pg_monitor, as the doctor itself advises the owner to have) and every tenant's table sizes. Recorded
 * as the owner, the table took the owner's default privileges in cmmc_db, which give the application
 * role SELECT: any tenant's session read what the admin and the owner ran, literals and all, though
 * pg_stat_activity itself shows the application role only its own sessions. The runs now stay with the
 * roles that read every tenant anyway; init does not grant them to the application role either.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { query } from './helpers/server.js';
import { dropSetup, initWithTwoTenants, newSetup, rolesOf } from './helpers/tenant-setup.js';

const SECRET = 'bob@b.example: port 22 open on the CUI enclave';

describe('recorded doctor runs and the application role', () => {
  const s = newSetup('trec');

  beforeAll(async () => {
    await initWithTwoTenants(s);
    // What `doctor` advises (slow-queries.top, connections.*): the owner sees every session.
    await query(s.adminUrl, `GRANT pg_monitor TO "${s.owner}"`);
  });
  afterAll(async () => {
    await dropSetup({ db: s.db, roles: rolesOf(s) });
  });

  /** The admin runs a statement with a tenant's data in it while the owner records a doctor run. */
  async function recordWhileAdminQueries(): Promise<void> {
    const admin = postgres(s.adminUrl, { max: 1, onnotice: () => {} });
    try {
      // execute(): postgres.js sends a query only when it is awaited or executed.
      const running = admin.unsafe(`SELECT pg_sleep(6), '${SECRET}' AS note`).execute();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const rec = await runCliJson(['doctor', 'connections', 'sizes', '--record', '--threshold', 'long-query=1s'], { url: s.ownerUrl });
      expect(rec.data.recorded?.id, rec.stderr).toBeGreaterThan(0);
      await running;
    } finally {
      await admin.end();
    }
  }

  const readAsApp = async () => {
    try {
      const rows = await query<{ checks: string }>(s.appUrl, `SELECT checks::text AS checks FROM cmmc_db.doctor_runs`);
      return { rows };
    } catch (err) {
      return { code: (err as { code?: string }).code };
    }
  };

  it("a run recorded as the owner is not readable by the application role; the owner's report still reads it", async () => {
    await recordWhileAdminQueries();
    const [{ checks }] = await query<{ checks: string }>(s.adminUrl, `SELECT checks::text AS checks FROM cmmc_db.doctor_runs`);
    expect(checks).toContain(SECRET);
    expect(await readAsApp()).toEqual({ code: '42501' });
    const report = await runCliJson(['report'], { url: s.ownerUrl });
    expect(report.exitCode, report.stderr).toBe(0);
    expect(report.data.growth.runs).toHaveLength(1);
  });

  it('init again does not grant them; a grant an older version left (to the role or PUBLIC) goes at the next record', async () => {
    const init = await runCli(['init'], { env: s.env });
    expect(init.exitCode, init.stderr).toBe(0);
    expect(await readAsApp()).toEqual({ code: '42501' });

    await query(s.adminUrl, `GRANT SELECT ON cmmc_db.doctor_runs TO "${s.app}"; GRANT SELECT ON cmmc_db.doctor_runs TO PUBLIC`);
    expect((await readAsApp()).rows?.length).toBe(1);
    const rec = await runCliJson(['doctor', 'sizes', '--record'], { url: s.ownerUrl });
    expect(rec.exitCode === 0 || rec.exitCode === 1, rec.stderr).toBe(true);
    expect(await readAsApp()).toEqual({ code: '42501' });
    // The owner's other readers stay: its bypass role reads every tenant anyway.
    const [{ bypass }] = await query<{ bypass: boolean }>(s.adminUrl, `SELECT has_table_privilege('${s.owner}_rls_bypass', 'cmmc_db.doctor_runs', 'SELECT') AS bypass`);
    expect(bypass).toBe(true);

    // And init on a database whose runs an older version left readable takes the grant back.
    await query(s.adminUrl, `GRANT SELECT ON cmmc_db.doctor_runs TO "${s.app}"`);
    const again = await runCli(['init'], { env: s.env });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(await readAsApp()).toEqual({ code: '42501' });
  });

  it('a first run recorded by a superuser leaves the table to the schema owner, so the owner\'s backups still work', async () => {
    // The table was the superuser's, and every later backup create as the owner failed (pg_dump:
    // permission denied for table doctor_runs).
    await query(s.adminUrl, 'DROP TABLE cmmc_db.doctor_runs');
    const rec = await runCliJson(['doctor', 'sizes', '--record'], { url: s.adminUrl });
    expect(rec.data.recorded?.id, rec.stderr).toBeGreaterThan(0);
    const [{ owner }] = await query<{ owner: string }>(s.adminUrl, `SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'cmmc_db.doctor_runs'::regclass`);
    expect(owner).toBe(s.owner);
    expect(await readAsApp()).toEqual({ code: '42501' });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-trec-'));
    try {
      const backup = await runCli(['backup', 'create', '--dir', dir], { env: s.env });
      expect(backup.exitCode, backup.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The superuser goes on recording into it.
    const next = await runCliJson(['doctor', 'sizes', '--record'], { url: s.adminUrl });
    expect(next.data.recorded?.id, next.stderr).toBeGreaterThan(0);
  });
});

/**
 * `downgrade` as the schema owner on a database `cmmc-db init` made (extensions created as the admin,
 * forced row-level security on the tenant tables): the plan counts every tenant's rows, and a step
 * that would fail on an object the owner may not drop is refused before anything is reverted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { adminQuery, query, uniqueName } from './helpers/server.js';

const role = uniqueName('cmmc_dgo');
const db = uniqueName('cmmc_dgo');
const env = { DB_HOST: '127.0.0.1', DB_PORT: '5432', DB_USER: role, DB_PASSWORD: 'app-Secret-42', DB_NAME: db, DB_OWNER_USER: `${role}_owner`, DB_OWNER_PASSWORD: 'owner-Secret-7' };
const admin = `postgres://postgres@127.0.0.1:5432/${db}`;
const versions = async () => (await query<{ version_num: string }>(admin, 'SELECT version_num FROM cmmc_schema_version')).map((r) => r.version_num);

describe('downgrade as the schema owner', () => {
  beforeAll(async () => {
    const init = await runCli(['init'], { env: { ...env, POSTGRES_USER: 'postgres' } });
    expect(init.exitCode, init.stderr).toBe(0);
    const sample = await runCli(['seed', '--sample'], { env });
    expect(sample.exitCode, sample.stderr).toBe(0);
  }, 240_000);
  afterAll(async () => {
    await adminQuery(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
    for (const r of [role, `${role}_owner_rls_bypass`, `${role}_owner`]) await adminQuery(`DROP ROLE IF EXISTS "${r}"`);
  });

  it("the plan counts every tenant's rows (the owner's own count(*) saw none under the forced policies)", async () => {
    const [truth] = await query<{ findings: string; users: string }>(admin, 'SELECT (SELECT count(*) FROM control_findings)::text AS findings, (SELECT count(*) FROM users)::text AS users');
    expect(Number(truth.findings)).toBeGreaterThan(0);
    const plan = await runCli(['downgrade', '3f1c0a9e5b01', '--dry-run'], { env });
    expect(plan.exitCode, plan.stderr).toBe(0);
    expect(plan.stdout + plan.stderr).toContain(`drop table control_findings, ${truth.findings} rows`);
    expect(await versions()).toEqual(['f14f1d09b343']);
  });

  it("a table that a view or foreign key outside the plan depends on is refused before any revision is reverted, naming it", async () => {
    const head = await versions();
    await query(admin, 'CREATE SCHEMA reports; CREATE VIEW reports.assessment_list AS SELECT id, organization_id FROM public.assessments');
    try {
      const r = await runCli(['downgrade', '7d24b6e1c902', '--yes'], { env });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^error: downgrade to 7d24b6e1c902 would drop table assessments \(revision a85e3f0d7c13\), which view reports\.assessment_list depends on and the downgrade does not drop: nothing was downgraded — drop or change reports\.assessment_list first/m);
      expect(await versions()).toEqual(head);
      await query(admin, 'DROP VIEW reports.assessment_list; CREATE TABLE reports.links (a uuid, o uuid, FOREIGN KEY (a, o) REFERENCES public.assessments (id, organization_id))');
      const fk = await runCli(['downgrade', '7d24b6e1c902', '--dry-run'], { env });
      expect(fk.exitCode, fk.stderr).toBe(1);
      expect(fk.stderr).toMatch(/would drop table assessments \(revision a85e3f0d7c13\), which the foreign key links_a_o_fkey of reports\.links depends on/);
      expect(await versions()).toEqual(head);
    } finally {
      await query(admin, 'DROP SCHEMA reports CASCADE');
    }
  });

  it('downgrade base, which drops the extensions the admin owns, is refused before any revision is reverted', async () => {
    const message = /^error: downgrade to base would drop extension vector \(revision 3f1c0a9e5b01\), which belongs to postgres and may not be dropped by cmmc_dgo\w*_owner: nothing was downgraded — run it as postgres or a superuser \(--url\), or downgrade only to 3f1c0a9e5b01 and keep the extension$/m;
    for (const args of [['downgrade', 'base', '--dry-run'], ['downgrade', 'base', '--yes']]) {
      const r = await runCli(args, { env });
      expect(r.exitCode, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr).not.toMatch(/Secret/);
      expect(await versions()).toEqual(['f14f1d09b343']);
    }
    const [rows] = await query<{ n: string }>(admin, 'SELECT count(*)::text AS n FROM control_findings');
    expect(Number(rows.n)).toBeGreaterThan(0);
    // As the admin (a superuser), the same downgrade runs to the end.
    const asAdmin = await runCli(['downgrade', 'base', '--yes', '--url', admin]);
    expect(asAdmin.exitCode, asAdmin.stderr).toBe(0);
    expect(await versions()).toEqual([]);
    expect(await query(admin, "SELECT 1 FROM pg_extension WHERE extname = 'vector'")).toEqual([]);
  });
});

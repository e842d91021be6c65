/**
 * Tenant isolation, a security trial: the application role read every tenant while `doctor tenant`
 * said ok. Each `it` is one way around the policies that the table checks did not see:
 *
 * - a view (in any schema) that is not security_invoker and whose owner the policies do not bind (a
 *   superuser, a BYPASSRLS role), or a materialized view refreshed by one, readable by the application
 *   role directly or through another view;
 * - an extra permissive policy (`USING (true)`): permissive policies are OR-ed, so it voids the tenant
 *   policy beside it.
 *
 * Each leak is shown to be real (the application role reads organization B's rows with tenant A set)
 * before doctor is asked, and doctor is ok again once it is fixed as the message says.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliJson } from './helpers/cli.js';
import { query, uniqueName, adminQuery } from './helpers/server.js';
import { dropSetup, initWithTwoTenants, newSetup, rolesOf, TWO_TENANTS } from './helpers/tenant-setup.js';
import { bypassRoleName } from '../src/tenant/roles.js';

const { A, B } = TWO_TENANTS;

async function doctor(url: string) {
  const r = await runCliJson(['doctor', 'tenant.isolation'], { url });
  const check = r.data.checks.find((c: any) => c.id === 'tenant.isolation');
  return { exitCode: r.exitCode, check, rows: (check.rows ?? []) as { object: string; problem: string; fix: string; severity?: string }[] };
}

/** The organizations whose rows the application role sees in `relation` with tenant A set. */
async function seenWithA(appUrl: string, relation: string): Promise<string[]> {
  const sql = postgres(appUrl, { max: 1, onnotice: () => {} });
  try {
    return await sql.begin(async (tx) => {
      await tx.unsafe(`SELECT set_config('app.current_organization_id', '${A}', true)`);
      const rows = await tx.unsafe(`SELECT DISTINCT organization_id::text AS org FROM ${relation} ORDER BY 1`);
      return rows.map((r: any) => r.org);
    });
  } finally {
    await sql.end();
  }
}

describe('views and policies that void the tenant policies', () => {
  const s = newSetup('til');
  const member = uniqueName('til_grp'); // a plain role the application role is a member of
  const other = uniqueName('til_oth'); // a plain role the application role cannot reach
  beforeAll(async () => {
    await initWithTwoTenants(s);
    await adminQuery(`CREATE ROLE "${member}" NOLOGIN; CREATE ROLE "${other}" NOLOGIN; GRANT "${member}" TO "${s.app}"`);
  });
  afterAll(async () => {
    await dropSetup({ db: s.db, roles: [...rolesOf(s), member, other] });
  });

  it('is ok on the database as init leaves it', async () => {
    const r = await doctor(s.appUrl);
    expect(r.check.status, JSON.stringify(r.check)).toBe('ok');
  });

  it('fails on a view of another schema, owned by a superuser or a BYPASSRLS role, that the application role can read (directly or through another view)', async () => {
    await query(s.adminUrl, `
      CREATE SCHEMA reports;
      GRANT USAGE ON SCHEMA reports TO "${s.app}";
      CREATE VIEW reports.user_directory AS SELECT organization_id, email, password_hash FROM public.users;
      GRANT SELECT ON reports.user_directory TO "${s.app}"`);
    expect(await seenWithA(s.appUrl, 'reports.user_directory')).toEqual([A, B]);
    const r = await doctor(s.appUrl);
    expect(r.check.status, JSON.stringify(r.check)).toBe('fail');
    expect(r.exitCode).toBe(2);
    const row = r.rows.find((x) => x.object === 'reports.user_directory');
    expect(row?.problem).toContain('view over users is not security_invoker and reads as its owner postgres, a superuser');
    expect(row?.fix).toBe(`as an admin: ALTER VIEW reports.user_directory SET (security_invoker = on) (or REVOKE SELECT ON reports.user_directory FROM ${s.app})`);
    expect(row?.fix).not.toContain('\n');

    // Owned by the bypass role instead: the same.
    await query(s.adminUrl, `ALTER VIEW reports.user_directory OWNER TO "${bypassRoleName(s.owner)}"`);
    expect(await seenWithA(s.appUrl, 'reports.user_directory')).toEqual([A, B]);
    const bypass = await doctor(s.appUrl);
    expect(bypass.rows.find((x) => x.object === 'reports.user_directory')?.problem).toContain(`reads as its owner ${bypassRoleName(s.owner)}, which has BYPASSRLS`);

    // Fixed as the message says: A's rows only, and doctor is ok.
    await query(s.adminUrl, 'ALTER VIEW reports.user_directory SET (security_invoker = on)');
    expect(await seenWithA(s.appUrl, 'reports.user_directory')).toEqual([A]);
    expect((await doctor(s.appUrl)).check.status).toBe('ok');

    // Not granted to the application role, but read through a view of the owner's that is: still a leak.
    await query(s.adminUrl, `
      CREATE VIEW reports.hashes AS SELECT organization_id, password_hash FROM public.users;
      GRANT USAGE ON SCHEMA reports TO "${s.owner}";
      GRANT SELECT ON reports.hashes TO "${s.owner}";
      CREATE VIEW public.hash_report AS SELECT * FROM reports.hashes;
      ALTER VIEW public.hash_report OWNER TO "${s.owner}";
      GRANT SELECT ON public.hash_report TO "${s.app}"`);
    expect(await seenWithA(s.appUrl, 'public.hash_report')).toEqual([A, B]);
    const via = await doctor(s.appUrl);
    expect(via.check.status).toBe('fail');
    expect(via.rows.find((x) => x.object === 'reports.hashes')?.problem).toContain('view over users, which public.hash_report reads, is not security_invoker');
    await query(s.adminUrl, 'DROP VIEW public.hash_report; DROP VIEW reports.hashes');

    // A superuser's plain view over the platform's security_invoker view reads as the session's role: no leak, no failure.
    await query(s.adminUrl, `CREATE VIEW reports.progress AS SELECT * FROM public.v_assessment_progress; GRANT SELECT ON reports.progress TO "${s.app}"`);
    await query(s.adminUrl, `INSERT INTO assessments (organization_id, name, assessment_type) VALUES ('${A}', 'A L2', 'CMMC_L2'), ('${B}', 'B L2', 'CMMC_L2')`);
    expect(await seenWithA(s.appUrl, 'reports.progress')).toEqual([A]);
    expect((await doctor(s.appUrl)).check.status).toBe('ok');

    // In public, the same view failed as a warning only before.
    await query(s.adminUrl, `CREATE VIEW public.user_directory AS SELECT organization_id, email FROM public.users; GRANT SELECT ON public.user_directory TO "${s.app}"`);
    const inPublic = await doctor(s.appUrl);
    expect(inPublic.check.status).toBe('fail');
    expect(inPublic.rows.filter((x) => x.object.endsWith('user_directory')).map((x) => x.object)).toEqual(['public.user_directory']);
    await query(s.adminUrl, `REVOKE SELECT ON public.user_directory FROM "${s.app}"`);
    expect((await doctor(s.appUrl)).check.status, 'a view the application role cannot read is no leak').toBe('warn');

    // Connected as a superuser (a DBA's run), a view that the application role may read fails too.
    await query(s.adminUrl, `GRANT SELECT ON public.user_directory TO "${s.app}"`);
    const asAdmin = await doctor(s.adminUrl);
    expect(asAdmin.rows.find((x) => x.object === 'public.user_directory')?.severity).toBe('fail');
    await query(s.adminUrl, 'DROP VIEW public.user_directory; DROP VIEW reports.progress');
  });

  it('fails on a materialized view over a tenant table that the application role can read: it has no row-level security', async () => {
    await query(s.adminUrl, `
      CREATE MATERIALIZED VIEW reports.emails AS SELECT organization_id, email FROM public.users;
      GRANT SELECT ON reports.emails TO "${s.app}"`);
    expect(await seenWithA(s.appUrl, 'reports.emails')).toEqual([A, B]);
    const r = await doctor(s.appUrl);
    expect(r.check.status, JSON.stringify(r.check)).toBe('fail');
    const row = r.rows.find((x) => x.object === 'reports.emails');
    expect(row?.problem).toContain('materialized view over users, refreshed as its owner postgres, a superuser');
    expect(row?.fix).toContain(`REVOKE SELECT ON reports.emails FROM ${s.app}`);

    // Refreshed by a bound owner, it holds one tenant's rows (the refresh's) for every tenant: a warning.
    await query(s.adminUrl, `ALTER MATERIALIZED VIEW reports.emails OWNER TO "${s.owner}"; GRANT USAGE ON SCHEMA reports TO "${s.owner}"`);
    const bound = await doctor(s.appUrl);
    expect(bound.check.status, JSON.stringify(bound.check)).toBe('warn');
    expect(bound.rows.find((x) => x.object === 'reports.emails')?.problem).toContain('holds the rows of whichever tenant its last refresh had set');

    await query(s.adminUrl, `REVOKE SELECT ON reports.emails FROM "${s.app}"`);
    expect((await doctor(s.appUrl)).check.status).toBe('ok');
    await query(s.adminUrl, 'DROP MATERIALIZED VIEW reports.emails');
  });

  it('fails on a permissive policy that does not keep rows to the current tenant, when it applies to the application role', async () => {
    await query(s.adminUrl, 'CREATE POLICY leak ON public.users USING (true)');
    expect(await seenWithA(s.appUrl, 'public.users')).toEqual([A, B]);
    const r = await doctor(s.appUrl);
    expect(r.check.status, JSON.stringify(r.check)).toBe('fail');
    const row = r.rows.find((x) => x.problem.includes('policy leak'));
    expect(row?.object).toBe('users');
    expect(row?.problem).toContain('permissive policy leak (FOR ALL TO PUBLIC) does not keep rows to the current tenant: USING (true)');
    expect(row?.fix).toMatch(/^as an admin: DROP POLICY leak ON public\.users /);
    // As a superuser too.
    expect((await doctor(s.adminUrl)).rows.some((x) => x.problem.includes('policy leak'))).toBe(true);
    await query(s.adminUrl, 'DROP POLICY leak ON public.users');

    // A tenant condition OR-ed with anything else, a write policy, a role the application role is a member of.
    for (const [create, drop] of [
      [`CREATE POLICY wide ON public.documents FOR SELECT USING (organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid OR title LIKE '%')`, 'DROP POLICY wide ON public.documents'],
      [`CREATE POLICY anywhere ON public.comments FOR INSERT WITH CHECK (true)`, 'DROP POLICY anywhere ON public.comments'],
      [`CREATE POLICY grp ON public.evidence TO "${member}" USING (organization_id IS NOT NULL)`, 'DROP POLICY grp ON public.evidence'],
    ]) {
      await query(s.adminUrl, create);
      try {
        const leak = await doctor(s.appUrl);
        expect(leak.check.status, `${create}: ${JSON.stringify(leak.check)}`).toBe('fail');
        expect(leak.rows.some((x) => x.fix.includes(drop)), create).toBe(true);
      } finally {
        await query(s.adminUrl, drop);
      }
    }

    // Fine: a restrictive policy (it only narrows), a policy for a role the application role cannot reach,
    // another tenant-keyed permissive policy.
    await query(s.adminUrl, `
      CREATE POLICY narrow ON public.users AS RESTRICTIVE USING (true);
      CREATE POLICY theirs ON public.users TO "${other}" USING (true);
      CREATE POLICY mine_too ON public.users FOR SELECT TO "${s.app}" USING ((organization_id = NULLIF(current_setting('app.current_organization_id', true), '')::uuid) AND email <> '')`);
    expect(await seenWithA(s.appUrl, 'public.users')).toEqual([A]);
    const ok = await doctor(s.appUrl);
    expect(ok.check.status, JSON.stringify(ok.check)).toBe('ok');
    await query(s.adminUrl, 'DROP POLICY narrow ON public.users; DROP POLICY theirs ON public.users; DROP POLICY mine_too ON public.users');
  });
});

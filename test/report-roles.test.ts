/**
 * The evidence's row counts under forced row-level security, on a database made by `cmmc-db init`
 * with the platform's roles: read as the owner they cover every tenant (through the bypass role);
 * read as the application role they are its tenant-limited view, and the evidence says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, query, uniqueName } from './helpers/server.js';

describe('report evidence counts with the platform roles', () => {
  const app = uniqueName('rp_app');
  const owner = uniqueName('rp_own');
  const db = uniqueName('rp_db');
  const env = { DB_HOST: '127.0.0.1', DB_PORT: '5432', DB_USER: app, DB_PASSWORD: 'app-Pw-1', DB_OWNER_USER: owner, DB_OWNER_PASSWORD: 'owner-Pw-2', DB_NAME: db, POSTGRES_USER: 'postgres' };
  const adminUrl = `postgres://postgres@127.0.0.1:5432/${db}`;

  beforeAll(async () => {
    const init = await runCliJson(['init'], { env });
    expect(init.exitCode, init.stderr).toBe(0);
    await query(
      adminUrl,
      `INSERT INTO organizations (id, name, organization_type) VALUES ('00000000-0000-0000-0000-00000000000a', 'A', 'SMB'), ('00000000-0000-0000-0000-00000000000b', 'B', 'SMB');
       INSERT INTO audit_logs (organization_id, action, entity_type)
       SELECT CASE WHEN g % 2 = 0 THEN '00000000-0000-0000-0000-00000000000a'::uuid ELSE '00000000-0000-0000-0000-00000000000b'::uuid END, 'LOGIN', 'user'
         FROM generate_series(1, 25) g`,
    );
  }, 120_000);

  afterAll(async () => {
    await adminQuery(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
    for (const role of [app, `${owner}_rls_bypass`, owner]) await adminQuery(`DROP ROLE IF EXISTS "${role}"`);
  });

  const item = (data: any, practice: string) => data.evidence.items.find((i: any) => i.practices.includes(practice));
  const figure = (data: any, practice: string, label: string) => item(data, practice).figures.find((f: any) => f.label === label).value;

  it('upgrade runs as the schema owner and the "database:" line names the owner, not the application role', async () => {
    const r = await runCli(['upgrade', 'head'], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain(`database: ${owner}@127.0.0.1:5432/${db} (from DB_*)`);
    const read = await runCli(['current'], { env });
    expect(read.stderr).toContain(`database: ${app}@127.0.0.1:5432/${db} (from DB_*)`);
  });

  it('as the owner: every tenant is counted, and the application role is named without ownership', async () => {
    const r = await runCliJson(['report'], { url: `postgres://${owner}:owner-Pw-2@127.0.0.1:5432/${db}` });
    expect(r.exitCode, r.stderr).toBe(0);
    const [{ n }] = await query<{ n: number }>(adminUrl, 'SELECT count(*)::int AS n FROM audit_logs');
    expect(n).toBe(25);
    expect(figure(r.data, 'AU.L2-3.3.1', 'audit records')).toBe(25);
    expect(figure(r.data, 'AC.L2-3.1.1', 'organizations')).toBe(2);
    expect(item(r.data, 'AC.L2-3.1.1').facts).toContain(`Row counts cover every tenant (read as ${owner}_rls_bypass).`);
    expect(figure(r.data, 'AC.L2-3.1.1', 'RLS forced')).toBe(figure(r.data, 'AC.L2-3.1.1', 'tenant tables'));
    expect(item(r.data, 'AC.L2-3.1.1').facts.join('\n')).toContain(`${app} (owns 0, bypass RLS no, login yes)`);
    // audit_logs: the application role may not rewrite the trail; the catalog says who may.
    const changers = await query<{ rolname: string }>(
      adminUrl,
      `SELECT rolname FROM pg_roles WHERE NOT rolsuper AND rolname NOT LIKE 'pg\\_%' AND rolname <> '${owner}'
          AND (has_table_privilege(oid, 'public.audit_logs', 'UPDATE') OR has_table_privilege(oid, 'public.audit_logs', 'DELETE') OR has_table_privilege(oid, 'public.audit_logs', 'TRUNCATE'))
        ORDER BY 1`,
    );
    expect(changers.map((c) => c.rolname)).not.toContain(app);
    expect(figure(r.data, 'AU.L2-3.3.8', 'non-owner roles that may change rows')).toBe(changers.length);
    expect(figure(r.data, 'AU.L2-3.3.8', 'UPDATE/DELETE policies')).toBe(0);
  });

  it('as the application role: its own view, said so; runs recorded by a superuser it may not read are named, not fatal', async () => {
    const rec = await runCliJson(['doctor', 'sizes', '--record'], { url: adminUrl });
    expect(rec.data.recorded.id, rec.stderr).toBeGreaterThan(0);
    const r = await runCliJson(['report'], { url: `postgres://${app}:app-Pw-1@127.0.0.1:5432/${db}` });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.data.growth.runs).toEqual([]);
    expect(r.data.growth.runsNote).toMatch(/^the recorded runs could not be read: permission denied for table doctor_runs — report as the owner \(DB_OWNER_USER\)/);
    expect(figure(r.data, 'AU.L2-3.3.1', 'audit records')).toBe(0);
    expect(item(r.data, 'AC.L2-3.1.1').facts.join('\n')).toContain(`Row counts are those role ${app} sees: row-level security limits them to its tenant`);
  });
});

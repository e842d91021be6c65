/**
 * Tenant isolation (issue 12): after `cmmc-db init --sample` a second organization (B) gets a row in
 * every tenant table; then the application role that init created, connected with its password, must
 * see none of B's rows with tenant A set, no rows with no tenant set, be refused every write for B,
 * and be refused every change to the tables themselves. The schema owner (not a superuser) is bound
 * the same way. The tenant tables are listed here by hand: an expectation independent of the code.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql as ksql } from 'kysely';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, query, uniqueName } from './helpers/server.js';
import { dropSetup, newSetup, rolesOf } from './helpers/tenant-setup.js';
import { openDatabase } from '../src/db/connection.js';
import { resolveConfig } from '../src/config/config.js';
import { withTenant } from '../src/tenant/index.js';
import { applyGrants, bypassRoleName, ensureRole, moveOwnership } from '../src/tenant/roles.js';

/** Every table that holds one tenant's rows (organizations by its id, the rest by organization_id). */
const TENANT_TABLES = [
  'organizations',
  'users',
  'assessments',
  'control_findings',
  'evidence',
  'poam_items',
  'documents',
  'document_chunks',
  'ai_analysis_results',
  'comments',
  'notifications',
  'audit_logs',
];
const TENANT_VIEWS = ['v_assessment_progress', 'v_organization_compliance_by_domain'];

const A = 'de000000-0000-4000-8000-000000000001'; // the demo organization of seeds/03_sample_data.sql
const B = 'b0000000-0000-4000-8000-00000000000b';
const keyOf = (table: string) => (table === 'organizations' ? 'id' : 'organization_id');

/** One row for B in each tenant table, made as the admin (a superuser: not bound by the policies). */
const B_ROWS = `
  INSERT INTO organizations (id, name, organization_type) VALUES ('${B}', 'Other Contractor B', 'SMB');
  INSERT INTO users (id, organization_id, email, password_hash, full_name) VALUES ('b0000000-0000-4000-8000-000000000101', '${B}', 'b@example.com', 'x', 'B User');
  INSERT INTO assessments (id, organization_id, name, assessment_type) VALUES ('b0000000-0000-4000-8000-000000000201', '${B}', 'B L2', 'CMMC_L2');
  INSERT INTO control_findings (id, assessment_id, organization_id, control_id) VALUES ('b0000000-0000-4000-8000-000000000301', 'b0000000-0000-4000-8000-000000000201', '${B}', 'AC.L2-3.1.1');
  INSERT INTO evidence (id, organization_id, file_name, file_path, evidence_type) VALUES ('b0000000-0000-4000-8000-000000000401', '${B}', 'b.pdf', 's3://b/b.pdf', 'Policy');
  INSERT INTO poam_items (id, organization_id, assessment_id, control_id, title, weakness_description) VALUES ('b0000000-0000-4000-8000-000000000501', '${B}', 'b0000000-0000-4000-8000-000000000201', 'AC.L2-3.1.1', 'B fix', 'B weakness');
  INSERT INTO documents (id, organization_id, title, document_type) VALUES ('b0000000-0000-4000-8000-000000000601', '${B}', 'B policy', 'Policy');
  INSERT INTO document_chunks (document_id, organization_id, chunk_index, content) VALUES ('b0000000-0000-4000-8000-000000000601', '${B}', 0, 'B secret text');
  INSERT INTO ai_analysis_results (organization_id, analysis_type, model_provider, model_name) VALUES ('${B}', 'gap_analysis', 'x', 'y');
  INSERT INTO comments (organization_id, assessment_id, body) VALUES ('${B}', 'b0000000-0000-4000-8000-000000000201', 'B comment');
  INSERT INTO notifications (organization_id, user_id, notification_type, title, message) VALUES ('${B}', 'b0000000-0000-4000-8000-000000000101', 'system', 'B', 'B message');
  INSERT INTO audit_logs (organization_id, action, entity_type) VALUES ('${B}', 'LOGIN', 'user');`;


/** Runs `text`; the error code when it is refused, else the number of rows it touched or returned. */
async function attempt(sql: postgres.Sql, text: string, params: any[] = []): Promise<{ code?: string; count: number; rows: any[] }> {
  try {
    const r = await sql.unsafe(text, params);
    return { count: r.count, rows: [...r] };
  } catch (err) {
    return { code: (err as { code?: string }).code ?? 'error', count: 0, rows: [] };
  }
}

/**
 * The isolation matrix for a session bound by the policies (`sql`, one connection). `admin` reads B's
 * rows to build writes from them and checks afterwards that they are untouched.
 */
async function expectBound(sql: postgres.Sql, admin: postgres.Sql): Promise<void> {
  // Unset: nothing, from every table and view.
  await sql.unsafe(`RESET app.current_organization_id`);
  for (const rel of [...TENANT_TABLES, ...TENANT_VIEWS]) {
    const [{ n }] = await sql.unsafe(`SELECT count(*)::int AS n FROM ${rel}`);
    expect(n, `${rel} with no tenant set`).toBe(0);
  }
  await sql.unsafe(`SET app.current_organization_id = '${A}'`);
  for (const rel of [...TENANT_TABLES, ...TENANT_VIEWS]) {
    const key = rel === 'organizations' ? 'id' : 'organization_id';
    const [{ mine, theirs }] = await sql.unsafe(
      `SELECT count(*) FILTER (WHERE ${key} = '${A}')::int AS mine, count(*) FILTER (WHERE ${key} <> '${A}')::int AS theirs FROM ${rel}`,
    );
    expect(theirs, `${rel}: rows of another organization seen with tenant A set`).toBe(0);
    expect(mine, `${rel}: the demo organization's own rows (so the test can fail)`).toBeGreaterThan(0);
  }
  for (const table of TENANT_TABLES) {
    const key = keyOf(table);
    // INSERT of a B row: B's own row with a new id (the policy check comes before any unique index).
    const [row] = await admin.unsafe(`SELECT to_jsonb(t) AS row FROM ${table} t WHERE ${key} = '${B}' LIMIT 1`);
    const copy = { ...row.row, id: table === 'organizations' ? 'b0000000-0000-4000-8000-0000000000ff' : '00000000-0000-4000-8000-0000000000ff' };
    const insert = await attempt(sql, `INSERT INTO ${table} SELECT * FROM jsonb_populate_record(NULL::${table}, $1::jsonb)`, [copy]);
    expect(insert.code, `INSERT of a B row into ${table}`).toBe('42501');
    // UPDATE and DELETE of B's rows: nothing touched.
    const update = await attempt(sql, `UPDATE ${table} SET ${key} = ${key} WHERE ${key} = '${B}'`);
    expect(update.code === '42501' || (update.code === undefined && update.count === 0), `UPDATE of B's rows in ${table}: ${JSON.stringify(update)}`).toBe(true);
    const del = await attempt(sql, `DELETE FROM ${table} WHERE ${key} = '${B}'`);
    expect(del.code === '42501' || (del.code === undefined && del.count === 0), `DELETE of B's rows in ${table}: ${JSON.stringify(del)}`).toBe(true);
    // Moving one of A's rows to B.
    const move = await attempt(sql, `UPDATE ${table} SET ${key} = '${B}' WHERE ctid = (SELECT ctid FROM ${table} WHERE ${key} = '${A}' LIMIT 1)`);
    expect(move.code === '42501' || (move.code === undefined && move.count === 0), `moving a row of ${table} to B: ${JSON.stringify(move)}`).toBe(true);
  }
  // B's rows are all still there, unchanged in number.
  for (const table of TENANT_TABLES) {
    const [{ n }] = await admin.unsafe(`SELECT count(*)::int AS n FROM ${table} WHERE ${keyOf(table)} = '${B}'`);
    expect(n, `B's rows in ${table} after the attempts`).toBe(1);
  }
  await sql.unsafe(`RESET app.current_organization_id`);
}

describe('tenant isolation on a database made by cmmc-db init', () => {
  const s = newSetup();
  let admin: postgres.Sql;
  let init: Awaited<ReturnType<typeof runCliJson>>;
  beforeAll(async () => {
    init = await runCliJson(['init', '--sample'], { env: s.env });
    admin = postgres(s.adminUrl, { max: 1, onnotice: () => {} });
    if (init.exitCode === 0) await admin.unsafe(B_ROWS);
  });
  afterAll(async () => {
    await admin?.end();
    await dropSetup({ db: s.db, roles: rolesOf(s) });
  });

  it('init creates the owner, the application role and the bypass role, each with only what it needs', async () => {
    expect(init.exitCode, init.stderr).toBe(0);
    const roles = await adminQuery<{ rolname: string; rolcanlogin: boolean; rolsuper: boolean; rolbypassrls: boolean; rolcreatedb: boolean; rolcreaterole: boolean }>(
      `SELECT rolname, rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname IN ('${rolesOf(s).join("', '")}') ORDER BY rolname`,
    );
    const byName = Object.fromEntries(roles.map((r) => [r.rolname, r]));
    expect(byName[s.app]).toMatchObject({ rolcanlogin: true, rolsuper: false, rolbypassrls: false, rolcreatedb: false, rolcreaterole: false });
    expect(byName[s.owner]).toMatchObject({ rolcanlogin: true, rolsuper: false, rolbypassrls: false, rolcreatedb: false, rolcreaterole: false });
    expect(byName[bypassRoleName(s.owner)]).toMatchObject({ rolcanlogin: false, rolsuper: false, rolbypassrls: true });
    // The owner owns every table and view of public and cmmc_db; the application role owns nothing.
    const owners = await admin.unsafe(`
      SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname IN ('public', 'cmmc_db') AND c.relkind IN ('r', 'v', 'p', 'm', 'S')`);
    expect(owners.map((r) => r.owner)).toEqual([s.owner]);
    const [appOwns] = await admin.unsafe(`SELECT (SELECT count(*) FROM pg_class WHERE relowner = '${s.app}'::regrole) + (SELECT count(*) FROM pg_namespace WHERE nspowner = '${s.app}'::regrole) + (SELECT count(*) FROM pg_proc WHERE proowner = '${s.app}'::regrole) AS n`);
    expect(Number(appOwns.n)).toBe(0);
    // No CREATE anywhere for the application role; DML on the platform tables and views.
    const [privs] = await admin.unsafe(`
      SELECT has_database_privilege('${s.app}', current_database(), 'CREATE') AS db_create,
             has_schema_privilege('${s.app}', 'public', 'CREATE') AS public_create,
             has_schema_privilege('${s.app}', 'cmmc_db', 'CREATE') AS meta_create,
             has_table_privilege('${s.app}', 'assessments', 'SELECT, INSERT, UPDATE, DELETE') AS dml,
             has_table_privilege('${s.app}', 'v_assessment_progress', 'SELECT') AS view_select,
             has_table_privilege('${s.app}', 'assessments', 'TRUNCATE') AS truncate,
             has_table_privilege('${s.app}', 'cmmc_schema_version', 'INSERT') AS version_write,
             has_table_privilege('${s.app}', 'audit_logs', 'SELECT, INSERT') AS audit_append,
             has_table_privilege('${s.app}', 'audit_logs', 'UPDATE') OR has_table_privilege('${s.app}', 'audit_logs', 'DELETE') AS audit_rewrite`);
    expect(privs).toEqual({ db_create: false, public_create: false, meta_create: false, dml: true, view_select: true, truncate: false, version_write: false, audit_append: true, audit_rewrite: false });
    expect(init.stderr).not.toContain('app-Pw-1');
    expect(init.stderr).not.toContain('owner-Pw-2');
  });

  it('the application role: 0 rows of B with A set, 0 rows unset, every write for B refused or touching nothing', async () => {
    const sql = postgres(s.appUrl, { max: 1, onnotice: () => {} });
    try {
      const [{ user }] = await sql`SELECT current_user AS user`;
      expect(user).toBe(s.app);
      await expectBound(sql, admin);
    } finally {
      await sql.end();
    }
  });

  it('the application role cannot disable row-level security, drop a policy, truncate, drop or create a table', async () => {
    const sql = postgres(s.appUrl, { max: 1, onnotice: () => {} });
    try {
      for (const table of TENANT_TABLES) {
        const policy = table === 'audit_logs' ? 'tenant_read' : 'tenant_isolation';
        for (const text of [
          `ALTER TABLE ${table} DISABLE ROW LEVEL SECURITY`,
          `ALTER TABLE ${table} NO FORCE ROW LEVEL SECURITY`,
          `DROP POLICY ${policy} ON ${table}`,
          `TRUNCATE ${table} CASCADE`,
          `DROP TABLE ${table} CASCADE`,
        ]) {
          const r = await attempt(sql, text);
          expect(r.code, text).toBe('42501');
        }
      }
      for (const text of ['CREATE TABLE public.t12 (id int)', 'CREATE TABLE cmmc_db.t12 (id int)', 'CREATE SCHEMA t12', 'CREATE VIEW public.v12 AS SELECT 1']) {
        expect((await attempt(sql, text)).code, text).toBe('42501');
      }
      // The reference data every tenant is assessed against is read, never written, by any tenant's
      // session: one tenant rewriting a requirement would change it for all of them.
      for (const text of [
        `UPDATE cmmc_controls SET title = 'changed' WHERE id = (SELECT min(id) FROM cmmc_controls)`,
        `DELETE FROM cmmc_controls`,
        `INSERT INTO cmmc_controls SELECT * FROM cmmc_controls LIMIT 0`,
        `UPDATE provider_inheritance SET verified = NOT verified`,
        `DELETE FROM provider_inheritance`,
      ]) {
        expect((await attempt(sql, text)).code, text).toBe('42501');
      }
      expect(await sql`SELECT count(*)::int AS n FROM cmmc_controls`).toEqual([{ n: 110 }]);
      // system_config is the platform administrators' (updated_by names one): the application writes it
      // with no tenant set, and inside a tenant's transaction reads it without its secrets, never writes it.
      await expectSettingsGuarded(sql, admin);
    } finally {
      await sql.end();
    }
    const [{ n }] = await admin.unsafe(`SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = 'public' AND c.relkind = 'r' AND c.relforcerowsecurity`);
    expect(n).toBe(TENANT_TABLES.length);
    // Not a tenant table: enabled for the application role, not forced (the owner and seed are not bound).
    expect(await admin.unsafe(`SELECT relrowsecurity AS enabled, relforcerowsecurity AS forced FROM pg_class WHERE oid = 'public.system_config'::regclass`)).toEqual([{ enabled: true, forced: false }]);
  });

  it('the schema owner (not a superuser) is bound by the policies as well', async () => {
    const sql = postgres(s.ownerUrl, { max: 1, onnotice: () => {} });
    try {
      const [{ user, bypass }] = await sql`SELECT current_user AS user, rolbypassrls AS bypass FROM pg_roles WHERE rolname = current_user`;
      expect([user, bypass]).toEqual([s.owner, false]);
      await expectBound(sql, admin);
    } finally {
      await sql.end();
    }
  });

  it('withTenant through a pool of one connection: the next borrower sees no tenant; a non-UUID is refused before any SQL', async () => {
    const config = resolveConfig({ url: s.appUrl, env: {} });
    const handle = await openDatabase(config, { pool: { max: 1, min: 0 } });
    try {
      const seen = await withTenant(handle.db, A, async (trx) => {
        const users = await trx.selectFrom('users').select('organization_id').execute();
        const setting = await ksql<{ v: string }>`SELECT current_setting('app.current_organization_id') AS v`.execute(trx);
        return { orgs: new Set(users.map((u: { organization_id: string }) => u.organization_id)), count: users.length, setting: setting.rows[0].v };
      });
      expect(seen.count).toBe(4);
      expect([...seen.orgs]).toEqual([A]);
      expect(seen.setting).toBe(A);
      // The same (only) connection, borrowed next: no tenant, no rows.
      const [after] = await handle.sql`SELECT coalesce(current_setting('app.current_organization_id', true), '') AS v, (SELECT count(*)::int FROM users) AS n, pg_backend_pid() AS pid`;
      expect(after.v).toBe('');
      expect(after.n).toBe(0);
      // A failing fn rolls back and leaves no tenant either.
      await expect(withTenant(handle, B, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      const [again] = await handle.sql`SELECT coalesce(current_setting('app.current_organization_id', true), '') AS v`;
      expect(again.v).toBe('');
      // B through withTenant sees B's row only.
      const bUsers = await withTenant(handle, B.toUpperCase(), (trx) => trx.selectFrom('users').select('email').execute());
      expect(bUsers.map((u: { email: string }) => u.email)).toEqual(['b@example.com']);

      // The nil UUID is "no tenant": refused before any SQL, in its own words.
      let nil: any;
      try {
        await withTenant(handle.db, '00000000-0000-0000-0000-000000000000', async () => 'ran');
      } catch (err) {
        nil = err;
      }
      expect(nil?.code).toBe('tenant.id');
      expect(nil.message).toContain('is the nil UUID, which means "no tenant", never a tenant');
      for (const bad of ["'; DROP TABLE users; --", '', 'de000000-0000-4000-8000-00000000000', 'not-a-uuid', `${A} `]) {
        let error: any;
        try {
          await withTenant(handle.db, bad, async () => 'ran');
        } catch (err) {
          error = err;
        }
        expect(error?.code, JSON.stringify(bad)).toBe('tenant.id');
        expect(error.message).toMatch(/is not a UUID/);
      }
      expect(await withTenant(handle.db, undefined as unknown as string, async () => 'ran').catch((e) => e.code)).toBe('tenant.id');
      // The injection attempt never reached the server.
      const [{ t }] = await admin`SELECT to_regclass('public.users') IS NOT NULL AS t`;
      expect(t).toBe(true);
    } finally {
      await handle.close();
    }
  });

  it('doctor "tenant isolation" is ok as the application role, and fails as the owner (the platform must not connect as the owner)', async () => {
    const asApp = await runCliJson(['doctor', 'tenant.isolation'], { url: s.appUrl });
    const check = asApp.data.checks.find((c: any) => c.id === 'tenant.isolation');
    expect(check.status, JSON.stringify(check)).toBe('ok');
    expect(check.title).toBe('tenant isolation');
    expect(asApp.exitCode).toBe(0);
    const asOwner = await runCliJson(['doctor', 'tenant.isolation'], { url: s.ownerUrl });
    const o = asOwner.data.checks.find((c: any) => c.id === 'tenant.isolation');
    expect(o.status).toBe('fail');
    expect(o.figure).toContain('owns 12 tenant tables');
    expect(asOwner.exitCode).toBe(2);
    // Write access to the reference data given back by hand: a warning, with the REVOKE.
    await admin.unsafe(`GRANT UPDATE ON cmmc_controls TO "${s.app}"`);
    try {
      const loose = await runCliJson(['doctor', 'tenant.isolation'], { url: s.appUrl });
      const l = loose.data.checks.find((c: any) => c.id === 'tenant.isolation');
      expect(l.status).toBe('warn');
      expect(l.figure).toContain('can write cmmc_controls, the reference data every tenant is assessed against');
      expect(l.remedy).toBe(`cmmc-db init (or REVOKE INSERT, UPDATE, DELETE ON cmmc_controls FROM "${s.app}")`);
      expect(loose.exitCode).toBe(1);
    } finally {
      await admin.unsafe(`REVOKE UPDATE ON cmmc_controls FROM "${s.app}"`);
    }
    // The audit trail it only appends to, and the engine's version table, written by hand: warnings too.
    await admin.unsafe(`GRANT UPDATE, DELETE ON audit_logs TO "${s.app}"; GRANT INSERT, UPDATE ON cmmc_schema_version TO "${s.app}"`);
    try {
      const loose = await runCliJson(['doctor', 'tenant.isolation'], { url: s.appUrl });
      const l = loose.data.checks.find((c: any) => c.id === 'tenant.isolation');
      expect(l.status, JSON.stringify(l)).toBe('warn');
      const rows = l.rows.map((r: any) => [r.problem, r.fix]);
      expect(rows).toContainEqual(['can UPDATE and DELETE audit_logs, the audit trail it should only append to', `cmmc-db init (or REVOKE UPDATE, DELETE ON audit_logs FROM "${s.app}")`]);
      expect(rows).toContainEqual([
        "can INSERT, UPDATE the version table cmmc_schema_version: a tenant's session could make upgrade skip or repeat revisions",
        `cmmc-db init (or REVOKE INSERT, UPDATE ON cmmc_schema_version FROM "${s.app}")`,
      ]);
      expect(loose.exitCode).toBe(1);
    } finally {
      await admin.unsafe(`REVOKE UPDATE, DELETE ON audit_logs FROM "${s.app}"; REVOKE INSERT, UPDATE ON cmmc_schema_version FROM "${s.app}"`);
    }
    // As init leaves it: ok again (the app role appends to the trail and only reads the version table).
    const again = await runCliJson(['doctor', 'tenant.isolation'], { url: s.appUrl });
    expect(again.data.checks.find((c: any) => c.id === 'tenant.isolation').status).toBe('ok');
  });

  it('seed and backup run as the owner (DB_OWNER_USER) and cross tenants only through the bypass role', async () => {
    const seed = await runCli(['seed', '--force', '--sample'], { env: s.env });
    expect(seed.exitCode, seed.stderr).toBe(0);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-ti-backup-'));
    try {
      const backup = await runCliJson(['backup', 'create', '--dir', dir], { env: s.env });
      expect(backup.exitCode, backup.stderr).toBe(0);
      const file = fs.readdirSync(dir).find((f) => f.endsWith('.dump'))!;
      const { execa } = await import('execa');
      const data = await execa('pg_restore', ['--data-only', '--table=organizations', '-f', '-', path.join(dir, file)]);
      expect(data.stdout).toContain('Other Contractor B');
      expect(data.stdout).toContain('Acme Defense Manufacturing (demo)');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the tenant tables of the schema', () => {
  /** Tables of public with an organization_id column (or organizations), and whether each is forced with a policy. */
  const CATALOG = `
    SELECT c.relname AS name, c.relrowsecurity AND c.relforcerowsecurity AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid) AS guarded
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
       AND (c.relname = 'organizations' OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped))
     ORDER BY 1`;

  it('every table with an organization_id is one of the listed tenant tables, with row-level security forced and a policy; a new one without fails', async () => {
    const db = uniqueName('ti_catalog');
    await adminQuery(`CREATE DATABASE "${db}"`);
    const url = `postgres://postgres@127.0.0.1:5432/${db}`;
    // An application role that may read the tenant tables: the doctor, run here as a superuser (a
    // DBA's run), then checks the tables; with none it fails, the platform connecting as the superuser.
    const reader = uniqueName('ti_reader');
    try {
      const up = await runCli(['upgrade', 'head'], { url });
      expect(up.exitCode, up.stderr).toBe(0);
      await adminQuery(`CREATE ROLE "${reader}" NOLOGIN`);
      await query(url, `GRANT SELECT ON ALL TABLES IN SCHEMA public TO "${reader}"`);
      const rows = await query<{ name: string; guarded: boolean }>(url, CATALOG);
      expect(rows.map((r) => r.name)).toEqual([...TENANT_TABLES].sort());
      expect(rows.filter((r) => !r.guarded)).toEqual([]);

      // A later revision that adds a tenant table and forgets the forced policy is caught.
      await query(url, 'CREATE TABLE public.widgets (id uuid PRIMARY KEY, organization_id uuid NOT NULL)');
      const after = await query<{ name: string; guarded: boolean }>(url, CATALOG);
      expect(after.filter((r) => !r.guarded).map((r) => r.name)).toEqual(['widgets']);
      const doctor = await runCliJson(['doctor', 'tenant.isolation'], { url });
      const check = doctor.data.checks.find((c: any) => c.id === 'tenant.isolation');
      expect(check.status).toBe('fail');
      expect(check.figure).toContain('widgets row-level security is not enabled');
      expect(check.remedy).toContain('FORCE ROW LEVEL SECURITY');
      await query(url, 'ALTER TABLE widgets ENABLE ROW LEVEL SECURITY');
      const enabledOnly = await runCliJson(['doctor', 'tenant.isolation'], { url });
      expect(enabledOnly.data.checks[0].figure).toContain('widgets row-level security is not forced');

      // The revision is reversible: below it (e3a8d1c6b468; later revisions sit on top of it) RLS is
      // enabled but not forced; up forces it again.
      await query(url, 'DROP TABLE widgets');
      const down = await runCli(['downgrade', 'e3a8d1c6b468', '--yes'], { url });
      expect(down.exitCode, down.stderr).toBe(0);
      const [{ forced }] = await query(url, `SELECT count(*) FILTER (WHERE relforcerowsecurity)::int AS forced FROM pg_class WHERE relname = ANY($1)`, [TENANT_TABLES]);
      expect(forced).toBe(0);
      const again = await runCli(['upgrade', 'head'], { url });
      expect(again.exitCode, again.stderr).toBe(0);
      expect((await query(url, CATALOG)).every((r) => r.guarded)).toBe(true);

      // system_config is not a tenant table (not counted above), but the doctor checks its guard too.
      const ok = await runCliJson(['doctor', 'tenant.isolation'], { url });
      expect(ok.data.checks[0].figure).toContain(`${TENANT_TABLES.length} tenant tables with row-level security forced and a policy, system_config read-only for tenants`);
      await query(url, 'ALTER TABLE system_config DISABLE ROW LEVEL SECURITY');
      const open = await runCliJson(['doctor', 'tenant.isolation'], { url });
      expect(open.data.checks[0].status).toBe('fail');
      expect(open.data.checks[0].figure).toContain("system_config row-level security is not enabled: a tenant's session reads the platform's secret settings and can change them");
      expect(open.data.checks[0].remedy).toContain('cmmc-db upgrade head');
    } finally {
      await adminQuery(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
      await adminQuery(`DROP ROLE IF EXISTS "${reader}"`);
    }
  });

  it('on the embedded database (PGlite: roles by SET ROLE, no logins) the application role is bound the same way', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-ti-embedded-'));
    const config = resolveConfig({ env: { CMMC_DB_DIR: dir }, cwd: dir });
    try {
      const init = await runCli(['init', '--sample'], { env: { CMMC_DB_DIR: dir }, cwd: dir });
      expect(init.exitCode, init.stderr).toBe(0);
      const handle = await openDatabase(config, { pool: { max: 1, min: 0 }, kysely: false });
      try {
        const sql = handle.sql;
        const roles = { app: 'ti_app', owner: 'ti_owner', bypass: bypassRoleName('ti_owner') };
        await ensureRole(sql, roles.app, 'NOLOGIN');
        await ensureRole(sql, roles.owner, 'NOLOGIN');
        await ensureRole(sql, roles.bypass, 'NOLOGIN BYPASSRLS');
        const model = { roles, database: 'postgres', metaSchema: 'cmmc_db', versionSchema: 'public', versionTable: 'cmmc_schema_version' };
        await moveOwnership(sql, model, 'postgres', roles.owner);
        await applyGrants(sql, model);
        await sql.unsafe(B_ROWS);
        // One PostgreSQL session behind the socket: SET ROLE holds for what follows.
        await sql.unsafe(`SET ROLE ${roles.app}`);
        await expectBoundEmbedded(sql);
        await expectSettingsGuarded(sql, asAdminOf(sql, roles.app));
        await sql.unsafe(`SET ROLE ${roles.owner}`);
        await expectBoundEmbedded(sql);
        await sql.unsafe('RESET ROLE');
      } finally {
        await handle.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * system_config as the application role (`sql`, one connection, no tenant set on entry): with tenant A
 * set, the secret row the admin planted is invisible and every write is refused or touches nothing;
 * with no tenant set, it is read whole and written (the platform's own context).
 */
async function expectSettingsGuarded(sql: postgres.Sql, admin: postgres.Sql): Promise<void> {
  await admin.unsafe(`INSERT INTO system_config (key, value, is_secret) VALUES ('platform.api_key', '"s3cret"', true) ON CONFLICT (key) DO NOTHING`);
  try {
    await sql.unsafe(`SET app.current_organization_id = '${A}'`);
    const seen = await sql.unsafe(`SELECT key FROM system_config`);
    expect(seen.map((r) => r.key)).toContain('demo.organization_id');
    expect(seen.map((r) => r.key)).not.toContain('platform.api_key');
    expect((await attempt(sql, `UPDATE system_config SET value = '"${B}"' WHERE key = 'demo.organization_id'`)).count).toBe(0);
    expect((await attempt(sql, `DELETE FROM system_config`)).count).toBe(0);
    expect((await attempt(sql, `INSERT INTO system_config (key, value, is_secret) VALUES ('platform.planted', 'true', true)`)).code).toBe('42501');
    await sql.unsafe(`RESET app.current_organization_id`);
    const all = await sql.unsafe(`SELECT key FROM system_config`);
    expect(all.map((r) => r.key)).toContain('platform.api_key');
    expect((await attempt(sql, `UPDATE system_config SET description = description`)).code).toBeUndefined();
    expect((await attempt(sql, `UPDATE system_config SET description = 'rotated' WHERE key = 'platform.api_key'`)).count).toBe(1);
    const [row] = await admin.unsafe(`SELECT value #>> '{}' AS v FROM system_config WHERE key = 'demo.organization_id'`);
    expect(row.v).toBe(A);
  } finally {
    await sql.unsafe(`RESET app.current_organization_id`);
    await admin.unsafe(`DELETE FROM system_config WHERE key LIKE 'platform.%'`);
  }
}

/** The embedded database has one session: the admin's view is taken by RESET ROLE around each look. */
async function expectBoundEmbedded(sql: postgres.Sql): Promise<void> {
  const [{ role }] = await sql`SELECT current_user AS role`;
  await expectBound(sql, asAdminOf(sql, role));
}

/** The admin's view on the embedded database's one session: RESET ROLE around each look, then back to `role`. */
function asAdminOf(sql: postgres.Sql, role: string): postgres.Sql {
  return {
    unsafe: async (text: string) => {
      await sql.unsafe('RESET ROLE');
      try {
        return await sql.unsafe(text);
      } finally {
        await sql.unsafe(`SET ROLE ${role}`);
      }
    },
  } as unknown as postgres.Sql;
}

describe('cmmc-db init: concurrency, URLs, and the way from the old single-role model', () => {
  it('four concurrent init runs of the same new roles and database all exit 0 and leave one of each', async () => {
    const s = newSetup('tic');
    try {
      const runs = await Promise.all([1, 2, 3, 4].map(() => runCli(['init'], { env: s.env })));
      for (const r of runs) expect(r.exitCode, r.stderr).toBe(0);
      const [roles] = await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM pg_roles WHERE rolname IN ('${rolesOf(s).join("', '")}')`);
      expect(roles.n).toBe(3);
      const [dbs] = await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM pg_database WHERE datname = '${s.db}'`);
      expect(dbs.n).toBe(1);
      const [log] = await query(s.adminUrl, 'SELECT count(*)::int AS n FROM cmmc_db.seed_log');
      expect(log.n).toBe(2);
    } finally {
      await dropSetup({ db: s.db, roles: rolesOf(s) });
    }
  });

  it('refuses, in one line, an application role that is a superuser or the same role as the owner', async () => {
    const s = newSetup('tis');
    try {
      await adminQuery(`CREATE ROLE "${s.app}" LOGIN SUPERUSER`);
      const r = await runCli(['init'], { env: s.env });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`the application role "${s.app}" is a superuser: row-level security cannot bind it`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(await adminQuery(`SELECT 1 FROM pg_database WHERE datname = '${s.db}'`)).toHaveLength(0);
      const same = await runCli(['init'], { env: { ...s.env, DB_OWNER_USER: s.app } });
      expect(same.exitCode).toBe(2);
      expect(same.stderr).toContain(`DB_OWNER_USER is the application role "${s.app}"`);
    } finally {
      await dropSetup({ db: s.db, roles: rolesOf(s) });
    }
  });

  it('a percent-encoded database name in the URL is decoded as libpq decodes it', async () => {
    const s = newSetup('tiu');
    const encoded = `${s.db}%2Dplatform`;
    const decoded = `${s.db}-platform`;
    try {
      const r = await runCliJson(['init'], { env: { DATABASE_URL: `postgres://${s.app}:app-Pw-1@127.0.0.1:5432/${encoded}`, DB_OWNER_USER: s.owner, POSTGRES_USER: 'postgres' } });
      expect(r.exitCode, r.stderr).toBe(0);
      const names = await adminQuery<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE '${s.db}%'`);
      expect(names.map((n) => n.datname)).toEqual([decoded]);
      expect(r.data.controls).toBe(110);
      const current = await runCli(['current'], { env: { DATABASE_URL: `postgres://${s.app}:app-Pw-1@127.0.0.1:5432/${encoded}` } });
      expect(current.exitCode, current.stderr).toBe(0);
      expect(current.stdout).toMatch(/[0-9a-f]{12}/);
    } finally {
      await dropSetup({ db: decoded, roles: rolesOf(s) });
    }
  });

  it('a database of the old init (the application role owns everything) is moved to the two-role model by init, idempotently, and back by init --revert-roles', async () => {
    const s = newSetup('tio');
    try {
      // What the old init did: the role with CREATE on the database and on public, owning cmmc_db, migrating and seeding itself.
      await adminQuery(`CREATE ROLE "${s.app}" LOGIN PASSWORD 'app-Pw-1'`);
      await adminQuery(`CREATE DATABASE "${s.db}"`);
      await query(s.adminUrl, `CREATE EXTENSION "uuid-ossp"; CREATE EXTENSION vector;
        GRANT CONNECT, TEMPORARY, CREATE ON DATABASE "${s.db}" TO "${s.app}"; GRANT USAGE, CREATE ON SCHEMA public TO "${s.app}";
        CREATE SCHEMA cmmc_db AUTHORIZATION "${s.app}"`);
      const oldEnv = { DATABASE_URL: s.appUrl };
      expect((await runCli(['upgrade', 'head'], { env: oldEnv })).exitCode).toBe(0);
      expect((await runCli(['seed', '--sample'], { env: oldEnv })).exitCode).toBe(0);
      const before = await runCliJson(['doctor', 'tenant.isolation'], { env: oldEnv });
      expect(before.data.checks[0].status).toBe('fail');
      expect(before.data.checks[0].figure).toContain(`${s.app} owns 12 tenant tables`);

      const moved = await runCliJson(['init'], { env: s.env });
      expect(moved.exitCode, moved.stderr).toBe(0);
      const ownership = moved.data.steps.find((x: any) => x.step === 'ownership');
      expect(ownership.status).toBe('applied');
      expect(ownership.detail).toMatch(new RegExp(`\\d+ objects moved from ${s.app} to ${s.owner}`));
      const [owned] = await query(s.adminUrl, `SELECT count(*)::int AS n FROM pg_class WHERE relowner = '${s.app}'::regrole`);
      expect(owned.n).toBe(0);
      const after = await runCliJson(['doctor', 'tenant.isolation'], { env: oldEnv });
      expect(after.data.checks[0].status, JSON.stringify(after.data.checks[0])).toBe('ok');
      const app = postgres(s.appUrl, { max: 1, onnotice: () => {} });
      try {
        const [{ n }] = await app`SELECT count(*)::int AS n FROM users`;
        expect(n).toBe(0);
        expect((await attempt(app, 'ALTER TABLE users DISABLE ROW LEVEL SECURITY')).code).toBe('42501');
        expect((await attempt(app, 'CREATE TABLE public.t (i int)')).code).toBe('42501');
      } finally {
        await app.end();
      }
      const again = await runCliJson(['init'], { env: s.env });
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.data.changed, JSON.stringify(again.data.steps)).toBe(false);

      // And back: the application role owns everything again and can migrate.
      const refused = await runCli(['init', '--revert-roles'], { env: s.env });
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain('--yes');
      const reverted = await runCliJson(['init', '--revert-roles', '--yes'], { env: s.env });
      expect(reverted.exitCode, reverted.stderr).toBe(0);
      expect(reverted.data.changed).toBe(true);
      const [ownedBack] = await query(s.adminUrl, `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relowner <> '${s.app}'::regrole`);
      expect(ownedBack.n).toBe(0);
      expect((await runCli(['downgrade', '-1', '--yes'], { env: oldEnv })).exitCode).toBe(0);
      expect((await runCli(['upgrade', 'head'], { env: oldEnv })).exitCode).toBe(0);
      const twice = await runCliJson(['init', '--revert-roles', '--yes'], { env: s.env });
      expect(twice.data.changed).toBe(false);
    } finally {
      await dropSetup({ db: s.db, roles: rolesOf(s) });
    }
  });
});

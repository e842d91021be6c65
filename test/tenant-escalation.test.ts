/**
 * Paths by which the application role can make itself able to read every tenant, beyond a superuser,
 * a BYPASSRLS role or the owner (security trial, second round). Each is real (the test walks it as
 * the application role first), and `doctor tenant.isolation` must fail naming it and the statement
 * that closes it, and `init` must refuse it, as for the paths before:
 *
 * - CREATEROLE, of its own or of a role it can SET ROLE to: PostgreSQL 15 lets it grant itself the
 *   bypass role;
 * - membership in pg_execute_server_program, pg_read_server_files, pg_write_server_files;
 * - REPLICATION (a base backup or logical decoding reads every row);
 * - EXECUTE on server-file functions (pg_read_binary_file) and on SECURITY DEFINER functions of a
 *   superuser or BYPASSRLS role other than the documented sign-in lookup.
 *
 * Third round: the platform database, a schema or an event trigger's function owned by the
 * application role; EXECUTE on SECURITY DEFINER functions of the schema owner or of any role with a
 * path; a usable user mapping that logs in as another role; TRUNCATE, TRIGGER, REFERENCES on tenant
 * tables and in the owner's default privileges (init revokes what it or PUBLIC holds);
 * pg_write_all_data (pg_signal_backend: a warning); CONNECT, TEMPORARY granted to the role itself.
 *
 * Also: the application role that is the admin itself (a superuser), and USAGE on the engine's
 * sequences (nextval on cmmc_db's bookkeeping), which nothing needs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, query, uniqueName } from './helpers/server.js';
import { bypassRoleName } from '../src/tenant/roles.js';
import { TWO_TENANTS, doctorTenant, dropSetup, initWithTwoTenants, newSetup, rolesOf, runStatements } from './helpers/tenant-setup.js';

describe('paths from the application role to every tenant', () => {
  const s = newSetup('tex');
  const helper = uniqueName('tex_hop');
  const bypass = bypassRoleName(s.owner);
  beforeAll(async () => {
    await initWithTwoTenants(s);
    await adminQuery(`CREATE ROLE "${helper}" NOLOGIN`);
  }, 300_000);
  afterAll(async () => {
    await dropSetup({ db: s.db, roles: [...rolesOf(s), helper] });
  });

  /**
   * doctor fails with a row whose problem contains `problem` and whose fix contains `fix`; init refuses naming both
   * (its admin session searches pg_catalog only, so it names objects of public qualified: `initFix`).
   */
  async function expectCaught(problem: string, fix: string, initProblem = problem, initFix = fix) {
    const r = await doctorTenant(s.appUrl);
    expect(r.check.status, JSON.stringify(r.check)).toBe('fail');
    expect(r.exitCode).toBe(2);
    const row = r.check.rows.find((x: any) => x.problem.includes(problem));
    expect(row, JSON.stringify(r.check.rows)).toBeDefined();
    expect(row.object).toBe(s.app);
    expect(row.fix).toContain(fix);
    const init = await runCli(['init'], { env: s.env });
    expect(init.exitCode, init.stderr).toBe(1);
    expect(init.stderr).toContain(`the application role "${s.app}" ${initProblem}`);
    expect(init.stderr).toContain(initFix);
    expect(init.stderr).not.toMatch(/\n\s+at /);
  }

  it('starts clean: doctor ok as the application role, and as the admin (a DBA run) not a failure', async () => {
    expect((await doctorTenant(s.appUrl)).check.status).toBe('ok');
    const dba = await doctorTenant(s.adminUrl);
    expect(dba.check.status).not.toBe('fail');
    expect(JSON.stringify(dba.check)).toContain('run doctor as DB_USER');
  });

  it('CREATEROLE, its own or a role\'s it can SET ROLE to: it grants itself the bypass role and reads every tenant', async () => {
    for (const via of ['own', 'reached'] as const) {
      if (via === 'own') await adminQuery(`ALTER ROLE "${s.app}" CREATEROLE`);
      else await adminQuery(`ALTER ROLE "${helper}" CREATEROLE; GRANT "${helper}" TO "${s.app}"`);
      try {
        // The path is real: PostgreSQL 15 lets a CREATEROLE role grant any non-superuser role.
        const [seen] = await runStatements(s.appUrl, [
          ...(via === 'reached' ? [`SET ROLE "${helper}"`] : []),
          `REVOKE "${s.app}" FROM "${bypass}"`,
          `GRANT "${bypass}" TO "${s.app}"`,
          'RESET ROLE',
          `SET ROLE "${bypass}"`,
          'SELECT count(DISTINCT organization_id)::int AS n FROM users',
        ]);
        expect(seen.n).toBe(2);
        await adminQuery(`REVOKE "${bypass}" FROM "${s.app}"; GRANT "${s.app}" TO "${bypass}"`);
        if (via === 'own') await expectCaught('has CREATEROLE', `ALTER ROLE "${s.app}" NOCREATEROLE`);
        else await expectCaught(`can SET ROLE to ${helper}, which has CREATEROLE`, `REVOKE "${helper}" FROM "${s.app}"`, `can SET ROLE to "${helper}", which has CREATEROLE`);
      } finally {
        await adminQuery(`ALTER ROLE "${s.app}" NOCREATEROLE; ALTER ROLE "${helper}" NOCREATEROLE; REVOKE "${helper}" FROM "${s.app}"`);
        await adminQuery(`REVOKE "${bypass}" FROM "${s.app}"; GRANT "${s.app}" TO "${bypass}"`).catch(() => {});
      }
    }
    expect((await doctorTenant(s.appUrl)).check.status).toBe('ok');
  });

  it('pg_execute_server_program, pg_read_server_files, pg_write_server_files, directly or through another role', async () => {
    // The path is real: COPY TO PROGRAM runs a program as the server's operating-system user.
    await adminQuery(`GRANT pg_execute_server_program TO "${s.app}"`);
    try {
      await runStatements(s.appUrl, [`COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'`]);
    } finally {
      await adminQuery(`REVOKE pg_execute_server_program FROM "${s.app}"`);
    }
    for (const predefined of ['pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files']) {
      for (const via of ['direct', 'indirect'] as const) {
        if (via === 'direct') await adminQuery(`GRANT ${predefined} TO "${s.app}"`);
        else await adminQuery(`GRANT ${predefined} TO "${helper}"; GRANT "${helper}" TO "${s.app}"`);
        try {
          const r = await doctorTenant(s.appUrl);
          expect(r.check.status, `${predefined} ${via}`).toBe('fail');
          const row = r.check.rows.find((x: any) => x.problem.includes(`is a member of ${predefined}`));
          expect(row?.problem, JSON.stringify(r.check.rows)).toContain('superuser-level access');
          expect(row.fix).toContain(`REVOKE "${via === 'direct' ? predefined : helper}" FROM "${s.app}"`);
        } finally {
          await adminQuery(`REVOKE ${predefined} FROM "${s.app}"; REVOKE ${predefined} FROM "${helper}"; REVOKE "${helper}" FROM "${s.app}"`);
        }
      }
    }
    await adminQuery(`GRANT pg_read_server_files TO "${helper}"; GRANT "${helper}" TO "${s.app}"`);
    try {
      await expectCaught(`is a member of pg_read_server_files (through ${helper})`, `REVOKE "${helper}" FROM "${s.app}"`, `is a member of "pg_read_server_files" (through "${helper}")`);
    } finally {
      await adminQuery(`REVOKE pg_read_server_files FROM "${helper}"; REVOKE "${helper}" FROM "${s.app}"`);
    }
  });

  it('REPLICATION: a base backup or logical decoding reads every row', async () => {
    await adminQuery(`ALTER ROLE "${s.app}" REPLICATION`);
    try {
      await expectCaught('has REPLICATION', `ALTER ROLE "${s.app}" NOREPLICATION`);
    } finally {
      await adminQuery(`ALTER ROLE "${s.app}" NOREPLICATION`);
    }
  });

  it('EXECUTE on a server-file function, or on a SECURITY DEFINER function of a superuser; the documented sign-in lookup is fine', async () => {
    await query(s.adminUrl, `GRANT EXECUTE ON FUNCTION pg_read_binary_file(text) TO "${s.app}"`);
    try {
      // The path is real: the data files hold every tenant's rows.
      const [file] = await runStatements(s.appUrl, [`SELECT length(pg_read_binary_file('PG_VERSION')) AS n`]);
      expect(file.n).toBeGreaterThan(0);
      await expectCaught('can run pg_read_binary_file(text)', `REVOKE EXECUTE ON FUNCTION pg_read_binary_file(text) FROM "${s.app}"`);
    } finally {
      await query(s.adminUrl, `REVOKE EXECUTE ON FUNCTION pg_read_binary_file(text) FROM "${s.app}"`);
    }

    // Created by a superuser without REVOKE ... FROM PUBLIC: every role may run it.
    await query(s.adminUrl, `CREATE FUNCTION public.count_every_user() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER
                               SET search_path = pg_catalog, pg_temp AS $$ SELECT count(*) FROM public.users $$`);
    try {
      const [seen] = await runStatements(s.appUrl, ['SELECT public.count_every_user()::int AS n']);
      expect(seen.n).toBe(2);
      await expectCaught('can run count_every_user(), a SECURITY DEFINER function of postgres (a superuser)', 'REVOKE EXECUTE ON FUNCTION count_every_user() FROM PUBLIC', 'can run public.count_every_user(), a SECURITY DEFINER function of "postgres"', 'REVOKE EXECUTE ON FUNCTION public.count_every_user() FROM PUBLIC');
    } finally {
      await query(s.adminUrl, 'DROP FUNCTION public.count_every_user()');
    }

    // docs/schema.md's sign-in lookup: owned by the bypass role, granted to the application role.
    await query(s.ownerUrl, `
      CREATE FUNCTION cmmc_db.sign_in_lookup(login_email text) RETURNS TABLE (organization_id uuid, user_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$ SELECT u.organization_id, u.id FROM public.users u WHERE u.email = lower(login_email) $$;
      REVOKE ALL ON FUNCTION cmmc_db.sign_in_lookup(text) FROM PUBLIC;
      GRANT CREATE ON SCHEMA cmmc_db TO "${bypass}";
      ALTER FUNCTION cmmc_db.sign_in_lookup(text) OWNER TO "${bypass}";
      REVOKE CREATE ON SCHEMA cmmc_db FROM "${bypass}";
      GRANT EXECUTE ON FUNCTION cmmc_db.sign_in_lookup(text) TO "${s.app}";`);
    try {
      expect((await doctorTenant(s.appUrl)).check.status).toBe('ok');
      const again = await runCli(['init'], { env: s.env });
      expect(again.exitCode, again.stderr).toBe(0);
    } finally {
      await query(s.adminUrl, 'DROP FUNCTION cmmc_db.sign_in_lookup(text)');
    }
  });

  it('the engine\'s sequences are read-only to the application role: no nextval(), also on a database of an older init', async () => {
    const seqs = ['cmmc_db.revision_log_id_seq', 'cmmc_db.seed_log_id_seq'];
    const privileges = () =>
      query<{ seq: string; usage: boolean; select: boolean; update: boolean }>(
        s.adminUrl,
        `SELECT s AS seq, has_sequence_privilege($1, s, 'USAGE') AS usage, has_sequence_privilege($1, s, 'SELECT') AS select,
                has_sequence_privilege($1, s, 'UPDATE') AS update FROM unnest($2::text[]) s ORDER BY 1`,
        [s.app, seqs],
      );
    expect(await privileges()).toEqual(seqs.map((seq) => ({ seq, usage: false, select: true, update: false })));
    await expect(runStatements(s.appUrl, [`SELECT nextval('cmmc_db.revision_log_id_seq')`])).rejects.toThrow('permission denied for sequence revision_log_id_seq');
    // What an older init granted goes on the next run.
    await query(s.adminUrl, `GRANT USAGE, UPDATE ON SEQUENCE ${seqs.join(', ')} TO "${s.app}"`);
    const again = await runCliJson(['init'], { env: s.env });
    expect(again.exitCode, again.stderr).toBe(0);
    const detail = again.data.steps.find((x: any) => x.step === 'privileges').detail;
    for (const seq of seqs) expect(detail).toContain(`revoked USAGE, UPDATE on ${seq} from ${s.app}`);
    expect(await privileges()).toEqual(seqs.map((seq) => ({ seq, usage: false, select: true, update: false })));
  });

  it('the platform database owned by the application role: CREATE, schemas and a database search_path take over what others run', async () => {
    await adminQuery(`ALTER DATABASE "${s.db}" OWNER TO "${s.app}"`);
    try {
      // The path is real: the owner grants itself CREATE, shadows lower() and makes every new session resolve it first.
      await runStatements(s.appUrl, [
        `GRANT CREATE ON DATABASE "${s.db}" TO "${s.app}"`,
        'CREATE SCHEMA esc_evil',
        `CREATE FUNCTION esc_evil.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT 'hijacked' $$`,
        `ALTER DATABASE "${s.db}" SET search_path = esc_evil, pg_catalog, public`,
      ]);
      const [seen] = await query<{ v: string }>(s.adminUrl, `SELECT lower('A') AS v`);
      expect(seen.v).toBe('hijacked');
      await runStatements(s.appUrl, [`ALTER DATABASE "${s.db}" RESET search_path`, 'DROP SCHEMA esc_evil CASCADE', `REVOKE CREATE ON DATABASE "${s.db}" FROM "${s.app}"`]);
      await expectCaught(`owns the database ${s.db}`, `ALTER DATABASE "${s.db}" OWNER TO "postgres"`, `owns the database "${s.db}"`);
    } finally {
      await adminQuery(`ALTER DATABASE "${s.db}" OWNER TO postgres`);
    }
    expect((await doctorTenant(s.appUrl)).check.status).toBe('ok');
  });

  it('a schema, or the function of an event trigger, owned by the application role', async () => {
    await query(s.adminUrl, `
      CREATE SCHEMA esc_ops AUTHORIZATION "${s.app}";
      CREATE FUNCTION esc_ops.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
      ALTER FUNCTION esc_ops.on_ddl() OWNER TO "${s.app}";
      CREATE EVENT TRIGGER esc_on_ddl ON ddl_command_end EXECUTE FUNCTION esc_ops.on_ddl();`);
    try {
      // The path is real: the next DDL of a superuser runs the application role's code as that superuser.
      await runStatements(s.appUrl, [
        `CREATE OR REPLACE FUNCTION esc_ops.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
           BEGIN IF current_setting('is_superuser') = 'on' THEN EXECUTE 'ALTER ROLE "${s.app}" BYPASSRLS'; END IF; END $$`,
      ]);
      await query(s.adminUrl, 'CREATE TABLE public.esc_probe (); DROP TABLE public.esc_probe');
      const [seen] = await runStatements(s.appUrl, ['SELECT count(DISTINCT organization_id)::int AS n FROM users']);
      expect(seen.n).toBe(2);
      await query(s.adminUrl, `ALTER ROLE "${s.app}" NOBYPASSRLS; CREATE OR REPLACE FUNCTION esc_ops.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$`);
      await expectCaught('owns schema esc_ops', 'ALTER SCHEMA "esc_ops" OWNER TO "postgres"', 'owns schema "esc_ops"');
      await query(s.adminUrl, 'ALTER SCHEMA esc_ops OWNER TO postgres');
      await expectCaught('owns esc_ops.on_ddl(), which event trigger esc_on_ddl runs', 'ALTER FUNCTION esc_ops.on_ddl() OWNER TO "postgres"');
    } finally {
      await query(s.adminUrl, `ALTER ROLE "${s.app}" NOBYPASSRLS; DROP EVENT TRIGGER IF EXISTS esc_on_ddl; DROP SCHEMA IF EXISTS esc_ops CASCADE`);
    }
    expect((await doctorTenant(s.appUrl)).check.status).toBe('ok');
  });

  it('EXECUTE on a SECURITY DEFINER function of the schema owner, or of a role with a path of its own', async () => {
    await query(s.ownerUrl, `CREATE FUNCTION public.admin_exec(cmd text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
                               SET search_path = public, pg_temp AS $$ BEGIN EXECUTE cmd; END $$`);
    try {
      // The path is real: the owner's function rewrites a tenant table's policies for the application role.
      const [seen] = await runStatements(s.appUrl, [`SELECT admin_exec('CREATE POLICY esc_leak ON users USING (true)')`, 'SELECT count(DISTINCT organization_id)::int AS n FROM users']);
      expect(seen.n).toBe(2);
      await query(s.adminUrl, 'DROP POLICY esc_leak ON users');
      await expectCaught(`can run admin_exec(text), a SECURITY DEFINER function of ${s.owner} (which owns`, 'REVOKE EXECUTE ON FUNCTION admin_exec(text) FROM PUBLIC', `can run public.admin_exec(text), a SECURITY DEFINER function of "${s.owner}" (the schema owner)`, 'REVOKE EXECUTE ON FUNCTION public.admin_exec(text) FROM PUBLIC');
    } finally {
      await query(s.adminUrl, 'DROP POLICY IF EXISTS esc_leak ON users; DROP FUNCTION public.admin_exec(text)');
    }
    await query(s.adminUrl, `CREATE FUNCTION public.esc_helper_fn() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$ SELECT 1 $$;
                             ALTER FUNCTION public.esc_helper_fn() OWNER TO "${helper}"; ALTER ROLE "${helper}" CREATEROLE`);
    try {
      await expectCaught(`can run esc_helper_fn(), a SECURITY DEFINER function of ${helper} (which can make itself able to read every tenant)`, 'REVOKE EXECUTE ON FUNCTION esc_helper_fn() FROM PUBLIC', `can run public.esc_helper_fn(), a SECURITY DEFINER function of "${helper}"`, 'REVOKE EXECUTE ON FUNCTION public.esc_helper_fn() FROM PUBLIC');
    } finally {
      await query(s.adminUrl, `DROP FUNCTION public.esc_helper_fn(); ALTER ROLE "${helper}" NOCREATEROLE`);
    }
    expect((await doctorTenant(s.appUrl)).check.status).toBe('ok');
  });

  it('a user mapping it can use that logs in as another role (postgres_fdw back to this server)', async () => {
    await query(s.adminUrl, `
      CREATE EXTENSION IF NOT EXISTS postgres_fdw;
      CREATE SERVER esc_loop FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '5432', dbname '${s.db}');
      CREATE USER MAPPING FOR "${s.app}" SERVER esc_loop OPTIONS (user 'postgres', password 'stored-Pw-9', password_required 'false');
      GRANT USAGE ON FOREIGN SERVER esc_loop TO "${s.app}";`);
    try {
      // The path is real: pg_user_mappings shows it the stored password, and a foreign table in pg_temp reads every tenant as postgres.
      const [mapping] = await runStatements(s.appUrl, [`SELECT array_to_string(umoptions, ',') AS o FROM pg_user_mappings WHERE srvname = 'esc_loop'`]);
      expect(mapping.o).toContain('password=stored-Pw-9');
      const [seen] = await runStatements(s.appUrl, [
        `CREATE FOREIGN TABLE pg_temp.esc_users (organization_id uuid) SERVER esc_loop OPTIONS (schema_name 'public', table_name 'users')`,
        'SELECT count(DISTINCT organization_id)::int AS n FROM pg_temp.esc_users',
      ]);
      expect(seen.n).toBe(2);
      await expectCaught(`can use foreign server esc_loop through the user mapping for ${s.app}, which logs in as postgres`, `DROP USER MAPPING FOR "${s.app}" SERVER "esc_loop"`, `can use foreign server "esc_loop" through the user mapping for "${s.app}", which logs in as "postgres"`);
      // PUBLIC's mapping: its options are hidden from the application role, so any is a path.
      // (init, an admin, sees them and names the remote user.)
      await query(s.adminUrl, `DROP USER MAPPING FOR "${s.app}" SERVER esc_loop; CREATE USER MAPPING FOR PUBLIC SERVER esc_loop OPTIONS (user 'postgres')`);
      await expectCaught(
        'can use foreign server esc_loop through the user mapping for PUBLIC, which logs in as a remote user hidden from it',
        'DROP USER MAPPING FOR PUBLIC SERVER "esc_loop"',
        'can use foreign server "esc_loop" through the user mapping for PUBLIC, which logs in as "postgres"',
      );
      // Its own mapping that logs in as itself is no path.
      await query(s.adminUrl, `DROP USER MAPPING FOR PUBLIC SERVER esc_loop; CREATE USER MAPPING FOR "${s.app}" SERVER esc_loop OPTIONS (user '${s.app}', password 'app-Pw-1')`);
      expect((await doctorTenant(s.appUrl)).check.status).toBe('ok');
    } finally {
      await query(s.adminUrl, 'DROP SERVER IF EXISTS esc_loop CASCADE; DROP EXTENSION IF EXISTS postgres_fdw');
    }
  });

  it('TRUNCATE, TRIGGER or REFERENCES on tenant tables, and default privileges beyond DML: init revokes what it granted or PUBLIC holds', async () => {
    await query(s.adminUrl, 'GRANT TRUNCATE ON ALL TABLES IN SCHEMA public TO PUBLIC');
    try {
      // The path is real: TRUNCATE ignores row-level security and empties every tenant.
      await runStatements(s.appUrl, ['TRUNCATE users CASCADE']);
      const [left] = await query<{ n: number }>(s.adminUrl, 'SELECT count(*)::int AS n FROM users');
      expect(left.n).toBe(0);
      const r = await doctorTenant(s.appUrl);
      expect(r.check.status).toBe('fail');
      const row = r.check.rows.find((x: any) => x.problem.includes('has TRUNCATE on users (through PUBLIC)'));
      expect(row?.fix, JSON.stringify(r.check.rows)).toContain('REVOKE TRUNCATE ON users FROM PUBLIC');
      const init = await runCliJson(['init'], { env: s.env });
      expect(init.exitCode, init.stderr).toBe(0);
      expect(init.data.steps.find((x: any) => x.step === 'privileges').detail).toContain('revoked TRUNCATE, TRIGGER, REFERENCES on public.users from PUBLIC');
      expect((await doctorTenant(s.appUrl)).check.status).toBe('ok');
    } finally {
      await query(s.adminUrl, 'REVOKE TRUNCATE ON ALL TABLES IN SCHEMA public FROM PUBLIC');
      const t = TWO_TENANTS;
      await query(s.adminUrl, `INSERT INTO users (id, organization_id, email, password_hash, full_name) VALUES
        ('${t.USER_A}', '${t.A}', '${t.EMAIL_A}', 'hash-a', 'Alice'), ('${t.USER_B}', '${t.B}', '${t.EMAIL_B}', 'hash-b', 'Bob') ON CONFLICT DO NOTHING`);
    }
    // Through another role: init does not revoke others' grants, it refuses.
    await query(s.adminUrl, `GRANT TRIGGER, REFERENCES ON users TO "${helper}"; GRANT "${helper}" TO "${s.app}"`);
    try {
      await expectCaught('has TRIGGER, REFERENCES on users', `REVOKE TRIGGER, REFERENCES ON users FROM "${helper}"`, 'has TRIGGER, REFERENCES on public.users', `REVOKE TRIGGER, REFERENCES ON public.users FROM "${helper}"`);
    } finally {
      await query(s.adminUrl, `REVOKE TRIGGER, REFERENCES ON users FROM "${helper}"; REVOKE "${helper}" FROM "${s.app}"`);
    }
    // Default privileges of the owner: every later revision's table would be TRUNCATE-able.
    await query(s.adminUrl, `ALTER DEFAULT PRIVILEGES FOR ROLE "${s.owner}" IN SCHEMA public GRANT TRUNCATE ON TABLES TO "${s.app}"`);
    try {
      await query(s.ownerUrl, 'CREATE TABLE public.esc_later (n int); INSERT INTO public.esc_later VALUES (1)');
      await runStatements(s.appUrl, ['TRUNCATE esc_later']);
      await query(s.ownerUrl, 'DROP TABLE public.esc_later');
      const r = await doctorTenant(s.appUrl);
      const row = r.check.rows.find((x: any) => x.problem.includes(`gets TRUNCATE on every new table of ${s.owner} in schema public (default privileges)`));
      expect(row?.fix, JSON.stringify(r.check.rows)).toContain(`ALTER DEFAULT PRIVILEGES FOR ROLE "${s.owner}" IN SCHEMA "public" REVOKE TRUNCATE ON TABLES FROM "${s.app}"`);
      expect(r.check.status).toBe('fail');
      const init = await runCliJson(['init'], { env: s.env });
      expect(init.exitCode, init.stderr).toBe(0);
      expect(init.data.steps.find((x: any) => x.step === 'privileges').detail).toContain(`revoked default privileges TRUNCATE on new tables in public from ${s.app}`);
      expect((await doctorTenant(s.appUrl)).check.status).toBe('ok');
    } finally {
      await query(s.adminUrl, `DROP TABLE IF EXISTS public.esc_later; ALTER DEFAULT PRIVILEGES FOR ROLE "${s.owner}" IN SCHEMA public REVOKE TRUNCATE ON TABLES FROM "${s.app}"`);
    }
  });

  it('pg_write_all_data is a path (it writes the version table); pg_signal_backend a warning', async () => {
    await adminQuery(`GRANT pg_write_all_data TO "${s.app}"`);
    try {
      // The path is real: it rewrites the version table and the reference data.
      await runStatements(s.appUrl, ['UPDATE cmmc_schema_version SET version_num = version_num', `UPDATE cmmc_controls SET title = title WHERE false`]);
      await expectCaught('is a member of pg_write_all_data', `REVOKE "pg_write_all_data" FROM "${s.app}"`, 'is a member of "pg_write_all_data"');
      const r = await doctorTenant(s.appUrl);
      expect(JSON.stringify(r.check.rows)).not.toContain('the reference data every tenant is assessed against","fix":"cmmc-db init');
    } finally {
      await adminQuery(`REVOKE pg_write_all_data FROM "${s.app}"`);
    }
    await adminQuery(`GRANT pg_signal_backend TO "${s.app}"`);
    try {
      const r = await doctorTenant(s.appUrl);
      expect(r.check.status, JSON.stringify(r.check)).toBe('warn');
      expect(r.exitCode).toBe(1);
      const row = r.check.rows.find((x: any) => x.problem.includes('is a member of pg_signal_backend'));
      expect(row?.fix, JSON.stringify(r.check.rows)).toContain(`REVOKE "pg_signal_backend" FROM "${s.app}"`);
      const init = await runCli(['init'], { env: s.env });
      expect(init.exitCode, init.stderr).toBe(0);
    } finally {
      await adminQuery(`REVOKE pg_signal_backend FROM "${s.app}"`);
    }
  });

  it('CONNECT and TEMPORARY are granted to the application role itself, not left to PUBLIC', async () => {
    const [acl] = await query<{ privileges: string[] }>(s.adminUrl, `
      SELECT array_agg(a.privilege_type::text ORDER BY a.privilege_type) AS privileges FROM pg_database d, aclexplode(d.datacl) a
       WHERE d.datname = current_database() AND a.grantee = '"${s.app}"'::regrole`);
    expect(acl.privileges).toEqual(['CONNECT', 'TEMPORARY']);
    await adminQuery(`REVOKE CONNECT, TEMPORARY ON DATABASE "${s.db}" FROM PUBLIC`);
    try {
      const [ok] = await runStatements(s.appUrl, ['CREATE TEMP TABLE esc_t (n int)', 'SELECT 1 AS n']);
      expect(ok.n).toBe(1);
    } finally {
      await adminQuery(`GRANT CONNECT, TEMPORARY ON DATABASE "${s.db}" TO PUBLIC`);
    }
  });
});

describe('the application role is the admin, a superuser', () => {
  it('init warns in one line what to do, and doctor fails tenant.isolation', async () => {
    const db = uniqueName('tex_su');
    const url = `postgres://postgres@127.0.0.1:5432/${db}`;
    try {
      const init = await runCli(['init'], { url, env: { POSTGRES_USER: 'postgres' } });
      expect(init.exitCode, init.stderr).toBe(0);
      const last = init.stderr.trim().split('\n').at(-1)!;
      expect(last).toContain('the application role "postgres" is the admin, a superuser: row-level security does not bind it, so no tenant is isolated');
      expect(last).toContain('set DB_USER');
      const json = await runCliJson(['init'], { url, env: { POSTGRES_USER: 'postgres' } });
      expect(json.data.steps.find((x: any) => x.step === 'role').warning).toContain('no tenant is isolated');

      const r = await doctorTenant(url);
      expect(r.check.status, JSON.stringify(r.check)).toBe('fail');
      expect(r.exitCode).toBe(2);
      expect(r.check.figure).toContain('postgres is a superuser, whom row-level security does not bind');
      expect(r.check.remedy).toContain('set DB_USER');
    } finally {
      await adminQuery(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
    }
  });
});

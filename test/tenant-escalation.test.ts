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
 * Also: the application role that is the admin itself (a superuser), and USAGE on the engine's
 * sequences (nextval on cmmc_db's bookkeeping), which nothing needs.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, query, uniqueName } from './helpers/server.js';
import { bypassRoleName } from '../src/tenant/roles.js';
import { dropSetup, initWithTwoTenants, newSetup, rolesOf } from './helpers/tenant-setup.js';

async function doctorTenant(url: string) {
  const r = await runCliJson(['doctor', 'tenant.isolation'], { url });
  return { exitCode: r.exitCode, check: r.data.checks.find((c: any) => c.id === 'tenant.isolation') };
}

/** Runs `statements` as the application role on one session; returns the last result. */
async function asApp(url: string, statements: string[]): Promise<any[]> {
  const app = postgres(url, { max: 1, onnotice: () => {} });
  try {
    let last: any[] = [];
    for (const s of statements) last = [...(await app.unsafe(s))];
    return last;
  } finally {
    await app.end({ timeout: 5 });
  }
}

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

  /** doctor fails with a row whose problem contains `problem` and whose fix contains `fix`; init refuses naming both. */
  async function expectCaught(problem: string, fix: string, initProblem = problem) {
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
    expect(init.stderr).toContain(fix);
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
        const [seen] = await asApp(s.appUrl, [
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
      await asApp(s.appUrl, [`COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'`]);
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
      const [file] = await asApp(s.appUrl, [`SELECT length(pg_read_binary_file('PG_VERSION')) AS n`]);
      expect(file.n).toBeGreaterThan(0);
      await expectCaught('can run pg_read_binary_file(text)', `REVOKE EXECUTE ON FUNCTION pg_read_binary_file(text) FROM "${s.app}"`);
    } finally {
      await query(s.adminUrl, `REVOKE EXECUTE ON FUNCTION pg_read_binary_file(text) FROM "${s.app}"`);
    }

    // Created by a superuser without REVOKE ... FROM PUBLIC: every role may run it.
    await query(s.adminUrl, `CREATE FUNCTION public.count_every_user() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER
                               SET search_path = pg_catalog, pg_temp AS $$ SELECT count(*) FROM public.users $$`);
    try {
      const [seen] = await asApp(s.appUrl, ['SELECT public.count_every_user()::int AS n']);
      expect(seen.n).toBe(2);
      await expectCaught('can run count_every_user(), a SECURITY DEFINER function of postgres (a superuser)', 'REVOKE EXECUTE ON FUNCTION count_every_user() FROM PUBLIC', 'can run count_every_user(), a SECURITY DEFINER function of "postgres"');
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
    await expect(asApp(s.appUrl, [`SELECT nextval('cmmc_db.revision_log_id_seq')`])).rejects.toThrow('permission denied for sequence revision_log_id_seq');
    // What an older init granted goes on the next run.
    await query(s.adminUrl, `GRANT USAGE, UPDATE ON SEQUENCE ${seqs.join(', ')} TO "${s.app}"`);
    const again = await runCliJson(['init'], { env: s.env });
    expect(again.exitCode, again.stderr).toBe(0);
    const detail = again.data.steps.find((x: any) => x.step === 'privileges').detail;
    for (const seq of seqs) expect(detail).toContain(`revoked USAGE, UPDATE on ${seq} from ${s.app}`);
    expect(await privileges()).toEqual(seqs.map((seq) => ({ seq, usage: false, select: true, update: false })));
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

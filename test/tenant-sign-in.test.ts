/**
 * Sign-in before any tenant is set (user trial): docs/schema.md said it needs a SECURITY DEFINER
 * function of the owner's, which finds nothing (the owner is bound by FORCE ROW LEVEL SECURITY).
 * The recipe docs/schema.md gives now (a function owned by the bypass role) is run here exactly as
 * written there, with this database's role names, and used as the application role.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from './helpers/cli.js';
import { adminQuery, query, uniqueName } from './helpers/server.js';
import { dropSetup, initWithTwoTenants, newSetup, rolesOf, TWO_TENANTS } from './helpers/tenant-setup.js';
import { bypassRoleName } from '../src/tenant/roles.js';

const { A, B, USER_A, USER_B } = TWO_TENANTS;

/** The SQL block of docs/schema.md's "Sign-in" paragraph, with the given role names. */
function signInRecipe(roles: { bypass: string; app: string }): string {
  const docs = fs.readFileSync(path.join(ROOT, 'docs', 'schema.md'), 'utf8');
  const from = docs.indexOf('**Sign-in.**');
  expect(from).toBeGreaterThan(0);
  const block = /```sql\n([\s\S]*?)```/.exec(docs.slice(from))![1];
  expect(block).toContain('sign_in_lookup');
  return block.replaceAll('cmmc_owner_rls_bypass', `"${roles.bypass}"`).replaceAll('cmmc_app', `"${roles.app}"`);
}

describe('sign-in: finding a user\'s tenant by e-mail before any tenant is set', () => {
  const s = newSetup('tsi');
  const stranger = uniqueName('tsi_other');
  let app: postgres.Sql;
  beforeAll(async () => {
    await initWithTwoTenants(s);
    await adminQuery(`CREATE ROLE "${stranger}" LOGIN`);
    app = postgres(s.appUrl, { max: 1, onnotice: () => {} });
  }, 300_000);
  afterAll(async () => {
    await app?.end({ timeout: 5 });
    await dropSetup({ db: s.db, roles: [...rolesOf(s), stranger] });
  });

  it('a SECURITY DEFINER function of the owner\'s finds nobody: the forced policies bind the owner', async () => {
    const owner = postgres(s.ownerUrl, { max: 1, onnotice: () => {} });
    try {
      await owner.unsafe(`CREATE FUNCTION cmmc_db.owners_lookup(e text) RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER
                            SET search_path = pg_catalog, pg_temp AS $$ SELECT organization_id FROM public.users WHERE email = e $$`);
      await owner.unsafe(`GRANT EXECUTE ON FUNCTION cmmc_db.owners_lookup(text) TO "${s.app}"`);
      expect(await app.unsafe(`SELECT cmmc_db.owners_lookup('alice@a.example') AS org`)).toEqual([{ org: null }]);
      // Nor can it switch to the bypass role inside.
      await owner.unsafe(`CREATE FUNCTION cmmc_db.owners_switch() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
                            SET search_path = pg_catalog, pg_temp AS $$ BEGIN PERFORM set_config('role', '${bypassRoleName(s.owner)}', true); END $$`);
      await owner.unsafe(`GRANT EXECUTE ON FUNCTION cmmc_db.owners_switch() TO "${s.app}"`);
      await expect(app.unsafe(`SELECT cmmc_db.owners_switch()`)).rejects.toThrow('cannot set parameter "role" within security-definer function');
      await owner.unsafe(`DROP FUNCTION cmmc_db.owners_lookup(text); DROP FUNCTION cmmc_db.owners_switch()`);
    } finally {
      await owner.end({ timeout: 5 });
    }
  });

  it('the recipe of docs/schema.md, run as the owner: the application role with no tenant set finds each tenant by e-mail, and still no user row', async () => {
    const bypass = bypassRoleName(s.owner);
    const run = await execa('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--dbname', s.ownerUrl, '-f', '-'], { input: signInRecipe({ bypass, app: s.app }), reject: false });
    expect(run.exitCode, run.stderr).toBe(0);

    await app.unsafe(`RESET app.current_organization_id`);
    const lookup = (email: string) => app.unsafe(`SELECT * FROM cmmc_db.sign_in_lookup($1)`, [email]).then((r) => [...r]);
    expect(await lookup('alice@a.example')).toEqual([{ organization_id: A, user_id: USER_A }]);
    expect(await lookup('Bob@B.example')).toEqual([{ organization_id: B, user_id: USER_B }]);
    expect(await lookup('nobody@a.example')).toEqual([]);
    // The function is the only way in: the users themselves stay hidden without a tenant.
    expect(await app.unsafe(`SELECT count(*)::int AS n FROM users`)).toEqual([{ n: 0 }]);
    // Then sign-in goes on as usual, bound by the policies: the tenant set, the user read.
    await app.unsafe(`SELECT set_config('app.current_organization_id', '${B}', false)`);
    expect(await app.unsafe(`SELECT id, password_hash FROM users`)).toEqual([{ id: USER_B, password_hash: 'hash-b' }]);
    await app.unsafe(`RESET app.current_organization_id`);

    // What it is: the bypass role's, search_path pinned, executable by the application role alone,
    // and the bypass role keeps no CREATE on the schema.
    const [fn] = await query(s.adminUrl, `
      SELECT pg_get_userbyid(p.proowner) AS owner, p.prosecdef AS definer, p.proconfig AS config,
             has_function_privilege('${s.app}', p.oid, 'EXECUTE') AS app,
             has_function_privilege('${stranger}', p.oid, 'EXECUTE') AS stranger,
             has_schema_privilege('${bypass}', 'cmmc_db', 'CREATE') AS bypass_create
        FROM pg_proc p WHERE p.oid = 'cmmc_db.sign_in_lookup(text)'::regprocedure`);
    expect(fn).toEqual({ owner: bypass, definer: true, config: ['search_path=pg_catalog, pg_temp'], app: true, stranger: false, bypass_create: false });

    // Nothing beyond sign-in's two columns, and drift does not count it as made by hand.
    const columns = await query(s.adminUrl, `SELECT parameter_name AS name FROM information_schema.parameters p JOIN information_schema.routines r USING (specific_schema, specific_name)
                                              WHERE r.routine_schema = 'cmmc_db' AND r.routine_name = 'sign_in_lookup' AND p.parameter_mode = 'OUT' ORDER BY p.ordinal_position`);
    expect(columns.map((c) => c.name)).toEqual(['organization_id', 'user_id']);
    const check = await runCli(['check'], { url: s.adminUrl }); // drift needs a scratch database: the admin's CREATEDB
    expect(check.exitCode, check.stdout + check.stderr).toBe(0);
  }, 180_000);
});

/**
 * Tenant isolation, tried from the outside (issue 12, second look): ways around the policies that
 * the isolation matrix of test/tenant-isolation.test.ts does not walk. Each `it` is one finding:
 *
 * - a role that the application role can SET ROLE to (a membership granted by hand, directly or
 *   through another role) carries that role's powers: a superuser, a BYPASSRLS role, or the owner of
 *   the tenant tables. `doctor tenant.isolation` must say so as the application role, and `init`
 *   must take the platform's own roles away from it (and refuse a reachable superuser or BYPASSRLS role).
 * - a second `init` whose owner name differs from the role that owns the platform's objects must not
 *   report that its owner owns them: it refuses, naming the owner it found.
 * - a large object made by the application role (any role may create one) made `backup create` as
 *   the owner fail; `seed` as the application role said to fix a seed file that was fine.
 * - a session-level tenant set inside (or before) withTenant outlived it on the pooled connection.
 * - a default tenant for the application role's sessions (ALTER ROLE/DATABASE ... SET, by an admin)
 *   turns "no tenant set" into that tenant's rows; doctor did not notice.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql as ksql } from 'kysely';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, query, uniqueName } from './helpers/server.js';
import { bypassRoleName } from '../src/tenant/roles.js';
import { withTenant } from '../src/tenant/index.js';
import { openDatabase } from '../src/db/connection.js';
import { resolveConfig } from '../src/config/config.js';
import { dropSetup, newSetup, rolesOf } from './helpers/tenant-setup.js';

async function doctorAsApp(url: string) {
  const r = await runCliJson(['doctor', 'tenant.isolation'], { url });
  return { exitCode: r.exitCode, check: r.data.checks.find((c: any) => c.id === 'tenant.isolation') };
}

describe('roles the application role can switch to', () => {
  const s = newSetup('tip');
  const helper = uniqueName('tip_hop'); // a plain role in between: membership through it is indirect
  const superuser = uniqueName('tip_su');
  beforeAll(async () => {
    const init = await runCli(['init'], { env: s.env });
    expect(init.exitCode, init.stderr).toBe(0);
    await adminQuery(`CREATE ROLE "${helper}" NOLOGIN`);
    await adminQuery(`CREATE ROLE "${superuser}" NOLOGIN SUPERUSER`);
  });
  afterAll(async () => {
    await dropSetup({ db: s.db, roles: [...rolesOf(s), helper, superuser] });
  });

  it('doctor fails as the application role when it can SET ROLE to the bypass role, the owner, or a superuser, directly or through another role', async () => {
    const ok = await doctorAsApp(s.appUrl);
    expect(ok.check.status, JSON.stringify(ok.check)).toBe('ok');
    // init makes the bypass role a member of the application role (for pg_dump), so PostgreSQL refuses
    // the reverse grants as a cycle; a database of an earlier init has no such membership.
    for (const target of [s.owner, bypassRoleName(s.owner)]) {
      const cycle = await adminQuery(`GRANT "${target}" TO "${s.app}"`).then(() => 'granted', (e) => e.message);
      expect(cycle).toContain(`is a member of role "${s.app}"`);
    }
    await adminQuery(`REVOKE "${s.app}" FROM "${bypassRoleName(s.owner)}"`);

    for (const [target, problem] of [
      [bypassRoleName(s.owner), `can SET ROLE to ${bypassRoleName(s.owner)}, which has BYPASSRLS`],
      [s.owner, `can SET ROLE to ${s.owner}, which owns 12 tenant tables`],
      [superuser, `can SET ROLE to ${superuser}, a superuser`],
    ]) {
      for (const via of ['direct', 'indirect']) {
        if (via === 'direct') await adminQuery(`GRANT "${target}" TO "${s.app}"`);
        else await adminQuery(`GRANT "${target}" TO "${helper}"; GRANT "${helper}" TO "${s.app}"`);
        try {
          // The power is real: after SET ROLE the application role reads past the policies or may disable them.
          const app = postgres(s.appUrl, { max: 1, onnotice: () => {} });
          try {
            await app.unsafe(`SET ROLE "${target}"`);
          } finally {
            await app.end();
          }
          const r = await doctorAsApp(s.appUrl);
          expect(r.check.status, `${via} ${target}: ${JSON.stringify(r.check)}`).toBe('fail');
          expect(r.exitCode).toBe(2);
          const rows = r.check.rows.map((x: any) => `${x.object} ${x.problem}`).join('\n');
          expect(rows).toContain(`${s.app} ${problem}`);
          expect(rows.split('\n').find((l: string) => l.includes(problem))).toBeDefined();
          const fix = r.check.rows.find((x: any) => x.problem.includes(problem)).fix;
          expect(fix).toContain(`REVOKE "${via === 'direct' ? target : helper}" FROM "${s.app}"`);
        } finally {
          await adminQuery(`REVOKE "${target}" FROM "${s.app}"; REVOKE "${target}" FROM "${helper}"; REVOKE "${helper}" FROM "${s.app}"`);
        }
      }
    }
  });

  it('doctor fails as the application role when its new sessions start with a tenant set (ALTER ROLE/DATABASE ... SET): no tenant would no longer mean no rows', async () => {
    const org = 'de000000-0000-4000-8000-00000000000a';
    for (const [set, reset] of [
      [`ALTER ROLE "${s.app}" IN DATABASE "${s.db}" SET app.current_organization_id = '${org}'`, `ALTER ROLE "${s.app}" IN DATABASE "${s.db}" RESET app.current_organization_id`],
      [`ALTER DATABASE "${s.db}" SET app.current_organization_id = '${org}'`, `ALTER DATABASE "${s.db}" RESET app.current_organization_id`],
    ]) {
      await adminQuery(set);
      try {
        const r = await doctorAsApp(s.appUrl);
        expect(r.check.status, `${set}: ${JSON.stringify(r.check)}`).toBe('fail');
        const row = r.check.rows.find((x: any) => x.problem.includes('starts with app.current_organization_id'));
        expect(row?.problem).toContain(org);
        // The fix names the very setting: the scope that SET it.
        expect(row?.problem).toContain(`(set by ${set.split(' SET ')[0]} SET)`);
        expect(row?.fix).toBe(`as an admin: ${reset}`);
      } finally {
        await adminQuery(reset);
      }
    }
    expect((await doctorAsApp(s.appUrl)).check.status).toBe('ok');
  });

  it('a tenant set by the connection itself (options= in the URL, PGOPTIONS) is named as such, with its own fix: ALTER ROLE ... RESET would change nothing', async () => {
    const org = 'de000000-0000-4000-8000-00000000000b';
    const option = `-c app.current_organization_id=${org}`;
    const inUrl = await runCliJson(['doctor', 'tenant.isolation'], { url: `${s.appUrl}${s.appUrl.includes('?') ? '&' : '?'}options=${encodeURIComponent(option)}` });
    const row = inUrl.data.checks[0].rows.find((x: any) => x.problem.includes('starts with app.current_organization_id'));
    expect(row.problem).toContain(`= ${org} (set by the options= of DATABASE_URL)`);
    expect(row.fix).toBe('remove -c app.current_organization_id=... from the options= of DATABASE_URL');
    const inEnv = await runCliJson(['doctor', 'tenant.isolation'], { url: s.appUrl, env: { PGOPTIONS: option } });
    const envRow = inEnv.data.checks[0].rows.find((x: any) => x.problem.includes('starts with app.current_organization_id'));
    expect(envRow.problem).toContain(`= ${org} (set by PGOPTIONS)`);
    expect(envRow.fix).toBe('remove -c app.current_organization_id=... from PGOPTIONS');
    expect(inEnv.exitCode).toBe(2);
  });

  it('init takes the owner and bypass roles away from the application role, and refuses a superuser or BYPASSRLS role it can reach', async () => {
    await adminQuery(`REVOKE "${s.app}" FROM "${bypassRoleName(s.owner)}"`);
    await adminQuery(`GRANT "${s.owner}" TO "${s.app}"; GRANT "${bypassRoleName(s.owner)}" TO "${s.app}"`);
    const again = await runCliJson(['init'], { env: s.env });
    expect(again.exitCode, again.stderr).toBe(0);
    const privileges = again.data.steps.find((x: any) => x.step === 'privileges');
    expect(privileges.detail).toContain(`revoked membership in ${s.owner} from ${s.app}`);
    expect(privileges.detail).toContain(`revoked membership in ${bypassRoleName(s.owner)} from ${s.app}`);
    const [m] = await adminQuery<{ owner: boolean; bypass: boolean }>(
      `SELECT pg_has_role('${s.app}', '${s.owner}', 'MEMBER') AS owner, pg_has_role('${s.app}', '${bypassRoleName(s.owner)}', 'MEMBER') AS bypass`,
    );
    expect(m).toEqual({ owner: false, bypass: false });
    expect((await doctorAsApp(s.appUrl)).check.status).toBe('ok');

    await adminQuery(`GRANT "${superuser}" TO "${helper}"; GRANT "${helper}" TO "${s.app}"`);
    try {
      const refused = await runCli(['init'], { env: s.env });
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain(`the application role "${s.app}" can SET ROLE to "${superuser}", a superuser: row-level security cannot bind it`);
      expect(refused.stderr).toContain(`REVOKE "${helper}" FROM "${s.app}"`);
      expect(refused.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await adminQuery(`REVOKE "${helper}" FROM "${s.app}"; REVOKE "${superuser}" FROM "${helper}"`);
    }
  });
});

describe('init on a database whose objects another owner holds', () => {
  it('refuses, naming the role that owns the platform, instead of reporting its own owner as the owner', async () => {
    const first = newSetup('tiw');
    const second = newSetup('tiw');
    const env2 = { ...second.env, DB_NAME: first.db };
    try {
      const made = await runCli(['init'], { env: first.env });
      expect(made.exitCode, made.stderr).toBe(0);
      const other = await runCli(['init'], { env: env2 });
      expect(other.exitCode, other.stderr).toBe(1);
      expect(other.stderr).toContain(`the platform's objects in "${first.db}" are owned by "${first.owner}", not by the schema owner "${second.owner}"`);
      expect(other.stderr).toContain(`DB_OWNER_USER=${first.owner}`);
      expect(other.stderr).not.toMatch(/\n\s+at /);
      // Nothing was granted to the second set of roles.
      const [g] = await query<{ n: number }>(first.adminUrl, `SELECT count(*)::int AS n FROM pg_class c, aclexplode(c.relacl) a WHERE a.grantee IN (SELECT oid FROM pg_roles WHERE rolname = ANY($1))`, [rolesOf(second)]);
      expect(g.n).toBe(0);
      // With the owner that holds them, the second application role is set up on the same database.
      const same = await runCliJson(['init'], { env: { ...env2, DB_OWNER_USER: first.owner } });
      expect(same.exitCode, same.stderr).toBe(0);
      expect(same.data.steps.find((x: any) => x.step === 'ownership').status).toBe('present');
      expect((await doctorAsApp(`postgres://${second.app}:app-Pw-1@127.0.0.1:5432/${first.db}`)).check.status).toBe('ok');
    } finally {
      await dropSetup({ db: first.db, roles: [...rolesOf(first), ...rolesOf(second)] });
    }
  });

  it('refuses a database migrated by a superuser before init, naming it', async () => {
    const s = newSetup('tiv');
    try {
      await adminQuery(`CREATE DATABASE "${s.db}"`);
      const up = await runCli(['upgrade', 'head'], { url: s.adminUrl });
      expect(up.exitCode, up.stderr).toBe(0);
      const r = await runCli(['init'], { env: s.env });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toContain(`the platform's objects in "${s.db}" are owned by "postgres", not by the schema owner "${s.owner}"`);
    } finally {
      await dropSetup({ db: s.db, roles: rolesOf(s) });
    }
  });
});

describe("the application role and the owner's commands", () => {
  const s = newSetup('til');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-til-'));
  beforeAll(async () => {
    const init = await runCli(['init'], { env: s.env });
    expect(init.exitCode, init.stderr).toBe(0);
  });
  afterAll(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await dropSetup({ db: s.db, roles: rolesOf(s) });
  });

  it('a large object made by the application role does not break backup create as the owner, and is in the dump', async () => {
    // Any role may create large objects (PostgreSQL has no privilege for it); the owner cannot read them.
    const [{ oid }] = await query<{ oid: number }>(s.appUrl, `SELECT lo_from_bytea(0, 'made by the application role') AS oid`);
    const backup = await runCli(['backup', 'create', '--dir', dir], { env: s.env });
    expect(backup.exitCode, backup.stderr).toBe(0);
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.dump'))!;
    const { execa } = await import('execa');
    const list = await execa('pg_restore', ['--list', path.join(dir, file)]);
    expect(list.stdout).toMatch(new RegExp(`BLOB - ${oid} ${s.app}`));
  });

  it('withTenant leaves the pooled connection with no tenant even when fn set one for the session', async () => {
    const handle = await openDatabase(resolveConfig({ url: s.appUrl, env: {} }), { pool: { max: 1, min: 0 } });
    const org = 'de000000-0000-4000-8000-00000000000a';
    try {
      // A helper inside fn that sets the tenant the way many examples do: set_config(..., false), for the session.
      await withTenant(handle.db, org, async (trx) => {
        await ksql`SELECT set_config('app.current_organization_id', ${org}, false)`.execute(trx);
        await ksql`SET app.current_organization_id = ${ksql.lit(org)}`.execute(trx);
      });
      const [after] = await handle.sql`SELECT coalesce(current_setting('app.current_organization_id', true), '') AS v`;
      expect(after.v, 'the next borrower of the one connection').toBe('');
      // A session value set outside withTenant is gone after it too.
      await handle.sql`SELECT set_config('app.current_organization_id', ${org}, false)`;
      await withTenant(handle.db, org, async () => undefined);
      const [again] = await handle.sql`SELECT coalesce(current_setting('app.current_organization_id', true), '') AS v`;
      expect(again.v).toBe('');
    } finally {
      await handle.close();
    }
  });

  it('seed as the application role (no DB_OWNER_USER) says to connect as the owner, not to fix the file', async () => {
    const { DB_OWNER_USER: _owner, DB_OWNER_PASSWORD: _password, ...appOnly } = s.env;
    const r = await runCli(['seed', '--force'], { env: appOnly });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('permission denied');
    expect(r.stderr).toContain('the connected role may not load seeds');
    expect(r.stderr).toContain('DB_OWNER_USER');
    expect(r.stderr).not.toContain('fix the file');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

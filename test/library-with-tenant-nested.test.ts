/**
 * withTenant given a transaction (README, "Library": its `db` is a Kysely, and a transaction is one):
 * a service that opens a tenant's unit of work called from inside another. It threw Kysely's
 * "calling the transaction method for a Transaction is not supported", whatever the tenants.
 * Now it joins the enclosing transaction for the same tenant, refuses another tenant with a
 * CmmcError (`tenant.nested`) before any SQL runs, and sets the tenant for the rest of `fn` in a
 * transaction of the caller's that has none, leaving it without one afterwards.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CmmcError, createPool, withTenant, type Database, type DbHandle } from '../src/index.js';
import { ROOT } from './helpers/cli.js';
import { dropSetup, initWithTwoTenants, newSetup, rolesOf, TWO_TENANTS as T } from './helpers/tenant-setup.js';

describe('withTenant inside a transaction', () => {
  const s = newSetup('lib_nest');
  let pool: DbHandle<Database>;
  const tenantOf = async (db: any) =>
    (await sql<{ t: string | null }>`SELECT current_setting('app.current_organization_id', true) AS t`.execute(db)).rows[0].t ?? '';
  const organizations = (db: any) => db.selectFrom('organizations').select('id').orderBy('id').execute().then((rows: { id: string }[]) => rows.map((r) => r.id));

  beforeAll(async () => {
    await initWithTwoTenants(s);
    pool = await createPool<Database>({ url: s.appUrl }, { pool: { min: 1, max: 2 } });
  });
  afterAll(async () => {
    await pool?.close();
    await dropSetup({ db: s.db, roles: rolesOf(s) });
  });

  it("a nested call for the same tenant joins the enclosing tenant's transaction", async () => {
    const seen = await withTenant(pool, T.A, async (trx) => {
      const inner = await withTenant(trx, T.A.toUpperCase(), async (t2) => ({ orgs: await organizations(t2), tenant: await tenantOf(t2) }));
      // The enclosing transaction still has its tenant after the inner call.
      return { inner, after: await tenantOf(trx) };
    });
    expect(seen).toEqual({ inner: { orgs: [T.A], tenant: T.A }, after: T.A });
  });

  it('a nested call for another tenant is refused (tenant.nested) and the enclosing transaction is rolled back', async () => {
    let ran = false;
    const attempt = withTenant(pool, T.A, async (trx) => {
      await trx.updateTable('organizations').set({ name: 'changed' }).where('id', '=', T.A).execute();
      return withTenant(trx, T.B, async () => {
        ran = true;
      });
    });
    const err = await attempt.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CmmcError);
    expect((err as CmmcError).code).toBe('tenant.nested');
    expect((err as CmmcError).message).toContain(T.B);
    expect(ran).toBe(false);
    const names = await withTenant(pool, T.A, (trx) => trx.selectFrom('organizations').select('name').execute());
    expect(names).toEqual([{ name: 'A' }]);
  });

  it("in a transaction of the caller's with no tenant, the tenant holds for fn and is gone afterwards", async () => {
    const seen = await pool.db.transaction().execute(async (trx) => {
      const before = await organizations(trx);
      const inner = await withTenant(trx, T.B, (t2) => organizations(t2));
      return { before, inner, after: await organizations(trx), tenant: await tenantOf(trx) };
    });
    expect(seen).toEqual({ before: [], inner: [T.B], after: [], tenant: '' });
  });

  it('a nested call type-checks as an application compiles it (strict, nodenext), the inner rows typed', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-nested-types-'));
    try {
      writeFileSync(
        path.join(dir, 'nested.mts'),
        `import { withTenant, type Database, type DbHandle } from ${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))};
declare const pool: DbHandle<Database>;
const rows = await withTenant(pool, 'x', (trx) => withTenant(trx, 'x', (inner) => inner.selectFrom('users').select('email').execute()));
export const email: string = rows[0].email;
`,
      );
      const tsc = await execa('node', [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022', '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), path.join(dir, 'nested.mts')], { reject: false });
      expect(tsc.stdout + tsc.stderr).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('no pooled connection keeps a tenant afterwards', async () => {
    const tenants = await Promise.all([1, 2, 3, 4].map(() => pool.sql<{ t: string }[]>`SELECT current_setting('app.current_organization_id', true) AS t`));
    // NULL on a connection that never had it, '' on one where it was set and reset.
    expect(tenants.map((r) => r[0].t ?? '')).toEqual(['', '', '', '']);
  });
});

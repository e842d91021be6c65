/**
 * The library does the schema owner's work as the schema owner, as the CLI does (README: `upgrade`,
 * `downgrade`, `stamp` and `backup create` connect as DB_OWNER_USER when it is set). An application
 * configured as documented (DB_USER the application role, DB_OWNER_USER the owner) that ran the
 * README's example, `createPool()` then `runUpgrade(pool, 'head')`, had a pending revision fail with
 * "permission denied for schema public" and a hint to set DB_OWNER_USER, which was set;
 * `createBackup(resolveConfig())` failed on row-level security with the same hint.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackup, createPool, getStatus, migrate, resolveConfig, runDowngrade, runStamp, runUpgrade, type DbHandle } from '../src/index.js';
import { runCli } from './helpers/cli.js';
import { query } from './helpers/server.js';
import { dropSetup, newSetup, rolesOf } from './helpers/tenant-setup.js';

describe('schema work from the library with DB_OWNER_USER set', () => {
  const s = newSetup('lib_owner');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-lib-owner-'));
  let pool: DbHandle;
  let head: string;
  let previous: string;

  /** The platform's functions and tables that a role other than the owner owns. */
  const notOwnersObjects = () =>
    query(
      s.adminUrl,
      `SELECT c.relname AS name, c.relowner::regrole::text AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'i') AND c.relowner <> '${s.owner}'::regrole
       UNION ALL
       SELECT p.proname, p.proowner::regrole::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.proowner <> '${s.owner}'::regrole AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')`,
    );

  beforeAll(async () => {
    const init = await runCli(['init'], { env: s.env });
    if (init.exitCode !== 0) throw new Error(init.stderr);
    head = (await query<{ v: string }>(s.adminUrl, 'SELECT version_num AS v FROM cmmc_schema_version'))[0].v;
    const down = await runCli(['downgrade', '-1', '--yes'], { env: s.env });
    if (down.exitCode !== 0) throw new Error(down.stderr);
    previous = (await query<{ v: string }>(s.adminUrl, 'SELECT version_num AS v FROM cmmc_schema_version'))[0].v;
    pool = await createPool({ env: s.env }, { pool: { min: 1, max: 2 } });
  });
  afterAll(async () => {
    await pool?.close();
    rmSync(dir, { recursive: true, force: true });
    await dropSetup({ db: s.db, roles: rolesOf(s) });
  });

  it("the README's createPool() then runUpgrade(pool, 'head') applies the pending revision as the owner; the pool stays the application role", async () => {
    expect(await pool.sql`SELECT current_user AS u`).toEqual([{ u: s.app }]);
    const up = await runUpgrade(pool, 'head');
    expect(up.status).toBe('ok');
    expect(up.to).toEqual([head]);
    expect(await notOwnersObjects()).toEqual([]);
    expect(await pool.sql`SELECT current_user AS u`).toEqual([{ u: s.app }]);
    expect((await getStatus(pool)).atHead).toBe(true);
  });

  it('runDowngrade, migrate and runStamp also run as the owner', async () => {
    expect((await runDowngrade(pool, '-1')).to).toEqual([previous]);
    const result = await migrate(pool, 'upgrade', 'head');
    expect(result.status).toBe('ok');
    expect((await runStamp(pool, previous)).to).toEqual([previous]);
    expect((await runStamp(pool, 'head')).to).toEqual([head]);
    expect(await notOwnersObjects()).toEqual([]);
  });

  it('createBackup(resolveConfig()) dumps as the owner (through its bypass role), not as the application role', async () => {
    const manifest = await createBackup(resolveConfig({ env: s.env }), { dir });
    expect(manifest.name).toContain(s.db);
  });

  it('a configuration copied onto another database keeps to its own URL (its owner is not known there)', async () => {
    const config = resolveConfig({ env: s.env });
    const elsewhere = { ...config, url: config.url!.replace(`/${s.db}`, '/postgres') };
    const { asOwner } = await import('../src/config/config.js');
    expect(asOwner(elsewhere).url).toBe(elsewhere.url);
    expect(asOwner(config).url).toBe(config.ownerUrl);
  });
});

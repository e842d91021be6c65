/**
 * Drift after a backup and a restore: pg_dump → pg_restore makes PostgreSQL deparse some expressions
 * differently (`col IN ('a','b')` on varchar columns in CHECK constraints, views and index
 * predicates), which is not a change made by hand. The platform's own migrations, the built CLI,
 * the real server and the real pg_dump / pg_restore; the test database is dropped afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, createTestDatabase, dropDatabase, query, type TestDatabase } from './helpers/server.js';
import { scratchLeft } from './fixtures/schema-as-code/workspace.js';

describe('check after backup → restore of the platform schema', () => {
  let tdb: TestDatabase;
  let dir: string;
  const tag = 'dr' + process.pid.toString(36);
  const env = () => ({ CMMC_BACKUP_DIR: dir, CMMC_SCRATCH_TAG: tag });
  const objectsOf = (r: { data: { drift: { objects: { kind: string; name: string; change: string }[] } } }) =>
    r.data.drift.objects.map((o) => `${o.kind} ${o.name} ${o.change}`);

  beforeAll(async () => {
    tdb = await createTestDatabase();
    dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-drift-restore-'));
    const up = await runCli(['upgrade', 'head'], { url: tdb.url, env: env() });
    expect(up.exitCode, up.stderr).toBe(0);
    const made = await runCliJson(['backup'], { url: tdb.url, env: env() });
    expect(made.exitCode, made.stderr).toBe(0);
    const restored = await runCli(['backup', 'restore', made.data.name, '--yes'], { url: tdb.url, env: env() });
    expect(restored.exitCode, restored.stderr).toBe(0);
  });
  afterAll(async () => {
    // The restore kept the database it replaced (<db>_pre_restore_<second>): it is this test's too.
    if (tdb) for (const { datname } of await adminQuery<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE '${tdb.name}\\_pre\\_restore\\_%'`)) await dropDatabase(datname);
    await tdb?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the restored database has the reloaded deparse (the premise), and check reports no drift; exit 0', async () => {
    const [{ def }] = await query<{ def: string }>(
      tdb.url,
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'users_status_check'`,
    );
    expect(def).toContain("('Active'::character varying)::text");
    const r = await runCliJson(['check'], { url: tdb.url, env: env() });
    expect(objectsOf(r)).toEqual([]);
    expect(r.data.drift).toMatchObject({ status: 'ok', reconcile: [] });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await scratchLeft(tag)).toEqual([]);
  });

  it('real hand-made changes are still reported: an added column, CHECK values really changed, a changed view', async () => {
    const [{ view }] = await query<{ view: string }>(tdb.url, `SELECT pg_get_viewdef('v_assessment_progress'::regclass) AS view`);
    await query(
      tdb.url,
      `ALTER TABLE users ADD COLUMN nickname text;
       ALTER TABLE users DROP CONSTRAINT users_status_check;
       ALTER TABLE users ADD CONSTRAINT users_status_check CHECK (status IN ('Active', 'Pending', 'Suspended', 'Inactive', 'Archived'));
       CREATE OR REPLACE VIEW v_assessment_progress AS ${view.trim().replace(/;$/, '')} LIMIT 1000;`,
    );
    const r = await runCliJson(['check'], { url: tdb.url, env: env() });
    expect(objectsOf(r)).toEqual([
      'column public.users.nickname added',
      'constraint public.users.users_status_check changed',
      'view public.v_assessment_progress changed',
    ]);
    expect(r.exitCode).toBe(1);
    expect(r.data.drift.reconcile).toContain('alter table "public"."users" drop column "nickname";');
    // Only what was changed by hand is reconciled: no statement for the constraints a reload re-deparsed.
    expect(r.data.drift.reconcile.join('\n')).not.toMatch(/organizations_status_check|poam_items_status_check/);
    expect(await scratchLeft(tag)).toEqual([]);
  });
});

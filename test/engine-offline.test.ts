/** Offline mode: `upgrade A:B --sql` / `downgrade B:A --sql` print a script that psql runs to the same schema as an online run. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, createTestDatabase, query, uniqueName } from './helpers/server.js';
import { FIXTURES, schemaDump } from './engine-fixtures.js';

const env = { CMMC_MIGRATIONS_DIR: path.join(FIXTURES, 'linear') };

async function psqlFile(url: string, sql: string): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-offline-'));
  try {
    const file = path.join(dir, 'script.sql');
    writeFileSync(file, sql);
    await execa('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('offline --sql scripts', () => {
  it('needs no database: the script has BEGIN/COMMIT per revision, version-table DDL and updates', async () => {
    // An unreachable URL: offline mode must not connect.
    const r = await runCli(['upgrade', 'base:head', '--sql'], { env, url: 'postgres://nobody:secret@127.0.0.1:1/none' });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe('');
    const out = r.stdout;
    expect(out).toContain('CREATE TABLE IF NOT EXISTS "public"."cmmc_schema_version"');
    expect(out.match(/^BEGIN;$/gm)).toHaveLength(5);
    expect(out.match(/^COMMIT;$/gm)).toHaveLength(5);
    expect(out).toContain(`INSERT INTO "public"."cmmc_schema_version" (version_num) VALUES ('1a0000000001');`);
    // The merge: one parent's row is deleted, the other's becomes the merge (Alembic's HeadMaintainer).
    expect(out).toContain(`DELETE FROM "public"."cmmc_schema_version" WHERE version_num = '1a0000000002';`);
    expect(out).toContain(`UPDATE "public"."cmmc_schema_version" SET version_num = '1a0000000004' WHERE version_num = '1a0000000003';`);
    // parameters of Kysely queries are inlined as safe literals
    expect(out).toContain(`values ('Bob''s widget; $1 special', '12.50')`);
    // the non-transactional revision runs outside BEGIN/COMMIT
    expect(out).toMatch(/-- non-transactional revision\nCREATE INDEX CONCURRENTLY orders_widget_idx ON app.orders \(widget_id\);\nBEGIN;/);

    const json = await runCliJson(['upgrade', '1a0000000001:1a0000000002', '--sql'], { env });
    expect(json.data.sql).toContain('1a0000000002');
    expect(json.data.sql).not.toContain('create schema "app"');

    const noRange = await runCli(['downgrade', 'base', '--sql'], { env });
    expect(noRange.exitCode).toBe(2);
    expect(noRange.stderr).toContain('downgrade --sql needs a range "FROM:TO"');
  });

  it('upgrade base:head --sql through psql gives the same pg_dump --schema-only as an online upgrade; downgrade head:base --sql undoes it', async () => {
    const offline = await createTestDatabase();
    const online = await createTestDatabase();
    const empty = await createTestDatabase();
    try {
      const script = await runCli(['upgrade', 'base:head', '--sql'], { env });
      expect(script.exitCode).toBe(0);
      await psqlFile(offline.url, script.stdout);
      expect((await runCli(['upgrade', 'head'], { env, url: online.url })).exitCode).toBe(0);
      const dumped = await schemaDump(offline.url);
      expect(dumped).toContain('CREATE TABLE app.widget');
      expect(dumped).toBe(await schemaDump(online.url));

      // the offline database is a normal one for the engine afterwards
      const cur = await runCliJson(['current'], { env, url: offline.url });
      expect(cur.data.current).toEqual(['1a0000000005']);
      const check = await runCliJson(['check'], { env, url: offline.url });
      expect(check.exitCode).toBe(0);

      const down = await runCli(['downgrade', 'head:base', '--sql'], { env });
      expect(down.exitCode).toBe(0);
      await psqlFile(offline.url, down.stdout);
      // only the engine's own (empty) tables remain, exactly as bootstrapped on an untouched database
      await psqlFile(empty.url, (await runCli(['upgrade', 'base:base', '--sql'], { env })).stdout);
      expect(await schemaDump(offline.url)).toBe(await schemaDump(empty.url));
      expect((await runCliJson(['current'], { env, url: offline.url })).data.current).toEqual([]);
    } finally {
      await offline.drop();
      await online.drop();
      await empty.drop();
    }
  });

  it('a revision that says SET ROLE: the script writes the version table and runs the next revision as online does', async () => {
    const role = uniqueName('cmmc_offline_role');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-offline-role-'));
    const rev = (id: string, down: string, up: string) =>
      writeFileSync(path.join(dir, `${id}_r.sql`), `-- revision: ${id}\n-- down_revision: ${down}\n-- message: ${id}\n-- migrate:up\n${up}\n-- migrate:down\n`);
    rev('4a0000000001', 'none', `SET ROLE ${role};\nCREATE TABLE public.owned_by_role (id int);`);
    rev('4a0000000002', '4a0000000001', 'CREATE TABLE public.after_role (id int);');
    const offline = await createTestDatabase();
    const online = await createTestDatabase();
    await adminQuery(`CREATE ROLE ${role}`);
    try {
      for (const db of [offline, online]) await query(db.url, `GRANT CREATE ON SCHEMA public TO ${role}`);
      const script = await runCli(['upgrade', 'base:head', '--sql'], { env: { CMMC_MIGRATIONS_DIR: dir } });
      expect(script.exitCode, script.stderr).toBe(0);
      await psqlFile(offline.url, script.stdout);
      const r = await runCli(['upgrade', 'head'], { env: { CMMC_MIGRATIONS_DIR: dir }, url: online.url });
      expect(r.exitCode, r.stderr).toBe(0);
      const owners = `SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('owned_by_role', 'after_role') ORDER BY tablename`;
      expect(await query(offline.url, owners)).toEqual([
        { tablename: 'after_role', tableowner: 'postgres' },
        { tablename: 'owned_by_role', tableowner: role },
      ]);
      expect(await query(offline.url, owners)).toEqual(await query(online.url, owners));
      expect(await query(offline.url, 'SELECT version_num FROM cmmc_schema_version')).toEqual([{ version_num: '4a0000000002' }]);
    } finally {
      await offline.drop();
      await online.drop();
      await adminQuery(`DROP ROLE ${role}`);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

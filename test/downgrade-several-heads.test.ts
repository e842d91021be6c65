/**
 * The downgrade check (src/migrate/downgrade-check.ts) on a walk from several version rows: it read
 * the offline script of a single FROM:TO range, so with two rows it checked nothing, and a step that
 * failed on a table a view depends on came after the steps before it had dropped their tables.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';

const made: TestDatabase[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const db of made.splice(0)) await db.drop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Plain-SQL revisions, each creating table t_ID and dropping it on the way down. */
function folder(revs: { id: string; down?: string }[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-dg-heads-'));
  dirs.push(dir);
  for (const r of revs) {
    const text = [`-- revision: ${r.id}`, `-- down_revision: ${r.down ?? 'none'}`, `-- message: ${r.id}`, '-- migrate:up', `CREATE TABLE t_${r.id} (id int);`, '-- migrate:down', `DROP TABLE t_${r.id};`, ''];
    writeFileSync(path.join(dir, `${r.id}.sql`), text.join('\n'));
  }
  return dir;
}

describe('downgrade from several version rows', () => {
  it('a table a view outside the plan depends on is refused before any revision is reverted', async () => {
    const db = await createTestDatabase('cmmc_dg_heads');
    made.push(db);
    const dir = folder([{ id: 'a1' }, { id: 'a2', down: 'a1' }, { id: 'b1' }]);
    const env = { CMMC_MIGRATIONS_DIR: dir };
    expect((await runCli(['upgrade', 'heads'], { url: db.url, env })).exitCode).toBe(0);
    await query(db.url, 'CREATE VIEW mine AS SELECT id FROM t_a1');
    const versions = async () => (await query<{ v: string }>(db.url, 'SELECT version_num AS v FROM cmmc_schema_version ORDER BY 1')).map((r) => r.v);
    for (const args of [['downgrade', 'base', '--dry-run'], ['downgrade', 'base', '--yes']]) {
      const r = await runCli(args, { url: db.url, env });
      expect(r.exitCode, args.join(' ')).toBe(1);
      expect(r.stderr.trim().split('\n').at(-1)).toBe(
        'error: downgrade to base would drop table t_a1 (revision a1), which view mine depends on and the downgrade does not drop: nothing was downgraded — drop or change mine first (the revisions did not create it), or downgrade only to a1',
      );
      expect(await versions()).toEqual(['a2', 'b1']);
      expect((await query<{ n: string }>(db.url, "SELECT count(*)::text AS n FROM pg_tables WHERE tablename LIKE 't\\_%'"))[0].n).toBe('3');
    }
    await query(db.url, 'DROP VIEW mine');
    const plan = await runCli(['downgrade', 'base', '--dry-run'], { url: db.url, env });
    expect(plan.exitCode, plan.stderr).toBe(0);
    for (const t of ['t_a1', 't_a2', 't_b1']) expect(plan.stdout + plan.stderr).toContain(`drop table ${t}, 0 rows`);
  }, 60_000);
});

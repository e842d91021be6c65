/** Every migration command end to end through the built CLI, on each backend. */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKENDS } from './helpers/backends.js';
import { runCli, runCliJson } from './helpers/cli.js';
import { FIXTURES, copyFixture, envFor, versionRows } from './engine-fixtures.js';

const LINEAR = path.join(FIXTURES, 'linear');
const ALL = ['1a0000000001', '1a0000000002', '1a0000000003', '1a0000000004', '1a0000000005'];

describe.each(BACKENDS)('migration commands on $name', (backend) => {
  it('upgrade, current, history, check, downgrade and stamp on a fresh database', async () => {
    const target = await backend.create();
    const env = envFor(target, LINEAR);
    try {
      // current on a database the engine has never touched: empty, and nothing created
      const before = await runCliJson(['current'], { env });
      expect(before.exitCode).toBe(0);
      expect(before.data.current).toEqual([]);
      expect(await target.query(`SELECT to_regclass('public.cmmc_schema_version') AS t`)).toEqual([{ t: null }]);

      const notYet = await runCliJson(['check'], { env });
      expect(notYet.exitCode).toBe(1);
      expect(notYet.data.status).toBe('fail');
      expect(notYet.data.pending).toEqual(ALL);

      const up = await runCli(['upgrade', 'head'], { env });
      expect(up.exitCode).toBe(0);
      expect(up.stderr).toMatch(/upgrade base -> 1a0000000001 {2}widgets {2}\(\d+ ms/);
      expect(up.stderr).toMatch(/upgrade 1a0000000002, 1a0000000003 -> 1a0000000004 {2}merge orders and status/);
      expect(up.stderr).toMatch(/applied 5 revisions in \d+ ms; the database is now at 1a0000000005/);
      expect(up.stderr).toContain('next: cmmc-db check');
      expect(await versionRows(target)).toEqual(['1a0000000005']);

      const log = await target.query<{ revision: string; operation: string; checksum: string; applied_by: string; duration_ms: number }>(
        'SELECT revision, operation, checksum, applied_by, duration_ms FROM cmmc_db.revision_log ORDER BY id',
      );
      expect(log.map((l) => l.revision).sort()).toEqual(ALL);
      expect(log.every((l) => l.operation === 'upgrade' && /^[0-9a-f]{64}$/.test(l.checksum) && l.duration_ms >= 0)).toBe(true);
      expect(log[0].applied_by).toMatch(/^postgres \(os: .+\)$/);
      // the CONCURRENTLY index of the non-transactional revision is there and valid
      expect(await target.query(`SELECT indisvalid FROM pg_index WHERE indexrelid = 'app.orders_widget_idx'::regclass`)).toEqual([{ indisvalid: true }]);

      const again = await runCli(['upgrade', 'head'], { env });
      expect(again.exitCode).toBe(0);
      expect(again.stderr).toContain('nothing to upgrade: the database is at 1a0000000005');

      const cur = await runCliJson(['current'], { env });
      expect(cur.data).toMatchObject({ current: ['1a0000000005'], atHead: true, pending: [] });
      const curText = await runCli(['current'], { env });
      expect(curText.stdout.trim()).toBe('1a0000000005 (head) (current) index orders concurrently');

      const ok = await runCliJson(['check'], { env });
      expect(ok.exitCode).toBe(0);
      expect(ok.data).toMatchObject({ status: 'ok', atHead: true, changed: [] });

      const hist = await runCli(['history', '--indicate-current'], { env });
      expect(hist.exitCode).toBe(0);
      expect(hist.stdout.split('\n')).toEqual([
        '@    1a0000000004 -> 1a0000000005 (head) (current) index orders concurrently',
        '*    1a0000000002, 1a0000000003 -> 1a0000000004 (mergepoint) merge orders and status',
        '|\\',
        "| *  1a0000000001 -> 1a0000000003 status type and a reference row (with a quote: it's)",
        '* |  1a0000000001 -> 1a0000000002 orders and a trigger function',
        '|/',
        '*    <base> -> 1a0000000001 (branchpoint) widgets',
      ]);

      const down1 = await runCli(['downgrade', '-1', '--yes'], { env });
      expect(down1.exitCode).toBe(0);
      expect(down1.stderr).toMatch(/downgrade 1a0000000005 -> 1a0000000004/);
      expect(await target.query(`SELECT to_regclass('app.orders_widget_idx') AS t`)).toEqual([{ t: null }]);

      const downMerge = await runCli(['downgrade', '1a0000000003', '--yes'], { env });
      expect(downMerge.exitCode).toBe(0);
      expect(await versionRows(target)).toEqual(['1a0000000002', '1a0000000003']);

      const partial = await runCli(['history', '-i'], { env });
      expect(partial.stdout).toMatch(/^o {4}1a0000000004 -> 1a0000000005/m);
      expect(partial.stdout).toMatch(/^\| @ {2}1a0000000001 -> 1a0000000003 \(current\)/m);

      const pending = await runCliJson(['check'], { env });
      expect(pending.exitCode).toBe(1);
      expect(pending.data.pending).toEqual(['1a0000000004', '1a0000000005']);
      const pendingText = await runCli(['check'], { env });
      expect(pendingText.stderr).toContain('not at the heads (1a0000000005): 2 revision(s) pending: 1a0000000004, 1a0000000005');

      const up2 = await runCli(['upgrade', '+1'], { env });
      expect(up2.exitCode).toBe(2); // two current heads: +1 is ambiguous
      expect(up2.stderr).toContain('ambiguous upgrade from multiple current revisions');

      const toBase = await runCli(['downgrade', 'base', '--yes'], { env });
      expect(toBase.exitCode).toBe(0);
      expect(await versionRows(target)).toEqual([]);
      expect(await target.query(`SELECT nspname FROM pg_namespace WHERE nspname = 'app'`)).toEqual([]);

      const stamp = await runCliJson(['stamp', 'head'], { env });
      expect(stamp.exitCode).toBe(0);
      expect(stamp.data.to).toEqual(['1a0000000005']);
      expect(await target.query(`SELECT nspname FROM pg_namespace WHERE nspname = 'app'`)).toEqual([]); // nothing was run
      const stamped = await target.query<{ n: number }>(`SELECT count(*)::int AS n FROM cmmc_db.revision_log WHERE operation = 'stamp'`);
      expect(stamped[0].n).toBe(5);
      // Stamped again where it already is: said as nothing to do, not "stamped" over the same rows.
      const restamp = await runCli(['stamp', 'head'], { env });
      expect(restamp.exitCode, restamp.stderr).toBe(0);
      expect(restamp.stderr).toContain('nothing to stamp: the version table already reads 1a0000000005');
      expect(restamp.stderr).not.toContain('stamped:');

      await target.query(`INSERT INTO public.cmmc_schema_version VALUES ('ffffffffffff')`);
      const unknown = await runCli(['upgrade', 'head'], { env });
      expect(unknown.exitCode).toBe(1);
      expect(unknown.stderr).toContain('the database is at revision ffffffffffff, which no file in');
      const noPurge = await runCli(['stamp', 'base'], { env });
      expect(noPurge.exitCode).toBe(1);
      expect(noPurge.stderr).toContain('stamp --purge');
      const purge = await runCli(['stamp', 'base', '--purge', '--yes'], { env });
      expect(purge.exitCode).toBe(0);
      expect(await versionRows(target)).toEqual([]);
    } finally {
      await target.drop();
    }
  }, 300_000); // about 25 CLI runs; each start of the embedded database takes seconds on a loaded machine

  it('upgrade to a target form, relative steps, and graph errors as one line with the fix', async () => {
    const target = await backend.create();
    const env = envFor(target, LINEAR);
    try {
      expect((await runCli(['upgrade', '1a0000000002'], { env })).exitCode).toBe(0);
      expect(await versionRows(target)).toEqual(['1a0000000002']);
      expect((await runCli(['upgrade', '1a0000000003'], { env })).exitCode).toBe(0);
      expect(await versionRows(target)).toEqual(['1a0000000002', '1a0000000003']);
      const amb = await runCli(['upgrade', '1a'], { env });
      expect(amb.exitCode).toBe(2);
      expect(amb.stderr).toContain('"1a" matches more than one revision: 1a0000000001, 1a0000000002, 1a0000000003, 1a0000000004, 1a0000000005 — give more characters of the id');
      expect(amb.stderr.trim().split('\n')).toHaveLength(2); // the target line and the error line
      const unknown = await runCli(['downgrade', 'abcdef', '--yes'], { env });
      expect(unknown.exitCode).toBe(2);
      expect(unknown.stderr).toContain('no revision matches "abcdef"');
      const notApplied = await runCli(['downgrade', '1a0000000005', '--yes'], { env });
      expect(notApplied.exitCode).toBe(2);
      expect(notApplied.stderr).toContain('destination 1a0000000005 is not a valid downgrade target from current head(s)');
      expect((await runCli(['upgrade', '1a0000000003+1'], { env })).exitCode).toBe(0);
      expect(await versionRows(target)).toEqual(['1a0000000004']);
      expect((await runCli(['upgrade', '+1'], { env })).exitCode).toBe(0);
      expect(await versionRows(target)).toEqual(['1a0000000005']);
      // -2 from 1a0000000005 walks through the merge 1a0000000004, which has two down revisions: ambiguous (Alembic).
      const ambiguous = await runCli(['downgrade', '-2', '--yes'], { env });
      expect(ambiguous.exitCode).toBe(2);
      expect(ambiguous.stderr).toContain('ambiguous walk');
      expect((await runCli(['downgrade', '1a0000000002', '--yes'], { env })).exitCode).toBe(0);
      expect(await versionRows(target)).toEqual(['1a0000000002', '1a0000000003']);
      const prod = await runCli(['downgrade', 'base'], { env: { ...env, NODE_ENV: 'production' } });
      expect(prod.exitCode).toBe(1);
      expect(prod.stderr).toContain('this is the PRODUCTION database');
      expect(prod.stderr).toContain('refusing without confirmation — run it again with --yes');
      expect(await versionRows(target)).toEqual(['1a0000000002', '1a0000000003']);
      const usage = await runCli(['downgrade'], { env });
      expect(usage.exitCode).toBe(2);
      const range = await runCli(['upgrade', 'base:head'], { env });
      expect(range.exitCode).toBe(2);
      expect(range.stderr).toContain('only for --sql');
    } finally {
      await target.drop();
    }
  });
});

describe('commands that read only the files', () => {
  const env = { CMMC_MIGRATIONS_DIR: LINEAR };

  it('heads, branches and show', async () => {
    const heads = await runCliJson(['heads'], { env });
    expect(heads.exitCode).toBe(0);
    expect(heads.data.map((h: { revision: string }) => h.revision)).toEqual(['1a0000000005']);
    expect((await runCli(['heads', '--verbose'], { env })).stdout).toContain('File: 1a0000000005_index_concurrently.ts (TypeScript, non-transactional)');

    const branches = await runCliJson(['branches'], { env });
    expect(branches.data.branchpoints).toHaveLength(1);
    expect(branches.data.branchpoints[0]).toMatchObject({ revision: '1a0000000001', children: ['1a0000000002', '1a0000000003'] });
    const branchText = await runCli(['branches'], { env });
    expect(branchText.stdout).toContain('  -> 1a0000000003 status type');

    const show = await runCliJson(['show', '1a0000000004'], { env });
    expect(show.data).toMatchObject({ revision: '1a0000000004', mergepoint: true, downRevisions: ['1a0000000002', '1a0000000003'], kind: 'ts' });
    const showSql = await runCli(['show', '1a0000000002'], { env });
    expect(showSql.stdout).toContain('File: 1a0000000002_orders.sql (SQL)');
    expect(showSql.stdout).toContain('Revises: 1a0000000001');
    const showPrefix = await runCli(['show', '1a000000000'], { env });
    expect(showPrefix.exitCode).toBe(2);
    expect(showPrefix.stderr).toContain('matches more than one revision');

    const ranged = await runCliJson(['history', '-r', '1a0000000002:1a0000000004'], { env });
    expect(ranged.data.map((r: { revision: string }) => r.revision)).toEqual(['1a0000000004', '1a0000000002']);
  });

  it('a missing migrations folder says where it looked and how to point elsewhere', async () => {
    const r = await runCli(['heads'], { env: { CMMC_MIGRATIONS_DIR: '/nonexistent/migrations' } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('the migrations folder /nonexistent/migrations does not exist — run from the project folder, or pass --migrations-dir');
  });

  it('revision and merge write files from the templates', async () => {
    const fx = copyFixture('linear');
    try {
      const env2 = { CMMC_MIGRATIONS_DIR: fx.dir };
      const r1 = await runCliJson(['revision', '-m', "add gizmo's table", '--rev-id', 'abc000000001'], { env: env2 });
      expect(r1.exitCode).toBe(0);
      expect(r1.data).toMatchObject({ revision: 'abc000000001', downRevisions: ['1a0000000005'] });
      expect(path.basename(r1.data.file)).toBe('abc000000001_add_gizmo_s_table.ts');
      const text = readFileSync(r1.data.file, 'utf8');
      expect(text).toContain("export const downRevision: string | string[] | null = '1a0000000005';");
      expect(text).toContain("export const message = 'add gizmo\\'s table';");

      // a new base with a label, in SQL
      const r2 = await runCli(['revision', '-m', 'reporting', '--head', 'base', '--branch-label', 'reporting', '--sql', '--rev-id', 'abc000000002'], { env: env2 });
      expect(r2.exitCode).toBe(0);
      const sqlFile = readdirSync(fx.dir).find((f) => f.startsWith('abc000000002'))!;
      expect(sqlFile).toBe('abc000000002_reporting.sql');
      const sqlText = readFileSync(path.join(fx.dir, sqlFile), 'utf8');
      expect(sqlText).toContain('-- down_revision: none');
      expect(sqlText).toContain('-- branch_labels: reporting');

      // two heads now: a plain revision needs --head, and says how to merge
      const r3 = await runCli(['revision', '-m', 'next'], { env: env2 });
      expect(r3.exitCode).toBe(2); // a usage error: name the head (--head) or merge
      expect(r3.stderr).toContain('there are 2 heads (abc000000001, abc000000002)');
      expect(r3.stderr).toContain('cmmc-db merge -m "merge" abc000000001 abc000000002');
      const r4 = await runCliJson(['revision', '-m', 'report views', '--head', 'reporting@head', '--depends-on', '1a0000000002', '--rev-id', 'abc000000003'], { env: env2 });
      expect(r4.data.downRevisions).toEqual(['abc000000002']);
      expect(readFileSync(r4.data.file, 'utf8')).toContain("export const dependsOn: string[] = ['1a0000000002'];");

      const merged = await runCliJson(['merge', '-m', 'join reporting', 'heads', '--rev-id', 'abc000000004'], { env: env2 });
      expect(merged.exitCode).toBe(0);
      expect(merged.data.downRevisions).toEqual(['abc000000001', 'abc000000003']);
      const heads = await runCliJson(['heads'], { env: env2 });
      expect(heads.data.map((h: { revision: string }) => h.revision)).toEqual(['abc000000004']);
      const hist = await runCli(['history'], { env: env2 });
      // the merge carries the label of the reporting branch it joins (Alembic's labels reach every descendant)
      expect(hist.stdout.split('\n')[0]).toBe('o    abc000000001, abc000000003 -> abc000000004 (head) (mergepoint) [reporting] join reporting');

      // the written files are valid revisions: the whole graph upgrades offline
      const script = await runCli(['upgrade', 'head', '--sql'], { env: env2 });
      expect(script.exitCode).toBe(0);
      expect(script.stdout).toContain("INSERT INTO \"public\".\"cmmc_schema_version\" (version_num) VALUES ('abc000000002');");

      const one = await runCli(['merge', '-m', 'nothing', 'abc000000004'], { env: env2 });
      expect(one.exitCode).toBe(2);
      const lineal = await runCli(['merge', '-m', 'nothing', '1a0000000001', 'abc000000004'], { env: env2 });
      expect(lineal.exitCode).toBe(2);
      expect(lineal.stderr).toContain('1a0000000001 is already below abc000000004');
      writeFileSync(path.join(fx.dir, 'zzz_broken.ts'), "export const revision = 'abc000000001';\nexport const downRevision = null;\n");
      const dup = await runCli(['heads'], { env: env2 });
      expect(dup.exitCode).toBe(1);
      expect(dup.stderr).toContain('revision abc000000001 is declared by more than one file: abc000000001_add_gizmo_s_table.ts, zzz_broken.ts');
    } finally {
      fx.cleanup();
    }
  });
});

/**
 * The ten findings of issue 15, each with the outcome it should have had: version rows and tables
 * after each step, the message. Graph walks are also compared with the real Alembic in
 * alembic-differential.test.ts; here each finding is pinned down on its own, on the server and,
 * where it applies, on the embedded database.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/config.js';
import { openDatabase } from '../src/db/connection.js';
import { CmmcError } from '../src/errors.js';
import { migrate, type RunResult } from '../src/migrate/index.js';
import { BACKENDS, serverBackend, type TestTarget } from './helpers/backends.js';
import { runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, createTestDatabase } from './helpers/server.js';

interface Rev {
  id: string;
  down?: string[];
  labels?: string[];
  deps?: string[];
  up?: string;
  down_?: string;
}

/** A migrations folder of SQL revisions; by default each creates (and drops) the table t_<id>. */
function folder(revs: Rev[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-findings-'));
  for (const r of revs) {
    writeFileSync(
      path.join(dir, `${r.id}.sql`),
      [
        `-- revision: ${r.id}`,
        `-- down_revision: ${r.down?.join(', ') || 'none'}`,
        `-- branch_labels: ${r.labels?.join(', ') ?? ''}`,
        `-- depends_on: ${r.deps?.join(', ') ?? ''}`,
        `-- message: ${r.id}`,
        '-- migrate:up',
        r.up ?? `CREATE TABLE t_${r.id} (id int);`,
        '-- migrate:down',
        r.down_ ?? `DROP TABLE t_${r.id};`,
        '',
      ].join('\n'),
    );
  }
  return dir;
}

/** Runs one engine operation through the library; a refusal comes back as its CmmcError. */
async function op(target: TestTarget, dir: string, operation: 'upgrade' | 'downgrade' | 'stamp', to: string, extra: { purge?: boolean } = {}): Promise<RunResult | CmmcError> {
  const handle = await openDatabase(resolveConfig({ env: { ...target.env, CMMC_MIGRATIONS_DIR: dir } }), { pool: { max: 2, min: 0 } });
  try {
    return await migrate(handle, operation, operation === 'stamp' ? to.split(' ') : to, extra);
  } catch (err) {
    if (err instanceof CmmcError) return err;
    throw err;
  } finally {
    await handle.close();
  }
}

async function rows(target: TestTarget): Promise<string[]> {
  const [t] = await target.query<{ ok: boolean }>(`SELECT to_regclass('public.cmmc_schema_version') IS NOT NULL AS ok`);
  if (!t.ok) return [];
  return (await target.query<{ v: string }>('SELECT version_num AS v FROM public.cmmc_schema_version ORDER BY 1')).map((r) => r.v);
}

async function tables(target: TestTarget, schema = 'public'): Promise<string[]> {
  return (await target.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = '${schema}' ORDER BY 1`)).map((r) => r.t).filter((t) => t !== 'cmmc_schema_version');
}

const ok = (r: RunResult | CmmcError) => {
  if (r instanceof CmmcError) throw r;
  expect(r.status, r.failed?.error.message).toBe('ok');
  return r;
};
const refused = (r: RunResult | CmmcError) => {
  expect(r).toBeInstanceOf(CmmcError);
  return (r as CmmcError).message;
};

describe('findings 1-3 and target forms (server)', () => {
  it('1: downgrade X reverts only what descends from X; X stays applied; a dependant-only target is refused', async () => {
    const target = await serverBackend.create();
    try {
      const dir = folder([{ id: 'a1' }, { id: 'b1', deps: ['a1'] }, { id: 'm', down: ['a1', 'b1'] }]);
      ok(await op(target, dir, 'upgrade', 'm'));
      ok(await op(target, dir, 'downgrade', 'a1'));
      expect(await rows(target)).toEqual(['a1', 'b1']);
      expect(await tables(target)).toEqual(['t_a1', 't_b1']); // b1's table and data survive

      const dir2 = folder([{ id: 'c1' }, { id: 'd1', down: ['c1'] }, { id: 'c2', deps: ['c1'] }]);
      await target.query('DROP TABLE t_a1, t_b1; DELETE FROM public.cmmc_schema_version');
      ok(await op(target, dir2, 'upgrade', 'd1'));
      ok(await op(target, dir2, 'upgrade', 'c2'));
      ok(await op(target, dir2, 'downgrade', 'c1'));
      expect(await tables(target)).toEqual(['t_c1', 't_c2']);

      const dir3 = folder([{ id: 'a3' }, { id: 'b4', deps: ['a3'] }]);
      await target.query('DROP TABLE t_c1, t_c2; DELETE FROM public.cmmc_schema_version');
      ok(await op(target, dir3, 'upgrade', 'b4'));
      expect(refused(await op(target, dir3, 'downgrade', 'a3'))).toContain('not a valid downgrade target from current head(s)');
      expect(await tables(target)).toEqual(['t_a3', 't_b4']);
      for (const d of [dir, dir2, dir3]) rmSync(d, { recursive: true });
    } finally {
      await target.drop();
    }
  }, 120_000);

  it('2: stamp moves only the heads sharing lineage with the target; --purge starts over', async () => {
    const target = await serverBackend.create();
    try {
      const dir = folder([{ id: 'l2' }, { id: 'r1' }]);
      ok(await op(target, dir, 'upgrade', 'l2'));
      ok(await op(target, dir, 'stamp', 'r1'));
      expect(await rows(target)).toEqual(['l2', 'r1']);
      const next = ok(await op(target, dir, 'upgrade', 'heads'));
      expect(next.steps).toEqual([]); // l2 is not run again
      ok(await op(target, dir, 'stamp', 'l2', { purge: true }));
      expect(await rows(target)).toEqual(['l2']);

      const dir2 = folder([{ id: 'o1', labels: ['one'] }, { id: 'o2', down: ['o1'] }, { id: 't1', labels: ['two'] }, { id: 't2', down: ['t1'] }]);
      await target.query('DROP TABLE t_l2; DELETE FROM public.cmmc_schema_version');
      ok(await op(target, dir2, 'upgrade', 'one@+1'));
      ok(await op(target, dir2, 'upgrade', 'two@head'));
      ok(await op(target, dir2, 'stamp', 'one@head'));
      expect(await rows(target)).toEqual(['o2', 't2']); // branch two is not forgotten

      // A current row that is a separate base and itself a head: `stamp heads` keeps it (Alembic 1.8
      // deletes it, and the next upgrade fails re-running r0: divergence stamp-keeps-unrelated-heads).
      const dir3 = folder([{ id: 'a1' }, { id: 'a2', down: ['a1'] }, { id: 'r0' }, { id: 'z1' }]);
      await target.query('DROP TABLE IF EXISTS t_o1, t_o2, t_t1, t_t2; DELETE FROM public.cmmc_schema_version');
      ok(await op(target, dir3, 'upgrade', 'a1'));
      ok(await op(target, dir3, 'upgrade', 'r0'));
      ok(await op(target, dir3, 'stamp', 'heads'));
      expect(await rows(target)).toEqual(['a2', 'r0', 'z1']);
      expect(ok(await op(target, dir3, 'upgrade', 'heads')).steps).toEqual([]);
      ok(await op(target, dir3, 'stamp', 'a1 z1'));
      expect(await rows(target)).toEqual(['a1', 'r0', 'z1']); // a2 moves down to a1; r0 stays
      // --dry-run shows the rows after, as the run writes them, and changes nothing; --json prints them.
      const env = { ...target.env, CMMC_MIGRATIONS_DIR: dir3 };
      const text = await runCli(['stamp', 'heads', '--dry-run'], { env });
      expect(text.exitCode, text.stderr).toBe(0);
      expect(text.stderr).toContain('version rows after: a2, r0, z1');
      const dry = await runCliJson(['stamp', 'heads', '--dry-run'], { env });
      expect(dry.data).toEqual({ status: 'dry-run', operation: 'stamp', targets: ['heads'], purge: false, current: ['a1', 'r0', 'z1'], after: ['a2', 'r0', 'z1'] });
      const down = await runCliJson(['downgrade', 'base', '--dry-run'], { env });
      expect(down.data).toMatchObject({ status: 'dry-run', operation: 'downgrade', target: 'base', after: [] });
      expect([...down.data.revisions].sort()).toEqual(['a1', 'r0', 'z1']);
      expect(await rows(target)).toEqual(['a1', 'r0', 'z1']);
      for (const d of [dir, dir2, dir3]) rmSync(d, { recursive: true });
    } finally {
      await target.drop();
    }
  }, 120_000);

  it('3: downgrade -N with fewer revisions below and upgrade -N are refused; nothing is dropped', async () => {
    const target = await serverBackend.create();
    try {
      const dir = folder(Array.from({ length: 8 }, (_, i) => ({ id: `n${i}`, down: i ? [`n${i - 1}`] : [] })));
      ok(await op(target, dir, 'upgrade', 'head'));
      expect(refused(await op(target, dir, 'downgrade', '-20'))).toContain("relative revision -20 didn't produce 20 migrations");
      expect(refused(await op(target, dir, 'upgrade', '-2'))).toContain("relative revision -2 didn't produce 2 migrations");
      expect(await tables(target)).toHaveLength(8);
      ok(await op(target, dir, 'downgrade', '-8'));
      expect(await tables(target)).toEqual([]);
      rmSync(dir, { recursive: true });
    } finally {
      await target.drop();
    }
  }, 120_000);

  it('every target form: REV@head, label@REV below the label, base+2, label@base+N, label@head-1, label@heads, label@root', async () => {
    const target = await serverBackend.create();
    try {
      // root -> mid -> lft1 [left] -> lft2 ; mid -> rgt1 [right] -> rgt2
      const dir = folder([
        { id: 'root' },
        { id: 'mid', down: ['root'] },
        { id: 'lft1', down: ['mid'], labels: ['left'] },
        { id: 'lft2', down: ['lft1'] },
        { id: 'rgt1', down: ['mid'], labels: ['right'] },
        { id: 'rgt2', down: ['rgt1'] },
      ]);
      ok(await op(target, dir, 'upgrade', 'base+2'));
      expect(await rows(target)).toEqual(['mid']);
      ok(await op(target, dir, 'upgrade', 'lft1@head'));
      expect(await rows(target)).toEqual(['lft2']);
      ok(await op(target, dir, 'upgrade', 'right@heads'));
      expect(await rows(target)).toEqual(['lft2', 'rgt2']);
      ok(await op(target, dir, 'downgrade', 'left@mid')); // one branch back to its fork
      expect(await rows(target)).toEqual(['rgt2']);
      ok(await op(target, dir, 'upgrade', 'left@base+3'));
      expect(await rows(target)).toEqual(['lft1', 'rgt2']);
      ok(await op(target, dir, 'upgrade', 'left@head'));
      ok(await op(target, dir, 'downgrade', 'right@head-1'));
      expect(await rows(target)).toEqual(['lft2', 'rgt1']);
      ok(await op(target, dir, 'downgrade', 'left@root')); // Alembic: the lineage's root, both branches above it go
      expect(await rows(target)).toEqual(['root']);
      rmSync(dir, { recursive: true });
    } finally {
      await target.drop();
    }
  }, 120_000);

  it('an empty migrations folder: upgrade head succeeds with nothing to do and creates nothing', async () => {
    const target = await serverBackend.create();
    try {
      const dir = folder([]);
      const r = ok(await op(target, dir, 'upgrade', 'head'));
      expect(r.steps).toEqual([]);
      const cli = await runCli(['upgrade', 'head'], { env: { ...target.env, CMMC_MIGRATIONS_DIR: dir } });
      expect(cli.exitCode).toBe(0);
      expect(await target.query(`SELECT nspname FROM pg_namespace WHERE nspname = 'cmmc_db'`)).toEqual([]);
      rmSync(dir, { recursive: true });
    } finally {
      await target.drop();
    }
  }, 120_000);
});

describe.each(BACKENDS)('findings 4-7 on $name', (backend) => {
  it('4: whatever a revision SETs does not reach the next revision; the engine sets its timeouts again', async () => {
    const target = await backend.create();
    try {
      const dir = folder([
        { id: 's1', up: `CREATE SCHEMA app; SET search_path TO app, public; SET TIME ZONE 'Asia/Tokyo'; SET statement_timeout = 0; SET application_name = 'leak'; CREATE TEMP TABLE scratch (x int);`, down_: 'DROP SCHEMA app;' },
        {
          id: 's2',
          down: ['s1'],
          up: `CREATE TABLE unqualified AS SELECT current_setting('search_path') AS sp, current_setting('TimeZone') AS tz, current_setting('statement_timeout') AS st, to_regclass('pg_temp.scratch') IS NULL AS temp_gone;`,
          down_: 'DROP TABLE unqualified;',
        },
      ]);
      const handle = await openDatabase(resolveConfig({ env: { ...target.env, CMMC_MIGRATIONS_DIR: dir } }), { pool: { max: 2, min: 0 } });
      const defaults = (await handle.sql<{ tz: string; sp: string }[]>`SELECT current_setting('TimeZone') AS tz, current_setting('search_path') AS sp`)[0];
      const r = await migrate(handle, 'upgrade', 'head', { statementTimeoutMs: 45_000 });
      await handle.close();
      expect(r.status).toBe('ok');
      expect(await tables(target)).toEqual(['unqualified']); // in public, not in app
      const [seen] = await target.query<{ sp: string; tz: string; st: string; temp_gone: boolean }>('SELECT * FROM public.unqualified');
      expect(seen.sp).toBe(defaults.sp);
      expect(seen.sp).not.toContain('app');
      expect(seen.tz).toBe(defaults.tz);
      if (backend.name === 'server') expect(seen.st).toBe('45s');
      expect(seen.temp_gone).toBe(true);
      rmSync(dir, { recursive: true });
    } finally {
      await target.drop();
    }
  }, 180_000);

  it('5: a revision file read with CRLF line endings and a BOM is not "changed"; a checksum of the raw bytes stays accepted', async () => {
    const target = await backend.create();
    try {
      const dir = folder([{ id: 'c1' }, { id: 'c2', down: ['c1'] }]);
      const env = { ...target.env, CMMC_MIGRATIONS_DIR: dir };
      expect((await runCli(['upgrade', 'c1'], { env })).exitCode).toBe(0);
      const file = path.join(dir, 'c1.sql');
      const lf = readFileSync(file, 'utf8');
      writeFileSync(file, '\uFEFF' + lf.replace(/\n/g, '\r\n'));
      const check = await runCliJson(['check'], { env });
      expect(check.data.changed).toEqual([]);
      expect((await runCli(['upgrade', 'head'], { env })).exitCode).toBe(0);
      // A checksum recorded by an earlier cmmc-db: sha256 of the CRLF bytes; the file is now LF again.
      const crlfSum = createHash('sha256').update(readFileSync(file)).digest('hex');
      writeFileSync(file, lf);
      await target.query(`UPDATE cmmc_db.revision_log SET checksum = '${crlfSum}' WHERE revision = 'c1'`);
      expect((await runCliJson(['check'], { env })).data.changed).toEqual([]);
      // A real change is still caught.
      writeFileSync(file, lf.replace('(id int)', '(id bigint)'));
      expect((await runCliJson(['check'], { env })).data.changed).toEqual([{ revision: 'c1', file: 'c1.sql' }]);
      rmSync(dir, { recursive: true });
    } finally {
      await target.drop();
    }
  }, 180_000);

  it('6 and 7: COPY ... FROM stdin with data (in the revision\'s transaction), and a BEGIN ATOMIC function, in a SQL revision', async () => {
    const target = await backend.create();
    try {
      const dir = folder([
        {
          id: 'k1',
          up: [
            'CREATE TABLE kv (k int, v text);',
            'COPY kv (k, v) FROM stdin;',
            '1\tone; with a semicolon',
            '2\t\\N',
            '\\.',
            'CREATE FUNCTION kv_count() RETURNS bigint LANGUAGE sql',
            'BEGIN ATOMIC',
            '  SELECT 1;',
            '  SELECT count(*) FROM kv;',
            'END;',
          ].join('\n'),
          down_: 'DROP FUNCTION kv_count(); DROP TABLE kv;',
        },
      ]);
      const env = { ...target.env, CMMC_MIGRATIONS_DIR: dir };
      const r = await runCli(['upgrade', 'head', '--statement-timeout', '5s'], { env });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(await target.query('SELECT k, v FROM kv ORDER BY k')).toEqual([
        { k: 1, v: 'one; with a semicolon' },
        { k: 2, v: null },
      ]);
      expect(await target.query('SELECT kv_count()::int AS n')).toEqual([{ n: 2 }]);
      // COPY data belongs to its revision's transaction: a later failure takes it back too.
      writeFileSync(
        path.join(dir, 'k2.sql'),
        '-- revision: k2\n-- down_revision: k1\n-- migrate:up\nCOPY kv (k, v) FROM stdin;\n7\tseven\n\\.\nINSERT INTO nowhere VALUES (1);\n-- migrate:down\nSELECT 1;\n',
      );
      const failing = await runCli(['upgrade', 'head'], { env });
      expect(failing.exitCode).toBe(1);
      expect(await target.query('SELECT count(*)::int AS n FROM kv')).toEqual([{ n: 2 }]);
      rmSync(path.join(dir, 'k2.sql'));
      if (backend.name === 'server') {
        // --sql prints COPY and its data as psql expects them: psql -f applies it.
        const offline = await runCli(['upgrade', 'base:head', '--sql'], { env });
        expect(offline.stdout).toContain('COPY kv (k, v) FROM stdin;\n1\tone; with a semicolon\n2\t\\N\n\\.\n');
        const other = await createTestDatabase();
        try {
          const file = path.join(dir, '..', `offline-${path.basename(dir)}.sql`);
          writeFileSync(file, offline.stdout);
          await execa('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', other.url, '-f', file]);
          expect((await execa('psql', ['-X', '-Atq', '-d', other.url, '-c', 'SELECT kv_count()'])).stdout).toBe('2');
          rmSync(file);
        } finally {
          await other.drop();
        }
      }
      rmSync(dir, { recursive: true });
    } finally {
      await target.drop();
    }
  }, 180_000);

  it('6: COPY in a seed file loads, inside the file\'s transaction', async () => {
    const target = await backend.create();
    const seeds = mkdtempSync(path.join(os.tmpdir(), 'cmmc-seeds-'));
    try {
      await target.query('CREATE TABLE IF NOT EXISTS public.colour (id int, name text)');
      writeFileSync(path.join(seeds, '01_colours.sql'), 'COPY public.colour (id, name) FROM stdin;\n1\tred\n2\tgreen\n\\.\n');
      const env = { ...target.env, CMMC_SEEDS_DIR: seeds };
      const r = await runCli(['seed'], { env });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(await target.query('SELECT id, name FROM public.colour ORDER BY id')).toEqual([
        { id: 1, name: 'red' },
        { id: 2, name: 'green' },
      ]);
      // A failing seed leaves no trace: neither its COPY rows nor a seed_log row.
      writeFileSync(path.join(seeds, '02_bad.sql'), 'COPY public.colour (id, name) FROM stdin;\n3\tblue\n\\.\nINSERT INTO nowhere VALUES (1);\n');
      expect((await runCli(['seed'], { env })).exitCode).toBe(1);
      expect(await target.query('SELECT count(*)::int AS n FROM public.colour')).toEqual([{ n: 2 }]);
      expect(await target.query(`SELECT count(*)::int AS n FROM cmmc_db.seed_log WHERE file_name = '02_bad.sql'`)).toEqual([{ n: 0 }]);
    } finally {
      rmSync(seeds, { recursive: true, force: true });
      await target.drop();
    }
  }, 180_000);
});

describe('findings 8-10 through the CLI (server)', () => {
  it('8: merge accepts label@head', async () => {
    const dir = folder([{ id: 'o1', labels: ['one'] }, { id: 'o2', down: ['o1'] }, { id: 't1', labels: ['two'] }]);
    const r = await runCliJson(['merge', '-m', 'join', 'one@head', 'two@head', '--sql', '--rev-id', 'mm01'], { env: { CMMC_MIGRATIONS_DIR: dir } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.data.downRevisions).toEqual(['o2', 't1']);
    expect(readdirSync(dir).some((f) => f.startsWith('mm01'))).toBe(true);
    rmSync(dir, { recursive: true });
  }, 60_000);

  it('9: refused commands create nothing in an empty database', async () => {
    const target = await serverBackend.create();
    const seeds = mkdtempSync(path.join(os.tmpdir(), 'cmmc-seeds-'));
    try {
      const dir = folder([{ id: 'a1' }]);
      writeFileSync(path.join(seeds, '01_bad.sql'), 'INSERT INTO nowhere VALUES (1);\n');
      const env = { ...target.env, CMMC_MIGRATIONS_DIR: dir, CMMC_SEEDS_DIR: seeds };
      expect((await runCli(['upgrade', 'nosuch'], { env })).exitCode).toBe(2);
      expect((await runCli(['downgrade', '-1'], { env })).exitCode).toBe(2);
      expect((await runCli(['stamp', 'nosuch'], { env })).exitCode).toBe(2);
      expect((await runCli(['seed'], { env })).exitCode).toBe(1);
      for (const cmd of [['current'], ['check'], ['history', '-i']]) await runCli(cmd, { env });
      expect(await target.query(`SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('public', 'information_schema')`)).toEqual([]);
      expect(await target.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)).toEqual([]);
      rmSync(dir, { recursive: true });
    } finally {
      rmSync(seeds, { recursive: true, force: true });
      await target.drop();
    }
  }, 120_000);

  it('10: a failed upgrade under --json prints one document with the steps committed and the failed step', async () => {
    const target = await serverBackend.create();
    try {
      const dir = folder([{ id: 'g1' }, { id: 'g2', down: ['g1'], up: 'CREATE TABLE t_g2 (id int);\nINSERT INTO nowhere VALUES (1);' }]);
      const env = { ...target.env, CMMC_MIGRATIONS_DIR: dir };
      const r = await runCliJson(['upgrade', 'head'], { env });
      expect(r.exitCode).toBe(1);
      expect(r.data).toMatchObject({ operation: 'upgrade', status: 'failed', from: [], to: ['g1'], steps: [{ revision: 'g1' }], failed: { revision: 'g2', error: { code: 'migrate.step-failed', sqlState: '42P01' } } });
      expect(r.stderr).toContain('upgrade of revision g2 (g2.sql) failed: relation "nowhere" does not exist');
      const refusedRun = await runCliJson(['upgrade', 'nosuch'], { env });
      expect(refusedRun.exitCode).toBe(2);
      expect(refusedRun.data).toMatchObject({ status: 'refused', steps: [], error: { code: 'revision.unknown' } });
      rmSync(dir, { recursive: true });
    } finally {
      await target.drop();
    }
  }, 120_000);

  it('11: a version row no file declares: current refuses it as Alembic does, saying what to do; check and status say so; upgrade --backup refuses before backing up', async () => {
    const target = await serverBackend.create();
    const backups = mkdtempSync(path.join(os.tmpdir(), 'cmmc-findings-backups-'));
    try {
      const dir = folder([{ id: 'k1' }, { id: 'k2', down: ['k1'] }, { id: 'k3', down: ['k2'] }]);
      const env = { ...target.env, CMMC_MIGRATIONS_DIR: dir };
      ok(await op(target, dir, 'upgrade', 'k2'));
      const pending = await runCli(['current'], { env });
      expect(pending.stderr).toContain('1 revision(s) pending (next: cmmc-db upgrade head)');
      rmSync(path.join(dir, 'k2.sql'));
      rmSync(path.join(dir, 'k3.sql'));
      // current, show current and history -r current: refuse it, as Alembic's ("Can't locate revision
      // identified by 'k2'") and as upgrade does: one line naming it, a hint, exit 1, an error document.
      const refusal = `error: the database is at revision k2, which no file in ${dir} declares — point --migrations-dir at the right folder, or restore the file; to rewrite the version table: cmmc-db stamp --purge REV`;
      for (const args of [['current'], ['current', '--verbose'], ['show', 'current'], ['history', '-r', 'current:'], ['history', '-r', ':current']]) {
        const r = await runCli(args, { env });
        expect(r.exitCode, args.join(' ')).toBe(1);
        expect(r.stderr.trim().split('\n').at(-1), args.join(' ')).toBe(refusal);
        expect(r.stdout, args.join(' ')).toBe('');
      }
      const json = await runCliJson(['current'], { env });
      expect(json.exitCode).toBe(1);
      expect(json.data).toEqual({ status: 'error', error: { code: 'migrate.unknown-version', message: `the database is at revision k2, which no file in ${dir} declares`, hint: expect.stringContaining('cmmc-db stamp --purge REV') } });
      // history -i marks what the files know, as Alembic's does.
      expect((await runCli(['history', '-i'], { env })).exitCode).toBe(0);
      // check and status say the same, and check compares no schema (there is none for a row no file declares).
      const check = await runCli(['check'], { env });
      expect(check.exitCode).toBe(1);
      expect(check.stderr).toContain('drift not checked: the version table holds k2, which no file declares');
      expect(check.stderr).not.toMatch(/create table/i);
      expect(check.stderr).not.toContain('next: cmmc-db upgrade');
      const status = await runCli(['status'], { env });
      expect(status.stderr).toContain('next: point --migrations-dir at the folder that declares k2');
      const up = await runCli(['upgrade', 'head', '--backup', '--backup-dir', backups], { env });
      expect(up.exitCode).toBe(1);
      expect(up.stderr).toContain('which no file in');
      expect(up.stderr).not.toContain('backup');
      expect(readdirSync(backups)).toEqual([]);
      rmSync(dir, { recursive: true });
    } finally {
      rmSync(backups, { recursive: true, force: true });
      await target.drop();
    }
  }, 120_000);

  it('14: overlapping version rows (a row below another, left by hand): current, check and upgrade say so and how to rewrite them', async () => {
    const target = await serverBackend.create();
    try {
      const dir = folder([{ id: 'o1' }, { id: 'o2', down: ['o1'] }, { id: 'o3', down: ['o2'] }]);
      const env = { ...target.env, CMMC_MIGRATIONS_DIR: dir };
      ok(await op(target, dir, 'upgrade', 'o2'));
      await target.query("INSERT INTO public.cmmc_schema_version VALUES ('o1')");
      const current = await runCli(['current'], { env });
      expect(current.stderr).toContain('o1: below another row of the version table (next: rewrite the version table without o1 (below another row): cmmc-db stamp --purge o2');
      const check = await runCli(['check', '--no-drift'], { env });
      expect(check.exitCode).toBe(1);
      expect(check.stderr).toContain('the version table holds o1 below another of its rows (rows overlap)');
      const up = await runCliJson(['upgrade', 'heads'], { env });
      expect(up.exitCode).toBe(1);
      expect(up.data).toMatchObject({ status: 'refused', error: { code: 'migrate.overlapping-rows', hint: expect.stringContaining('cmmc-db stamp --purge o2') } });
      const fixed = await runCli(['stamp', '--purge', 'o2', '--yes'], { env });
      expect(fixed.exitCode, fixed.stderr).toBe(0);
      expect(ok(await op(target, dir, 'upgrade', 'heads')).steps.map((st) => st.revision)).toEqual(['o3']);
      rmSync(dir, { recursive: true });
    } finally {
      await target.drop();
    }
  }, 120_000);

  it('13: a role without privileges: current and upgrade say what to do about the permission error', async () => {
    const target = await serverBackend.create();
    const role = `cmmc_noperm_${process.pid}`;
    try {
      const dir = folder([{ id: 'q1' }, { id: 'q2', down: ['q1'] }]);
      ok(await op(target, dir, 'upgrade', 'q1'));
      await adminQuery(`CREATE ROLE ${role} LOGIN`);
      const url = new URL(target.env.DATABASE_URL!);
      url.username = role;
      for (const args of [['current'], ['upgrade', 'head']]) {
        const r = await runCli([...args, '--url', url.toString()], { env: { CMMC_MIGRATIONS_DIR: dir } });
        expect(r.exitCode, args.join(' ')).toBe(1);
        const line = r.stderr.split('\n').find((l) => l.startsWith('error:'))!;
        expect(line, args.join(' ')).toContain('[42501]');
        expect(line, args.join(' ')).toContain('connect as the schema owner');
        expect(line, args.join(' ')).toContain('with --url, a URL naming the owner');
      }
      rmSync(dir, { recursive: true });
    } finally {
      await target.drop();
      await adminQuery(`DROP ROLE IF EXISTS ${role}`);
    }
  }, 120_000);

  it('12: stamp --purge keeps the checksums recorded when revisions were applied; an empty --purge creates nothing', async () => {
    const target = await serverBackend.create();
    try {
      const dir = folder([{ id: 'p1' }, { id: 'p2', down: ['p1'] }]);
      const env = { ...target.env, CMMC_MIGRATIONS_DIR: dir };
      // On an empty database, stamp --purge base changes nothing: not even the engine's tables appear.
      ok(await op(target, dir, 'stamp', 'base', { purge: true }));
      expect(await target.query("SELECT to_regclass('public.cmmc_schema_version') AS t")).toEqual([{ t: null }]);
      ok(await op(target, dir, 'upgrade', 'head'));
      const file = path.join(dir, 'p1.sql');
      const original = readFileSync(file, 'utf8');
      writeFileSync(file, original + "SELECT 'edited after it was applied';\n");
      ok(await op(target, dir, 'stamp', 'p2', { purge: true }));
      // The edit is still reported: stamp did not take the edited file's checksum as the applied one.
      const check = await runCli(['check'], { env });
      expect(check.exitCode).toBe(1);
      expect(check.stderr).toContain('p1');
      // With the file as it was, the next upgrade goes ahead (the original is not "changed").
      writeFileSync(file, original);
      writeFileSync(path.join(dir, 'p3.sql'), readFileSync(path.join(dir, 'p2.sql'), 'utf8').replaceAll('p2', 'p3').replace('down_revision: p1', 'down_revision: p2'));
      expect(ok(await op(target, dir, 'upgrade', 'head')).steps.map((st) => st.revision)).toEqual(['p3']);
      rmSync(dir, { recursive: true });
    } finally {
      await target.drop();
    }
  }, 120_000);

  it('10b: every refusal under --json prints its document, also before the engine runs; an ambiguous head is a usage error (exit 2)', async () => {
    const target = await serverBackend.create();
    try {
      const dir = folder([{ id: 'h1' }, { id: 'h2' }]);
      const env = { ...target.env, CMMC_MIGRATIONS_DIR: dir };
      // The next step suggested is one that runs.
      for (const command of ['status', 'current', 'check']) expect((await runCli([command], { env })).stderr, command).toContain('next: cmmc-db upgrade heads');
      // Several heads: `head` names none of them.
      for (const args of [['upgrade', 'head'], ['downgrade', 'head'], ['stamp', 'head']]) {
        const r = await runCliJson(args, { env });
        expect(r.exitCode, args.join(' ')).toBe(2);
        expect(r.data).toMatchObject({ operation: args[0], target: 'head', status: 'refused', steps: [], error: { code: 'revision.multiple-heads' } });
      }
      // No such database: refused while connecting.
      const url = new URL(target.env.DATABASE_URL!);
      url.pathname = '/cmmc_no_such_database';
      for (const op of ['upgrade', 'stamp']) {
        const r = await runCliJson([op, 'heads', '--url', url.toString()], { env });
        expect(r.exitCode).toBe(1);
        expect(r.data).toMatchObject({ operation: op, status: 'refused', error: { code: 'connect.database' } });
      }
      // Files the graph cannot be read from: a duplicate id, a FIFO named like a revision.
      writeFileSync(path.join(dir, 'h1copy.sql'), readFileSync(path.join(dir, 'h1.sql')));
      const dup = await runCliJson(['upgrade', 'heads'], { env });
      expect(dup.data).toMatchObject({ status: 'refused', error: { code: 'revision.duplicate' } });
      rmSync(path.join(dir, 'h1copy.sql'));
      await execa('mkfifo', [path.join(dir, 'h3.sql')]);
      const fifo = await runCliJson(['downgrade', 'base', '--yes'], { env });
      expect(fifo.exitCode).not.toBe(0);
      expect(fifo.data).toMatchObject({ operation: 'downgrade', status: 'refused' });
      expect(fifo.data.error.message).toContain('h3.sql');
      expect(await rows(target)).toEqual([]);
      rmSync(dir, { recursive: true });
    } finally {
      await target.drop();
    }
  }, 120_000);
});

/**
 * Graphs a team grows (session 9), through the built CLI: what cmmc-db does where Alembic 1.8 leaves
 * version rows that overlap (test/alembic-differential.test.ts compares the same graphs with Alembic
 * and stops at these divergences; here the steps after them are pinned down too).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';

/** Writes `id: down... [labels] (depends_on)` revisions as plain-SQL files, each creating t_<id>. */
function folder(spec: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-team-'));
  for (const part of spec.split(';')) {
    const [id, rest = ''] = part.trim().split(':').map((x) => x.trim());
    const labels = /\[([^\]]*)\]/.exec(rest)?.[1].trim().split(/\s+/).join(', ') ?? '';
    const deps = /\(([^)]*)\)/.exec(rest)?.[1].trim().split(/\s+/).join(', ') ?? '';
    const down = rest.replace(/\[[^\]]*\]|\([^)]*\)/g, '').trim().split(/\s+/).filter(Boolean).join(', ') || 'none';
    const text = [`-- revision: ${id}`, `-- down_revision: ${down}`, `-- branch_labels: ${labels}`, `-- depends_on: ${deps}`, `-- message: m ${id}`, '-- migrate:up', `CREATE TABLE t_${id} (id int);`, '-- migrate:down', `DROP TABLE t_${id};`, ''];
    writeFileSync(path.join(dir, `${id}.sql`), text.join('\n'));
  }
  return dir;
}

let db: TestDatabase;
const dirs: string[] = [];
beforeAll(async () => {
  db = await createTestDatabase('cmmc_team');
});
afterAll(async () => {
  await db?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function fresh(spec: string): Promise<(...args: string[]) => ReturnType<typeof runCli>> {
  const dir = folder(spec);
  dirs.push(dir);
  await query(db.url, 'DROP SCHEMA public CASCADE; CREATE SCHEMA public; DROP SCHEMA IF EXISTS cmmc_db CASCADE');
  return (...args: string[]) => runCli([...args], { url: db.url, env: { CMMC_MIGRATIONS_DIR: dir } });
}

const rows = async () => (await query<{ v: string }>(db.url, 'SELECT version_num AS v FROM public.cmmc_schema_version ORDER BY 1')).map((r) => r.v);

describe('a branch that depends_on its sibling (two developers from one revision)', () => {
  it('downgrading it gives back the sibling alone, from which upgrade heads and downgrade base start', async () => {
    const cli = await fresh('aaaa; bbbb: aaaa; xxxx: aaaa (bbbb)');
    expect((await cli('upgrade', 'heads')).exitCode).toBe(0);
    expect(await rows()).toEqual(['xxxx']);
    const down = await cli('downgrade', '-1', '--yes');
    expect(down.exitCode, down.stderr).toBe(0);
    // Alembic 1.8 leaves aaaa and bbbb, which overlap: its own upgrade heads then refuses them.
    expect(await rows()).toEqual(['bbbb']);
    const current = await cli('current');
    expect(current.stdout.trim().split('\n')).toEqual(['bbbb (effective head) (current) m bbbb']);
    expect(current.stderr).not.toContain('below another row');
    const up = await cli('upgrade', 'heads');
    expect(up.exitCode, up.stderr).toBe(0);
    expect(await rows()).toEqual(['xxxx']);
    const base = await cli('downgrade', 'base', '--yes');
    expect(base.exitCode, base.stderr).toBe(0);
    expect(await rows()).toEqual([]);
  });

  it('the offline downgrade script moves the row as the online one does', async () => {
    const cli = await fresh('aaaa; bbbb: aaaa; xxxx: aaaa (bbbb)');
    const sql = await cli('downgrade', 'xxxx:base', '--sql');
    expect(sql.exitCode, sql.stderr).toBe(0);
    const version = sql.stdout.split('\n').filter((l) => l.includes('cmmc_schema_version"') && !l.startsWith('CREATE'));
    expect(version).toEqual([
      `UPDATE "public"."cmmc_schema_version" SET version_num = 'bbbb' WHERE version_num = 'xxxx';`,
      `UPDATE "public"."cmmc_schema_version" SET version_num = 'aaaa' WHERE version_num = 'bbbb';`,
      `DELETE FROM "public"."cmmc_schema_version" WHERE version_num = 'aaaa';`,
    ]);
  });
});

describe('stamp', () => {
  it('a revision that is already current may be named twice (stamp heads lab@head at heads): nothing to do, as in Alembic', async () => {
    const cli = await fresh('aaaa: [lab]; bbbb: aaaa; cccc: [other]');
    expect((await cli('upgrade', 'heads')).exitCode).toBe(0);
    for (const targets of [['heads', 'lab@head'], ['bbbb', 'bbbb'], ['bbbb', 'other@head']]) {
      const r = await cli('stamp', ...targets);
      expect(r.exitCode, `${targets.join(' ')}: ${r.stderr}`).toBe(0);
      expect(await rows()).toEqual(['bbbb', 'cccc']);
    }
    // Not current: both would be written, and Alembic fails on the second; refused before writing.
    await cli('stamp', '--purge', 'base', '--yes');
    const twice = await cli('stamp', 'bbbb', 'lab@head');
    expect(twice.exitCode).toBe(2);
    expect(twice.stderr).toContain('names revision bbbb more than once');
    expect(await rows()).toEqual([]);
  });

  it('targets one below another are refused, naming both, online, as a dry run and offline; the rows stay', async () => {
    const cli = await fresh('aaaa; bbbb: aaaa; cccc: bbbb; dddd: aaaa');
    expect((await cli('upgrade', 'cccc')).exitCode).toBe(0);
    for (const extra of [[], ['--dry-run'], ['--sql']]) {
      const r = await cli('stamp', 'aaaa', 'cccc', ...extra);
      expect(r.exitCode, extra.join(' ')).toBe(2);
      expect(r.stderr, extra.join(' ')).toContain('aaaa is below cccc (by down revision), and a version row stands for its revision and every one below it: stamp cccc alone');
    }
    expect(await rows()).toEqual(['cccc']);
    // Through a label or heads too: dddd's line starts at aaaa as well.
    const viaHeads = await cli('stamp', 'heads', 'aaaa');
    expect(viaHeads.exitCode).toBe(2);
    expect(viaHeads.stderr).toMatch(/aaaa is below (cccc|dddd)/);
    // Targets on two branches are not one below another.
    const two = await cli('stamp', 'cccc', 'dddd');
    expect(two.exitCode, two.stderr).toBe(0);
    expect(await rows()).toEqual(['cccc', 'dddd']);
  });
});

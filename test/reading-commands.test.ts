/**
 * The reading commands through the built CLI on the trial's graphs (session 8): current with a
 * branch current only through depends_on, heads with an effective head and its hint, history -r
 * ranges and their usage error, show -1. The same answers as Alembic 1.8.1 gives
 * (test/alembic-differential.test.ts compares them on many graphs).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

/** Writes `id: down... [labels] (depends_on)` revisions as plain-SQL files into a new folder. */
function folder(spec: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-reading-'));
  for (const part of spec.split(';')) {
    const [id, rest = ''] = part.trim().split(':');
    const labels = /\[([^\]]*)\]/.exec(rest)?.[1].trim().split(/\s+/).join(', ') ?? '';
    const deps = /\(([^)]*)\)/.exec(rest)?.[1].trim().split(/\s+/).join(', ') ?? '';
    const down = rest.replace(/\[[^\]]*\]|\([^)]*\)/g, '').trim().split(/\s+/).filter(Boolean).join(', ') || 'none';
    const text = [`-- revision: ${id.trim()}`, `-- down_revision: ${down}`, `-- branch_labels: ${labels}`, `-- depends_on: ${deps}`, `-- message: m ${id.trim()}`, '-- migrate:up', 'SELECT 1;', '-- migrate:down', 'SELECT 1;', ''];
    writeFileSync(path.join(dir, `${id.trim()}.sql`), text.join('\n'));
  }
  return dir;
}

const G2 = folder('aaaa1; bbbb1: aaaa1; cccc1: bbbb1; xxxx1: [xl]; yyyy1: xxxx1 (bbbb1); zzzz1: aaaa1 [zl]');
const G3 = folder('aaaa1; bbbb1: (aaaa1); cccc1: aaaa1 [cee]; dddd1: (cee)');
const LINE = folder('aaaa1; bbbb1: aaaa1; cccc1: bbbb1; dddd1: cccc1');
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('cmmc_reading');
});
afterAll(async () => {
  await db?.drop();
  for (const d of [G2, G3, LINE]) rmSync(d, { recursive: true, force: true });
});

const at = (dir: string) => ({ env: { CMMC_MIGRATIONS_DIR: dir } });

describe('current', () => {
  it('lists the branch tip current only through a row\'s depends_on; --json keeps the rows and adds it apart', async () => {
    const env = { CMMC_MIGRATIONS_DIR: G2 };
    expect((await runCli(['upgrade', 'yyyy1'], { url: db.url, ...{ env } })).exitCode).toBe(0);
    const text = await runCli(['current'], { url: db.url, env });
    expect(text.exitCode).toBe(0);
    expect(text.stdout.trim().split('\n')).toEqual(['yyyy1 (head) (current) [xl] m yyyy1', 'bbbb1 (current through depends_on: yyyy1) m bbbb1']);
    const json = await runCliJson(['current'], { url: db.url, env });
    expect(json.data.current).toEqual(['yyyy1']);
    expect(json.data.revisions.map((r: { revision: string }) => r.revision)).toEqual(['yyyy1']);
    expect(json.data.currentViaDependsOn).toMatchObject([{ revision: 'bbbb1', via: ['yyyy1'] }]);
    const status = await runCliJson(['status'], { url: db.url, env });
    expect(status.data.revisions.currentViaDependsOn).toEqual(['bbbb1']);
  });
});

describe('heads', () => {
  it('marks the effective head; --resolve-dependencies leaves it out; the hint counts what merge heads joins', async () => {
    const text = await runCli(['heads'], at(G3));
    expect(text.exitCode).toBe(0);
    expect(text.stdout.trim().split('\n')).toEqual(['bbbb1 (head) m bbbb1', 'cccc1 (effective head) [cee] m cccc1', 'dddd1 (head) m dddd1']);
    expect(text.stderr).toContain('2 heads to join: cmmc-db merge -m "merge" heads');
    const resolved = await runCliJson(['heads', '--resolve-dependencies'], at(G3));
    expect(resolved.exitCode).toBe(0);
    expect(resolved.data.map((h: { revision: string }) => h.revision)).toEqual(['bbbb1', 'dddd1']);
    const json = await runCliJson(['heads'], at(G3));
    expect(json.data.find((h: { revision: string }) => h.revision === 'cccc1')).toMatchObject({ head: true, effectiveHead: true, branchLabels: ['cee'], allBranchLabels: ['cee'] });

    const dir = folder('aaaa1; bbbb1: (aaaa1); cccc1: aaaa1 [cee]; dddd1: (cee)');
    try {
      expect((await runCli(['merge', '-m', 'join', 'heads', '--rev-id', 'eeee1', '--sql'], at(dir))).exitCode).toBe(0);
      const after = await runCli(['heads'], at(dir));
      expect(after.stdout).toContain('cccc1 (effective head)');
      expect(after.stderr).not.toContain('heads to join');
      const again = await runCli(['merge', '-m', 'again', 'heads'], at(dir));
      expect(again.exitCode).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('history -r', () => {
  const ids = async (range: string) => (await runCliJson(['history', '-r', range], at(G2))).data.map((r: { revision: string }) => r.revision);

  it('walks as Alembic: a relative end, a label on the start, nothing that only depends on the start', async () => {
    expect(await ids('bbbb1:+1')).toEqual(['cccc1', 'bbbb1']);
    expect(await ids('zl@base:')).toEqual(['zzzz1', 'aaaa1']);
    expect(await ids('bbbb1:')).toEqual(['cccc1', 'bbbb1']);
  });

  it('unrelated ends are a usage error, one line', async () => {
    const r = await runCli(['history', '-r', 'cccc1:yyyy1'], at(G2));
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('the range cccc1:yyyy1 does not refer to ancestor/descendant revisions along the same branch');
  });

  it('plain history shows depends_on as Alembic does', async () => {
    const r = await runCli(['history'], at(G2));
    expect(r.stdout).toMatch(/o {2}xxxx1 \(bbbb1\) -> yyyy1 \(head\) \[xl\] m yyyy1$/m);
  });
});

describe('show', () => {
  it('-1 is one below the head; head-1, base+2 and REV+1 still work', async () => {
    for (const [ref, id] of [['-1', 'cccc1'], ['head-1', 'cccc1'], ['base+2', 'bbbb1'], ['bbbb1+1', 'cccc1']]) {
      const r = await runCliJson(['show', ref], at(LINE));
      expect(r.exitCode, ref).toBe(0);
      expect(r.data.revision, ref).toBe(id);
    }
    // REV@+N counts from the version rows, which show does not read (it answered from base).
    const up = await runCli(['show', 'bbbb1@+1'], at(LINE));
    expect(up.exitCode).toBe(2);
    expect(up.stderr).toMatch(/^error: cannot use "bbbb1@\+1": @\+1 counts from the version rows, which show does not read: name the revision, or count from base \(bbbb1@base\+1\)/m);
    const below = await runCli(['show', '-4'], at(LINE));
    expect(below.exitCode).toBe(2);
    expect(below.stderr).toContain('goes below base');
  });

  it('REV@-N counts down from the heads carrying the label REV, as Alembic\'s show: an id or a keyword before @ matches nothing, said truly (it said "base: no revision")', async () => {
    // Alembic 1.8.1 on G2: zzzz1@-1, cccc1@-2, heads@-1 print nothing; zl@-1 aaaa1; xl@-1 xxxx1; xl@-2 fails (a walk to base).
    for (const [ref, note] of [
      ['zzzz1@-1', 'no revision: "zzzz1" is not a branch label, and REV@-N counts down from the heads that carry the branch label REV (as Alembic\'s show); one below zzzz1: cmmc-db show zzzz1-1'],
      ['cccc1@-2', 'no revision: "cccc1" is not a branch label, and REV@-N counts down from the heads that carry the branch label REV (as Alembic\'s show); 2 below cccc1: cmmc-db show cccc1-2'],
      ['heads@-1', 'no revision: "heads" is not a branch label, and REV@-N counts down from the heads that carry the branch label REV (as Alembic\'s show); one below each head: cmmc-db show -1'],
    ]) {
      const r = await runCli(['show', ref], at(G2));
      expect(r.exitCode, ref).toBe(0);
      expect(r.stdout, ref).toBe('');
      expect(r.stderr.trim(), ref).toBe(note);
      expect((await runCliJson(['show', ref], at(G2))).data, ref).toEqual([]);
    }
    for (const [ref, id] of [['zl@-1', 'aaaa1'], ['xl@-1', 'xxxx1'], ['zzzz1-1', 'aaaa1']]) expect((await runCliJson(['show', ref], at(G2))).data.revision, ref).toBe(id);
    const below = await runCli(['show', 'xl@-2'], at(G2));
    expect(below.exitCode).toBe(2);
    expect(below.stderr.trim()).toBe('error: cannot use "xl@-2": the walk down from yyyy1 (branch xl) goes below base: name the revision (cmmc-db history -r xl@base: lists the branch) — check the target with cmmc-db history --indicate-current');
    expect((await runCli(['show', 'base'], at(G2))).stderr.trim()).toBe('base: no revision');
  });

  it('current shows the revisions of the version rows, as Alembic\'s show current (it was "no revision matches")', async () => {
    const scratch = await createTestDatabase('cmmc_reading_show');
    try {
      const none = await runCli(['show', 'current'], { url: scratch.url, ...at(LINE) });
      expect(none.exitCode, none.stderr).toBe(0);
      expect(none.stderr).toContain('base: no revision');
      expect((await runCli(['upgrade', 'bbbb1'], { url: scratch.url, ...at(LINE) })).exitCode).toBe(0);
      const one = await runCliJson(['show', 'current'], { url: scratch.url, ...at(LINE) });
      expect(one.exitCode, one.stderr).toBe(0);
      expect(one.data).toMatchObject({ revision: 'bbbb1', children: ['cccc1'] });
    } finally {
      await scratch.drop();
    }
  });
});

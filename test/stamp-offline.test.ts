/**
 * `stamp --sql` (Alembic's offline stamp): the script, run with psql, leaves the version table and the
 * revision log as the online stamp from the same rows does.
 */
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';

const made: TestDatabase[] = [];
afterEach(async () => {
  for (const db of made.splice(0)) await db.drop();
});

async function state(url: string) {
  const rows = (await query<{ v: string }>(url, 'SELECT version_num AS v FROM cmmc_schema_version ORDER BY 1')).map((r) => r.v);
  const log = (await query<{ revision: string; operation: string; checksum: string | null }>(url, 'SELECT revision, operation, checksum FROM cmmc_db.revision_log ORDER BY id')).map((r) => `${r.operation} ${r.revision} ${r.checksum ? 'sum' : '-'}`);
  return { rows, log };
}

describe('stamp --sql', () => {
  const cases: { name: string; before?: string; online: string[]; offline: string[] }[] = [
    { name: 'from base', online: ['stamp', '7d24b6e1c902'], offline: ['stamp', '7d24b6e1c902', '--sql'] },
    { name: 'a range FROM:TO', before: '3f1c0a9e5b01', online: ['stamp', 'head'], offline: ['stamp', '3f1c0a9e5b01:head', '--sql'] },
    { name: 'down a range', before: '00c448613939', online: ['stamp', '7d24b6e1c902'], offline: ['stamp', '00c448613939:7d24b6e1c902', '--sql'] },
  ];
  for (const c of cases) {
    it(`${c.name}: the script does what the online stamp does`, async () => {
      const [online, offline] = [await createTestDatabase('cmmc_stampsql'), await createTestDatabase('cmmc_stampsql')];
      made.push(online, offline);
      for (const db of [online, offline]) {
        if (c.before) expect((await runCli(['stamp', c.before], { url: db.url })).exitCode).toBe(0);
      }
      const ran = await runCli(c.online, { url: online.url });
      expect(ran.exitCode, ran.stderr).toBe(0);
      // The offline script needs no database: no URL is given.
      const script = await runCli(c.offline);
      expect(script.exitCode, script.stderr).toBe(0);
      const psql = await execa('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', offline.url, '-f', '-'], { input: script.stdout, reject: false });
      expect(psql.exitCode, psql.stderr).toBe(0);
      const [a, b] = [await state(online.url), await state(offline.url)];
      expect(b.rows).toEqual(a.rows);
      expect(b.log).toEqual(a.log);
      expect(a.rows.length).toBe(1);
    }, 60_000);
  }

  it('run on a database holding other rows, the script stops and changes nothing', async () => {
    const db = await createTestDatabase('cmmc_stampsql');
    made.push(db);
    expect((await runCli(['stamp', '00c448613939'], { url: db.url })).exitCode).toBe(0);
    const before = await state(db.url);
    for (const args of [['stamp', 'head', '--sql'], ['stamp', '3f1c0a9e5b01:head', '--sql']]) {
      const script = await runCli(args);
      expect(script.exitCode, script.stderr).toBe(0);
      const psql = await execa('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db.url, '-f', '-'], { input: script.stdout, reject: false });
      expect(psql.exitCode, args.join(' ')).toBe(3);
      expect(psql.stderr).toMatch(/this stamp script was written for the version rows (none \(base\)|3f1c0a9e5b01), and the database holds 00c448613939: nothing was stamped/);
      expect(await state(db.url)).toEqual(before);
    }
  }, 60_000);

  it('--purge is refused, as by Alembic 1.8 ("Can\'t use --purge with --sql mode"): the script would delete rows it never saw', async () => {
    for (const args of [['stamp', 'head:a85e3f0d7c13', '--purge', '--sql'], ['stamp', 'base', '--purge', '--sql', '--json']]) {
      const r = await runCli(args);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^error: stamp --sql cannot --purge: .* — write the stamp from the rows the database holds \(cmmc-db stamp FROM:(a85e3f0d7c13|base) --sql\), or purge online: cmmc-db stamp --purge (a85e3f0d7c13|base)$/);
      expect(r.stdout).not.toMatch(/DELETE FROM/i);
    }
    expect(JSON.parse((await runCli(['stamp', 'base', '--purge', '--sql', '--json'])).stdout)).toMatchObject({ status: 'error', error: { code: 'usage' } });
  });

  it('two different starting revisions are refused, as by Alembic', async () => {
    const r = await runCli(['stamp', '3f1c0a9e5b01:head', '7d24b6e1c902:head', '--sql']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim()).toBe('error: stamp --sql starts from one revision, not from both 3f1c0a9e5b01 and 7d24b6e1c902 — write one FROM for every target (FROM:TO), or run the stamps one after the other');
  });
});

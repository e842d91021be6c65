/**
 * Seeds after a downgrade: a downgrade drops what the seeds loaded with the tables it reverts
 * (`downgrade base` drops cmmc_controls and its 110 rows), while the seed log, in the engine's own
 * schema, stays. A file applied before the latest downgrade is pending again, so that `seed` and
 * `init` load it again instead of saying "nothing to do" over empty tables. The real server, the built CLI.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';
import { dropSetup, newSetup, rolesOf } from './helpers/tenant-setup.js';

describe('seed after a downgrade', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase('cmmc_seed_after_down');
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  it('loads the seeds again once the tables they filled were dropped and made again', async () => {
    const cli = (...args: string[]) => runCli(args, { url: tdb.url });
    expect((await cli('upgrade', 'head')).exitCode).toBe(0);
    expect((await cli('seed')).exitCode).toBe(0);
    expect(await query(tdb.url, 'SELECT count(*)::int AS n FROM cmmc_controls')).toEqual([{ n: 110 }]);

    const down = await cli('downgrade', 'base', '--yes');
    expect(down.exitCode, down.stderr).toBe(0);
    expect((await cli('upgrade', 'head')).exitCode).toBe(0);
    expect(await query(tdb.url, 'SELECT count(*)::int AS n FROM cmmc_controls')).toEqual([{ n: 0 }]);

    const status = await runCliJson<{ files: { file: string; status: string }[] }>(['seed', '--status'], { url: tdb.url });
    expect(status.data.files.map((f) => [f.file, f.status])).toEqual([
      ['01_cmmc_controls.sql', 'pending'],
      ['02_provider_inheritance.sql', 'pending'],
      ['03_sample_data.sql', 'pending'],
    ]);
    const seeded = await runCliJson<{ files: { file: string; outcome: string }[] }>(['seed'], { url: tdb.url });
    expect(seeded.exitCode).toBe(0);
    expect(seeded.data.files.map((f) => f.outcome)).toEqual(['applied', 'applied', 'skipped']);
    expect(await query(tdb.url, 'SELECT count(*)::int AS n FROM cmmc_controls')).toEqual([{ n: 110 }]);
    // Applied since the downgrade: skipped again as usual.
    const again = await runCliJson<{ files: { outcome: string; reason: string }[] }>(['seed'], { url: tdb.url });
    expect(again.data.files.slice(0, 2).map((f) => f.reason)).toEqual(['unchanged', 'unchanged']);

    // A downgrade that leaves the seeded tables with their rows (the last revision only) does not make
    // the seeds pending: a project's own seed of plain INSERTs would otherwise run twice.
    expect((await cli('downgrade', '-1', '--yes')).exitCode).toBe(0);
    expect((await cli('upgrade', 'head')).exitCode).toBe(0);
    const kept = await runCliJson<{ files: { file: string; status: string }[] }>(['seed', '--status'], { url: tdb.url });
    expect(kept.data.files.slice(0, 2).map((f) => [f.file, f.status])).toEqual([
      ['01_cmmc_controls.sql', 'applied'],
      ['02_provider_inheritance.sql', 'applied'],
    ]);
    const quiet = await runCliJson<{ files: { outcome: string; reason: string }[] }>(['seed'], { url: tdb.url });
    expect(quiet.data.files.slice(0, 2).map((f) => f.reason)).toEqual(['unchanged', 'unchanged']);
  }, 240_000);

  it('tablesWrittenBy names the tables a seed writes into, as written', async () => {
    const { tablesWrittenBy } = await import('../src/seed/loader.js');
    const script = [
      '-- a comment',
      "INSERT INTO cmmc_controls (id) VALUES ('x') ON CONFLICT (id) DO NOTHING;",
      'insert into public."Odd ""name""" VALUES (1);',
      'UPDATE ONLY app . widgets SET n = 1;',
      'COPY things (a) FROM stdin;',
      '1',
      '\\.',
      'SELECT 1;',
      'DO $$ BEGIN INSERT INTO hidden VALUES (1); END $$;',
    ].join('\n');
    expect(tablesWrittenBy(script)).toEqual(['cmmc_controls', 'public."Odd ""name"""', 'app.widgets', 'things']);
  });

  it('a project seed into a table under forced row-level security, run as the owner, is not run again when its rows are there', async () => {
    // The owner sees no tenant's rows under FORCE RLS: the table read as empty, and a plain INSERT ran twice.
    const s = newSetup('sdr');
    const seeds = mkdtempSync(path.join(os.tmpdir(), 'cmmc-sdr-'));
    try {
      const init = await runCli(['init'], { env: s.env });
      expect(init.exitCode, init.stderr).toBe(0);
      writeFileSync(path.join(seeds, '01_first_tenant.sql'), "INSERT INTO organizations (id, name, organization_type) VALUES ('7e1f0000-0000-4000-8000-000000000001', 'Seeded', 'SMB');\n");
      const env = { ...s.env, CMMC_SEEDS_DIR: seeds };
      const first = await runCli(['seed'], { env });
      expect(first.exitCode, first.stderr).toBe(0);
      expect((await runCli(['downgrade', '-1', '--yes'], { env })).exitCode).toBe(0);
      expect((await runCli(['upgrade', 'head'], { env })).exitCode).toBe(0);
      const status = await runCliJson<{ files: { file: string; status: string }[] }>(['seed', '--status'], { env });
      expect(status.data.files.map((f) => [f.file, f.status])).toEqual([['01_first_tenant.sql', 'applied']]);
      const again = await runCli(['seed'], { env });
      expect(again.exitCode, again.stderr).toBe(0);
      expect(await query(s.adminUrl, `SELECT count(*)::int AS n FROM organizations WHERE name = 'Seeded'`)).toEqual([{ n: 1 }]);
    } finally {
      rmSync(seeds, { recursive: true, force: true });
      await dropSetup({ db: s.db, roles: rolesOf(s) });
    }
  }, 240_000);
});

/**
 * The fast path of `cmmc-db seed` when files are unchanged (docs/seeds.md): a file is compared by
 * the sha256 of its normalised text first, and its other accepted forms (raw bytes, CRLF, BOM, as
 * recorded by earlier versions) are worked out only when that differs; the statement count of a
 * skipped file comes from a cache named by its content. Neither may make a changed file look
 * unchanged. The real server, the built CLI, a seeds folder of its own and a cache folder of its own.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliJson } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';

interface SeedJson {
  files: { file: string; outcome: string; reason: string; statements: number; checksum: string }[];
}

describe('seed: unchanged files are skipped quickly, changed ones never', () => {
  let tdb: TestDatabase;
  let work: string;
  let seeds: string;
  let env: Record<string, string>;
  const seed = (...args: string[]) => runCliJson<SeedJson>(['seed', '--json', ...args], { url: tdb.url, env });

  beforeAll(async () => {
    tdb = await createTestDatabase('cmmc_seed_skip');
    work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-seed-skip-'));
    seeds = path.join(work, 'seeds');
    mkdirSync(seeds);
    await query(tdb.url, 'CREATE TABLE thing (id int PRIMARY KEY, name text NOT NULL)');
    env = { CMMC_SEEDS_DIR: seeds, XDG_CACHE_HOME: path.join(work, 'cache') };
  });

  afterAll(async () => {
    await tdb?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  it('a file recorded by the sha256 of its CRLF bytes is unchanged; one changed byte is applied again', async () => {
    const file = path.join(seeds, '01_things.sql');
    const lf = "INSERT INTO thing VALUES (1, 'one') ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name;\n";
    writeFileSync(file, '\uFEFF' + lf.replace(/\n/g, '\r\n'));
    const first = await seed();
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.data.files[0]).toMatchObject({ outcome: 'applied', statements: 1 });
    // What an earlier cmmc-db recorded: the sha256 of the raw bytes (BOM and CRLF), not of the normalised text.
    const raw = createHash('sha256').update(readFileSync(file)).digest('hex');
    expect(raw).not.toBe(first.data.files[0].checksum);
    await query(tdb.url, `UPDATE cmmc_db.seed_log SET checksum = '${raw}'`);
    writeFileSync(file, lf);
    const again = await seed();
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.data.files[0]).toMatchObject({ outcome: 'skipped', reason: 'unchanged', statements: 1 });

    writeFileSync(file, lf.replace("'one'", "'uno'"));
    const changed = await seed();
    expect(changed.data.files[0]).toMatchObject({ outcome: 'applied', reason: 'changed' });
    expect(await query(tdb.url, 'SELECT name FROM thing WHERE id = 1')).toEqual([{ name: 'uno' }]);
  });

  it('the statement count of a skipped file follows its content, never a cached count of an older text', async () => {
    const sample = path.join(seeds, '09_sample_things.sql');
    writeFileSync(sample, "INSERT INTO thing VALUES (10, 'a');\nINSERT INTO thing VALUES (11, 'b');\n");
    const two = await seed();
    expect(two.data.files.find((f) => f.file === '09_sample_things.sql')).toMatchObject({ outcome: 'skipped', reason: 'sample', statements: 2 });
    // Served from the cache the second time: the same count.
    expect((await seed()).data.files.find((f) => f.file === '09_sample_things.sql')).toMatchObject({ statements: 2 });
    writeFileSync(sample, "INSERT INTO thing VALUES (10, 'a');\nINSERT INTO thing VALUES (11, 'b');\nINSERT INTO thing VALUES (12, 'c');\n");
    expect((await seed()).data.files.find((f) => f.file === '09_sample_things.sql')).toMatchObject({ outcome: 'skipped', statements: 3 });
    rmSync(sample);
  });
});

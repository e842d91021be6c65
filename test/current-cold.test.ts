/**
 * `current` on a server, as it runs cold: how many statements it sends (each one a round trip it
 * waits for), the engine's state read in one go giving what the per-table reads gave, and the
 * bundle it runs from with V8's code cache (keyed by the bundle's content).
 * Counts, never times: the times are in bench/cold-start.mjs.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { KEPT_ENTRIES, runBundled } from '../src/cli/bundle-loader.js';
import { hostTag } from '../src/leftovers.js';
import { runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, createTestDatabase, query, type TestDatabase } from './helpers/server.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('cold');
  const up = await runCli(['upgrade', 'head'], { url: db.url });
  expect(up.exitCode, up.stderr).toBe(0);
});
afterAll(async () => {
  await db?.drop();
});

/**
 * Transactions the server counted in `database` while `fn` ran: one per statement outside an
 * explicit transaction, plus the session's own start. Read once the CLI's sessions are gone, since
 * a session hands in its counts when it ends.
 */
async function transactionsDuring(database: string, fn: () => Promise<void>): Promise<number> {
  const count = async () => {
    for (;;) {
      const [row] = await adminQuery<{ n: string; sessions: number }>(
        `SELECT pg_stat_clear_snapshot(), (xact_commit + xact_rollback)::text AS n, numbackends AS sessions FROM pg_stat_database WHERE datname = '${database}'`,
      );
      if (row.sessions === 0) return Number(row.n);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const before = await count();
  await fn();
  return (await count()) - before;
}

describe('current at head on a server', () => {
  it('sends three statements: the connection check that also lists scratch databases to sweep, which engine tables exist, and their rows', async () => {
    const n = await transactionsDuring(db.name, async () => {
      const r = await runCli(['current'], { url: db.url });
      expect(r.exitCode, r.stderr).toBe(0);
    });
    // Three statements and the session's start (it was seven: SELECT 1, the sweep's list, and
    // to_regclass + a read for each of the version table and the revision log).
    expect(n).toBeLessThanOrEqual(4);
  });

  it("the first statement's list of scratch databases: this machine's of a process that is gone are dropped, another machine's are left alone", async () => {
    // A pid that is surely gone: a process that has exited.
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const owner = `p${Number(gone.stdout).toString(36)}_t0`;
    const mine = `cmmc_scratch_cold_h${hostTag()}_${owner}_1`;
    const other = `cmmc_scratch_cold_h${hostTag() === 'ffffff' ? 'eeeeee' : 'ffffff'}_${owner}_1`;
    try {
      await adminQuery(`CREATE DATABASE "${mine}"`);
      await adminQuery(`CREATE DATABASE "${other}"`);
      const r = await runCli(['current'], { url: db.url });
      expect(r.exitCode, r.stderr).toBe(0);
      const left = await adminQuery<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname IN ('${mine}', '${other}')`);
      expect(left.map((row) => row.datname)).toEqual([other]);
    } finally {
      await adminQuery(`DROP DATABASE IF EXISTS "${mine}"`);
      await adminQuery(`DROP DATABASE IF EXISTS "${other}"`);
    }
  });

  it('reads the version rows (ordered) and the checksums as the per-table reads do, also with two heads and a stamp row with no log', async () => {
    const other = await createTestDatabase('cold_state');
    try {
      await query(other.url, `CREATE TABLE public.cmmc_schema_version (version_num varchar(64) PRIMARY KEY); INSERT INTO public.cmmc_schema_version VALUES ('zz_unknown'), ('aa_unknown')`);
      // The version table alone (no revision log yet): its rows, sorted, and nothing changed (rows no
      // file declares: current refuses them, naming them in order).
      let r = await runCliJson(['current'], { url: other.url });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.data.error.message).toMatch(/^the database is at revisions aa_unknown, zz_unknown, which no file in /);
      // Both tables: the same rows, in the same order, from the one statement.
      const up = await runCli(['stamp', 'head', '--purge', '--yes'], { url: other.url });
      expect(up.exitCode, up.stderr).toBe(0);
      await query(other.url, `INSERT INTO public.cmmc_schema_version VALUES ('zz_unknown'), ('aa_unknown')`);
      r = await runCliJson(['current'], { url: other.url });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.data.error.message).toMatch(/^the database is at revisions aa_unknown, zz_unknown, which no file in /);
      // The head among them: read (status reads the rows as current does).
      const [head] = (await runCliJson(['heads'], { url: other.url })).data.map((h: { revision: string }) => h.revision);
      await query(other.url, `DELETE FROM public.cmmc_schema_version WHERE version_num LIKE '%_unknown'`);
      r = await runCliJson(['current'], { url: other.url });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.data.current).toEqual([head]);
    } finally {
      await other.drop();
    }
  });
});

describe('the bundle and its code cache', () => {
  let cache: string;
  beforeAll(() => {
    cache = mkdtempSync(path.join(os.tmpdir(), 'cmmc-v8-cache-'));
  });
  afterAll(() => rmSync(cache, { recursive: true, force: true }));
  afterEach(() => vi.unstubAllEnvs());

  it('current and history run from dist/cli-bundle-read.cjs, which writes its code cache once and then reads it', async () => {
    const env = { XDG_CACHE_HOME: cache };
    const first = await runCli(['current'], { url: db.url, env });
    expect(first.exitCode, first.stderr).toBe(0);
    const dir = path.join(cache, 'cmmc-db', 'v8');
    const [file] = readdirSync(dir);
    expect(readdirSync(dir)).toEqual([file]);
    const written = readFileSync(path.join(dir, file));
    for (const args of [['current'], ['history', '-i'], ['--json', 'current']]) {
      const r = await runCli(args, { url: db.url, env });
      expect(r.exitCode, r.stderr).toBe(0);
      if (args[0] === 'current') expect(r.stdout).toBe(first.stdout);
    }
    // The same entry, not rewritten: the runs after the first were served from it.
    expect(readdirSync(dir)).toEqual([file]);
    expect(readFileSync(path.join(dir, file)).equals(written)).toBe(true);
  });

  it('a changed bundle is not served the code cached for the old one, even at the same length (V8 checks only the length)', async () => {
    const dir = mkdtempSync(path.join(cache, 'bundle-'));
    const file = path.join(dir, 'cli-bundle.cjs');
    const bundle = (code: number) => `exports.runsFromBundle = () => true;\nexports.run = async () => ${code};\n`;
    vi.stubEnv('XDG_CACHE_HOME', dir);
    // An entry of the earlier naming (sha256 of the bundle) goes when an entry is written.
    const older = path.join(dir, 'cmmc-db', 'v8', `${'ab'.repeat(32)}.bin`);
    mkdirSync(path.dirname(older), { recursive: true });
    writeFileSync(older, 'old code');
    writeFileSync(file, bundle(3));
    expect(await runBundled(['node', 'cmmc-db', 'current'], file, 'read')).toBe(3);
    expect(existsSync(older)).toBe(false);
    const [entry] = readdirSync(path.join(dir, 'cmmc-db', 'v8'));
    const cached = readFileSync(path.join(dir, 'cmmc-db', 'v8', entry));
    expect(await runBundled(['node', 'cmmc-db', 'current'], file, 'read')).toBe(3); // from the cache
    expect(readFileSync(path.join(dir, 'cmmc-db', 'v8', entry)).equals(cached)).toBe(true);
    writeFileSync(file, bundle(4));
    expect(await runBundled(['node', 'cmmc-db', 'current'], file, 'read')).toBe(4);
    writeFileSync(file, bundle(3));
    expect(await runBundled(['node', 'cmmc-db', 'current'], file, 'read')).toBe(3);
    // One entry per bundle path, rewritten for each new text.
    expect(readdirSync(path.join(dir, 'cmmc-db', 'v8'))).toEqual([entry]);
  });

  it('a damaged cache entry is not trusted: the bundle runs compiled afresh and the entry is rewritten', async () => {
    const dir = mkdtempSync(path.join(cache, 'damaged-'));
    const file = path.join(dir, 'cli-bundle.cjs');
    writeFileSync(file, 'exports.runsFromBundle = () => true;\nexports.run = async () => 7;\n');
    vi.stubEnv('XDG_CACHE_HOME', dir);
    expect(await runBundled(['node', 'cmmc-db', 'current'], file, 'read')).toBe(7);
    const v8 = path.join(dir, 'cmmc-db', 'v8');
    const [entry] = readdirSync(v8);
    const good = readFileSync(path.join(v8, entry));
    for (const damaged of [good.subarray(0, good.length - 40), Buffer.concat([good.subarray(0, good.length - 40), Buffer.alloc(40, 0xff)]), Buffer.alloc(3)]) {
      writeFileSync(path.join(v8, entry), damaged);
      expect(await runBundled(['node', 'cmmc-db', 'current'], file, 'read')).toBe(7);
    }
    expect(readFileSync(path.join(v8, entry)).length).toBeGreaterThan(3);
  });

  it(`keeps at most ${KEPT_ENTRIES} entries (one per install used lately), the least recently written going first`, async () => {
    const dir = mkdtempSync(path.join(cache, 'many-'));
    const v8 = path.join(dir, 'cmmc-db', 'v8');
    mkdirSync(v8, { recursive: true });
    // Entries of other installs, written an hour ago and before.
    const others = Array.from({ length: KEPT_ENTRIES + 3 }, (_, i) => path.join(v8, `${(0x10000000 + i).toString(16)}.bin`));
    others.forEach((file, i) => {
      writeFileSync(file, 'code of another install');
      const t = new Date(Date.now() - 3_600_000 - i * 60_000);
      utimesSync(file, t, t);
    });
    const file = path.join(dir, 'cli-bundle.cjs');
    writeFileSync(file, 'exports.runsFromBundle = () => true;\nexports.run = async () => 5;\n');
    vi.stubEnv('XDG_CACHE_HOME', dir);
    expect(await runBundled(['node', 'cmmc-db', 'current'], file, 'read')).toBe(5);
    const left = readdirSync(v8).sort();
    expect(left).toHaveLength(KEPT_ENTRIES);
    // The new entry and the most recently written others stay.
    expect(left).toEqual([...others.slice(0, KEPT_ENTRIES - 1).map((f) => path.basename(f)), left.find((n) => !others.some((o) => path.basename(o) === n))!].sort());
  });

  it('without the bundle (tsc alone) the CLI runs from dist/cli/main.js', async () => {
    expect(await runBundled(['node', 'cmmc-db', 'current'], path.join(cache, 'missing.cjs'), 'read')).toBeUndefined();
  });
});

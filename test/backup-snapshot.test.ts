/**
 * What the speed work on `backup` and `backup restore` must not change (docs/backup.md):
 *  - the manifest's facts (revision, table count) describe what the archive holds, even when a
 *    change commits between the moment they are read and the moment pg_dump starts (they are read in
 *    the transaction whose exported snapshot pg_dump dumps);
 *  - `restore --yes` makes its new database while the backup is verified, and a backup that does not
 *    verify then leaves no database behind.
 * The real server and the real pg_dump; the commit "between" is made by a pg_dump wrapper that
 * commits through the real psql before it runs the real pg_dump.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, createTestDatabase, query, type TestDatabase } from './helpers/server.js';
import { findPgTools } from '../src/db/pg-tools.js';

const BEFORE = 'aaaaaaaaaaaa';
const AFTER = 'bbbbbbbbbbbb';

describe('backup facts and restore preparation', () => {
  let tdb: TestDatabase;
  let work: string;

  beforeAll(async () => {
    tdb = await createTestDatabase('cmmc_bk_snap');
    work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-bk-snap-'));
    await query(
      tdb.url,
      `CREATE TABLE public.cmmc_schema_version (version_num varchar(64) PRIMARY KEY);
       INSERT INTO public.cmmc_schema_version VALUES ('${BEFORE}');
       CREATE TABLE item (id int PRIMARY KEY);`,
    );
  });

  afterAll(async () => {
    await tdb?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  it('the manifest describes the archive even when an upgrade commits just before pg_dump starts', async () => {
    const real = await findPgTools(150000);
    // pg_dump that first commits a new revision and a new table (as a concurrent upgrade would),
    // then runs the real pg_dump with the same arguments and the same libpq settings.
    const bin = path.join(work, 'racing-bin');
    mkdirSync(bin);
    writeFileSync(
      path.join(bin, 'pg_dump'),
      `#!/bin/sh
if [ "$1" != "--version" ]; then
  "${real.psql}" -X -q -v ON_ERROR_STOP=1 -c "UPDATE public.cmmc_schema_version SET version_num = '${AFTER}'; CREATE TABLE late_table (id int);" >/dev/null || exit 3
fi
exec "${real.pgDump}" "$@"
`,
    );
    chmodSync(path.join(bin, 'pg_dump'), 0o755);
    symlinkSync(real.pgRestore, path.join(bin, 'pg_restore'));
    symlinkSync(real.psql, path.join(bin, 'psql'));
    const dir = path.join(work, 'backups');
    const made = await runCliJson(['backup', '--dir', dir, '--json'], { url: tdb.url, env: { CMMC_PG_BIN_DIR: bin } });
    expect(made.exitCode, made.stderr).toBe(0);
    // The change did commit before pg_dump started…
    expect((await query<{ v: string }>(tdb.url, 'SELECT version_num AS v FROM public.cmmc_schema_version'))[0].v).toBe(AFTER);
    // …and neither the manifest nor the archive holds it: both are of the moment the facts were read.
    expect(made.data.revision).toEqual([BEFORE]);
    expect(made.data.tables).toBe(2);
    const listing = await runCli(['backup', 'verify', made.data.name, '--dir', dir, '--restore-test', '--json'], { url: tdb.url });
    expect(listing.exitCode, listing.stderr).toBe(0);
    const checks = JSON.parse(listing.stdout).checks as { id: string; status: string; detail: string }[];
    expect(checks.find((c) => c.id === 'tables')).toMatchObject({ status: 'ok' });
    expect(checks.find((c) => c.id === 'revision')).toMatchObject({ status: 'ok' });
    const manifest = JSON.parse(readFileSync(path.join(dir, `${made.data.name}.manifest.json`), 'utf8'));
    expect(manifest.revision).toEqual([BEFORE]);
  });

  it('restore --yes of a backup that does not verify refuses, and the database it began to build is gone', async () => {
    const tag = `snap${process.pid}`;
    const dir = path.join(work, 'refused');
    const made = await runCliJson(['backup', '--dir', dir, '--json'], { url: tdb.url });
    expect(made.exitCode, made.stderr).toBe(0);
    const file = path.join(dir, made.data.file);
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(file, bytes);
    const tablesBefore = await query<{ n: number }>(tdb.url, `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`);
    const r = await runCli(['backup', 'restore', made.data.name, '--dir', dir, '--yes'], { url: tdb.url, env: { CMMC_SCRATCH_TAG: tag } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('does not verify (checksum');
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
    // No scratch database of this run is left, and the database is as it was (not renamed away).
    const left = await adminQuery<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'cmmc\\_scratch\\_${tag}%'`);
    expect(left).toEqual([]);
    const kept = await adminQuery<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE '${tdb.name}\\_pre\\_restore%'`);
    expect(kept).toEqual([]);
    expect(await query<{ n: number }>(tdb.url, `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`)).toEqual(tablesBefore);
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });
});

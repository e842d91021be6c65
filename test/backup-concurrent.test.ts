/**
 * Backup commands run at the same time. Backups started together in one folder each keep their own
 * backup: names are reserved atomically (O_EXCL), nothing is ever put over an existing archive or
 * manifest, and no manifest is paired with another run's archive (before, two runs got the same
 * name, printed the same path, exited 0, and one backup replaced the other). Restore-drill records
 * are never put over one another either. Two restores of one database at once each keep the
 * database they replace under a name of its own (before: `database "…_pre_restore_…" already
 * exists [42P04]`). Real pg_dump / pg_restore, real files and server.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placeNew, reserveBackupName, sweepPartials, writeDrillRecord, writeManifest, listDrills } from '../src/backup/store.js';
import { BIN, cleanEnv, runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, dropDatabase, trackedDatabases, query } from './helpers/server.js';

describe('backup commands run at the same time', () => {
  let work: string;
  const dbs = trackedDatabases();

  beforeAll(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-concurrent-'));
  });
  afterAll(async () => {
    rmSync(work, { recursive: true, force: true });
  });

  it('backups started together in one folder each keep their own backup and manifest, and print their own path', async () => {
    const db = await dbs.create('cmmc_conc');
    await query(db.url, 'CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 100)');
    for (const [format, runs] of [['custom', 6], ['directory', 3], ['plain', 3]] as const) {
      const dir = path.join(work, `together-${format}`);
      const results = await Promise.all(Array.from({ length: runs }, () => runCli(['-q', 'backup', 'create', '--dir', dir, '--format', format], { url: db.url })));
      for (const r of results) expect(r.exitCode, r.stderr).toBe(0);
      const printed = results.map((r) => r.stdout.trim());
      expect(new Set(printed).size, printed.join('\n')).toBe(runs);
      const manifests = readdirSync(dir).filter((f) => f.endsWith('.manifest.json'));
      expect(manifests).toHaveLength(runs);
      // Nothing but the backups: no reservation or partial file stays.
      expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
      for (const m of manifests) {
        const manifest = JSON.parse(readFileSync(path.join(dir, m), 'utf8'));
        expect(printed).toContain(path.join(dir, manifest.file));
        // Each manifest describes its own archive (checksum and table of contents).
        const verified = await runCliJson(['backup', 'verify', manifest.name, '--dir', dir], { url: db.url });
        expect(verified.exitCode, verified.stderr).toBe(0);
      }
    }
  });

  it("a backup another container (its own pid namespace and host name) is writing into the shared folder is left alone by this machine's backup create and list, and completes", async (ctx) => {
    // unshare(1) gives the other run what a container has: another host name, and pids that mean nothing here.
    const probe = await execa('unshare', ['--pid', '--fork', '--mount-proc', '--uts', 'true'], { reject: false }).catch(() => undefined);
    if (probe?.exitCode !== 0) ctx.skip(true, 'unshare --pid --uts is not available here (it needs root): cannot start a run in another pid namespace');
    const theirs = await dbs.create('cmmc_conc_ns');
    const ours = await dbs.create('cmmc_conc_here');
    await query(theirs.url, 'CREATE TABLE big AS SELECT g FROM generate_series(1, 1000) g');
    await query(ours.url, 'CREATE TABLE t (id int)');
    const dir = path.join(work, 'shared-by-containers');
    // Their pg_dump waits for this lock, so their partial file and reservation stay in the folder meanwhile.
    const holder = postgres(theirs.url, { max: 1, onnotice: () => {} });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const held = holder.begin(async (tx) => {
      await tx`LOCK TABLE big IN ACCESS EXCLUSIVE MODE`;
      await released;
    });
    try {
      const other = execa('unshare', ['--pid', '--fork', '--mount-proc', '--uts', 'sh', '-c', 'hostname cmmc-other-container && exec "$0" "$@"', process.execPath, BIN, 'backup', 'create', '--dir', dir], {
        env: cleanEnv({ DATABASE_URL: theirs.url }),
        extendEnv: false,
        reject: false,
        timeout: 120_000,
      });
      const deadline = Date.now() + 60_000;
      const leftAside = () => (existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith('.')).sort() : []);
      while (leftAside().filter((f) => f.endsWith('.partial')).length === 0) {
        if (Date.now() > deadline) throw new Error(`the other container's backup did not start: ${leftAside().join(', ')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const before = leftAside();
      expect(before).toEqual([expect.stringMatching(/\.partial$/), expect.stringMatching(/\.reserved$/)]);
      const mine = await runCli(['backup', 'create', '--dir', dir], { url: ours.url });
      expect(mine.exitCode, mine.stderr).toBe(0);
      const listed = await runCli(['backup', 'list', '--dir', dir], { url: ours.url });
      expect(listed.exitCode, listed.stderr).toBe(0);
      expect(listed.stderr).not.toContain('removed');
      expect(leftAside()).toEqual(before);
      release();
      const done = await other;
      expect(done.exitCode, done.stderr).toBe(0);
      const manifests = readdirSync(dir).filter((f) => f.endsWith('.manifest.json'));
      expect(manifests).toHaveLength(2);
      expect(leftAside()).toEqual([]);
    } finally {
      release();
      await held.catch(() => {});
      await holder.end({ timeout: 1 });
    }
  });

  it('a new backup is never put over what is there (archive, folder, manifest); a drill record takes the next free name', () => {
    const dir = mkdtempSync(path.join(work, 'place-'));
    const existing = path.join(dir, 'db-20260101T000000Z.dump');
    writeFileSync(existing, 'theirs');
    const mine = path.join(dir, '.mine.partial');
    writeFileSync(mine, 'mine');
    expect(() => placeNew(mine, existing)).toThrow(/appeared while this backup was written/);
    expect(readFileSync(existing, 'utf8')).toBe('theirs');
    expect(existsSync(mine)).toBe(true);

    const manifest = { manifestVersion: 2, name: 'db-20260101T000000Z', file: 'db-20260101T000000Z.dump' } as never;
    writeFileSync(path.join(dir, 'db-20260101T000000Z.manifest.json'), '{"theirs":true}');
    expect(() => writeManifest(dir, manifest, { replace: false })).toThrow(/appeared while this backup was written/);
    expect(readFileSync(path.join(dir, 'db-20260101T000000Z.manifest.json'), 'utf8')).toBe('{"theirs":true}');
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual(['.mine.partial']);

    // Reserved names: never the same one twice, also in one second; a dead run's reservation is swept, a live one's kept.
    const at = new Date('2026-01-01T00:00:00Z');
    const a = reserveBackupName(dir, 'other', at);
    const b = reserveBackupName(dir, 'other', at);
    expect(a.name).not.toBe(b.name);
    writeFileSync(path.join(dir, '.other-20250101T000000Z.reserved'), 'p1-t1\n'); // pid 1, started at another time: gone
    sweepPartials(dir);
    expect(existsSync(path.join(dir, '.other-20250101T000000Z.reserved'))).toBe(false);
    expect(existsSync(a.path) && existsSync(b.path)).toBe(true);
    a.release();
    b.release();

    const finished = new Date('2026-01-01T03:00:00Z');
    const drill = { kind: 'cmmc-db restore drill', finishedAt: finished.toISOString() };
    const first = writeDrillRecord(dir, 'db-20260101T000000Z', finished, drill);
    const second = writeDrillRecord(dir, 'db-20260101T000000Z', finished, { ...drill, second: true });
    expect(first).not.toBe(second);
    expect(listDrills(dir, 'db-20260101T000000Z')).toHaveLength(2);
  });

  it('two restores of one database at once: both succeed and each keeps what it replaced under its own name, or one says what to do', async () => {
    const db = await dbs.create('cmmc_conc_restore');
    await query(db.url, 'CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 150000) g');
    const dir = path.join(work, 'restores');
    const made = await runCliJson(['backup', '--dir', dir], { url: db.url });
    expect(made.exitCode, made.stderr).toBe(0);
    // Kept names are cut to 63 bytes (the head of the database's name goes first): looked up by name.
    const keptNames: string[] = [];
    const exists = async (name: string) => (await adminQuery(`SELECT 1 FROM pg_database WHERE datname = '${name}'`)).length === 1;
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        // Both in one second (their kept names are dated to the second), the second once the first is past its look at the sessions.
        while (Date.now() % 1000 > 100) await new Promise((r) => setTimeout(r, 10));
        const first = runCliJson(['backup', 'restore', made.data.name, '--dir', dir, '--yes'], { url: db.url });
        await new Promise((r) => setTimeout(r, 300));
        const second = runCliJson(['backup', 'restore', made.data.name, '--dir', dir, '--yes'], { url: db.url });
        const both = await Promise.all([first, second]);
        for (const r of both) {
          if (r.exitCode === 0) {
            keptNames.push(r.data.keptAs);
            continue;
          }
          // A refusal is one line saying what to do, never the server's bare 42P04.
          expect(r.stderr, r.stderr).not.toMatch(/42P04/);
          expect(r.stderr.split('\n').filter((l) => /^error: /.test(l))).toHaveLength(1);
        }
        const succeeded = both.filter((r) => r.exitCode === 0).map((r) => r.data.keptAs as string);
        expect(new Set(succeeded).size).toBe(succeeded.length);
        for (const name of succeeded) expect(await exists(name), name).toBe(true);
      }
      expect(await query(db.url, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 150000 }]);
    } finally {
      for (const name of keptNames) await dropDatabase(name);
    }
  });
});

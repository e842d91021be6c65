/**
 * Nothing touched beyond what was asked, for backups: a manifest can only name a plain file inside
 * the backup folder (anything else is reported and nothing is deleted), backups belong to the
 * database they were taken of, and a restore ends exactly at the backup (built aside, swapped in by
 * name, the replaced database kept), refusing while other sessions use the database.
 * The built CLI against the real server, real pg_dump / pg_restore, real files.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, createTestDatabase, dropDatabase, query, urlFor, schemaOf, type TestDatabase } from './helpers/server.js';
import { startTempCluster, type TempCluster } from './helpers/temp-cluster.js';

const FIXTURE = path.resolve('test/fixtures/restore');


async function keptDatabases(name: string): Promise<string[]> {
  const rows = await adminQuery<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE '${name}\\_pre\\_restore\\_%'`);
  return rows.map((r) => r.datname);
}

describe('backups touch only what was asked', () => {
  let work: string;
  let a: TestDatabase;
  let b: TestDatabase;

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-scope-'));
    [a, b] = await Promise.all([createTestDatabase('cmmc_scope_a'), createTestDatabase('cmmc_scope_b')]);
    await query(a.url, 'CREATE TABLE a_thing (id int PRIMARY KEY); INSERT INTO a_thing VALUES (1), (2)');
    await query(b.url, 'CREATE TABLE b_thing (id int PRIMARY KEY); INSERT INTO b_thing VALUES (1)');
  });
  afterAll(async () => {
    for (const db of [a, b]) {
      for (const kept of await keptDatabases(db.name)) await dropDatabase(kept);
      await db.drop();
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('a manifest naming "..", a file beside the folder or a symbolic link out is reported in one line, and prune, verify and restore delete or read nothing through it', async () => {
    const project = path.join(work, 'project');
    const dir = path.join(project, 'backups');
    mkdirSync(project);
    writeFileSync(path.join(project, 'notes.txt'), 'keep me');
    const first = await runCliJson(['backup', '--dir', dir], { url: a.url });
    expect(first.exitCode, first.stderr).toBe(0);
    const second = await runCliJson(['backup', '--dir', dir], { url: a.url });
    expect(second.exitCode, second.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(first.data.manifestPath, 'utf8'));
    const old = new Date(Date.now() - 30 * 86_400_000).toISOString();
    writeFileSync(path.join(dir, 'evil.manifest.json'), JSON.stringify({ ...manifest, name: 'evil', file: '..', createdAt: old }));
    writeFileSync(path.join(dir, 'beside.manifest.json'), JSON.stringify({ ...manifest, name: 'beside', file: '../notes.txt', createdAt: old }));
    symlinkSync(path.join(project, 'notes.txt'), path.join(dir, 'linked.dump'));
    writeFileSync(path.join(dir, 'linked.manifest.json'), JSON.stringify({ ...manifest, name: 'linked', file: 'linked.dump', createdAt: old }));
    const before = readdirSync(dir).sort();

    const prune = await runCli(['backup', 'prune', '--dir', dir, '--keep-last', '1', '--yes'], { url: a.url });
    expect(prune.exitCode).toBe(1);
    const errors = prune.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/(\.manifest\.json is not a valid manifest|backup linked: its archive linked\.dump): .*nothing was deleted \(and 2 more invalid manifests\)/);
    expect(prune.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(readFileSync(path.join(project, 'notes.txt'), 'utf8')).toBe('keep me');

    // The archive a symbolic link: the line blames the archive, not its (valid) manifest, and says how to fix it.
    const notes = path.join(project, 'notes.txt');
    const linked = `backup linked: its archive linked.dump is a symbolic link to ${notes} (backups are read and deleted only as files in the backup folder, never through a link)`;
    for (const [name, why] of [
      ['evil', `${path.join(dir, 'evil.manifest.json')} is not a valid manifest: its "file" ".." is not a plain file name inside the backup folder`],
      ['beside', `${path.join(dir, 'beside.manifest.json')} is not a valid manifest: its "file" "../notes.txt" is not a plain file name inside the backup folder`],
      ['linked', linked],
    ]) {
      const verify = await runCli(['backup', 'verify', name, '--dir', dir], { url: a.url });
      expect(verify.exitCode).toBe(1);
      expect(verify.stderr).toContain(why);
      const restore = await runCli(['backup', 'restore', name, '--dir', dir, '--target-db', `${a.name}_never`, '--yes'], { url: a.url });
      expect(restore.exitCode).toBe(1);
      expect(restore.stderr).toContain(why);
    }
    const verifyLinked = await runCli(['backup', 'verify', 'linked', '--dir', dir], { url: a.url });
    expect(verifyLinked.stderr).toContain(`put the archive itself in its place (cp --remove-destination ${notes} ${path.join(dir, 'linked.dump')})`);
    expect(verifyLinked.stderr).not.toContain('not a valid manifest');
    expect(await adminQuery(`SELECT 1 FROM pg_database WHERE datname = '${a.name}_never'`)).toHaveLength(0);

    const list = await runCliJson(['backup', 'list', '--dir', dir], { url: a.url });
    expect(list.data.backups.map((r: any) => r.name).sort()).toEqual([first.data.name, second.data.name].sort());
    expect(list.data.invalid.map((i: any) => path.basename(i.manifestPath)).sort()).toEqual(['beside.manifest.json', 'evil.manifest.json', 'linked.manifest.json']);
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(existsSync(path.join(project, 'notes.txt'))).toBe(true);
  });

  it('a hand-edited manifest or a dangling archive link is one line with a fix that works; a missing name points at the folder used', async () => {
    const dir = path.join(work, 'edited');
    const made = await runCliJson(['backup', '--dir', dir], { url: a.url });
    expect(made.exitCode, made.stderr).toBe(0);
    const manifestPath = made.data.manifestPath as string;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    const errorsOf = (r: { stderr: string }) => r.stderr.split('\n').filter((l) => l.startsWith('error:'));
    // No sha256 (it said "Cannot read properties of undefined (reading 'slice')").
    const { sha256: _sha, ...noSha } = manifest;
    writeFileSync(manifestPath, JSON.stringify(noSha));
    const verify = await runCli(['backup', 'verify', made.data.name, '--dir', dir], { url: a.url });
    expect(verify.exitCode).toBe(1);
    expect(errorsOf(verify)).toEqual([expect.stringContaining('is not a valid manifest: its "sha256" undefined is not a SHA-256 (64 hex digits)')]);
    writeFileSync(manifestPath, JSON.stringify(manifest));
    // The archive a link to nothing: no copy of a file that does not exist is suggested.
    rmSync(path.join(dir, manifest.file));
    symlinkSync(path.join(work, 'nowhere.dump'), path.join(dir, manifest.file));
    const dangling = await runCli(['backup', 'verify', made.data.name, '--dir', dir], { url: a.url });
    expect(errorsOf(dangling)).toEqual([expect.stringContaining(`its archive ${manifest.file} is a symbolic link to ${path.join(work, 'nowhere.dump')}, which does not exist`)]);
    expect(dangling.stderr).not.toContain('cp --remove-destination');
    // A name not in the folder: the listing suggested is of that folder.
    const missing = await runCli(['backup', 'restore', 'nosuch-20260101T000000Z', '--dir', dir, '--yes'], { url: a.url });
    expect(missing.stderr).toContain(`list them with: cmmc-db backup list --all --dir ${dir}`);
  });

  it('a backup named by a path in another folder is refused in one line naming that folder (the same name in the backup folder was used instead); a path in the backup folder, or through a link to it, works', async () => {
    const dir = path.join(work, 'here');
    const made = await runCliJson(['backup', '--dir', dir], { url: a.url });
    expect(made.exitCode, made.stderr).toBe(0);
    const file = path.basename(made.data.path as string);
    // The offsite copy: same name, another folder.
    const offsite = path.join(work, 'offsite');
    mkdirSync(offsite);
    for (const f of readdirSync(dir)) writeFileSync(path.join(offsite, f), readFileSync(path.join(dir, f)));
    const target = `${a.name}_from_offsite`;
    for (const args of [['verify', path.join(offsite, file)], ['restore', path.join(offsite, file), '--target-db', target, '--yes']]) {
      const r = await runCli(['backup', ...args, '--dir', dir], { url: a.url });
      expect(r.exitCode, args[0]).toBe(2);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('error:'))).toEqual([
        `error: ${path.join(offsite, file)} is not in the backup folder ${dir}; nothing was done — name the folder it is in: --dir ${offsite}`,
      ]);
    }
    expect(await adminQuery(`SELECT 1 FROM pg_database WHERE datname = '${target}'`)).toEqual([]);
    const manifest = JSON.parse(readFileSync(made.data.manifestPath as string, 'utf8'));
    expect(manifest.verified.status).toBe('unverified');
    symlinkSync(dir, path.join(work, 'here-link'));
    for (const named of [path.join(dir, file), path.join(work, 'here-link', file)]) {
      const v = await runCliJson(['backup', 'verify', named, '--dir', dir], { url: a.url });
      expect(v.exitCode, v.stderr).toBe(0);
    }
    const there = await runCliJson(['backup', 'verify', path.join(offsite, file), '--dir', offsite], { url: a.url });
    expect(there.exitCode, there.stderr).toBe(0);
  });

  it("backups belong to their database: list, prune and restore default to the configured database's, and another database's backup is used only when named, with a warning", async () => {
    const dir = path.join(work, 'shared');
    const olderOfB = await runCliJson(['backup', '--dir', dir], { url: b.url });
    expect(olderOfB.exitCode, olderOfB.stderr).toBe(0);
    const a1 = await runCliJson(['backup', '--dir', dir], { url: a.url });
    const a2 = await runCliJson(['backup', '--dir', dir], { url: a.url });
    const newestOfB = await runCliJson(['backup', '--dir', dir], { url: b.url });
    expect(newestOfB.data.identity).toMatchObject({ database: b.name, host: '127.0.0.1:5432' });
    expect(newestOfB.data.identity.systemIdentifier).toMatch(/^\d+$/);

    const listA = await runCliJson(['backup', 'list', '--dir', dir], { url: a.url });
    expect(listA.data.backups.map((r: any) => r.name)).toEqual([a2.data.name, a1.data.name]);
    expect(listA.data.otherDatabases).toBe(2);
    const all = await runCliJson(['backup', 'list', '--dir', dir, '--all'], { url: a.url });
    expect(all.data.backups).toHaveLength(4);

    // Prune keeps one of A's and never looks at B's (both older and newer).
    const prune = await runCliJson(['backup', 'prune', '--dir', dir, '--keep-last', '1', '--yes'], { url: a.url });
    expect(prune.exitCode, prune.stderr).toBe(0);
    expect(prune.data.deleted).toEqual([a1.data.name]);
    expect(prune.data.otherDatabases).toBe(2);
    expect(existsSync(olderOfB.data.path) && existsSync(newestOfB.data.path)).toBe(true);

    // Restore with no name picks A's newest, not B's (which is newer).
    const dry = await runCliJson(['backup', 'restore', '--dir', dir, '--dry-run'], { url: a.url });
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.data.plan).toMatchObject({ backup: a2.data.name, database: a.name, exists: true });
    expect(dry.data.plan.otherDatabase).toBeUndefined();

    // B's backup over A: said, and refused without confirmation; with --yes it goes, saying so.
    const refused = await runCli(['backup', 'restore', newestOfB.data.name, '--dir', dir], { url: a.url });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(`${newestOfB.data.name} is a backup of database "${b.name}"`);
    expect(refused.stderr).toContain('refusing without confirmation');
    expect(await query(a.url, 'SELECT count(*)::int AS n FROM a_thing')).toEqual([{ n: 2 }]);
    const crossed = await runCliJson(['backup', 'restore', newestOfB.data.name, '--dir', dir, '--yes'], { url: a.url });
    expect(crossed.exitCode, crossed.stderr).toBe(0);
    expect(crossed.stderr).toContain(`is a backup of database "${b.name}"`);
    expect(await query(a.url, "SELECT to_regclass('a_thing') AS a, to_regclass('b_thing')::text AS b")).toEqual([{ a: null, b: 'b_thing' }]);
    // Put A back from its own backup for the next test.
    const back = await runCliJson(['backup', 'restore', a2.data.name, '--dir', dir, '--yes'], { url: a.url });
    expect(back.exitCode, back.stderr).toBe(0);
  });

  it("a restore refused for other sessions says how to end them, and following the hint lets it through (a superuser's running query, a --target-db)", async () => {
    // The hint said `cmmc-db doctor kill-idle --older-than 0s --yes`, which spares running queries
    // and superusers' sessions, and ends sessions on the configured database, not on --target-db.
    const target = await createTestDatabase('cmmc_scope_busy');
    const dir = path.join(work, 'busy');
    const dba = postgres(target.url, { max: 1, onnotice: () => {}, connection: { application_name: 'dba-report' } });
    try {
      const made = await runCliJson(['backup', '--dir', dir], { url: a.url });
      expect(made.exitCode, made.stderr).toBe(0);
      const running = dba`SELECT pg_sleep(60)`.catch(() => {});
      for (let i = 0; (await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'dba-report' AND state = 'active'`)).length === 0; i++) {
        expect(i).toBeLessThan(100);
        await new Promise((r) => setTimeout(r, 100));
      }
      const busy = await runCli(['backup', 'restore', made.data.name, '--dir', dir, '--target-db', target.name, '--yes'], { url: a.url });
      expect(busy.exitCode).toBe(1);
      expect(busy.stderr).toMatch(/has 1 other session: pid \d+ \(postgres, dba-report, from [^,]+, active\); nothing was restored — /);
      const statement = /\((SELECT pg_terminate_backend\(pid\) FROM pg_stat_activity WHERE .*pg_backend_pid\(\))\)/.exec(busy.stderr)?.[1];
      expect(statement, busy.stderr).toBeDefined();
      await adminQuery(statement!);
      await running;
      const restored = await runCliJson(['backup', 'restore', made.data.name, '--dir', dir, '--target-db', target.name, '--yes'], { url: a.url });
      expect(restored.exitCode, restored.stderr).toBe(0);
      expect(await query(target.url, 'SELECT count(*)::int AS n FROM a_thing')).toEqual([{ n: 2 }]);
    } finally {
      await dba.end({ timeout: 1 }).catch(() => {});
      for (const kept of await keptDatabases(target.name)) await dropDatabase(kept);
      await target.drop();
    }
  });

  it('a restore over a newer database ends exactly at the backup (no newer table, no foreign key in the way), keeps the old one, and the next upgrade head works', async () => {
    const db = await createTestDatabase('cmmc_scope_exact');
    const dir = path.join(work, 'exact');
    try {
      const env = { CMMC_MIGRATIONS_DIR: FIXTURE };
      const up1 = await runCli(['upgrade', '5e0000000001', '--migrations-dir', FIXTURE], { url: db.url, env });
      expect(up1.exitCode, up1.stderr).toBe(0);
      const made = await runCliJson(['backup', '--dir', dir], { url: db.url });
      expect(made.exitCode, made.stderr).toBe(0);
      const atBackup = await schemaOf(db.name);
      const rowsAtBackup = await query(db.url, 'SELECT count(*)::int AS n FROM parent');

      // Newer than the backup: a revision whose table has a foreign key to a restored table, and a table made by hand.
      const up2 = await runCli(['upgrade', 'head', '--migrations-dir', FIXTURE], { url: db.url });
      expect(up2.exitCode, up2.stderr).toBe(0);
      await query(db.url, `CREATE TABLE hand_made (id int); INSERT INTO parent VALUES (99, 'after the backup')`);

      // Another session on the database: refused, naming it; nothing changed.
      const app = postgres(db.url, { max: 1, connection: { application_name: 'app-holding-on' } });
      await app`SELECT 1`;
      try {
        const busy = await runCli(['backup', 'restore', '--dir', dir, '--yes'], { url: db.url });
        expect(busy.exitCode).toBe(1);
        expect(busy.stderr).toMatch(/has 1 other session: pid \d+ \(postgres, app-holding-on/);
        expect(busy.stderr).toContain('nothing was restored');
        expect(await query(db.url, "SELECT to_regclass('hand_made')::text AS t")).toEqual([{ t: 'hand_made' }]);
      } finally {
        await app.end();
      }

      const restored = await runCliJson(['backup', 'restore', '--dir', dir, '--yes'], { url: db.url });
      expect(restored.exitCode, restored.stderr).toBe(0);
      expect(restored.data).toMatchObject({ name: made.data.name, database: db.name, replaced: true, revision: ['5e0000000001'] });
      expect(await schemaOf(db.name)).toBe(atBackup);
      expect(await query(db.url, 'SELECT count(*)::int AS n FROM parent')).toEqual(rowsAtBackup);
      expect(await query(db.url, "SELECT to_regclass('newer') AS a, to_regclass('newer_names') AS b, to_regclass('hand_made') AS c")).toEqual([{ a: null, b: null, c: null }]);
      // The replaced database is kept as it was, under a dated name.
      expect(await keptDatabases(db.name)).toEqual([restored.data.keptAs]);
      expect(await query(urlFor(restored.data.keptAs), "SELECT to_regclass('hand_made')::text AS t")).toEqual([{ t: 'hand_made' }]);

      const again = await runCli(['upgrade', 'head', '--migrations-dir', FIXTURE], { url: db.url });
      expect(again.exitCode, again.stderr).toBe(0);
      expect(await query(db.url, 'SELECT count(*)::int AS n FROM newer')).toEqual([{ n: 5 }]);
    } finally {
      for (const kept of await keptDatabases(db.name)) await dropDatabase(kept);
      await db.drop();
    }
  });
});

describe('a restore over a database holding a prepared transaction', () => {
  // PREPARE TRANSACTION needs max_prepared_transactions > 0: a cluster of the test's own.
  let cluster: TempCluster;
  let work: string;
  beforeAll(async () => {
    cluster = await startTempCluster({ max_prepared_transactions: '4' });
    work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-scope-prepared-'));
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const prepare = async (url: string, gid: string) => {
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    await sql.unsafe(`BEGIN; INSERT INTO ledger VALUES (99); PREPARE TRANSACTION '${gid}'`);
    await sql.end();
  };
  const scratchDatabases = async () => query<{ datname: string }>(cluster.url(), "SELECT datname FROM pg_database WHERE datname LIKE 'cmmc\\_scratch\\_%'");

  it('is refused before anything is built, naming the transaction and how to finish it (it said "gained a session" once the whole restore had run); one prepared during the restore is named the same way', async () => {
    const url = cluster.url('prepared');
    await query(cluster.url(), 'CREATE DATABASE prepared');
    // A check that is slow only in the database being built (a scratch name): the restore takes a few seconds.
    await query(url, `CREATE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE plpgsql AS $$
         BEGIN IF current_database() LIKE 'cmmc\\_scratch\\_%' THEN PERFORM pg_sleep(0.5); END IF; RETURN true; END $$;
       CREATE TABLE ledger (id int PRIMARY KEY CHECK (slow_ok(id)));
       INSERT INTO ledger SELECT generate_series(1, 6);`);
    const dir = path.join(work, 'backups');
    const made = await runCliJson(['backup', '--dir', dir], { url });
    expect(made.exitCode, made.stderr).toBe(0);

    await prepare(url, 'xa-before');
    const refused = await runCli(['backup', 'restore', made.data.name, '--dir', dir, '--yes'], { url });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(
      /error: database "prepared" has 1 prepared transaction \(PREPARE TRANSACTION\), which holds it as a session would: 'xa-before' \(postgres, prepared [0-9-]+T[0-9:]+Z\); nothing was restored — let the application that prepared it finish, or connected to "prepared" run COMMIT PREPARED 'xa-before' or ROLLBACK PREPARED 'xa-before', and run the restore again/,
    );
    expect(await scratchDatabases()).toEqual([]);
    await query(url, "ROLLBACK PREPARED 'xa-before'");

    // Prepared while the backup is being restored (after the first look): named at the swap.
    const restoring = runCli(['backup', 'restore', made.data.name, '--dir', dir, '--yes'], { url });
    for (let i = 0; (await scratchDatabases()).length === 0; i++) {
      expect(i).toBeLessThan(200);
      await new Promise((r) => setTimeout(r, 50));
    }
    await prepare(url, 'xa-during');
    const late = await restoring;
    expect(late.exitCode).toBe(1);
    expect(late.stderr).toContain(`has 1 prepared transaction (PREPARE TRANSACTION), which holds it as a session would: 'xa-during'`);
    expect(late.stderr).not.toContain('gained a session');
    expect(await scratchDatabases()).toEqual([]);

    // Finished as the hint says, the restore goes through.
    await query(url, "COMMIT PREPARED 'xa-during'");
    const restored = await runCliJson(['backup', 'restore', made.data.name, '--dir', dir, '--yes'], { url });
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(await query(url, 'SELECT count(*)::int AS n FROM ledger')).toEqual([{ n: 6 }]);
  }, 180_000);
});

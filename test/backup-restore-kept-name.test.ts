/**
 * A restore keeps the database it replaces as <db>_pre_restore_<second>. Two restores within one
 * second (found by CI: "database …_pre_restore_… already exists") must both succeed: the name of
 * the kept database takes a suffix when the plain one is taken.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keptName } from '../src/backup/restore.js';
import { runCliJson } from './helpers/cli.js';
import { adminQuery, createTestDatabase, dropDatabase, query, trackedDatabases, uniqueName, urlFor, type TestDatabase } from './helpers/server.js';

describe('the database a restore replaces', () => {
  let db: TestDatabase;
  let dir: string;
  const taken: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('cmmc_kept');
    dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-kept-'));
  });
  afterAll(async () => {
    const kept = await adminQuery<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE '${db.name}_pre_restore_%'`);
    for (const { datname } of kept) await dropDatabase(datname);
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is kept under a name of its own even when the plain dated name is taken (two restores in one second)', async () => {
    await query(db.url, 'CREATE TABLE t (id int); INSERT INTO t VALUES (1)');
    const backup = await runCliJson(['backup', '--dir', dir], { url: db.url });
    expect(backup.exitCode, backup.stderr).toBe(0);
    // Take the plain dated names of the next 20 seconds, as an earlier restore in the same second would have.
    const now = Date.now();
    for (let s = 0; s < 20; s++) {
      const name = keptName(db.name, new Date(now + s * 1000));
      taken.push(name);
      await adminQuery(`CREATE DATABASE "${name}"`);
    }
    const restored = await runCliJson(['backup', 'restore', backup.data.name, '--dir', dir, '--yes'], { url: db.url });
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(taken).not.toContain(restored.data.keptAs);
    expect(restored.data.keptAs).toMatch(new RegExp(`^${db.name}_pre_restore_\\d{8}t\\d{6}z_2$`));
    expect(await adminQuery(`SELECT 1 FROM pg_database WHERE datname = '${restored.data.keptAs}'`)).toHaveLength(1);
    expect(await query(db.url, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 1 }]);
  });

  it('doctor backups.kept-databases lists them, and warns with the DROP for those kept longer than a week (they hold the old data)', async () => {
    const fresh = await runCliJson(['doctor', 'backups.kept-databases'], { url: db.url });
    const check = fresh.data.checks.find((c: any) => c.id === 'backups.kept-databases');
    expect(check.status).toBe('ok');
    expect(check.rows.length).toBe(21); // the 20 names taken above and the restore's own
    expect(check.rows.every((r: any) => r.name.startsWith(`${db.name}_pre_restore_`))).toBe(true);
    const old = keptName(db.name, new Date(Date.now() - 10 * 86_400_000));
    const others = keptName(`${db.name}x`, new Date(Date.now() - 10 * 86_400_000)); // another database's: not ours
    for (const name of [old, others]) {
      taken.push(name);
      await adminQuery(`CREATE DATABASE "${name}"`);
    }
    const r = await runCliJson(['doctor', 'backups.kept-databases'], { url: db.url });
    expect(r.exitCode).toBe(1);
    const warned = r.data.checks.find((c: any) => c.id === 'backups.kept-databases');
    expect(warned.status).toBe('warn');
    expect(warned.figure).toMatch(/1 older than 7d$/);
    expect(warned.remedy).toBe(`once the restored database is checked, drop them: DROP DATABASE "${old}";`);
    expect(warned.rows.map((x: any) => x.name)).not.toContain(others);
    await dropDatabase(others);
  });

  describe('of a database whose name is long and not ASCII', () => {
    const dbs = trackedDatabases();
    it('doctor backups.kept-databases finds it under the name the restore gave it (cut to 63 bytes, not characters)', async () => {
      // 58 bytes, 34 characters: the kept name cuts it to fit 63 bytes.
      const name = `${uniqueName('k').slice(0, 10)}${'ü'.repeat(24)}`;
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63);
      await adminQuery(`CREATE DATABASE "${name}"`);
      const tdb = dbs.adopt(name);
      // postgres.js reads the URL's path undecoded: the name is given as an option.
      const sql = postgres({ host: '127.0.0.1', port: 5432, user: 'postgres', database: name, max: 1, onnotice: () => {} });
      await sql.unsafe('CREATE TABLE t (id int); INSERT INTO t VALUES (1)').finally(() => sql.end());
      const backup = await runCliJson(['backup', '--dir', dir], { url: tdb.url });
      expect(backup.exitCode, backup.stderr).toBe(0);
      const restored = await runCliJson(['backup', 'restore', backup.data.name, '--dir', dir, '--yes'], { url: tdb.url });
      expect(restored.exitCode, restored.stderr).toBe(0);
      dbs.adopt(restored.data.keptAs);
      expect(restored.data.keptAs.startsWith(name)).toBe(false);
      const old = keptName(name, new Date(Date.now() - 10 * 86_400_000));
      await adminQuery(`CREATE DATABASE "${old}"`);
      dbs.adopt(old);
      const r = await runCliJson(['doctor', 'backups.kept-databases'], { url: urlFor(name) });
      const check = r.data.checks.find((c: any) => c.id === 'backups.kept-databases');
      expect(check.status).toBe('warn');
      expect(check.rows.map((x: any) => x.name).sort()).toEqual([restored.data.keptAs, old].sort());
      expect(check.remedy).toBe(`once the restored database is checked, drop them: DROP DATABASE "${old}";`);
    });
  });
});

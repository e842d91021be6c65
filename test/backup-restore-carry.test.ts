/**
 * A restore over an existing database keeps what the database itself held and a backup does not:
 * besides its owner, grants and ALTER DATABASE … SET settings (carried before), its role settings
 * (ALTER ROLE … IN DATABASE … SET), CONNECTION LIMIT, ALLOW_CONNECTIONS and comment. What cannot be
 * carried (here: an encoding and locale the restored database was not created with) is a note.
 * Before, these were dropped without a word. Real pg_dump / pg_restore and server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliJson } from './helpers/cli.js';
import { adminQuery, createTestDatabase, dropDatabase, query, uniqueName, type TestDatabase } from './helpers/server.js';

/** What the database itself holds, besides its contents. */
async function databaseState(name: string) {
  const [row] = await adminQuery<{ limit: number; allow: boolean; comment: string | null; settings: string[] | null }>(`
    SELECT d.datconnlimit AS limit, d.datallowconn AS allow, shobj_description(d.oid, 'pg_database') AS comment,
           (SELECT array_agg(coalesce(pg_get_userbyid(nullif(s.setrole, 0)), '*') || ':' || c)
              FROM pg_db_role_setting s, unnest(s.setconfig) c WHERE s.setdatabase = d.oid) AS settings
      FROM pg_database d WHERE d.datname = '${name}'`);
  return { ...row, settings: row.settings ? [...row.settings].sort() : null };
}

describe('restore over an existing database carries over what the database itself held', () => {
  let work: string;
  let db: TestDatabase;
  let role: string;
  const dropLater: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-carry-'));
    db = await createTestDatabase('cmmc_carry');
    role = uniqueName('cmmc_carry_role');
    await adminQuery(`CREATE ROLE "${role}"`);
  });
  afterAll(async () => {
    for (const name of dropLater) await dropDatabase(name);
    await db.drop();
    await adminQuery(`DROP ROLE IF EXISTS "${role}"`);
    rmSync(work, { recursive: true, force: true });
  });

  it('role settings in the database, CONNECTION LIMIT, ALLOW_CONNECTIONS and the comment are carried; a locale it cannot carry is a note', async () => {
    await query(db.url, 'CREATE TABLE t (id int); INSERT INTO t VALUES (1)');
    const dir = path.join(work, 'backups');
    const made = await runCliJson(['backup', '--dir', dir], { url: db.url });
    expect(made.exitCode, made.stderr).toBe(0);

    // The configured database: settings of its own.
    await adminQuery(`ALTER ROLE "${role}" IN DATABASE "${db.name}" SET work_mem = '7MB'`);
    await adminQuery(`ALTER ROLE "${role}" IN DATABASE "${db.name}" SET search_path = "$user", public, extra`);
    await adminQuery(`ALTER DATABASE "${db.name}" SET statement_timeout = '9s'`);
    await adminQuery(`ALTER DATABASE "${db.name}" CONNECTION LIMIT 7`);
    await adminQuery(`COMMENT ON DATABASE "${db.name}" IS 'Acme''s CUI — keep'`);
    const before = await databaseState(db.name);
    const restored = await runCliJson(['backup', 'restore', made.data.name, '--dir', dir, '--yes'], { url: db.url });
    expect(restored.exitCode, restored.stderr).toBe(0);
    dropLater.push(restored.data.keptAs);
    expect(await databaseState(db.name)).toEqual(before);
    expect(before.settings).toHaveLength(3);
    expect(restored.data.notes).toEqual([]);
    expect(await query(db.url, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 1 }]);

    // Another target: no connections allowed, and an encoding/locale the restored database does not get.
    const target = uniqueName('cmmc_carry_c');
    dropLater.push(target);
    await adminQuery(`CREATE DATABASE "${target}" TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' ALLOW_CONNECTIONS false CONNECTION LIMIT 3`);
    const targetBefore = await databaseState(target);
    const other = await runCliJson(['backup', 'restore', made.data.name, '--dir', dir, '--target-db', target, '--yes'], { url: db.url });
    expect(other.exitCode, other.stderr).toBe(0);
    dropLater.push(other.data.keptAs);
    expect(await databaseState(target)).toEqual(targetBefore);
    expect(other.data.notes.join('\n')).toMatch(/encoding and locale were SQL_ASCII, C, C; the restored one's are/);
  });
});

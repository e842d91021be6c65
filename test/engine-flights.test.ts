/**
 * The engine sends a revision's statements and its bookkeeping in few round trips (pipelined inside
 * the revision's transaction), and runs the platform's revisions from the SQL recorded at build
 * time (src/migrate/recorded.ts). Neither may change what a run does: a COMMIT that fails rolls the
 * revision back and is reported; a platform revision file that changed is imported, not replayed;
 * the recording stands for exactly the statements the TypeScript executes.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { sql, type Kysely } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKENDS } from './helpers/backends.js';
import { ROOT, runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, query, schemaOf } from './helpers/server.js';
import { startTempCluster } from './helpers/temp-cluster.js';
import { versionRows } from './engine-fixtures.js';
import { recordRevision } from '../src/migrate/offline.js';

const base = mkdtempSync(path.join(os.tmpdir(), 'cmmc-flights-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function sqlRevision(dir: string, id: string, down: string | null, up: string, undo = ''): void {
  writeFileSync(path.join(dir, `${id}_rev.sql`), `-- revision: ${id}\n-- down_revision: ${down ?? 'none'}\n-- message: ${id}\n-- migrate:up\n${up}\n-- migrate:down\n${undo}\n`);
}

describe.each(BACKENDS)('one flight per revision on $name', (backend) => {
  it('a COMMIT refused by a deferred constraint fails that revision: rolled back, reported, the run stops there', async () => {
    const target = await backend.create();
    const dir = mkdtempSync(path.join(base, 'deferred-'));
    sqlRevision(dir, '3c0000000001', null, 'CREATE TABLE parent (id int PRIMARY KEY);');
    sqlRevision(
      dir,
      '3c0000000002',
      '3c0000000001',
      'CREATE TABLE child (parent_id int REFERENCES parent DEFERRABLE INITIALLY DEFERRED);\nINSERT INTO child VALUES (7);',
    );
    sqlRevision(dir, '3c0000000003', '3c0000000002', 'CREATE TABLE after_it (id int);');
    const env = { ...target.env, CMMC_MIGRATIONS_DIR: dir };
    try {
      const r = await runCli(['upgrade', 'head'], { env });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toContain('upgrade of revision 3c0000000002 (3c0000000002_rev.sql) failed: insert or update on table "child" violates foreign key constraint');
      expect(r.stderr).toContain('in statement: COMMIT');
      expect(r.stderr).toContain('that revision was rolled back');
      expect(r.stderr).toContain('3c0000000001');
      expect(await versionRows(target)).toEqual(['3c0000000001']);
      expect(await target.query(`SELECT to_regclass('public.child') AS c, to_regclass('public.after_it') AS a`)).toEqual([{ c: null, a: null }]);
      const log = await target.query<{ revision: string }>(`SELECT revision FROM cmmc_db.revision_log ORDER BY id`);
      expect(log.map((l) => l.revision)).toEqual(['3c0000000001']);
      // The session was left clean: the next run on a fixed file goes through.
      writeFileSync(path.join(dir, '3c0000000002_rev.sql'), readFileSync(path.join(dir, '3c0000000002_rev.sql'), 'utf8').replace('VALUES (7)', 'SELECT 1 WHERE false'));
      const again = await runCli(['upgrade', 'head'], { env });
      expect(again.exitCode, again.stderr).toBe(0);
      expect(await versionRows(target)).toEqual(['3c0000000003']);
    } finally {
      await target.drop();
    }
  });

  it('a revision that says COMMIT itself: a statement failing after it stops the revision, and no version row is written', async () => {
    const target = await backend.create();
    const dir = mkdtempSync(path.join(base, 'own-commit-'));
    sqlRevision(dir, '3f0000000001', null, 'CREATE TABLE before_commit (id int);\nCOMMIT;\nCREATE TABLE after_commit (id int);\nSELECT 1/0;\nCREATE TABLE after_failure (id int);');
    const env = { ...target.env, CMMC_MIGRATIONS_DIR: dir };
    try {
      const r = await runCli(['upgrade', 'head'], { env });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toContain('in statement: SELECT 1/0');
      // What the revision committed itself stays; nothing after the failing statement ran, and the
      // version table does not claim the revision.
      expect(await target.query(`SELECT to_regclass('public.after_commit') IS NOT NULL AS a, to_regclass('public.after_failure') AS f, to_regclass('public.cmmc_schema_version') AS v`)).toEqual([{ a: true, f: null, v: null }]);
      // Without the failure, the bookkeeping runs in a transaction of its own after the revision's COMMIT.
      writeFileSync(path.join(dir, '3f0000000001_rev.sql'), readFileSync(path.join(dir, '3f0000000001_rev.sql'), 'utf8').replace('CREATE TABLE before_commit (id int);', '').replace('CREATE TABLE after_commit (id int);', '').replace('SELECT 1/0;', 'ROLLBACK;'));
      await target.query('DROP TABLE after_commit');
      const again = await runCli(['upgrade', 'head'], { env });
      expect(again.exitCode, again.stderr).toBe(0);
      expect(await versionRows(target)).toEqual(['3f0000000001']);
      expect(await target.query(`SELECT count(*)::int AS n FROM cmmc_db.revision_log`)).toEqual([{ n: 1 }]);
    } finally {
      await target.drop();
    }
  });

  it('each revision is committed with its own version row and log row, with a duration', async () => {
    const target = await backend.create();
    const dir = mkdtempSync(path.join(base, 'chain-'));
    for (let i = 1; i <= 5; i++) sqlRevision(dir, `3d000000000${i}`, i === 1 ? null : `3d000000000${i - 1}`, `CREATE TABLE t${i} (id int);\nINSERT INTO t${i} VALUES (${i});`, `DROP TABLE t${i};`);
    const env = { ...target.env, CMMC_MIGRATIONS_DIR: dir };
    try {
      const r = await runCliJson(['upgrade', 'head'], { env });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.data.steps.map((s: { revision: string }) => s.revision)).toEqual(['3d0000000001', '3d0000000002', '3d0000000003', '3d0000000004', '3d0000000005']);
      const log = await target.query<{ revision: string; ok: boolean }>(
        `SELECT revision, duration_ms IS NOT NULL AND duration_ms >= 0 AS ok FROM cmmc_db.revision_log WHERE operation = 'upgrade' ORDER BY id`,
      );
      expect(log).toEqual(['3d0000000001', '3d0000000002', '3d0000000003', '3d0000000004', '3d0000000005'].map((revision) => ({ revision, ok: true })));
      expect(await target.query('SELECT (SELECT id FROM t1) + (SELECT id FROM t5) AS n')).toEqual([{ n: 6 }]);
      const down = await runCli(['downgrade', '3d0000000002', '--yes'], { env });
      expect(down.exitCode, down.stderr).toBe(0);
      expect(await versionRows(target)).toEqual(['3d0000000002']);
      expect(await target.query(`SELECT to_regclass('public.t3') AS t`)).toEqual([{ t: null }]);
    } finally {
      await target.drop();
    }
  });
});

describe('durability of the steps a run reports', () => {
  it('a run whose last step fails leaves the steps before it on disk: a crash of the server right after loses none', async () => {
    // The WAL writer flushes only every 10 s here: what the run does not flush itself stays in memory.
    const cluster = await startTempCluster({ wal_writer_delay: '10000ms', checkpoint_timeout: '3600s' });
    const dir = mkdtempSync(path.join(base, 'durable-'));
    for (let i = 1; i <= 4; i++) sqlRevision(dir, `3e000000000${i}`, i === 1 ? null : `3e000000000${i - 1}`, `CREATE TABLE d${i} (id int);\nINSERT INTO d${i} VALUES (${i});`);
    sqlRevision(dir, '3e0000000005', '3e0000000004', 'SELECT 1/0;');
    try {
      const r = await runCli(['upgrade', 'head'], { url: cluster.url(), env: { CMMC_MIGRATIONS_DIR: dir } });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain('upgrade of revision 3e0000000005');
      await cluster.crashAndRestart();
      expect(await query(cluster.url(), 'SELECT version_num FROM cmmc_schema_version')).toEqual([{ version_num: '3e0000000004' }]);
      expect(await query(cluster.url(), 'SELECT (SELECT id FROM d1) + (SELECT id FROM d4) AS n')).toEqual([{ n: 5 }]);
      // A run that succeeds: its last COMMIT waits for the disk, the steps before it included.
      await query(cluster.url(), 'DROP TABLE d1, d2, d3, d4; DELETE FROM cmmc_schema_version');
      writeFileSync(path.join(dir, '3e0000000005_rev.sql'), readFileSync(path.join(dir, '3e0000000005_rev.sql'), 'utf8').replace('SELECT 1/0;', 'CREATE TABLE d5 (id int);'));
      const ok = await runCli(['upgrade', 'head'], { url: cluster.url(), env: { CMMC_MIGRATIONS_DIR: dir } });
      expect(ok.exitCode, ok.stderr).toBe(0);
      await cluster.crashAndRestart();
      expect(await query(cluster.url(), 'SELECT version_num FROM cmmc_schema_version')).toEqual([{ version_num: '3e0000000005' }]);
      expect(await query(cluster.url(), `SELECT to_regclass('d1') IS NOT NULL AND to_regclass('d5') IS NOT NULL AS ok`)).toEqual([{ ok: true }]);
    } finally {
      await cluster.stop();
    }
  });
});

/** The platform's migrations copied, each file passed through `edit` (changing its text, so its checksum). */
function platformCopy(name: string, edit: (file: string, text: string) => string): string {
  const dir = path.join(base, name, 'migrations');
  cpSync(path.join(ROOT, 'migrations'), dir, { recursive: true });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(base, name, 'node_modules'), 'dir');
  for (const f of readdirSync(dir)) writeFileSync(path.join(dir, f), edit(f, readFileSync(path.join(dir, f), 'utf8')));
  return dir;
}

describe('the platform revisions recorded at build time', () => {
  it('the recording holds every platform revision, as the TypeScript records now', async () => {
    const recorded = JSON.parse(readFileSync(path.join(ROOT, 'dist', 'migrate', 'platform-revisions.json'), 'utf8'));
    const files = readdirSync(path.join(ROOT, 'migrations')).filter((f) => f.endsWith('.ts'));
    const entries = Object.values(recorded.revisions) as { file: string; up: string[]; down: string[] }[];
    expect(entries.map((e) => e.file).sort()).toEqual(files.sort());
    for (const entry of entries) {
      const mod = (await import(pathToFileURL(path.join(ROOT, 'migrations', entry.file)).href)) as { up(db: Kysely<any>): Promise<void>; down(db: Kysely<any>): Promise<void> };
      const up = await recordRevision((db) => mod.up(db));
      const down = await recordRevision((db) => mod.down(db));
      expect(up.readAnswerOf, entry.file).toBeUndefined();
      expect(entry.up, entry.file).toEqual(up.statements);
      expect(entry.down, entry.file).toEqual(down.statements);
    }
  });

  it('a revision that reads an answer is not recordable; one that only executes is', async () => {
    const reads = await recordRevision(async (db) => {
      const r = await sql<{ n: number }>`SELECT count(*) AS n FROM pg_tables`.execute(db);
      if (r.rows.length === 0) await sql`CREATE TABLE empty_case (id int)`.execute(db);
    });
    expect(reads.readAnswerOf).toBe('SELECT count(*) AS n FROM pg_tables');
    const counts = await recordRevision(async (db) => {
      await db.updateTable('t').set({ a: 1 }).where('a', '=', 0).executeTakeFirst();
    });
    expect(counts.readAnswerOf).toContain('update "t"');
    const executes = await recordRevision(async (db) => {
      await db.schema.createTable('t').addColumn('a', 'integer').execute();
      await sql`UPDATE t SET a = ${1} WHERE a IS NULL`.execute(db);
    });
    expect(executes.readAnswerOf).toBeUndefined();
    expect(executes.statements).toEqual(['create table "t" ("a" integer)', 'UPDATE t SET a = 1 WHERE a IS NULL']);
  });

  it('replaying the recording builds the schema that importing the revisions builds; a changed file is imported', async () => {
    const recordedDb = await createTestDatabase();
    const importedDb = await createTestDatabase();
    const changedDb = await createTestDatabase();
    // A comment line changes every checksum: nothing is replayed, every revision is imported.
    const imported = platformCopy('imported', (_, text) => `${text}\n// copied\n`);
    // The first revision's DDL changed: what runs is the file as it is now.
    const changed = platformCopy('changed', (f, text) => (f.startsWith('3f1c0a9e5b01') ? text.replace("addColumn('name', 'varchar(255)', (c) => c.notNull())", "addColumn('name', 'varchar(300)', (c) => c.notNull())") : text));
    try {
      expect(readFileSync(path.join(changed, readdirSync(changed).find((f) => f.startsWith('3f1c0a9e5b01'))!), 'utf8')).toContain('varchar(300)');
      const a = await runCli(['upgrade', 'head'], { url: recordedDb.url, env: { CMMC_MIGRATIONS_DIR: path.join(ROOT, 'migrations') } });
      expect(a.exitCode, a.stderr).toBe(0);
      const b = await runCli(['upgrade', 'head'], { url: importedDb.url, env: { CMMC_MIGRATIONS_DIR: imported } });
      expect(b.exitCode, b.stderr).toBe(0);
      expect(await schemaOf(importedDb.name)).toBe(await schemaOf(recordedDb.name));
      const c = await runCli(['upgrade', 'head'], { url: changedDb.url, env: { CMMC_MIGRATIONS_DIR: changed } });
      expect(c.exitCode, c.stderr).toBe(0);
      expect(await query(changedDb.url, `SELECT character_maximum_length AS n FROM information_schema.columns WHERE table_name = 'organizations' AND column_name = 'name'`)).toEqual([{ n: 300 }]);
    } finally {
      await recordedDb.drop();
      await importedDb.drop();
      await changedDb.drop();
    }
  });
});

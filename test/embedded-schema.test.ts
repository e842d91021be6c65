/**
 * The embedded database runs the platform's migrations and seeds like a server: the same counts,
 * the same vector indexes; it works with no configuration at all; its backups restore into a
 * fresh folder with the same rows.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli, runCliJson } from './helpers/cli.js';
import { embeddedBackend, serverBackend, type TestTarget } from './helpers/backends.js';
import { dumpEmbedded, restoreEmbedded } from '../src/embedded/backup.js';

const COUNTS = `
  SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public') AS tables,
         (SELECT count(*) FROM pg_indexes WHERE schemaname = 'public') AS indexes,
         (SELECT count(*) FROM pg_views WHERE schemaname = 'public') AS views,
         (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE NOT t.tgisinternal AND n.nspname = 'public') AS triggers,
         (SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension WHERE extname <> 'plpgsql') AS extensions,
         (SELECT count(*) FROM pg_policies WHERE schemaname = 'public') AS policies,
         (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.prokind = 'f'
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')) AS functions`;

const VECTOR_INDEXES = `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexdef ~* 'USING (hnsw|ivfflat)' ORDER BY indexname`;

/** Row counts of every table of the platform and of the engine's bookkeeping. */
async function rowCounts(t: TestTarget): Promise<Record<string, number>> {
  const tables = await t.query<{ name: string }>(
    `SELECT schemaname || '.' || tablename AS name FROM pg_tables WHERE schemaname IN ('public', 'cmmc_db') ORDER BY 1`,
  );
  // One statement for all of them: every query() opens the embedded folder anew.
  const [row] = await t.query<Record<string, number>>(`SELECT ${tables.map(({ name }) => `(SELECT count(*)::int FROM ${name}) AS "${name}"`).join(', ')}`);
  return row;
}

describe('the platform schema on the embedded database', () => {
  it('upgrade head gives the same counts as on the server: 16 tables, 65+ indexes, 2 views, 9 triggers, 2 extensions', async () => {
    const server = await serverBackend.create();
    const embedded = await embeddedBackend.create();
    try {
      const [onServer, onEmbedded] = await Promise.all([
        runCli(['upgrade', 'head'], { env: server.env }),
        runCli(['upgrade', 'head'], { env: embedded.env }),
      ]);
      expect(onServer.exitCode, onServer.stderr).toBe(0);
      expect(onEmbedded.exitCode, onEmbedded.stderr).toBe(0);
      expect(onEmbedded.stderr).toContain('embedded PostgreSQL (PGlite)');

      const [s] = await server.query(COUNTS);
      const [e] = await embedded.query(COUNTS);
      expect(e).toEqual(s);
      expect(Number(e.tables)).toBe(16);
      expect(Number(e.indexes)).toBeGreaterThanOrEqual(65);
      expect(Number(e.views)).toBe(2);
      expect(Number(e.triggers)).toBe(9);
      expect(e.extensions).toBe('uuid-ossp,vector');

      // The same vector indexes, HNSW over embedding::halfvec(3072) included.
      const vs = await server.query(VECTOR_INDEXES);
      const ve = await embedded.query(VECTOR_INDEXES);
      expect(ve).toEqual(vs);
      expect(ve.some((r) => /USING hnsw \(\(\(?embedding\)?::halfvec\(3072\)\)/.test(r.indexdef))).toBe(true);
    } finally {
      await Promise.all([server.drop(), embedded.drop()]);
    }
  });

  it('init, upgrade head, current and history work with no configuration at all (a fresh folder, no .env)', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-noconfig-'));
    try {
      const init = await runCli(['init'], { cwd });
      expect(init.exitCode, init.stderr).toBe(0);
      expect(init.stderr).toContain('database: embedded PostgreSQL (PGlite) in .cmmc-db — not a server');
      expect(init.stderr).toContain('110 controls');
      expect(fs.existsSync(path.join(cwd, '.cmmc-db', 'pgdata', 'PG_VERSION'))).toBe(true);

      const upgrade = await runCli(['upgrade', 'head'], { cwd });
      expect(upgrade.exitCode, upgrade.stderr).toBe(0);
      expect(upgrade.stderr).toContain('embedded PostgreSQL (PGlite) in .cmmc-db');

      const history = await runCli(['history'], { cwd });
      expect(history.exitCode, history.stderr).toBe(0);
      const revisions = [...history.stdout.matchAll(/\b([0-9a-f]{12})\b/g)].map((m) => m[1]);
      const files = fs.readdirSync(path.join(ROOT, 'migrations')).filter((f) => /^[0-9a-f]{12}_.*\.ts$/.test(f));
      expect(new Set(revisions).size).toBe(files.length);

      const current = await runCliJson(['current'], { cwd });
      expect(current.exitCode).toBe(0);
      const text = JSON.stringify(current.data);
      // At head: the current revision is the newest one in the history.
      expect(text).toContain(history.stdout.match(/\b([0-9a-f]{12})\b.*\(head\)/)![1]);
      expect(current.stderr).toContain('not a server');
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('backups of the embedded database', () => {
  it('cmmc-db backup restores into a fresh folder with the same row counts, at the same revision', async () => {
    const source = await embeddedBackend.create();
    const copy = await embeddedBackend.create();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-embedded-backup-'));
    try {
      const init = await runCli(['init', '--sample'], { env: source.env });
      expect(init.exitCode, init.stderr).toBe(0);
      const before = await rowCounts(source);
      expect(before['public.cmmc_controls']).toBe(110);

      // The default format (custom) is a server's: the embedded database always writes plain SQL.
      const backup = await runCliJson(['backup', 'create', '--dir', dir], { env: source.env });
      expect(backup.exitCode, backup.stderr).toBe(0);
      expect(backup.data.format).toBe('plain');
      const file = path.join(dir, backup.data.file);
      expect(fs.readFileSync(file, 'utf8')).toContain('CREATE EXTENSION IF NOT EXISTS vector');

      // A backup of another folder is restored only when named, and the restore says whose it is.
      const restore = await runCli(['backup', 'restore', backup.data.name, '--dir', dir, '--yes'], { env: copy.env });
      expect(restore.stderr).toContain('is a backup of the embedded database in');
      expect(restore.exitCode, restore.stderr).toBe(0);
      expect(await rowCounts(copy)).toEqual(before);
      const [c] = await copy.query(COUNTS);
      const [s] = await source.query(COUNTS);
      expect(c).toEqual(s);

      // The restored folder is a working embedded database at the same revision.
      const sourceCurrent = await runCli(['current'], { env: source.env });
      const copyCurrent = await runCli(['current'], { env: copy.env });
      expect(copyCurrent.exitCode, copyCurrent.stderr).toBe(0);
      expect(copyCurrent.stdout).toBe(sourceCurrent.stdout);

      // The library refuses to restore over an existing database unless asked, and then replaces it whole.
      await expect(restoreEmbedded(file, copy.env.CMMC_DB_DIR)).rejects.toThrow(/already exists/);
      await copy.query('DELETE FROM cmmc_db.seed_log');
      await restoreEmbedded(file, copy.env.CMMC_DB_DIR, { replace: true });
      expect(await rowCounts(copy)).toEqual(before);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await Promise.all([source.drop(), copy.drop()]);
    }
  }, 240_000); // init --sample, a backup and a PGlite restore: minutes on a loaded two-core machine

  it('a gzip-compressed dump restores too; server-only commands say so in one line', async () => {
    const source = await embeddedBackend.create();
    const copy = await embeddedBackend.create();
    // The restore makes the database in a folder that has none.
    fs.rmSync(path.join(copy.env.CMMC_DB_DIR, 'pgdata'), { recursive: true, force: true });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-embedded-backup-')), 'backup.sql.gz');
    const notes = 'SELECT count(*)::int AS n, min(body) AS body, min(e::text) AS e FROM notes';
    try {
      await source.query(`CREATE EXTENSION vector; CREATE TABLE notes (id int PRIMARY KEY, body text, e vector(3));
        INSERT INTO notes SELECT g, E'line\\n''quoted''', '[1,2,3]' FROM generate_series(1, 250) g;`);
      await dumpEmbedded(source.env.CMMC_DB_DIR, file, { gzip: true });
      expect([...fs.readFileSync(file).subarray(0, 2)]).toEqual([0x1f, 0x8b]);
      await restoreEmbedded(file, copy.env.CMMC_DB_DIR);
      expect(await copy.query(notes)).toEqual(await source.query(notes));
      expect((await copy.query(notes))[0]).toEqual({ n: 250, body: "line\n'quoted'", e: '[1,2,3]' });

      for (const args of [['backup', 'pitr'], ['doctor', 'kill-idle']]) {
        const r = await runCli(args, { env: source.env });
        expect(r.exitCode, args.join(' ')).not.toBe(0);
        expect(r.stderr).toContain('needs a PostgreSQL server');
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
      await Promise.all([source.drop(), copy.drop()]);
    }
  });
});

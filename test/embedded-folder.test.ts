/**
 * The embedded database with no configuration at all: it is named plainly on stderr, and only one
 * process at a time opens its folder (a second one waits, takes over a dead holder's lock, or fails
 * with one line naming the folder and the pid), without damage to the data.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { embeddedBackend, type TestTarget } from './helpers/backends.js';
import { acquireEmbedded, releaseEmbedded } from '../src/embedded/instance.js';
import { EMBEDDED_PG_MAJOR } from '../src/embedded/data-folder.js';

const targets: TestTarget[] = [];
async function fresh(): Promise<TestTarget> {
  const t = await embeddedBackend.create();
  targets.push(t);
  return t;
}
afterEach(async () => {
  while (targets.length) await targets.pop()!.drop();
});

describe('the embedded database', () => {
  it('is the default with no configuration, named plainly on stderr, and answers', async () => {
    const t = await fresh();
    const r = await runCliJson(['health'], { env: t.env });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain('embedded PostgreSQL (PGlite)');
    expect(r.stderr).toContain('not a server');
    expect(r.data.status).toBe('ok');
    expect(r.data.serverVersion).toMatch(/^\d+\.\d+/);
    // A pool of connections shares the one embedded session.
    expect(r.data.pool.size).toBeGreaterThanOrEqual(r.data.pool.min);
    // The folder keeps the data and ignores itself in git; the lock is gone after the command.
    expect(fs.existsSync(path.join(t.env.CMMC_DB_DIR, 'pgdata', 'PG_VERSION'))).toBe(true);
    expect(fs.readFileSync(path.join(t.env.CMMC_DB_DIR, '.gitignore'), 'utf8')).toContain('*');
    expect(fs.existsSync(path.join(t.env.CMMC_DB_DIR, 'lock'))).toBe(false);
  });

  it('has the vector and uuid-ossp extensions available, and an HNSW index over halfvec(3072) builds', async () => {
    const t = await fresh();
    await t.query(`
      CREATE EXTENSION IF NOT EXISTS vector;
      CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
      CREATE TABLE chunks (id uuid PRIMARY KEY DEFAULT uuid_generate_v4(), embedding vector(3072));
      CREATE INDEX chunks_embedding ON chunks USING hnsw ((embedding::halfvec(3072)) halfvec_cosine_ops);
      INSERT INTO chunks (embedding) SELECT array_fill(g::real, ARRAY[3072])::vector FROM generate_series(1, 3) g;`);
    const rows = await t.query<{ n: string; am: string }>(
      `SELECT (SELECT count(*) FROM chunks) AS n, (SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.relname = 'chunks_embedding') AS am`,
    );
    expect(rows[0]).toEqual({ n: '3', am: 'hnsw' });
  });
});

describe('one process at a time', () => {
  it('a second process waits for the folder, then fails with one line naming the folder and the pid', async () => {
    const t = await fresh();
    const held = await acquireEmbedded(t.env.CMMC_DB_DIR);
    try {
      const r = await runCli(['health'], { env: { ...t.env, CMMC_DB_LOCK_WAIT: '1s' } });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`the embedded database in ${t.env.CMMC_DB_DIR} is in use by process ${process.pid}`);
      expect(r.stderr).toContain('CMMC_DB_LOCK_WAIT');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await releaseEmbedded(held);
    }
  });

  it('a second process that waits long enough goes ahead once the first lets go', async () => {
    const t = await fresh();
    const held = await acquireEmbedded(t.env.CMMC_DB_DIR);
    await held.pg.exec('CREATE TABLE kept (n int); INSERT INTO kept VALUES (1), (2);');
    const second = runCliJson(['health'], { env: { ...t.env, CMMC_DB_LOCK_WAIT: '60s' } });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await releaseEmbedded(held);
    const r = await second;
    expect(r.exitCode).toBe(0);
    expect(r.data.status).toBe('ok');
    expect(await t.query('SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 2 }]);
  });

  it('processes started together take turns, and the data is intact afterwards', async () => {
    const t = await fresh();
    await t.query('CREATE TABLE kept (n int); INSERT INTO kept SELECT generate_series(1, 1000);');
    const runs = await Promise.all([1, 2, 3].map(() => runCliJson(['health'], { env: { ...t.env, CMMC_DB_LOCK_WAIT: '120s' } })));
    for (const r of runs) {
      expect(r.exitCode).toBe(0);
      expect(r.data.status).toBe('ok');
    }
    expect(await t.query('SELECT count(*)::int AS n, sum(n)::int AS s FROM kept')).toEqual([{ n: 1000, s: 500500 }]);
    expect(fs.existsSync(path.join(t.env.CMMC_DB_DIR, 'lock'))).toBe(false);
  });

  it('a lock left by a process that is gone is taken over', async () => {
    const t = await fresh();
    await t.query('SELECT 1');
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    fs.writeFileSync(
      path.join(t.env.CMMC_DB_DIR, 'lock'),
      JSON.stringify({ pid: gone, startedAt: new Date().toISOString(), hostname: os.hostname(), command: 'upgrade head' }) + '\n',
    );
    const r = await runCliJson(['health'], { env: { ...t.env, CMMC_DB_LOCK_WAIT: '0' } });
    expect(r.exitCode).toBe(0);
    expect(fs.existsSync(path.join(t.env.CMMC_DB_DIR, 'lock'))).toBe(false);
  });

  it('a process killed with the database open leaves it usable (recovery on the next open)', async () => {
    const t = await fresh();
    await t.query('CREATE TABLE kept (n int)');
    const script = `
      const { acquireEmbedded } = await import(${JSON.stringify(path.resolve('dist/embedded/instance.js'))});
      const i = await acquireEmbedded(${JSON.stringify(t.env.CMMC_DB_DIR)});
      await i.pg.exec('INSERT INTO kept SELECT generate_series(1, 500)');
      await i.pg.exec('BEGIN; INSERT INTO kept SELECT generate_series(1, 100000);');
      process.kill(process.pid, 'SIGKILL');`;
    spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd() });
    // The committed rows are there, the open transaction's are not, and the dead process's lock is taken over.
    expect(await t.query('SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 500 }]);
    const r = await runCliJson(['health'], { env: { ...t.env, CMMC_DB_LOCK_WAIT: '0' } });
    expect(r.exitCode).toBe(0);
  });
});

describe('several connections of one process share the embedded session', () => {
  it('each query gets its own result, errors included, and transactions do not interleave', async () => {
    const t = await fresh();
    const { startEmbeddedServer } = await import('../src/embedded/provider.js');
    const postgres = (await import('postgres')).default;
    const server = await startEmbeddedServer({ embeddedDir: t.env.CMMC_DB_DIR });
    const sql = postgres(server.url.split('?')[0], { path: server.socketPath, max: 4, onnotice: () => {} });
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 120 }, (_, i) =>
          i % 7 === 3 ? sql`SELECT 1 / ${0}::int AS boom` : i % 2 ? sql`SELECT ${i}::int AS i, ${'v' + i}::text AS s` : sql.unsafe(`SELECT ${i}::int AS i, 'v${i}'::text AS s`),
        ),
      );
      results.forEach((r, i) => {
        if (i % 7 === 3) expect(r.status === 'rejected' && String(r.reason.message)).toBe('division by zero');
        else expect(r.status === 'fulfilled' && r.value[0]).toEqual({ i, s: `v${i}` });
      });
      // Read-modify-write in concurrent transactions: none is lost, because the others wait for a
      // transaction in progress instead of running inside it.
      await sql`CREATE TABLE counter (n int)`;
      await sql`INSERT INTO counter VALUES (0)`;
      await Promise.all(
        Array.from({ length: 10 }, () =>
          sql.begin(async (tx) => {
            const [{ n }] = await tx`SELECT n FROM counter`;
            await new Promise((resolve) => setTimeout(resolve, 5));
            await tx`UPDATE counter SET n = ${n + 1}`;
          }),
        ),
      );
      expect(await sql`SELECT n FROM counter`).toEqual([{ n: 10 }]);
    } finally {
      await sql.end();
      await server.stop();
    }
    expect(fs.existsSync(path.join(t.env.CMMC_DB_DIR, 'lock'))).toBe(false);
  });
});

describe('interrupting a command', () => {
  it('Ctrl-C during upgrade head closes the database cleanly: the folder is free and the next upgrade finishes', async () => {
    const t = await fresh();
    const { execa } = await import('execa');
    const { BIN, ROOT, cleanEnv } = await import('./helpers/cli.js');
    const child = execa('node', [BIN, 'upgrade', 'head'], { cwd: ROOT, env: cleanEnv(t.env), extendEnv: false, reject: false, buffer: true });
    // Interrupt once the first revision has been applied (or let it finish if it is faster than us).
    await new Promise<void>((resolve) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('✔ upgrade')) {
          child.kill('SIGINT');
          resolve();
        }
      });
      void child.finally(() => resolve());
    });
    const result = await child;
    expect([0, 130]).toContain(result.exitCode);
    expect(fs.existsSync(path.join(t.env.CMMC_DB_DIR, 'lock'))).toBe(false);

    // Whatever was applied is recorded consistently, and the next run goes on to head.
    const again = await runCli(['upgrade', 'head'], { env: { ...t.env, CMMC_DB_LOCK_WAIT: '0' } });
    expect(again.exitCode, again.stderr).toBe(0);
    const current = await runCli(['current'], { env: t.env });
    expect(current.stdout).toContain('(head)');
    const [log] = await t.query<{ n: number }>(`SELECT count(DISTINCT revision)::int AS n FROM cmmc_db.revision_log WHERE operation = 'upgrade'`);
    // Every revision file of the platform, counted from the folder (not a fixed number that goes stale).
    const revisionFiles = fs.readdirSync(path.join(ROOT, 'migrations')).filter((f) => /^[0-9a-f]{12}_.*\.ts$/.test(f));
    expect(log.n).toBe(revisionFiles.length);
  });
});

/** Every file under `dir` with its content's hash: what "nothing in it was changed" means. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const file = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, file)] = entry.isFile() ? createHash('sha256').update(fs.readFileSync(file)).digest('hex') : entry.isDirectory() ? 'folder' : 'other';
  }
  return out;
}

function flipByte(file: string, at: number): void {
  const bytes = fs.readFileSync(file);
  bytes[at] ^= 0x01;
  fs.writeFileSync(file, bytes);
}
/** The file of the first catalog base/5's relation map names (pg_class, in a fresh folder). */
function mappedFile(data: string): number {
  return fs.readFileSync(path.join(data, 'base', '5', 'pg_filenode.map')).readUInt32LE(12);
}
const mappedFileOf = (embeddedDir: string) => mappedFile(path.join(embeddedDir, 'pgdata'));
/** Every WAL segment moved one on: the segment that holds the last checkpoint is gone, others are there. */
function renameWal(data: string): void {
  const wal = path.join(data, 'pg_wal');
  const segments = fs.readdirSync(wal).filter((n) => /^[0-9A-F]{24}$/.test(n)).sort().reverse();
  for (const name of segments) {
    const next = name.slice(0, 16) + (parseInt(name.slice(16), 16) + 1).toString(16).toUpperCase().padStart(8, '0');
    fs.renameSync(path.join(wal, name), path.join(wal, next));
  }
}

describe('a damaged data folder', () => {
  it('is refused with one line naming what is wrong, and left exactly as it was (without PG_VERSION, PGlite would have run initdb over the data)', async () => {
    const t = await fresh();
    const made = await runCli(['current'], { env: t.env });
    expect(made.exitCode, made.stderr).toBe(0);
    // The major the checks expect is the one PGlite writes.
    expect(fs.readFileSync(path.join(t.env.CMMC_DB_DIR, 'pgdata', 'PG_VERSION'), 'utf8').trim()).toBe(EMBEDDED_PG_MAJOR);
    await t.query('CREATE TABLE kept (v text); INSERT INTO kept VALUES ($$mine$$)');
    const dir = t.env.CMMC_DB_DIR;
    const pristine = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-embedded-pristine-'));
    fs.cpSync(dir, pristine, { recursive: true });
    try {
      const damages: [string, (data: string) => void, string][] = [
        ['PG_VERSION removed', (d) => fs.rmSync(path.join(d, 'PG_VERSION')), 'PG_VERSION is missing'],
        ['pg_control removed', (d) => fs.rmSync(path.join(d, 'global', 'pg_control')), 'global/pg_control is missing'],
        ['pg_control cut short', (d) => fs.truncateSync(path.join(d, 'global', 'pg_control'), 100), 'global/pg_control is 100 bytes, not 8192'],
        ['base a file', (d) => (fs.rmSync(path.join(d, 'base'), { recursive: true }), fs.writeFileSync(path.join(d, 'base'), '')), 'base is not a folder'],
        ['pgdata a file', (d) => (fs.rmSync(d, { recursive: true }), fs.writeFileSync(d, 'x')), 'pgdata is not a folder'],
        // Damage PGlite would have started on, rewriting pg_control and the WAL before it gave up.
        ['PG_VERSION emptied', (d) => fs.writeFileSync(path.join(d, 'PG_VERSION'), ''), 'PG_VERSION holds "", not a PostgreSQL version'],
        ['another major', (d) => fs.writeFileSync(path.join(d, 'PG_VERSION'), '15\n'), `PG_VERSION says PostgreSQL 15: the embedded database is PostgreSQL ${EMBEDDED_PG_MAJOR} (PGlite)`],
        // A link to the data folder: PGlite's file system does not follow it (it failed with ENOENT).
        ['pgdata a link', (d) => (fs.renameSync(d, `${d}-elsewhere`), fs.symlinkSync(`${d}-elsewhere`, d)), 'pgdata is a symbolic link'],
        ['pg_control one byte changed', (d) => flipByte(path.join(d, 'global', 'pg_control'), 40), 'global/pg_control fails its checksum (CRC-32C)'],
        ['WAL of the checkpoint gone', (d) => renameWal(d), 'holds the last checkpoint, which starting the database replays from'],
        ['pg_database gone', (d) => fs.rmSync(path.join(d, 'global', '1262')), 'global/1262 is missing (a catalog of the cluster, listed in global/pg_filenode.map)'],
        ['a database folder gone', (d) => fs.rmSync(path.join(d, 'base', '5'), { recursive: true }), 'base/5 is missing (the folder of the postgres database)'],
        ['relation map changed', (d) => flipByte(path.join(d, 'base', '5', 'pg_filenode.map'), 16), 'base/5/pg_filenode.map fails its checksum (CRC-32C)'],
        ['pg_class gone', (d) => fs.rmSync(path.join(d, 'base', '5', String(mappedFile(d)))), `base/5/${mappedFileOf(pristine)} is missing (a catalog of that database`],
        ['pg_xact emptied', (d) => fs.rmSync(path.join(d, 'pg_xact', '0000')), 'pg_xact holds no segment'],
        // Catalog files cut or emptied: PGlite started on them and rewrote pg_control before failing.
        ['pg_database cut short', (d) => fs.truncateSync(path.join(d, 'global', '1262'), 100), 'global/1262 is 100 bytes, not a whole number of 8192-byte pages'],
        ['pg_class emptied', (d) => fs.truncateSync(path.join(d, 'base', '5', String(mappedFile(d))), 0), `base/5/${mappedFileOf(pristine)} is empty`],
      ];
      for (const [what, damage, line] of damages) {
        fs.rmSync(dir, { recursive: true, force: true });
        fs.rmSync(`${path.join(dir, 'pgdata')}-elsewhere`, { recursive: true, force: true });
        fs.cpSync(pristine, dir, { recursive: true });
        damage(path.join(dir, 'pgdata'));
        const before = snapshot(dir);
        // init too: it made a fresh database from the template where PG_VERSION was missing, over the data.
        for (const command of ['current', 'init']) {
          const r = await runCli([command], { env: t.env });
          expect(r.exitCode, `${command}: ${what}`).toBe(1);
          expect(r.stderr.split('\n').filter((l) => l.startsWith('error:')), `${command}: ${what}`).toEqual([expect.stringMatching(new RegExp(`(is damaged|cannot open the embedded database in [^:]*): [^;]*${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^;]*; nothing in it was changed`))]);
          expect(snapshot(dir), `${command}: ${what}`).toEqual(before);
        }
      }
      // The folder put back: the data is there.
      fs.rmSync(dir, { recursive: true, force: true });
      fs.cpSync(pristine, dir, { recursive: true });
      expect(await t.query('SELECT v FROM kept')).toEqual([{ v: 'mine' }]);
    } finally {
      fs.rmSync(pristine, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('the folder', () => {
  it('a folder holding other files (CMMC_DB_DIR=.) is refused, and nothing is written into it', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-project-'));
    try {
      fs.writeFileSync(path.join(cwd, 'README.md'), '# my project\n');
      const r = await runCli(['current'], { cwd, env: { CMMC_DB_DIR: '.' } });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain('holds other files (README.md); the embedded database needs a folder of its own');
      expect(fs.readdirSync(cwd)).toEqual(['README.md']);
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  });
});

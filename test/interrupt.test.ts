/**
 * Ctrl-C and crashes. Under a real pseudo-terminal (test/helpers/pty-session.ts), Ctrl-C typed
 * while a spinner shows stops a slow revision, a backup and a restore with exit 130 and one line,
 * with nothing committed or left behind; at a prompt too. A `kill -9` leaves things the next run
 * removes, and the migration lock is freed by the server without waiting for the orphaned
 * statement. Real server, real pg_dump / pg_restore, real files. Elapsed times are printed (not
 * asserted): each test tells an ignored Ctrl-C from an obeyed one by what is left afterwards.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanEnv, runCli, runCliJson } from './helpers/cli.js';
import { startCliInPty, type PtySession } from './helpers/pty-session.js';
import { ADMIN_URL, SLOW_RESTORE_SQL, adminQuery, query, trackedDatabases, type TestDatabase } from './helpers/server.js';

const SLOW = path.resolve('test/fixtures/interrupt/slow-server');
const RESTORE_FIXTURE = path.resolve('test/fixtures/restore');
/** Colours on, so that the spinner is ora's (the case that used to swallow Ctrl-C). */
const TERMINAL = { NO_COLOR: undefined };

async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function activity(database: string, like: string): Promise<number> {
  const rows = await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${database}' AND query ILIKE '${like}' AND pid <> pg_backend_pid()`);
  return rows[0].n;
}

/** Processes whose command line mentions `text` (the pg_dump / pg_restore a CLI started). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** The processes of `program` (pg_dump, pg_restore) whose command line mentions `text`. */
function programsMentioning(program: string, text: string): number[] {
  return processesMentioning(text).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0].endsWith(program);
    } catch {
      return false; // gone meanwhile
    }
  });
}

function errorLines(output: string): string[] {
  return output.split('\n').filter((l) => /error: /.test(l));
}

async function advisoryLocks(database: string): Promise<number> {
  const rows = await adminQuery<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND l.granted AND d.datname = '${database}'`,
  );
  return rows[0].n;
}

/** Holds ACCESS EXCLUSIVE on `table` (pg_dump waits for it) until the returned function is called. */
async function lockTable(db: TestDatabase, table: string): Promise<() => Promise<void>> {
  const holder = postgres(db.url, { max: 1 });
  const held = holder
    .begin(async (tx) => {
      await tx.unsafe(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
      await tx`SELECT pg_sleep(20)`;
    })
    .catch(() => {});
  await waitUntil(async () => (await activity(db.name, '%pg_sleep%')) > 0, 10_000, 'the lock holder');
  return async () => {
    await holder.end({ timeout: 0 });
    await held;
  };
}

describe('Ctrl-C and kill -9 leave nothing behind', () => {
  let work: string;
  const dbs = trackedDatabases();

  beforeAll(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-interrupt-'));
  });
  afterAll(async () => {
    rmSync(work, { recursive: true, force: true });
  });

  it('Ctrl-C during a slow revision (ora spinner showing) exits 130 with one line; the revision is not committed and the lock is free', async () => {
    const db = await dbs.create('cmmc_int_upgrade');
    const s = startCliInPty(['upgrade', 'head', '--migrations-dir', SLOW], { url: db.url, env: TERMINAL });
    await s.waitFor(/takes thirty seconds/);
    await waitUntil(async () => (await activity(db.name, '%pg_sleep%')) > 0, 30_000, 'the slow statement');
    const t0 = Date.now();
    s.type('\u0003');
    const r = await s.done;
    console.log(`upgrade: exited ${Date.now() - t0} ms after Ctrl-C`);
    expect(r.exitCode).toBe(130);
    expect(errorLines(r.output)).toHaveLength(1);
    expect(r.output).toMatch(/interrupted \(Ctrl-C\): .*4d0000000001 -> 4d0000000002 was not committed/);
    // The first revision stays; nothing of the second was committed.
    expect(await query(db.url, "SELECT to_regclass('slow_thing') AS slow, (SELECT count(*)::int FROM quick_thing) AS quick")).toEqual([{ slow: null, quick: 3 }]);
    expect(await query(db.url, 'SELECT version_num FROM cmmc_schema_version')).toEqual([{ version_num: '4d0000000001' }]);
    const freedMs = await waitUntil(async () => (await advisoryLocks(db.name)) === 0, 10_000, 'the migration lock to be freed');
    console.log(`upgrade: lock free ${freedMs} ms after the exit`);
  });

  /** A folder of SQL revisions, each `[id, down, body, transactional]`. */
  function revisions(name: string, revs: [string, string, string, boolean?][]): string {
    const dir = path.join(work, name);
    mkdirSync(dir);
    for (const [id, down, body, transactional] of revs) {
      const head = [`-- revision: ${id}`, `-- down_revision: ${down}`, `-- message: ${id}`, ...(transactional === false ? ['-- transactional: false'] : [])];
      writeFileSync(path.join(dir, `${id}.sql`), [...head, '-- migrate:up', body, '-- migrate:down', 'SELECT 1;', ''].join('\n'));
    }
    return dir;
  }

  const sleeping = async (database: string) =>
    (await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${database}' AND wait_event = 'PgSleep'`))[0].n > 0;

  it('Ctrl-C under --json: one document with status "interrupted", the steps committed and the interrupted one', async () => {
    const db = await dbs.create('cmmc_int_json');
    const dir = revisions('json', [['j1', 'none', 'CREATE TABLE j1 (id int);'], ['j2', 'j1', 'CREATE TABLE j2 (id int);\nSELECT pg_sleep(30);']]);
    const child = execa('node', [BIN, 'upgrade', 'head', '--json', '--migrations-dir', dir], { env: cleanEnv({ DATABASE_URL: db.url }), extendEnv: false, reject: false });
    await waitUntil(() => sleeping(db.name), 30_000, 'the slow statement');
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ operation: 'upgrade', status: 'interrupted', to: ['j1'], steps: [{ revision: 'j1' }], failed: { revision: 'j2', error: { code: 'interrupted' } } });
    expect(doc.failed.error.message).toContain('j2 was rolled back');
    expect(await query(db.url, "SELECT to_regclass('j2') AS j2")).toEqual([{ j2: null }]);
  });

  it('Ctrl-C while waiting for another run\'s lock under --json: one document with status "interrupted", nothing run', async () => {
    const db = await dbs.create('cmmc_int_lockwait');
    const dir = revisions('lockwait', [['w1', 'none', 'CREATE TABLE w1 (id int);\nSELECT pg_sleep(8);']]);
    const env = cleanEnv({ DATABASE_URL: db.url });
    const first = execa('node', [BIN, 'upgrade', 'head', '--migrations-dir', dir], { env, extendEnv: false, reject: false });
    await waitUntil(() => sleeping(db.name), 30_000, 'the first run\'s slow statement');
    const second = execa('node', [BIN, 'upgrade', 'head', '--json', '--migrations-dir', dir], { env, extendEnv: false, reject: false });
    let stderr = '';
    second.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await waitUntil(() => stderr.includes('waiting for another migration run'), 30_000, 'the second run to wait for the lock');
    second.kill('SIGINT');
    const r = await second;
    expect(r.exitCode).toBe(130);
    expect(JSON.parse(r.stdout)).toMatchObject({ operation: 'upgrade', status: 'interrupted', steps: [], error: { code: 'interrupted' } });
    // One line, each state said once.
    const line = errorLines(stderr)[0];
    expect(line.split('connections closed').length).toBeLessThanOrEqual(2);
    first.kill('SIGINT');
    await first;
  });

  it('Ctrl-C in a non-transactional revision says that what it ran stays, not that it was rolled back', async () => {
    const db = await dbs.create('cmmc_int_nontx');
    const dir = revisions('nontx', [['n1', 'none', 'CREATE TABLE n1 (id int);\nSELECT pg_sleep(30);', false]]);
    const child = execa('node', [BIN, 'upgrade', 'head', '--migrations-dir', dir], { env: cleanEnv({ DATABASE_URL: db.url }), extendEnv: false, reject: false });
    await waitUntil(() => sleeping(db.name), 30_000, 'the slow statement');
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/interrupted \(Ctrl-C\): upgrade base -> n1 is non-transactional: what it had run stays/);
    expect(r.stderr).not.toMatch(/not committed|rolls it back\)/);
    expect(await query(db.url, "SELECT to_regclass('n1')::text AS n1")).toEqual([{ n1: 'n1' }]); // it did stay
  });

  it('Ctrl-C while a revision commits (a deferred trigger makes COMMIT slow): the line does not claim it was not committed', async () => {
    const db = await dbs.create('cmmc_int_commit');
    const body = [
      'CREATE TABLE committed_slowly (id int);',
      'CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(3); RETURN NULL; END $$;',
      'CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON committed_slowly DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();',
      'INSERT INTO committed_slowly VALUES (1);',
    ].join('\n');
    const dir = revisions('commit', [['c1', 'none', body]]);
    const child = execa('node', [BIN, 'upgrade', 'head', '--migrations-dir', dir], { env: cleanEnv({ DATABASE_URL: db.url }), extendEnv: false, reject: false });
    await waitUntil(() => sleeping(db.name), 30_000, 'the slow COMMIT');
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect(r.stderr).toMatch(/interrupted \(Ctrl-C\): upgrade base -> c1 was being committed: "cmmc-db current" shows whether it was/);
    expect(r.stderr).not.toMatch(/not committed/);
    // Whatever the server decided, the version row and the revision's table agree.
    await waitUntil(async () => !(await sleeping(db.name)), 10_000, 'the COMMIT to end');
    const [state] = await query<{ t: string | null }>(db.url, "SELECT to_regclass('committed_slowly')::text AS t");
    const rows = state.t ? await query(db.url, 'SELECT version_num FROM cmmc_schema_version') : [];
    expect(rows).toEqual(state.t ? [{ version_num: 'c1' }] : []);
    console.log(`interrupted COMMIT: the server ${state.t ? 'committed' : 'rolled back'} c1`);
  });

  it('kill -9 during a slow revision: the server cancels the orphaned statement and frees the lock without waiting for it', async () => {
    const db = await dbs.create('cmmc_int_kill');
    const child = execa('node', [BIN, 'upgrade', 'head', '--migrations-dir', SLOW], { env: cleanEnv({ DATABASE_URL: db.url }), extendEnv: false, reject: false });
    await waitUntil(async () => (await activity(db.name, '%pg_sleep%')) > 0, 30_000, 'the slow statement');
    expect(await advisoryLocks(db.name)).toBe(1);
    child.kill('SIGKILL');
    await child;
    // The statement sleeps 30 s: a lock freed well before that was freed by the server noticing the client is gone.
    const freedMs = await waitUntil(async () => (await advisoryLocks(db.name)) === 0, 10_000, 'the migration lock to be freed');
    console.log(`kill -9: lock free ${freedMs} ms after the kill (client_connection_check_interval = 1s)`);
    expect(await activity(db.name, '%pg_sleep%')).toBe(0);
    expect(await query(db.url, "SELECT to_regclass('slow_thing') AS slow")).toEqual([{ slow: null }]);
  });

  /**
   * Runs `fn` with a fresh database whose table `big` is locked by another session, so that a
   * backup started on it (into `work/<dirName>`) is still running when the test interrupts it.
   */
  async function withBlockedBackup(database: string, dirName: string, fn: (db: TestDatabase, dir: string) => Promise<void>): Promise<void> {
    const db = await dbs.create(database);
    await query(db.url, 'CREATE TABLE big AS SELECT g FROM generate_series(1, 1000) g');
    // pg_dump waits for this lock.
    const release = await lockTable(db, 'big');
    try {
      await fn(db, path.join(work, dirName));
    } finally {
      await release();
    }
  }

  it('Ctrl-C during a backup stops pg_dump and removes the partial file; exit 130, one line', async () => {
    await withBlockedBackup('cmmc_int_backup', 'backup-ctrl-c', async (db, dir) => {
      const s = startCliInPty(['backup', '--dir', dir], { url: db.url, env: TERMINAL });
      await s.waitFor(/pg_dump/);
      await waitUntil(() => processesMentioning(dir).length > 0 && existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.partial')), 30_000, 'pg_dump to start');
      const t0 = Date.now();
      s.type('\u0003');
      const r = await s.done;
      console.log(`backup: exited ${Date.now() - t0} ms after Ctrl-C`);
      expect(r.exitCode).toBe(130);
      expect(errorLines(r.output)).toHaveLength(1);
      expect(r.output).toContain('interrupted (Ctrl-C): pg_dump was stopped and the partial backup file removed; nothing was kept');
      // Nothing kept, not even the folder the backup made for itself.
      expect(existsSync(dir)).toBe(false);
      expect(processesMentioning(dir)).toEqual([]);
    });
  });

  it('Ctrl-C on the terminal reaches cmmc-db alone, which stops pg_dump: the interruption, its one line and nothing kept', async () => {
    // The terminal signals its foreground process group. pg_dump in it could see the Ctrl-C first and
    // exit 1 ("terminated by user") before cmmc-db had heard of it (a loaded machine): only its words
    // told that from a failure. pg_dump runs outside it (src/db/pg-tools.ts runPg), stopped by cmmc-db.
    await withBlockedBackup('cmmc_int_backup_first', 'backup-child-first', async (db, dir) => {
      const s = startCliInPty(['backup', '--dir', dir], { url: db.url, env: TERMINAL });
      const pgDump = () => programsMentioning('pg_dump', dir);
      await waitUntil(() => pgDump().length > 0 && existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.partial')), 30_000, 'pg_dump to start');
      const [pid] = pgDump();
      expect(pid, 'the pg_dump process').toBeGreaterThan(0);
      const [, , pgrp, , , tpgid] = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
      expect(pgrp, "pg_dump is in the terminal's foreground process group").not.toBe(tpgid);
      s.type('\u0003');
      const r = await s.done;
      expect(r.exitCode).toBe(130);
      expect(errorLines(r.output)).toHaveLength(1);
      expect(r.output).toContain('interrupted (Ctrl-C): pg_dump was stopped and the partial backup file removed; nothing was kept');
      expect(r.output).not.toContain('pg_dump failed');
      // Nothing kept, not even the folder the backup made for itself.
      expect(existsSync(dir)).toBe(false);
      await waitUntil(() => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'), 10_000, 'pg_dump to be stopped');
    });
  });

  it('pg_dump killed outright (kill -9): one line saying so, exit 1, nothing kept', async () => {
    await withBlockedBackup('cmmc_int_backup_kill9', 'backup-kill9', async (db, dir) => {
      const child = execa('node', [BIN, 'backup', '--dir', dir], { env: cleanEnv({ DATABASE_URL: db.url }), extendEnv: false, reject: false });
      const pgDump = () => programsMentioning('pg_dump', dir);
      await waitUntil(() => pgDump().length > 0, 30_000, 'pg_dump to start');
      process.kill(pgDump()[0], 'SIGKILL');
      const r = await child;
      expect(r.exitCode).toBe(1);
      expect(errorLines(r.stderr)).toEqual([expect.stringContaining('pg_dump was stopped by SIGKILL')]);
      // Nothing kept, not even the folder the backup made for itself.
      expect(existsSync(dir)).toBe(false);
    });
  });

  /**
   * Starts a restore under a terminal, of a database whose restore is slow (a check that sleeps
   * only in the database being built, its name starting with cmmc_scratch_), and calls `stop` once
   * pg_restore loads the data. Returns how the run ended, once the half-built database is gone, and
   * checks that nothing of it is left and the database being replaced is untouched.
   */
  async function stopRestoreWhileLoading(label: string, stop: (s: PtySession) => void) {
    const db = await dbs.create(`cmmc_int_${label}`);
    await query(db.url, SLOW_RESTORE_SQL);
    const dir = path.join(work, `restore-${label}`);
    const made = await runCliJson(['backup', '--dir', dir], { url: db.url });
    expect(made.exitCode, made.stderr).toBe(0);
    const tag = `ir${randomBytes(3).toString('hex')}`;
    const s = startCliInPty(['backup', 'restore', '--dir', dir, '--yes'], { url: db.url, env: { ...TERMINAL, CMMC_SCRATCH_TAG: tag } });
    const building = async () => adminQuery<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'cmmc\\_scratch\\_${tag}\\_%'`);
    await waitUntil(async () => {
      const [b] = await building();
      return Boolean(b) && (await activity(b.datname, '%pg_sleep%')) + (await activity(b.datname, 'COPY%')) > 0;
    }, 60_000, 'pg_restore to load the data');
    const t0 = Date.now();
    stop(s);
    const r = await s.done;
    console.log(`restore (${label}): exited ${Date.now() - t0} ms after it was stopped`);
    await waitUntil(async () => (await building()).length === 0, 10_000, 'the half-built database to be dropped');
    expect(processesMentioning(made.data.path)).toEqual([]);
    expect(await query(db.url, 'SELECT count(*)::int AS n FROM s')).toEqual([{ n: 60 }]);
    expect(await adminQuery(`SELECT datname FROM pg_database WHERE datname LIKE '${db.name}\\_pre\\_restore%'`)).toEqual([]);
    return r;
  }

  it('Ctrl-C during a restore stops pg_restore and drops the half-built database; the database being replaced is untouched', async () => {
    const r = await stopRestoreWhileLoading('restore', (s) => s.type('\u0003'));
    expect(r.exitCode).toBe(130);
    expect(errorLines(r.output)).toHaveLength(1);
    expect(r.output).toMatch(/interrupted \(Ctrl-C\): .*scratch databases dropped/);
  });

  it('the terminal closed during a restore (SIGHUP, then EIO): the half-built database is dropped and the CLI exits 129, not killed by Node aborting in its exit', async () => {
    // Node asserts at exit that it can put the terminal back as it found it (ResetStdio,
    // tcsetattr), which a hung-up terminal refuses with EIO: the process died of SIGABRT (or
    // SIGSEGV), after its cleanups, with a core dump of its memory (passwords, keys) where the
    // system keeps them.
    const r = await stopRestoreWhileLoading('hangup', (s) => s.hangUp());
    expect(r.exitCode).toBe(129);
  });

  it('Ctrl-C while a scratch database is being created (CREATE DATABASE running): it is dropped once made, not left behind', async () => {
    // The DROP DATABASE IF EXISTS of the interruption ran while the CREATE was still going: it found
    // nothing, the process exited saying "scratch databases dropped", and the CREATE committed after.
    const db = await dbs.create('cmmc_int_create');
    const dir = path.join(work, 'create-ctrl-c');
    const made = await runCliJson(['backup', '--dir', dir], { url: db.url });
    expect(made.exitCode, made.stderr).toBe(0);
    const watcher = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
    let caught = 0;
    try {
      for (let attempt = 0; attempt < 12 && caught < 3; attempt++) {
        const tag = `ic${randomBytes(3).toString('hex')}`;
        const child = execa('node', [BIN, 'backup', 'verify', '--restore-test', '--dir', dir], { env: cleanEnv({ DATABASE_URL: db.url, CMMC_SCRATCH_TAG: tag }), extendEnv: false, reject: false });
        let ended = false;
        void child.finally(() => (ended = true));
        let sent = false;
        while (!sent && !ended) {
          const creating = await watcher`SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE ${`CREATE DATABASE "cmmc_scratch_${tag}_%`}`;
          if (creating.length) sent = child.kill('SIGINT');
        }
        const r = await child;
        if (!sent) continue;
        caught++;
        expect(r.exitCode, r.stderr).toBe(130);
        // No later cmmc-db run (which would sweep it) in between: what is there now was left by this one.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        expect(await adminQuery(`SELECT datname FROM pg_database WHERE datname LIKE 'cmmc\\_scratch\\_${tag}\\_%'`), r.stderr).toEqual([]);
      }
    } finally {
      await watcher.end();
    }
    expect(caught, 'no Ctrl-C landed while CREATE DATABASE ran').toBeGreaterThan(0);
  });

  it('downgrade on a terminal shows what goes and asks, outside production too; n and Ctrl-C at the prompt change nothing; without a terminal it needs --yes', async () => {
    const db = await dbs.create('cmmc_int_downgrade');
    const up = await runCli(['upgrade', 'head', '--migrations-dir', RESTORE_FIXTURE], { url: db.url });
    expect(up.exitCode, up.stderr).toBe(0);
    const tables = async () => (await query(db.url, "SELECT to_regclass('parent')::text AS p, to_regclass('newer')::text AS n"))[0];

    const no = startCliInPty(['downgrade', 'base', '--migrations-dir', RESTORE_FIXTURE], { url: db.url });
    await no.waitFor(/Go ahead\? \[y\/N\]/);
    no.type('n\r');
    const declined = await no.done;
    expect(declined.exitCode).toBe(1);
    expect(declined.output).toContain('revert 5e0000000002  a newer table that points at parent');
    expect(declined.output).toMatch(/drop table newer, 5 rows/);
    expect(declined.output).toMatch(/drop table parent, 20 rows/);
    expect(declined.output).toContain('nothing was downgraded');
    expect(await tables()).toEqual({ p: 'parent', n: 'newer' });

    const ctrlC = startCliInPty(['downgrade', 'base', '--migrations-dir', RESTORE_FIXTURE], { url: db.url, env: TERMINAL });
    await ctrlC.waitFor(/Go ahead\? \[y\/N\]/);
    ctrlC.type('\u0003');
    const interrupted = await ctrlC.done;
    expect(interrupted.exitCode).toBe(130);
    expect(errorLines(interrupted.output)).toHaveLength(1);
    expect(interrupted.output).toContain('interrupted (Ctrl-C)');
    expect(await tables()).toEqual({ p: 'parent', n: 'newer' });

    const script = await runCli(['downgrade', 'base', '--migrations-dir', RESTORE_FIXTURE], { url: db.url });
    expect(script.exitCode).toBe(1);
    expect(script.stderr).toContain('refusing without confirmation');
    const dry = await runCli(['downgrade', '-1', '--migrations-dir', RESTORE_FIXTURE, '--dry-run'], { url: db.url });
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stderr).toContain('revert 5e0000000002');
    expect(dry.stderr).not.toContain('revert 5e0000000001');
    expect(await tables()).toEqual({ p: 'parent', n: 'newer' });

    const yes = startCliInPty(['downgrade', 'base', '--migrations-dir', RESTORE_FIXTURE], { url: db.url });
    await yes.waitFor(/Go ahead\? \[y\/N\]/);
    yes.type('y\r');
    expect((await yes.done).exitCode).toBe(0);
    expect(await tables()).toEqual({ p: null, n: null });
  });

  it('after kill -9 the next run removes what was left: a scratch database, a partial backup file, temporary folders of dead processes (and nothing of a live one)', async () => {
    const db = await dbs.create('cmmc_int_leftovers');
    const tag = `lo${randomBytes(3).toString('hex')}`;
    const env = cleanEnv({ DATABASE_URL: db.url, CMMC_SCRATCH_TAG: tag });
    const scratch = async () => adminQuery<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'cmmc\\_scratch\\_${tag}\\_%'`);

    // test-migrations builds the slow revision in a scratch database: killed there, it leaves it.
    const t = execa('node', [BIN, 'test-migrations', '--migrations-dir', SLOW], { env, extendEnv: false, reject: false });
    await waitUntil(async () => (await scratch()).length > 0, 60_000, 'the scratch database');
    t.kill('SIGKILL');
    await t;
    expect(await scratch()).toHaveLength(1);
    const next = await runCli(['current', '--migrations-dir', SLOW], { url: db.url });
    expect(next.exitCode, next.stderr).toBe(0);
    expect(await scratch()).toEqual([]);

    // A backup killed while pg_dump runs leaves its partial file; the next backup command removes it.
    await query(db.url, 'CREATE TABLE big AS SELECT g FROM generate_series(1, 1000) g');
    const dir = path.join(work, 'backup-kill');
    const release = await lockTable(db, 'big');
    const b = execa('node', [BIN, 'backup', '--dir', dir], { env: cleanEnv({ DATABASE_URL: db.url }), extendEnv: false, reject: false });
    await waitUntil(() => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.partial')), 30_000, 'pg_dump to start');
    b.kill('SIGKILL');
    await b;
    await release();
    await waitUntil(() => processesMentioning(dir).length === 0, 30_000, 'the orphaned pg_dump to finish');
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toHaveLength(1);
    const list = await runCli(['backup', 'list', '--dir', dir], { url: db.url });
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stderr).toContain('removed 1 unfinished file(s) left by runs that are gone');
    expect(readdirSync(dir)).toEqual([]);

    // Temporary folders (decrypted archives, sockets, scratch folders) carry their process: a dead one's go, a live one's stay.
    const tmp = path.join(work, 'tmp');
    mkdirSync(tmp);
    const dead = execa('true');
    await dead;
    const gone = path.join(tmp, `cmmc-tmp-decrypt-p${dead.pid!.toString(36)}-t0-0a0b0c0d`);
    const startTicks = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[19];
    const live = path.join(tmp, `cmmc-tmp-decrypt-p${process.pid.toString(36)}-t${BigInt(startTicks).toString(36)}-0a0b0c0d`);
    for (const d of [gone, live]) {
      mkdirSync(d);
      writeFileSync(path.join(d, 'plaintext.dump'), 'secret');
    }
    const any = await runCli(['--help'], { env: { TMPDIR: tmp } });
    expect(any.exitCode).toBe(0);
    expect(existsSync(gone)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });
});

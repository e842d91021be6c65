/**
 * What `backup verify` may record against a backup, and restores of every kind of backup on a
 * server. Only a verdict about the backup itself (checksum, an archive pg_restore refuses, a failed
 * restore of it) marks it FAILED; an interruption (Ctrl-C on a terminal, SIGTERM, the restoring
 * client seeing the Ctrl-C first) or a local failure (a full or unusable TMPDIR) is this run's error, with the
 * manifest untouched and no drill record. Plain backups (the server's and the embedded database's)
 * verify and restore through psql; a restore keeps the database's grants and owner, takes any name
 * PostgreSQL takes; the messages of the application role and of a full disk. Real server, real
 * pg_dump / pg_restore / psql, real files (a real tmpfs for the full disk).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanEnv, runCli, runCliJson } from './helpers/cli.js';
import { startCliInPty } from './helpers/pty-session.js';
import { SLOW_RESTORE_SQL, adminQuery, query, trackedDatabases, type TestDatabase } from './helpers/server.js';
import { dropSetup, newSetup, rolesOf } from './helpers/tenant-setup.js';

async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const errorLines = (output: string) => output.split('\n').filter((l) => /error: /.test(l));

/**
 * The client programs (psql, pg_restore) connected to `database`: named by their environment's
 * PGDATABASE (src/db/pg-tools.ts libpqEnv), as a restore test's psql reads its script on stdin.
 */
function clientsOf(database: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const program = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0];
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (/(?:^|\/)(?:psql|pg_restore)$/.test(program) && env.includes(`PGDATABASE=${database}`)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** A 64 KiB tmpfs: a disk that is full for anything bigger. Unmounted by the returned function. */
async function fullDisk(dir: string): Promise<() => Promise<void>> {
  mkdirSync(dir, { recursive: true });
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
  return async () => void (await execa('umount', [dir], { reject: false }));
}

describe('backup verify records verdicts on the backup only; restores of every backup on a server', () => {
  let work: string;
  const dbs = trackedDatabases();
  const scratchesTagged = (tag: string) => adminQuery<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'cmmc\\_scratch\\_${tag}\\_%'`);

  beforeAll(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-verdicts-'));
  });
  afterAll(async () => {
    rmSync(work, { recursive: true, force: true });
  });

  /**
   * A backup whose restore is slow only in a scratch database (a check that sleeps there), so that a
   * restore test is still loading when it is interrupted.
   */
  async function slowRestoreBackup(prefix: string): Promise<{ db: TestDatabase; dir: string; name: string; manifest: string }> {
    const db = await dbs.create(prefix);
    await query(db.url, SLOW_RESTORE_SQL);
    const dir = path.join(work, prefix);
    const made = await runCliJson(['backup', '--dir', dir], { url: db.url });
    expect(made.exitCode, made.stderr).toBe(0);
    const manifest = path.join(dir, `${made.data.name}.manifest.json`);
    return { db, dir, name: made.data.name, manifest };
  }

  /** Starts verify --restore-test and waits until pg_restore loads the scratch database. */
  async function untilLoading(tag: string): Promise<string> {
    let scratch = '';
    await waitUntil(async () => {
      const [b] = await scratchesTagged(tag);
      if (!b) return false;
      scratch = b.datname;
      const [row] = await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${b.datname}' AND (query ILIKE '%pg_sleep%' OR query ILIKE 'COPY%')`);
      return row.n > 0;
    }, 60_000, 'pg_restore to load the scratch database');
    return scratch;
  }

  function expectNothingRecorded(dir: string, name: string, manifest: string, before: string): void {
    expect(readFileSync(manifest, 'utf8')).toBe(before);
    expect(readdirSync(dir).filter((f) => f.startsWith(`${name}.restore-drill-`))).toEqual([]);
  }

  it('Ctrl-C on a terminal during verify --restore-test: exit 130, the one line; manifest untouched, no drill record, scratch dropped', async () => {
    const { db, dir, name, manifest } = await slowRestoreBackup('cmmc_vv_int');
    const before = readFileSync(manifest, 'utf8');
    const tag = `vi${randomBytes(3).toString('hex')}`;
    const s = startCliInPty(['backup', 'verify', name, '--dir', dir, '--restore-test'], { url: db.url, env: { NO_COLOR: undefined, CMMC_SCRATCH_TAG: tag } });
    await untilLoading(tag);
    s.type('\u0003');
    const r = await s.done;
    expect(r.exitCode, r.output).toBe(130);
    expect(errorLines(r.output), r.output).toEqual([expect.stringMatching(/interrupted \(Ctrl-C\): .*scratch databases dropped/)]);
    expect(r.output).not.toContain('does not verify');
    expectNothingRecorded(dir, name, manifest, before);
    await waitUntil(async () => (await scratchesTagged(tag)).length === 0, 10_000, 'the scratch database to be dropped');
  });

  it('SIGTERM during verify --restore-test: exit 143, the one line; manifest untouched, no drill record, scratch dropped', async () => {
    const { db, dir, name, manifest } = await slowRestoreBackup('cmmc_vv_term');
    const before = readFileSync(manifest, 'utf8');
    const tag = `vt${randomBytes(3).toString('hex')}`;
    const child = execa('node', [BIN, 'backup', 'verify', name, '--dir', dir, '--restore-test'], { env: cleanEnv({ DATABASE_URL: db.url, CMMC_SCRATCH_TAG: tag }), extendEnv: false, reject: false });
    await untilLoading(tag);
    child.kill('SIGTERM');
    const r = await child;
    expect(r.exitCode, r.stderr).toBe(143);
    expect(errorLines(r.stderr), r.stderr).toEqual([expect.stringMatching(/stopped by SIGTERM: .*scratch databases dropped/)]);
    expectNothingRecorded(dir, name, manifest, before);
    await waitUntil(async () => (await scratchesTagged(tag)).length === 0, 10_000, 'the scratch database to be dropped');
  });

  it('Ctrl-C on the terminal reaches cmmc-db alone: the restoring clients run outside the terminal’s foreground group and are stopped by cmmc-db, whatever language they speak', async () => {
    const { db, dir, name, manifest } = await slowRestoreBackup('cmmc_vv_first');
    const before = readFileSync(manifest, 'utf8');
    const tag = `vf${randomBytes(3).toString('hex')}`;
    // The clients' own messages in German: nothing may hang on their words.
    const s = startCliInPty(['backup', 'verify', name, '--dir', dir, '--restore-test'], { url: db.url, env: { NO_COLOR: undefined, CMMC_SCRATCH_TAG: tag, LANGUAGE: 'de' } });
    const scratch = await untilLoading(tag);
    const clients = clientsOf(scratch);
    expect(clients.length, 'the clients loading the scratch database').toBeGreaterThan(0);
    // The terminal signals its foreground process group. A client in it saw the Ctrl-C as soon as
    // cmmc-db did, and could exit (psql 3, pg_restore 1) before cmmc-db had heard of it: only its
    // English words told that apart from a failure. Outside it, only cmmc-db's interruption stops it.
    for (const pid of clients) {
      const [, , pgrp, , , tpgid] = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
      expect(pgrp, `client ${pid} is in the terminal's foreground process group`).not.toBe(tpgid);
    }
    s.type('\u0003');
    const r = await s.done;
    expect(r.exitCode, r.output).toBe(130);
    expect(errorLines(r.output), r.output).toHaveLength(1);
    expectNothingRecorded(dir, name, manifest, before);
    const gone = (pid: number) => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z');
    await waitUntil(() => clients.every(gone), 10_000, 'the clients to be stopped');
  });

  it('a full TMPDIR (ENOSPC) or a TMPDIR that is a file (ENOTDIR) while decrypting: one line naming it; the manifest stays, and restore does not call the backup bad', async () => {
    const db = await dbs.create('cmmc_vv_tmp');
    await query(db.url, 'CREATE TABLE t AS SELECT g AS id, md5(g::text) AS s FROM generate_series(1, 20000) g');
    const dir = path.join(work, 'tmp-full');
    const key = path.join(work, 'tmp-full.key');
    writeFileSync(key, randomBytes(48).toString('base64'), { mode: 0o600 });
    const made = await runCliJson(['backup', '--dir', dir, '--encrypt', '--key-file', key], { url: db.url });
    expect(made.exitCode, made.stderr).toBe(0);
    const manifest = path.join(dir, `${made.data.name}.manifest.json`);
    const before = readFileSync(manifest, 'utf8');
    const full = path.join(work, 'full-disk');
    const unmount = await fullDisk(full);
    try {
      const verify = await runCli(['backup', 'verify', made.data.name, '--dir', dir, '--key-file', key], { url: db.url, env: { TMPDIR: full } });
      expect(verify.exitCode, verify.stderr).toBe(1);
      expect(errorLines(verify.stderr), verify.stderr).toEqual([expect.stringMatching(new RegExp(`could not be verified \\(decrypt\\): cannot write ${full}/\\S+: it cannot be written: the disk is full \\[ENOSPC\\].*manifest was left as it was — .*TMPDIR`))]);
      expect(readFileSync(manifest, 'utf8')).toBe(before);
      expect(readdirSync(full)).toEqual([]);
      const restore = await runCli(['backup', 'restore', made.data.name, '--dir', dir, '--key-file', key, '--target-db', `${db.name}_r`, '--yes'], { url: db.url, env: { TMPDIR: full } });
      expect(restore.exitCode).toBe(1);
      expect(errorLines(restore.stderr), restore.stderr).toEqual([expect.stringContaining('[ENOSPC]')]);
      expect(restore.stderr).not.toContain('does not verify');
    } finally {
      await unmount();
    }
    const file = path.join(work, 'tmpdir-is-a-file');
    writeFileSync(file, 'not a folder');
    const notDir = await runCli(['backup', 'verify', made.data.name, '--dir', dir, '--key-file', key], { url: db.url, env: { TMPDIR: file } });
    expect(notDir.exitCode).toBe(1);
    expect(errorLines(notDir.stderr), notDir.stderr).toEqual([expect.stringMatching(new RegExp(`cannot create the folder ${file}/\\S+: it is a file, not a folder .*\\[ENOTDIR\\]`))]);
    expect(readFileSync(manifest, 'utf8')).toBe(before);
    // The backup itself is fine: with room, it verifies.
    expect((await runCli(['backup', 'verify', made.data.name, '--dir', dir, '--key-file', key], { url: db.url })).exitCode).toBe(0);
    expect(JSON.parse(readFileSync(manifest, 'utf8')).verified.status).toBe('verified');
  });

  /** verify --restore-test and restore of a plain backup on the server of `db`, into `<db>_plain`. */
  async function expectPlainRestores(db: TestDatabase, dir: string, name: string, table: string, rows: number): Promise<void> {
    const verify = await runCliJson(['backup', 'verify', name, '--dir', dir, '--restore-test'], { url: db.url });
    expect(verify.exitCode, JSON.stringify(verify.data.checks)).toBe(0);
    expect(verify.data.checks.find((c: { id: string }) => c.id === 'restore-test').status).toBe('ok');
    const target = `${db.name}_plain`;
    const restored = dbs.adopt(target);
    const restore = await runCli(['backup', 'restore', name, '--dir', dir, '--target-db', target, '--yes'], { url: db.url });
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(await query(restored.url, `SELECT count(*)::int AS n FROM ${table}`)).toEqual([{ n: rows }]);
  }

  it('a plain backup made on the server verifies with --restore-test and restores through psql', async () => {
    const db = await dbs.create('cmmc_vv_plain');
    await query(db.url, 'CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g');
    const dir = path.join(work, 'plain-server');
    const made = await runCliJson(['backup', '--dir', dir, '--format', 'plain', '--compress', '6'], { url: db.url });
    expect(made.exitCode, made.stderr).toBe(0);
    await expectPlainRestores(db, dir, made.data.name, 't', 100);
  });

  it('a plain backup made by the embedded database (PGlite pg_dump 17: SET transaction_timeout) verifies and restores on the server', async () => {
    const project = path.join(work, 'embedded-project');
    mkdirSync(project);
    writeFileSync(path.join(project, 'package.json'), '{"name":"embedded-project"}');
    const env = { CMMC_DB_DIR: path.join(project, '.cmmc-db') };
    const up = await runCli(['upgrade', 'head'], { cwd: project, env });
    expect(up.exitCode, up.stderr).toBe(0);
    const dir = path.join(work, 'plain-embedded');
    const made = await runCliJson(['backup', '--dir', dir], { cwd: project, env });
    expect(made.exitCode, made.stderr).toBe(0);
    expect(made.data.format).toBe('plain');
    const db = await dbs.create('cmmc_vv_emb');
    await expectPlainRestores(db, dir, made.data.name, 'cmmc_schema_version', 1);
  });

  it('backup restore keeps the database grants and owner: upgrade head as DB_OWNER_USER works afterwards', async () => {
    const s = newSetup('vvg');
    let kept: string | undefined;
    try {
      const init = await runCli(['init'], { env: s.env });
      expect(init.exitCode, init.stderr).toBe(0);
      const dir = path.join(work, 'grants');
      const made = await runCliJson(['backup', '--dir', dir], { env: s.env });
      expect(made.exitCode, made.stderr).toBe(0);
      const restore = await runCliJson(['backup', 'restore', made.data.name, '--dir', dir, '--yes'], { url: s.adminUrl });
      expect(restore.exitCode, restore.stderr).toBe(0);
      kept = restore.data.keptAs;
      expect(restore.data.notes).toEqual([]);
      const acl = (datname: string) => adminQuery<{ owner: string; acl: string[] }>(`SELECT pg_get_userbyid(datdba) AS owner, datacl::text[] AS acl FROM pg_database WHERE datname = '${datname}'`);
      const [now] = await acl(s.db);
      const [old] = await acl(kept!);
      expect(now.owner).toBe(old.owner);
      expect([...now.acl].sort()).toEqual([...old.acl].sort());
      expect(now.acl.some((a) => a.startsWith(`${s.owner}=`) && /C/.test(a.split('=')[1].split('/')[0]))).toBe(true);
      const upgrade = await runCli(['upgrade', 'head'], { env: s.env });
      expect(upgrade.exitCode, upgrade.stderr).toBe(0);
    } finally {
      if (kept) await adminQuery(`DROP DATABASE IF EXISTS "${kept}" WITH (FORCE)`);
      await dropSetup({ db: s.db, roles: rolesOf(s) });
    }
  });

  it('backup restore takes any name PostgreSQL takes (a space, a quote, a hyphen); the application role is told to back up as the owner and to restore as the admin', async () => {
    const db = await dbs.create('cmmc_vv_name');
    await query(db.url, 'CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 5) g');
    const dir = path.join(work, 'names');
    const made = await runCliJson(['backup', '--dir', dir], { url: db.url });
    expect(made.exitCode, made.stderr).toBe(0);
    const odd = `vv it's-${randomBytes(2).toString('hex')}`;
    dbs.adopt(odd);
    const restore = await runCli(['backup', 'restore', made.data.name, '--dir', dir, '--target-db', odd, '--yes'], { url: db.url });
    expect(restore.exitCode, restore.stderr).toBe(0);
    const sql = (await import('postgres')).default({ host: '127.0.0.1', user: 'postgres', database: odd, max: 1 });
    try {
      expect(await sql`SELECT count(*)::int AS n FROM t`).toEqual([{ n: 5 }]);
    } finally {
      await sql.end();
    }

    const s = newSetup('vva');
    try {
      expect((await runCli(['init'], { env: s.env })).exitCode).toBe(0);
      const { DB_OWNER_USER: _u, DB_OWNER_PASSWORD: _p, ...appEnv } = s.env;
      const asApp = await runCli(['backup', '--dir', path.join(work, 'as-app')], { env: appEnv });
      expect(asApp.exitCode).toBe(1);
      expect(errorLines(asApp.stderr), asApp.stderr).toEqual([expect.stringMatching(/pg_dump failed: .*row-level security policy for table .* — .*set DB_OWNER_USER/)]);
      expect(asApp.stderr).not.toMatch(/Query was/);
      const restoreAsApp = await runCli(['backup', 'restore', made.data.name, '--dir', dir, '--target-db', `${s.db}_x`, '--yes'], { url: s.appUrl });
      expect(restoreAsApp.exitCode).toBe(1);
      expect(errorLines(restoreAsApp.stderr), restoreAsApp.stderr).toEqual([expect.stringMatching(/permission denied — connect as the admin or another role with CREATEDB \(the user name in DATABASE_URL\), not as the application role$/)]);
      expect(restoreAsApp.stderr).not.toContain('--no-drift');
    } finally {
      await dropSetup({ db: s.db, roles: rolesOf(s) });
    }
  });

  it('a backup folder on a read-only file system (a mounted offsite copy): verify gives its verdict, says it could not be recorded, and exits by the verdict', async () => {
    // It stopped at the manifest's write with "cannot write …manifest.json: read-only", exit 1: a copy
    // that verified, or one whose checksum failed, looked the same, and the verdict was never shown.
    const db = await dbs.create('cmmc_vv_ro');
    const disk = path.join(work, 'offsite');
    mkdirSync(disk, { recursive: true });
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', disk]);
    const readOnly = (yes: boolean) => execa('mount', ['-o', `remount,${yes ? 'ro' : 'rw'}`, disk]);
    try {
      const made = await runCliJson(['backup', '--dir', disk], { url: db.url });
      expect(made.exitCode, made.stderr).toBe(0);
      const manifestBefore = readFileSync(made.data.manifestPath, 'utf8');
      await readOnly(true);
      const drill = await runCliJson(['backup', 'verify', made.data.name, '--dir', disk, '--restore-test'], { url: db.url });
      expect(drill.exitCode, drill.stderr).toBe(0);
      expect(drill.data).toMatchObject({ ok: true, status: 'verified' });
      expect(drill.data.checks.map((c: any) => `${c.id} ${c.status}`)).toEqual(['present ok', 'checksum ok', 'archive ok', 'restore-test ok', 'tables ok', 'revision ok']);
      expect(drill.data.notRecorded).toMatch(/^cannot write .*\.restore-drill-\d{8}T\d{6}Z\.json: it is on a read-only file system \[EROFS\]$/);
      const said = await runCli(['backup', 'verify', made.data.name, '--dir', disk], { url: db.url });
      expect(said.exitCode, said.stderr).toBe(0);
      expect(said.stderr).toContain(`warning: the result was not recorded (cannot write ${made.data.manifestPath}: it is on a read-only file system [EROFS]): the manifest and the restore-drill records are as they were`);
      expect(said.stderr).toContain(`✔ ${made.data.name} verifies`);
      expect(errorLines(said.stderr)).toEqual([]);

      // A copy damaged in transit: the verdict says so, exit 1.
      await readOnly(false);
      const bytes = readFileSync(made.data.path);
      bytes[bytes.length >> 1] ^= 0x01;
      writeFileSync(made.data.path, bytes);
      await readOnly(true);
      const damaged = await runCliJson(['backup', 'verify', made.data.name, '--dir', disk], { url: db.url });
      expect(damaged.exitCode).toBe(1);
      expect(damaged.data).toMatchObject({ ok: false, status: 'failed', notRecorded: expect.stringContaining('[EROFS]') });
      expect(damaged.data.checks.find((c: any) => c.id === 'checksum').status).toBe('fail');
      expect(readFileSync(made.data.manifestPath, 'utf8')).toBe(manifestBefore);
      expect(readdirSync(disk).sort()).toEqual([made.data.file, path.basename(made.data.manifestPath)].sort());
    } finally {
      await execa('umount', [disk], { reject: false });
    }
  });

  it('report --html into a full disk: one line naming the file and the fix', async () => {
    const db = await dbs.create('cmmc_vv_report');
    const full = path.join(work, 'report-disk');
    const unmount = await fullDisk(full);
    try {
      const file = path.join(full, 'report.html');
      const r = await runCli(['report', '--html', file], { url: db.url });
      expect(r.exitCode).toBe(1);
      expect(errorLines(r.stderr), r.stderr).toEqual([`error: cannot write ${file}: it cannot be written: the disk is full [ENOSPC] — free space on that disk`]);
      expect(readdirSync(full)).toEqual([]);
    } finally {
      await unmount();
    }
  });
});

/**
 * What the backup commands must not do to what is there already, and what they must say:
 * - `backup create --dir EXISTING` leaves an existing folder's mode alone (a 1777 shared folder,
 *   the project root with `--dir .`), says in one line when others can read it, and makes only the
 *   folders it creates 0700;
 * - `backup restore` refuses to replace template0, template1, any template (datistemplate) and the
 *   maintenance database `postgres`, in one line, changing nothing;
 * - `backup schedule install` refuses a control character (a newline) in any value written into the
 *   crontab line, naming the option, and installs nothing;
 * - every command that reads a key file (create, verify, restore, and schedule install, which hands
 *   it to the nightly job) warns when others can read it.
 * Real pg_dump / pg_restore, real files and server; each test makes and removes its own.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, createTestDatabase, dropDatabase, query, uniqueName, type TestDatabase } from './helpers/server.js';

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => /^error: /.test(l));

describe('backup commands leave what is there alone, and say what they refuse', () => {
  let work: string;
  let db: TestDatabase;
  let backupDir: string;
  let backupName: string;

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-guards-'));
    db = await createTestDatabase('cmmc_guards');
    await query(db.url, "CREATE TABLE secrets (tenant text); INSERT INTO secrets VALUES ('acme')");
    backupDir = path.join(work, 'backups');
    const made = await runCliJson(['backup', '--dir', backupDir], { url: db.url });
    expect(made.exitCode, made.stderr).toBe(0);
    backupName = made.data.name;
  });
  afterAll(async () => {
    await db.drop();
    rmSync(work, { recursive: true, force: true });
  });

  it('an existing backup folder keeps its mode (1777, 0755), with one note line; only the folders it makes are 0700', async () => {
    const shared = path.join(work, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const r = await runCliJson(['backup', '--dir', shared], { url: db.url });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(statSync(shared).mode & 0o7777).toBe(0o1777);
    expect(statSync(r.data.path).mode & 0o777).toBe(0o600);
    expect(r.stderr.split('\n').filter((l) => l.includes(shared) && /readable by other users/.test(l))).toHaveLength(1);

    // The project root (`--dir .`): its mode stays.
    const root = path.join(work, 'project');
    mkdirSync(root);
    chmodSync(root, 0o755);
    const dot = await runCliJson(['backup', '--dir', '.'], { url: db.url, cwd: root });
    expect(dot.exitCode, dot.stderr).toBe(0);
    expect(statSync(root).mode & 0o777).toBe(0o755);

    // A private folder: no note.
    const mine = path.join(work, 'private');
    mkdirSync(mine, { mode: 0o700 });
    chmodSync(mine, 0o700);
    const quiet = await runCliJson(['backup', '--dir', mine], { url: db.url });
    expect(quiet.exitCode, quiet.stderr).toBe(0);
    expect(quiet.stderr).not.toMatch(/readable by/);

    // Made by the command, with the folders missing above it: each 0700.
    const fresh = path.join(work, 'new', 'deeper');
    const made = await runCliJson(['backup', '--dir', fresh], { url: db.url });
    expect(made.exitCode, made.stderr).toBe(0);
    expect(statSync(path.join(work, 'new')).mode & 0o777).toBe(0o700);
    expect(statSync(fresh).mode & 0o777).toBe(0o700);
    expect(made.stderr).not.toMatch(/readable by/);
  });

  it('restore refuses template0, template1, a template database and postgres in one line; they stay as they were', async () => {
    const template = uniqueName('cmmc_guard_tpl');
    await adminQuery(`CREATE DATABASE "${template}" IS_TEMPLATE true`);
    try {
      for (const target of ['template0', 'template1', 'postgres', template]) {
        const tablesBefore = target === 'template0' ? [] : await query(urlForDb(db.url, target), "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
        for (const extra of [['--yes'], ['--dry-run']]) {
          const r = await runCli(['backup', 'restore', backupName, '--dir', backupDir, '--target-db', target, ...extra], { url: db.url });
          expect(r.exitCode, r.stderr).not.toBe(0);
          const errors = errorLines(r.stderr);
          expect(errors, r.stderr).toHaveLength(1);
          expect(errors[0]).toMatch(/template|maintenance database/);
          expect(errors[0]).toMatch(/nothing was restored/);
          expect(r.stderr).not.toMatch(/\n\s+at /);
        }
        const [row] = await adminQuery<{ datistemplate: boolean }>(`SELECT datistemplate FROM pg_database WHERE datname = '${target}'`);
        expect(row.datistemplate).toBe(target !== 'postgres');
        if (target !== 'template0') {
          expect(await query(urlForDb(db.url, target), "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'")).toEqual(tablesBefore);
        }
      }
      // The configured database being postgres is the same refusal.
      const configured = await runCli(['backup', 'restore', backupName, '--dir', backupDir, '--yes'], { url: urlForDb(db.url, 'postgres') });
      expect(configured.exitCode).toBe(2);
      expect(errorLines(configured.stderr)[0]).toMatch(/maintenance database/);
    } finally {
      await adminQuery(`ALTER DATABASE "${template}" IS_TEMPLATE false`);
      await dropDatabase(template);
    }
  });

  it('schedule install refuses a control character in any value of the crontab line, naming the option; nothing is installed', async () => {
    const crontab = path.join(work, 'crontab');
    const key = path.join(work, 'sched.key');
    writeFileSync(key, 'k'.repeat(40), { mode: 0o600 });
    const cases: [string, string[]][] = [
      ['--dir', ['--dir', `${work}/x\n* * * * * touch /tmp/pwn`]],
      ['--dir', ['--dir', `${work}/x\r* * * * * touch /tmp/pwn`]],
      ['--key-file', ['--encrypt', '--key-file', `${key}\n* * * * * touch /tmp/pwn`]],
      ['--at', ['--at', '0 2 * * *\n* * * * * touch /tmp/pwn']],
      ['--doctor-at', ['--doctor-at', '0 3 * * *\n* * * * * touch /tmp/pwn']],
    ];
    for (const [option, args] of cases) {
      const r = await runCli(['backup', 'schedule', 'install', '--crontab-file', crontab, ...args], { url: db.url, cwd: work });
      expect(r.exitCode, `${option}: ${r.stderr}`).toBe(2);
      const errors = errorLines(r.stderr);
      expect(errors, r.stderr).toHaveLength(1);
      expect(errors[0]).toContain(option);
      expect(errors[0]).toMatch(/control character/);
      expect(existsSync(crontab)).toBe(false);
    }
    // The folder it runs in goes into the line too.
    const odd = path.join(work, 'odd\nfolder');
    mkdirSync(odd);
    const here = await runCli(['backup', 'schedule', 'install', '--crontab-file', crontab, '--dir', path.join(work, 'b')], { url: db.url, cwd: odd });
    expect(here.exitCode, here.stderr).toBe(2);
    expect(errorLines(here.stderr)[0]).toMatch(/the current folder holds a control character/);
    expect(existsSync(crontab)).toBe(false);
    // A value from the environment is named by its variable.
    const fromEnv = await runCli(['backup', 'schedule', 'install', '--crontab-file', crontab, '--encrypt'], {
      url: db.url,
      cwd: work,
      env: { CMMC_BACKUP_DIR: `${work}/y\n* * * * * touch /tmp/pwn`, CMMC_BACKUP_KEY_FILE: key },
    });
    expect(fromEnv.exitCode, fromEnv.stderr).toBe(2);
    expect(errorLines(fromEnv.stderr)[0]).toMatch(/^error: CMMC_BACKUP_DIR holds a control character/);
    expect(existsSync(crontab)).toBe(false);
    // --encrypt takes CMMC_BACKUP_KEY_FILE as backup create does (the option's help says so).
    const envKey = await runCli(['backup', 'schedule', 'install', '--print', '--encrypt', '--dir', path.join(work, 'b')], { url: db.url, cwd: work, env: { CMMC_BACKUP_KEY_FILE: key } });
    expect(envKey.exitCode, envKey.stderr).toBe(0);
    expect(envKey.stdout).toContain(`--encrypt --key-file '${key}'`);
    // A plain value still installs two lines between the markers.
    const ok = await runCli(['backup', 'schedule', 'install', '--crontab-file', crontab, '--dir', path.join(work, 'b')], { url: db.url, cwd: work });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(readFileSync(crontab, 'utf8').trim().split('\n')).toHaveLength(4);
  });

  it('a key file readable by others is warned about by create, verify, restore and schedule install alike', async () => {
    const key = path.join(work, 'open.key');
    writeFileSync(key, 'k'.repeat(48));
    chmodSync(key, 0o644);
    const dir = path.join(work, 'encrypted');
    const warned = (stderr: string) => stderr.split('\n').filter((l) => /^warning: /.test(l) && l.includes(key) && /readable by other users/.test(l));

    const made = await runCliJson(['backup', '--dir', dir, '--encrypt', '--key-file', key, '--verify'], { url: db.url });
    expect(made.exitCode, made.stderr).toBe(0);
    expect(warned(made.stderr)).toHaveLength(1); // once, though create --verify reads it twice
    const verify = await runCli(['backup', 'verify', made.data.name, '--dir', dir, '--key-file', key], { url: db.url });
    expect(verify.exitCode, verify.stderr).toBe(0);
    expect(warned(verify.stderr)).toHaveLength(1);
    const byEnv = await runCli(['backup', 'verify', made.data.name, '--dir', dir], { url: db.url, env: { CMMC_BACKUP_KEY_FILE: key } });
    expect(byEnv.exitCode, byEnv.stderr).toBe(0);
    expect(warned(byEnv.stderr)).toHaveLength(1);
    const target = `${db.name}_keyed`;
    try {
      const restore = await runCli(['backup', 'restore', made.data.name, '--dir', dir, '--key-file', key, '--target-db', target, '--yes'], { url: db.url });
      expect(restore.exitCode, restore.stderr).toBe(0);
      expect(warned(restore.stderr)).toHaveLength(1);
    } finally {
      await dropDatabase(target);
    }
    const schedule = await runCli(['backup', 'schedule', 'install', '--print', '--dir', dir, '--encrypt', '--key-file', key], { url: db.url, cwd: work });
    expect(schedule.exitCode, schedule.stderr).toBe(0);
    expect(warned(schedule.stderr)).toHaveLength(1);

    chmodSync(key, 0o600);
    const quiet = await runCli(['backup', 'verify', made.data.name, '--dir', dir, '--key-file', key], { url: db.url });
    expect(quiet.exitCode, quiet.stderr).toBe(0);
    expect(quiet.stderr).not.toMatch(/readable by other users/);

    // A 0600 key in a folder others may write (not sticky): they could put their own key in its place.
    const shared = path.join(work, 'shared-keys');
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    const swappable = path.join(shared, 'backup.key');
    writeFileSync(swappable, readFileSync(key), { mode: 0o600 });
    const open = await runCli(['backup', 'verify', made.data.name, '--dir', dir, '--key-file', swappable], { url: db.url });
    expect(open.exitCode, open.stderr).toBe(0);
    expect(open.stderr).toContain(`warning: the key file's folder ${shared} is writable by other users (mode 777): anyone who can write there can replace the key with their own`);
    chmodSync(shared, 0o1777); // sticky, as /tmp: others cannot rename or remove the key
    const sticky = await runCli(['backup', 'verify', made.data.name, '--dir', dir, '--key-file', swappable], { url: db.url });
    expect(sticky.exitCode, sticky.stderr).toBe(0);
    expect(sticky.stderr).not.toMatch(/^warning: the key file/m);
  });
});

/** The URL of another database on the same server. */
function urlForDb(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = '/' + encodeURIComponent(database);
  return u.toString();
}

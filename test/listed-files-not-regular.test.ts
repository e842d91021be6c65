/**
 * A file that cmmc-db finds by listing a folder and is not a regular file: a FIFO (its read blocks
 * for ever, and a blocked read takes no signal, so Ctrl-C did nothing), a folder named like a file.
 * Revision files, seed files and backup manifests: one line naming the file, exit 1, at once (or,
 * for a manifest, listed as invalid while the good backups still show). A project's .env or
 * configuration file that is not a regular file is not read (a warning for .env).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

const DEADLINE = { timeoutMs: 30_000 };
const folders: string[] = [];
function folder(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-not-regular-'));
  folders.push(d);
  return d;
}
/** A copy of a folder of the project with a FIFO named `name` added. */
function withFifo(from: string, name: string): string {
  const d = folder();
  fs.cpSync(from, d, { recursive: true });
  execFileSync('mkfifo', [path.join(d, name)]);
  return d;
}

function oneLine(r: { exitCode: number; stderr: string }, file: string, what: RegExp, exitCode = 1): void {
  expect(r.exitCode, r.stderr).toBe(exitCode);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
  expect(errors).toHaveLength(1);
  expect(errors[0]).toContain(file);
  expect(errors[0]).toMatch(what);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe('files found in a folder that are not regular files', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('not_regular');
  });
  afterAll(async () => {
    await db?.drop();
    for (const d of folders) fs.rmSync(d, { recursive: true, force: true });
  });

  it('a FIFO among the revision files: history, current and upgrade say which file, at once', async () => {
    const migrations = withFifo(path.join(ROOT, 'migrations'), 'ffff00000001_fifo.sql');
    const env = { CMMC_MIGRATIONS_DIR: migrations };
    const file = path.join(migrations, 'ffff00000001_fifo.sql');
    oneLine(await runCli(['history'], { env, ...DEADLINE }), file, /not a regular file \(a FIFO/);
    oneLine(await runCli(['current'], { url: db.url, env, ...DEADLINE }), file, /not a regular file/);
    oneLine(await runCli(['upgrade', 'head'], { url: db.url, env, ...DEADLINE }), file, /not a regular file/);
  });

  it('a folder named like a revision file: the line names it', async () => {
    const migrations = folder();
    fs.cpSync(path.join(ROOT, 'migrations'), migrations, { recursive: true });
    fs.mkdirSync(path.join(migrations, 'ffff00000002_folder.sql'));
    oneLine(await runCli(['history'], { env: { CMMC_MIGRATIONS_DIR: migrations }, ...DEADLINE }), path.join(migrations, 'ffff00000002_folder.sql'), /is a folder, not a file \[EISDIR\] — replace it with a file, or move it out of that folder$/);
  });

  it('a dangling symbolic link named like a revision file: the line says where it points', async () => {
    const migrations = folder();
    fs.cpSync(path.join(ROOT, 'migrations'), migrations, { recursive: true });
    fs.symlinkSync('/nowhere/gone.sql', path.join(migrations, 'ffff00000003_link.sql'));
    oneLine(await runCli(['history'], { env: { CMMC_MIGRATIONS_DIR: migrations }, ...DEADLINE }), path.join(migrations, 'ffff00000003_link.sql'), /is a symbolic link to \/nowhere\/gone\.sql, which does not exist \[ENOENT\] — fix the link, or remove it$/);
  });

  it('a FIFO among the seed files: seed says which file, at once', async () => {
    const up = await runCli(['upgrade', 'head'], { url: db.url, ...DEADLINE });
    expect(up.exitCode, up.stderr).toBe(0);
    const seeds = withFifo(path.join(ROOT, 'seeds'), '999_fifo.sql');
    oneLine(await runCli(['seed'], { url: db.url, env: { CMMC_SEEDS_DIR: seeds }, ...DEADLINE }), path.join(seeds, '999_fifo.sql'), /not a regular file/);
  });

  it('a FIFO as the project\'s .env or as its cmmc-db.config.json (CMMC_PROJECT_DIR): not read, the command runs', async () => {
    const project = folder();
    fs.writeFileSync(path.join(project, 'package.json'), '{"name": "fifo-project"}');
    execFileSync('mkfifo', [path.join(project, '.env')]);
    const env = { CMMC_MIGRATIONS_DIR: path.join(ROOT, 'migrations') };
    const r = await runCli(['history'], { cwd: project, env, ...DEADLINE });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain(`warning: ${path.join(project, '.env')} is not a regular file`);
    // The same FIFO named by dotenv's own variables (they replace the project's .env): not read either.
    for (const name of ['DOTENV_PATH', 'DOTENV_CONFIG_PATH']) {
      const named = await runCli(['history'], { cwd: ROOT, env: { ...env, [name]: path.join(project, '.env') }, ...DEADLINE });
      expect(named.exitCode, `${name}: ${named.stderr}`).toBe(0);
      expect(named.stderr).toContain(`warning: ${path.join(project, '.env')} is not a regular file`);
    }
    const other = folder();
    execFileSync('mkfifo', [path.join(other, 'cmmc-db.config.json')]);
    const c = await runCli(['history'], { env: { ...env, CMMC_PROJECT_DIR: other }, ...DEADLINE });
    expect(c.exitCode, c.stderr).toBe(0);
    // Not read, and said so (it was silent).
    expect(c.stderr).toContain(`warning: ${path.join(other, 'cmmc-db.config.json')} is not a regular file (a FIFO, socket or device), so it was not read — replace it with a file`);
    // Asked for one of its environments: the line says why the file was not read (it said "no file").
    const e = await runCli(['history', '--env', 'staging'], { env: { ...env, CMMC_PROJECT_DIR: other }, ...DEADLINE });
    expect(e.exitCode, e.stderr).toBe(2);
    expect(e.stderr).toContain(`--env staging: ${path.join(other, 'cmmc-db.config.json')} is not a regular file (a FIFO, socket or device), so it was not read — replace it with a file that has "environments"`);
    // A folder, and a dangling link, in its place: each says what it is and its own fix.
    for (const [make, line] of [
      [(f: string) => fs.mkdirSync(f), /cmmc-db\.config\.json is a folder, not a file, so it was not read — replace it with a file that has "environments"/],
      [(f: string) => fs.symlinkSync('/nowhere/cmmc.json', f), /cmmc-db\.config\.json is a symbolic link to \/nowhere\/cmmc\.json, which does not exist, so it was not read — fix the link, or remove it$/m],
    ] as const) {
      const project = folder();
      make(path.join(project, 'cmmc-db.config.json'));
      const r2 = await runCli(['history', '--env', 'staging'], { env: { ...env, CMMC_PROJECT_DIR: project }, ...DEADLINE });
      expect(r2.exitCode, r2.stderr).toBe(2);
      expect(r2.stderr).toMatch(line);
    }
  });

  it('the embedded database\'s lock is a folder or a dangling link: one line naming it (it spun for ever, deaf to Ctrl-C)', async () => {
    for (const make of [(f: string) => fs.mkdirSync(f), (f: string) => fs.symlinkSync('/nonexistent-cmmc-lock', f)]) {
      const project = folder();
      const dir = path.join(project, '.cmmc-db');
      fs.mkdirSync(dir);
      make(path.join(dir, 'lock'));
      // A command that opens (and would create) the database: `current` says there is none yet before it locks.
      oneLine(await runCli(['upgrade', 'head'], { cwd: project, env: { CMMC_DB_DIR: dir }, ...DEADLINE }), path.join(dir, 'lock'), /lock file .* is a (folder|symbolic link)/);
    }
  });

  it('a FIFO as the embedded database\'s PG_VERSION: one line naming the folder and what failed (it said "[object Object]")', async () => {
    const project = folder();
    const data = path.join(project, '.cmmc-db', 'pgdata');
    fs.mkdirSync(data, { recursive: true, mode: 0o700 });
    fs.chmodSync(path.join(project, '.cmmc-db'), 0o700);
    execFileSync('mkfifo', [path.join(data, 'PG_VERSION')]);
    const r = await runCli(['current'], { cwd: project, env: { CMMC_DB_DIR: path.join(project, '.cmmc-db') }, ...DEADLINE });
    oneLine(r, data, /the embedded database in .* is damaged: PG_VERSION is not a file; nothing in it was changed/);
    expect(r.stderr).not.toContain('[object Object]');
  });

  it('a FIFO in place of a compiled TypeScript revision in the compile cache: compiled again, the downgrade runs', async () => {
    const other = await createTestDatabase('not_regular_ts');
    try {
      const migrations = folder();
      fs.cpSync(path.join(ROOT, 'migrations'), migrations, { recursive: true });
      const cache = folder();
      const env = { CMMC_MIGRATIONS_DIR: migrations, XDG_CACHE_HOME: cache };
      const made = await runCli(['revision', '-m', 'cached thing'], { env, ...DEADLINE });
      expect(made.exitCode, made.stderr).toBe(0);
      const up = await runCli(['upgrade', 'head'], { url: other.url, env, ...DEADLINE });
      expect(up.exitCode, up.stderr).toBe(0);
      const entries = path.join(cache, 'cmmc-db', 'revisions');
      const replaced = fs.readdirSync(entries).filter((f) => /\.m?js$/.test(f));
      expect(replaced.length).toBeGreaterThan(0);
      for (const f of replaced) {
        fs.rmSync(path.join(entries, f));
        execFileSync('mkfifo', [path.join(entries, f)]);
      }
      const down = await runCli(['downgrade', '-1', '--yes'], { url: other.url, env, ...DEADLINE });
      expect(down.exitCode, down.stderr).toBe(0);
    } finally {
      await other.drop();
    }
  });

  it('a FIFO in place of a backup archive: verify fails its check naming it, restore refuses, at once', async () => {
    const dir = folder();
    const made = await runCliJson(['backup', '--dir', dir], { url: db.url, ...DEADLINE });
    expect(made.exitCode, made.stderr).toBe(0);
    const archive = fs.readdirSync(dir).find((f) => f.endsWith('.dump'))!;
    const name = archive.replace(/\.dump$/, '');
    fs.rmSync(path.join(dir, archive));
    execFileSync('mkfifo', [path.join(dir, archive)]);
    const verified = await runCli(['backup', 'verify', name, '--dir', dir], { url: db.url, ...DEADLINE });
    expect(verified.exitCode, verified.stderr).toBe(1);
    expect(verified.stdout + verified.stderr).toContain('not a regular file');
    const restored = await runCli(['backup', 'restore', name, '--dir', dir, '--target-db', `${db.name}_r`, '--yes'], { url: db.url, ...DEADLINE });
    expect(restored.exitCode, restored.stderr).not.toBe(0);
    expect(restored.stderr).toContain('not a regular file');
    expect(restored.stderr).not.toMatch(/\n\s+at /);
  });

  it('a folder in place of a backup archive, or a file in place of a directory-format one: verify fails its present check', async () => {
    const dir = folder();
    const made = await runCli(['backup', '--dir', dir], { url: db.url, ...DEADLINE });
    expect(made.exitCode, made.stderr).toBe(0);
    const archive = fs.readdirSync(dir).find((f) => f.endsWith('.dump'))!;
    fs.rmSync(path.join(dir, archive));
    fs.mkdirSync(path.join(dir, archive));
    const verified = await runCliJson(['backup', 'verify', archive.replace(/\.dump$/, ''), '--dir', dir], { url: db.url, ...DEADLINE });
    expect(verified.exitCode, verified.stderr).toBe(1);
    expect(JSON.stringify(verified.data)).toMatch(/"id":"present","status":"fail","detail":"[^"]+ is a folder, where pg_dump wrote a file/);

    const dirFormat = folder();
    const madeDir = await runCli(['backup', '--dir', dirFormat, '--format', 'directory'], { url: db.url, ...DEADLINE });
    expect(madeDir.exitCode, madeDir.stderr).toBe(0);
    const archiveDir = fs.readdirSync(dirFormat).find((f) => !f.endsWith('.json'))!;
    fs.rmSync(path.join(dirFormat, archiveDir), { recursive: true });
    fs.writeFileSync(path.join(dirFormat, archiveDir), 'not an archive');
    const verifiedDir = await runCliJson(['backup', 'verify', archiveDir, '--dir', dirFormat], { url: db.url, ...DEADLINE });
    expect(verifiedDir.exitCode, verifiedDir.stderr).toBe(1);
    expect(JSON.stringify(verifiedDir.data)).toMatch(/"id":"present","status":"fail","detail":"[^"]+ is a file, where pg_dump wrote a folder/);
  });

  it('schema dump --check against a FIFO: found "(not a regular file)", exit 1, at once', async () => {
    const fifo = path.join(folder(), 'schema.sql');
    execFileSync('mkfifo', [fifo]);
    const r = await runCli(['schema', 'dump', '--check', '-o', fifo], { url: db.url, timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toContain('(not a regular file)');
  });

  it('report --html: a FIFO in place of the file is replaced by the report; a folder is one line naming it, nothing left beside it', async () => {
    const out = folder();
    const fifo = path.join(out, 'r.html');
    execFileSync('mkfifo', [fifo]);
    const r = await runCli(['report', '--html', fifo, '--yes'], { url: db.url, ...DEADLINE });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(fs.statSync(fifo).isFile()).toBe(true);
    const dirOut = path.join(out, 'd.html');
    fs.mkdirSync(dirOut);
    // A folder named as --html is a usage error, refused before the report is collected (exit 2).
    oneLine(await runCli(['report', '--html', dirOut, '--yes'], { url: db.url, ...DEADLINE }), dirOut, /folder/, 2);
    expect(fs.readdirSync(out).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('report --html and --crontab-file through a link: the file it names gets the text and the link stays; a link to a device is refused and the device kept', async () => {
    const out = folder();
    // A link to a regular file (report.html -> the copy a web server serves): that file is replaced.
    const served = path.join(folder(), 'latest.html');
    fs.writeFileSync(served, 'old');
    const link = path.join(out, 'r.html');
    fs.symlinkSync(served, link);
    const r = await runCli(['report', '--html', link, '--yes'], { url: db.url, ...DEADLINE });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(served, 'utf8')).toContain('<meta name="generator" content="cmmc-db report">');
    // A link to a device (here /dev/null; /dev/stdout is such a link too): renamed over, the link
    // was replaced by a regular file, and named directly the device node itself was.
    const toDevice = path.join(out, 'null.html');
    fs.symlinkSync('/dev/null', toDevice);
    oneLine(await runCli(['report', '--html', toDevice, '--yes'], { url: db.url, ...DEADLINE }), toDevice, /is a device/);
    expect(fs.lstatSync(toDevice).isSymbolicLink()).toBe(true);
    const crontab = path.join(out, 'crontab');
    fs.symlinkSync('/dev/null', crontab);
    oneLine(await runCli(['backup', 'schedule', 'install', '--crontab-file', crontab], { url: db.url, ...DEADLINE }), crontab, /device/);
    expect(fs.lstatSync(crontab).isSymbolicLink()).toBe(true);
    expect(fs.statSync('/dev/null').isCharacterDevice()).toBe(true);
    expect(fs.readdirSync(out).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('backup schedule with a crontab file that is a FIFO or a folder: one line naming it', async () => {
    const out = folder();
    const fifo = path.join(out, 'crontab');
    execFileSync('mkfifo', [fifo]);
    oneLine(await runCli(['backup', 'schedule', 'install', '--crontab-file', fifo], { url: db.url, ...DEADLINE }), fifo, /not a regular file/);
    oneLine(await runCli(['backup', 'schedule', 'install', '--crontab-file', out], { url: db.url, ...DEADLINE }), out, /folder/);
  });

  it('a key file or a root certificate that never ends (/dev/zero): one line, at once (it was read until memory ran out)', async () => {
    const dir = folder();
    const made = await runCli(['backup', 'create', '--dir', dir, '--encrypt', '--key-file', '/dev/zero'], { url: db.url, ...DEADLINE });
    oneLine(made, '/dev/zero', /more than 1 MiB: not a key/);
    expect(fs.readdirSync(dir)).toEqual([]);
    // A folder as the key file: the one line says so, with no warning about its permissions first.
    const keyDir = folder();
    fs.chmodSync(keyDir, 0o755);
    const asFolder = await runCli(['backup', 'create', '--dir', dir, '--encrypt', '--key-file', keyDir], { url: db.url, ...DEADLINE });
    oneLine(asFolder, keyDir, /the key file .* is a folder, not a file/);
    expect(asFolder.stderr).not.toContain('readable by other users');
    expect(fs.readdirSync(dir)).toEqual([]);
    const url = `${db.url}${db.url.includes('?') ? '&' : '?'}sslmode=verify-full&sslrootcert=/dev/zero`;
    const r = await runCli(['current'], { url, ...DEADLINE });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/error: sslrootcert \/dev\/zero holds more than 16 MiB/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a FIFO named like a backup manifest: backup list shows it as invalid next to the real backup', async () => {
    const dir = folder();
    const made = await runCli(['backup', '--dir', dir], { url: db.url, ...DEADLINE });
    expect(made.exitCode, made.stderr).toBe(0);
    execFileSync('mkfifo', [path.join(dir, `${db.name}-20200101T000000Z.manifest.json`)]);
    const listed = await runCliJson(['backup', 'list', '--dir', dir], { url: db.url, ...DEADLINE });
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(JSON.stringify(listed.data)).toContain('not a regular file');
    expect(JSON.stringify(listed.data)).toContain(db.name);
  });
});

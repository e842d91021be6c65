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

function oneLine(r: { exitCode: number; stderr: string }, file: string, what: RegExp): void {
  expect(r.exitCode, r.stderr).toBe(1);
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
    oneLine(await runCli(['history'], { env: { CMMC_MIGRATIONS_DIR: migrations }, ...DEADLINE }), path.join(migrations, 'ffff00000002_folder.sql'), /is a folder, not a file/);
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
    const other = folder();
    execFileSync('mkfifo', [path.join(other, 'cmmc-db.config.json')]);
    const c = await runCli(['history'], { env: { ...env, CMMC_PROJECT_DIR: other }, ...DEADLINE });
    expect(c.exitCode, c.stderr).toBe(0);
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

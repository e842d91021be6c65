/**
 * Ctrl-C during `backup create` and `backup restore` on the embedded database, in each phase: the
 * command exits 130 with one line, and leaves the folder as it was (no lock, no folder being
 * built, the data untouched) and no backup or partial file. Real processes and signals, a real
 * PGlite folder; each phase is found by what it leaves on disk (the lock file, written anew by
 * each open; the partial file; the folder being built) and the signal sent the moment it shows.
 *
 * PGlite's start, its pg_dump and the loading of a dump run inside the process without a break:
 * a signal sent then is seen once they return. The table `big` makes them last long enough to be
 * caught.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanEnv, runCli } from './helpers/cli.js';
import { acquireEmbedded, releaseEmbedded } from '../src/embedded/instance.js';

let cwd: string;
let dbDir: string;
const backups = () => path.join(cwd, 'backups');

async function embeddedQuery<T>(text: string): Promise<T[]> {
  const instance = await acquireEmbedded(dbDir, { waitMs: 30_000 });
  try {
    return ((await instance.pg.exec(text)).at(-1)?.rows ?? []) as T[];
  } finally {
    await releaseEmbedded(instance);
  }
}

/** What a phase is told by: the lock file's contents seen so far (each open writes it anew), the folders' entries. */
interface Seen {
  locks: string[];
  backupFiles: string[];
  dbEntries: string[];
}

/** The names in `dir`, none when it is not there (now). */
function entries(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** Runs the CLI with `args` and sends SIGINT the moment `phase` holds; fails if it never did. */
async function interruptWhen(args: string[], phase: (seen: Seen) => boolean) {
  // A lock left by an earlier case that failed would read as this run's first open.
  fs.rmSync(path.join(dbDir, 'lock'), { force: true });
  const child = execa('node', [BIN, ...args], { cwd, env: cleanEnv(), extendEnv: false, reject: false });
  const seen: Seen = { locks: [], backupFiles: [], dbEntries: [] };
  let sent = false;
  const watching = setInterval(() => {
    let lock = '';
    try {
      lock = fs.readFileSync(path.join(dbDir, 'lock'), 'utf8');
    } catch {
      // not held now
    }
    if (lock && lock !== seen.locks.at(-1)) seen.locks.push(lock);
    // The command may remove a folder between a check and the read (an interrupted backup removes the
    // folder it made): an error here would be thrown from the timer, outside the test.
    seen.backupFiles = entries(backups());
    seen.dbEntries = entries(dbDir);
    if (!sent && phase(seen)) {
      sent = true;
      child.kill('SIGINT');
    }
  }, 2);
  const r = await child;
  clearInterval(watching);
  expect(sent, `the phase was never seen; the command ended with ${r.exitCode}: ${r.stderr}`).toBe(true);
  return r;
}

function expectStoppedWithOneLine(stderr: string, state: RegExp): void {
  const errors = stderr.split('\n').filter((l) => l.startsWith('error: '));
  expect(errors, stderr).toHaveLength(1);
  expect(errors[0]).toMatch(/^error: interrupted \(Ctrl-C\): /);
  expect(errors[0]).toMatch(state);
  expect(stderr).not.toContain('✔');
}

/** The embedded folder holds what it held before the command: no lock, no folder being built or moved aside. */
function expectFolderAsItWas(): void {
  expect(fs.readdirSync(dbDir).sort()).toEqual(['.gitignore', 'pgdata']);
}

beforeAll(async () => {
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-embedded-interrupt-'));
  dbDir = path.join(cwd, '.cmmc-db');
  fs.writeFileSync(path.join(cwd, 'package.json'), '{}\n');
  const init = await runCli(['init'], { cwd });
  expect(init.exitCode, init.stderr).toBe(0);
  await embeddedQuery(`CREATE TABLE big AS SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 40000) g`);
}, 180_000);
afterAll(() => fs.rmSync(cwd, { recursive: true, force: true }));

describe('Ctrl-C during an embedded backup create keeps nothing, in every phase', () => {
  it.each([
    ['opening the database', (s: Seen) => s.locks.length >= 1],
    ['opening it again for pg_dump', (s: Seen) => s.locks.length >= 2],
    ['writing the file', (s: Seen) => s.backupFiles.some((f) => f.endsWith('.partial'))],
  ])('%s', async (_, phase) => {
    fs.rmSync(backups(), { recursive: true, force: true });
    const r = await interruptWhen(['backup', 'create'], phase);
    expect(r.exitCode, r.stderr).toBe(130);
    expectStoppedWithOneLine(r.stderr, /nothing was kept/);
    expect(fs.existsSync(backups()) ? fs.readdirSync(backups()) : []).toEqual([]);
    expectFolderAsItWas();
  }, 180_000);
});

describe('Ctrl-C during an embedded backup restore leaves the database as it was, in every phase', () => {
  let name: string;
  beforeAll(async () => {
    fs.rmSync(backups(), { recursive: true, force: true });
    const r = await runCli(['backup', 'create', '--json'], { cwd });
    expect(r.exitCode, r.stderr).toBe(0);
    name = JSON.parse(r.stdout).name;
    // Not in the backup: still there afterwards means the data folder was not replaced.
    await embeddedQuery(`CREATE TABLE after_backup (id int); INSERT INTO after_backup VALUES (42)`);
  }, 180_000);

  it.each([
    ['opening the database for the plan', (s: Seen) => s.locks.length >= 1],
    ['building the new data folder', (s: Seen) => s.dbEntries.some((e) => e.startsWith('pgdata.restoring-'))],
  ])('%s', async (_, phase) => {
    const r = await interruptWhen(['backup', 'restore', name, '--yes'], phase);
    expect(r.exitCode, r.stderr).toBe(130);
    expectStoppedWithOneLine(r.stderr, /closed cleanly|is as it was/);
    expectFolderAsItWas();
    expect(await embeddedQuery<{ id: number }>('SELECT id FROM after_backup')).toEqual([{ id: 42 }]);
  }, 180_000);
});

/**
 * A first-time command on a new embedded folder (no DATABASE_URL: `.cmmc-db/` does not exist yet)
 * that is interrupted or fails leaves the files as they were: no empty `.cmmc-db/`, no fresh
 * database nobody asked for. Only what the run made goes: a folder the user made stays, and what a
 * failed upgrade committed before its failure (its message says the database is at that revision)
 * stays. Real processes and real signals: Ctrl-C typed on a pseudo-terminal, SIGINT and SIGTERM
 * sent with kill, each the moment the phase shows on disk.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, ROOT, cleanEnv, runCli } from './helpers/cli.js';
import { startCliInPty } from './helpers/pty-session.js';
import { restoreEmbedded } from '../src/embedded/backup.js';

let cwd: string;
let cache: string;
const dbDir = () => path.join(cwd, '.cmmc-db');
const env = () => ({ XDG_CACHE_HOME: cache });
const FAILING = path.join(ROOT, 'test', 'fixtures', 'engine', 'failing');

beforeEach(() => {
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-first-time-'));
  // A cache of its own: the template at head is built by this run, not found.
  cache = path.join(cwd, 'cache');
  fs.mkdirSync(cache);
  fs.writeFileSync(path.join(cwd, 'package.json'), '{}\n');
});
afterEach(() => fs.rmSync(cwd, { recursive: true, force: true }));

/** What is in the project folder besides the cache: what the user had there. */
const projectEntries = () => fs.readdirSync(cwd).filter((e) => e !== 'cache').sort();

/** Whether the template's build has begun: its scratch folder is in the cache. */
function building(): boolean {
  try {
    return fs.readdirSync(path.join(cache, 'cmmc-db', 'embedded-templates')).some((e) => e.startsWith('.build-'));
  } catch {
    return false;
  }
}
const locked = () => fs.existsSync(path.join(dbDir(), 'lock'));

/** Runs the CLI and sends `signal` the moment `phase` holds; fails if it never did. */
async function signalWhen(args: string[], signal: 'SIGINT' | 'SIGTERM', phase: () => boolean) {
  // forceKillAfterDelay: execa's kill would follow a SIGTERM with SIGKILL after 5 s, cutting the cleanups short.
  const child = execa('node', [BIN, ...args], { cwd, env: cleanEnv(env()), extendEnv: false, reject: false, forceKillAfterDelay: false });
  let sent = false;
  const watching = setInterval(() => {
    if (!sent && phase()) {
      sent = true;
      child.kill(signal);
    }
  }, 2);
  const r = await child;
  clearInterval(watching);
  expect(sent, `the phase was never seen; the command ended with ${r.exitCode}: ${r.stderr}`).toBe(true);
  return r;
}

function expectOneStopLine(text: string, what: RegExp): void {
  // The terminal echoes a typed Ctrl-C as ^C before the line.
  const errors = text
    .split('\n')
    .map((l) => l.replace(/^\^C/, ''))
    .filter((l) => l.startsWith('error: '));
  expect(errors, text).toHaveLength(1);
  expect(errors[0]).toMatch(what);
  expect(errors[0]).toMatch(/what this run made in .*\.cmmc-db was removed/);
}

describe('interrupted on a new folder, nothing of the run is left', () => {
  it('init: Ctrl-C typed on the terminal while the template is built', async () => {
    const s = startCliInPty(['init'], { cwd, env: env() });
    for (let i = 0; !building() && i < 6000; i++) await new Promise((r) => setTimeout(r, 5));
    expect(building(), s.output()).toBe(true);
    s.type('\u0003');
    const r = await s.done;
    expect(r.exitCode, r.output).toBe(130);
    expectOneStopLine(r.output, /^error: interrupted \(Ctrl-C\): /);
    expect(projectEntries()).toEqual(['package.json']);
  }, 180_000);

  it('init: SIGTERM while the template is built', async () => {
    const r = await signalWhen(['init'], 'SIGTERM', building);
    expect(r.exitCode, r.stderr).toBe(143);
    expectOneStopLine(r.stderr, /^error: stopped by SIGTERM: /);
    expect(projectEntries()).toEqual(['package.json']);
  }, 180_000);

  it('init: SIGINT in an empty folder the user made keeps the folder, empty', async () => {
    fs.mkdirSync(dbDir());
    const r = await signalWhen(['init'], 'SIGINT', building);
    expect(r.exitCode, r.stderr).toBe(130);
    expect(projectEntries()).toEqual(['.cmmc-db', 'package.json']);
    expect(fs.readdirSync(dbDir())).toEqual([]);
  }, 180_000);

  it.each([
    ['upgrade', 'SIGINT', 130],
    ['seed', 'SIGTERM', 143],
    ['stamp', 'SIGINT', 130],
  ] as const)('%s: %s once it holds the new folder', async (command, signal, code) => {
    const r = await signalWhen(command === 'stamp' ? ['stamp', 'head'] : [command], signal, locked);
    expect(r.exitCode, r.stderr).toBe(code);
    expectOneStopLine(r.stderr, /^error: (interrupted|stopped)/);
    expect(projectEntries()).toEqual(['package.json']);
  }, 180_000);
});

describe('failed on a new folder', () => {
  it('init whose revisions fail leaves no folder', async () => {
    const migrations = path.join(cwd, 'migrations');
    fs.mkdirSync(migrations);
    for (const f of ['2b0000000001_base.sql', '2b0000000003_sql_breaks.sql']) fs.copyFileSync(path.join(FAILING, f), path.join(migrations, f));
    // Two inits (the template's build, then the real folder's, which names it in the error): slow on a busy machine.
    const r = await runCli(['init', '--migrations-dir', migrations], { cwd, env: env(), timeoutMs: 240_000 });
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/2b0000000003_sql_breaks\.sql\) failed/);
    expect(projectEntries()).toEqual(['migrations', 'package.json']);
  }, 300_000);

  it('seed, which finds no tables, leaves no folder', async () => {
    const r = await runCli(['seed'], { cwd, env: env() });
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/does not exist/);
    expect(projectEntries()).toEqual(['package.json']);
  }, 180_000);

  it('upgrade keeps what it committed before its failure, as its message says', async () => {
    const r = await runCli(['upgrade', '2b0000000003', '--migrations-dir', FAILING], { cwd, env: env() });
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/the database is now at 2b0000000001/);
    const current = await runCli(['current', '--migrations-dir', FAILING], { cwd, env: env() });
    expect(current.stdout, current.stderr).toMatch(/2b0000000001/);
  }, 180_000);

  it('restore of a dump that does not load into a new folder leaves no folder', async () => {
    const dump = path.join(cwd, 'broken.sql');
    fs.writeFileSync(dump, 'CREATE TABLE t (id int);\nTHIS IS NOT SQL;\n');
    const target = path.join(cwd, 'new', 'db');
    await expect(restoreEmbedded(dump, target)).rejects.toThrow(/did not load/);
    expect(fs.existsSync(path.join(cwd, 'new'))).toBe(false);
  }, 180_000);
});

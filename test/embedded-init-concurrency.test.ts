/**
 * An init in progress on the embedded database, seen by other processes (src/embedded/instance.ts
 * holdEmbeddedFolder, src/embedded/template.ts). The very first init on a machine builds the
 * template before it copies it in; a read started then answered "there is no embedded database
 * yet", because the folder's lock was taken only for the copy. Now the folder is held for the whole
 * init: a read started during the build waits for it and reads the finished database, and a second
 * init in the same folder, or one in another folder sharing the cold template cache, ends with a
 * whole database, never a half-built one.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, cleanEnv, runCliJson } from './helpers/cli.js';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-init-concurrency-'));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

/** A private, cold template cache and the environment of a folder using it (reads wait for the init). */
function cold(name: string) {
  const cache = path.join(base, name, 'cache');
  return {
    root: path.join(cache, 'cmmc-db', 'embedded-templates'),
    env: (folder: string) => ({ CMMC_DB_DIR: path.join(base, name, folder), XDG_CACHE_HOME: cache, CMMC_DB_LOCK_WAIT: '400s' }),
  };
}

/** Resolves once `ready()` holds; a guard against a run that never gets there, not a timing. */
async function until(what: string, ready: () => boolean, limitMs = 240_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!ready()) {
    if (Date.now() > end) throw new Error(`never saw: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Whether the template of `root` is being built now: a scratch build folder whose PGlite has made its data. */
function building(root: string): boolean {
  if (!fs.existsSync(root)) return false;
  return fs.readdirSync(root).some((e) => e.startsWith('.build-') && fs.existsSync(path.join(root, e, 'db', 'pgdata', 'PG_VERSION')));
}

/** What an init leaves in the cache and the folder besides the template and the database: nothing. */
function leftovers(root: string, folders: string[]): string[] {
  const cache = fs.readdirSync(root).filter((e) => e.startsWith('.'));
  const own = folders.flatMap((f) => fs.readdirSync(f).filter((e) => e !== 'pgdata' && e !== '.gitignore'));
  return [...cache, ...own];
}

describe('an embedded init in progress', () => {
  it('makes a read started while it builds the template wait, then answer from the finished database', async () => {
    const { root, env } = cold('read');
    const init = runCliJson(['init'], { env: env('db'), timeoutMs: 400_000 });
    await until('the template being built', () => building(root));
    const reads = [runCliJson(['current'], { env: env('db'), timeoutMs: 400_000 }), runCliJson(['status'], { env: env('db'), timeoutMs: 400_000 })];
    const made = await init;
    expect(made.exitCode, made.stderr).toBe(0);
    expect(made.data.template).toBe('built');
    const [current, status] = await Promise.all(reads);
    expect(current.exitCode, current.stderr).toBe(0);
    expect(current.data.atHead).toBe(true);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.data.seeds.files.map((f: { status: string }) => f.status)).toEqual(['applied', 'applied', 'pending']);
    expect(leftovers(root, [env('db').CMMC_DB_DIR])).toEqual([]);
  }, 600_000);

  it('runs two inits of one folder and one of another folder, all on one cold template cache, to whole databases', async () => {
    const { root, env } = cold('inits');
    const [a1, a2, b] = await Promise.all([
      runCliJson(['init'], { env: env('a'), timeoutMs: 500_000 }),
      runCliJson(['init'], { env: env('a'), timeoutMs: 500_000 }),
      runCliJson(['init'], { env: env('b'), timeoutMs: 500_000 }),
    ]);
    for (const r of [a1, a2, b]) expect(r.exitCode, r.stderr).toBe(0);
    // One init of folder a made it; the other found it made (nothing to do).
    expect([a1.data.changed, a2.data.changed].sort()).toEqual([false, true]);
    expect(b.data.changed).toBe(true);
    for (const folder of ['a', 'b']) {
      const current = await runCliJson(['current'], { env: env(folder) });
      expect(current.exitCode, current.stderr).toBe(0);
      expect(current.data.atHead).toBe(true);
      const seeds = await runCliJson(['seed', '--status'], { env: env(folder) });
      expect(seeds.data.files.map((f: { status: string }) => f.status)).toEqual(['applied', 'applied', 'pending']);
    }
    // One template, no scratch build left in the cache, no partial copy left in either folder.
    expect(fs.readdirSync(root).filter((e) => !e.startsWith('.'))).toHaveLength(1);
    expect(leftovers(root, [env('a').CMMC_DB_DIR, env('b').CMMC_DB_DIR])).toEqual([]);
  }, 900_000);

  it('stopped while it builds the template leaves no database and no lock of a live process; SIGTERM removes its scratch build, and the next init sweeps a kill -9 one', async () => {
    const { root, env } = cold('stopped');
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      // forceKillAfterDelay: execa would follow the SIGTERM with a SIGKILL after 5 s, cutting the cleanups short on a busy machine.
      const init = execa('node', [BIN, 'init'], { env: cleanEnv(env('db')), extendEnv: false, reject: false, forceKillAfterDelay: false });
      await until('the template being built', () => building(root));
      init.kill(signal);
      const r = await init;
      if (signal === 'SIGTERM') {
        expect(r.exitCode, r.stderr).toBe(143);
        // The build's own database, when it had opened, says it was closed cleanly.
        expect(r.stderr.split('\n').filter((l) => l.startsWith('error: '))).toEqual([
          expect.stringMatching(new RegExp(`^error: stopped by SIGTERM: (the embedded database was closed cleanly; )?what this run made in ${env('db').CMMC_DB_DIR} was removed$`)),
        ]);
        expect(fs.readdirSync(root)).toEqual([]);
        // The folder init made is gone with it (test/embedded-first-time.test.ts).
        expect(fs.existsSync(env('db').CMMC_DB_DIR)).toBe(false);
      } else {
        // kill -9 leaves its lock (taken over: the process is gone) and its scratch build (swept by the next build).
        expect(fs.readdirSync(env('db').CMMC_DB_DIR).filter((e) => e !== 'lock')).toEqual([]);
      }
    }
    expect(fs.readdirSync(root).filter((e) => e.startsWith('.build-'))).toHaveLength(1);
    const read = await runCliJson(['current'], { env: env('db') });
    expect(read.data.error?.code, read.stderr).toBe('embedded.absent');
    const made = await runCliJson(['init'], { env: env('db'), timeoutMs: 400_000 });
    expect(made.exitCode, made.stderr).toBe(0);
    expect(made.data.template).toBe('built');
    expect(leftovers(root, [env('db').CMMC_DB_DIR])).toEqual([]);
  }, 900_000);
});

/**
 * Picking pg_dump asks each real program once for its version (a process start each): the same
 * file reached through two folders (/bin and /usr/bin on merged-/usr systems) is asked once, and
 * Debian's pg_wrapper only when no /usr/lib/postgresql/NN/bin program is a candidate.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { distinctPgDumps, findPgTools } from '../src/db/pg-tools.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-pgtools-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function program(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '#!/bin/sh\necho "pg_dump (PostgreSQL) 15.4"\n', { mode: 0o755 });
}

describe('distinctPgDumps', () => {
  it('asks one file once, and skips the wrapper when versioned folders are there', () => {
    const v15 = path.join(root, 'lib', 'postgresql', '15', 'bin');
    program(path.join(v15, 'pg_dump'));
    const wrapper = path.join(root, 'share', 'pg_wrapper');
    program(wrapper);
    const usrBin = path.join(root, 'usr', 'bin');
    fs.mkdirSync(usrBin, { recursive: true });
    fs.symlinkSync(wrapper, path.join(usrBin, 'pg_dump'));
    const bin = path.join(root, 'bin');
    fs.symlinkSync(usrBin, bin); // merged /usr: /bin -> usr/bin
    const empty = path.join(root, 'empty');
    fs.mkdirSync(empty);

    expect(distinctPgDumps([v15, usrBin, bin, empty])).toEqual([{ dir: v15, pgDump: path.join(v15, 'pg_dump') }]);
    // Only the wrapper: it is asked (once).
    expect(distinctPgDumps([usrBin, bin])).toEqual([{ dir: usrBin, pgDump: path.join(usrBin, 'pg_dump') }]);
  });

  it('still picks the machine\'s real pg_dump', async () => {
    const tools = await findPgTools(150000);
    expect(tools.major).toBeGreaterThanOrEqual(15);
    expect(fs.existsSync(tools.pgRestore)).toBe(true);
  });
});

/**
 * pg_dump's version is kept by the sha256 of the program's bytes ($XDG_CACHE_HOME/cmmc-db/pg-tools):
 * a later run reads it instead of starting the program; a changed program, a damaged entry or a
 * script is asked again.
 */
describe('the kept answer of pg_dump --version', () => {
  // The machine's compiled pg_dump (the tests' server is PostgreSQL 15).
  const real = fs.realpathSync('/usr/lib/postgresql/15/bin/pg_dump');
  const realVersion = String(execFileSync(real, ['--version'])).trim();
  let n = 0;
  // findPgTools remembers its answer per search path for the run: each call here is a new "run".
  const envFor = (dir: string, cacheRoot: string) => ({ CMMC_PG_BIN_DIR: dir, XDG_CACHE_HOME: cacheRoot, PATH: `/nonexistent-${++n}` });
  const entries = (cacheRoot: string) => {
    const dir = path.join(cacheRoot, 'cmmc-db', 'pg-tools');
    return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^[0-9a-f]{64}$/.test(f)).map((f) => path.join(dir, f)) : [];
  };
  function binDir(name: string): string {
    const dir = path.join(root, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(real, path.join(dir, 'pg_dump'));
    fs.chmodSync(path.join(dir, 'pg_dump'), 0o755);
    for (const other of ['pg_restore', 'psql']) fs.symlinkSync(path.join(path.dirname(real), other), path.join(dir, other));
    return dir;
  }

  it('is read from the cache, and asked again for a changed program or a damaged entry', async () => {
    const dir = binDir('kept');
    const cacheRoot = fs.mkdtempSync(path.join(root, 'cache-'));
    expect((await findPgTools(150000, envFor(dir, cacheRoot))).version).toBe(realVersion);
    const [entry] = entries(cacheRoot);
    expect(fs.readFileSync(entry, 'utf8').trim()).toBe(realVersion);

    // Served from the entry: the program is not asked (a forged answer shows it).
    fs.writeFileSync(entry, 'pg_dump (PostgreSQL) 99.1\n');
    expect((await findPgTools(150000, envFor(dir, cacheRoot))).version).toBe('pg_dump (PostgreSQL) 99.1');

    // A damaged entry is not an answer: asked, and written again.
    fs.writeFileSync(entry, '\0\0garbage');
    expect((await findPgTools(150000, envFor(dir, cacheRoot))).version).toBe(realVersion);
    expect(fs.readFileSync(entry, 'utf8').trim()).toBe(realVersion);

    // Other bytes (an upgraded package): a new entry, the program asked (the forged one is not used).
    fs.writeFileSync(entry, 'pg_dump (PostgreSQL) 99.1\n');
    fs.appendFileSync(path.join(dir, 'pg_dump'), Buffer.from([0]));
    expect((await findPgTools(150000, envFor(dir, cacheRoot))).version).toBe(realVersion);
    expect(entries(cacheRoot)).toHaveLength(2);
  });

  it('never keeps the answer of a script', async () => {
    const dir = path.join(root, 'script');
    program(path.join(dir, 'pg_dump'));
    for (const other of ['pg_restore', 'psql']) fs.symlinkSync(path.join(path.dirname(real), other), path.join(dir, other));
    const cacheRoot = fs.mkdtempSync(path.join(root, 'cache-'));
    expect((await findPgTools(150000, envFor(dir, cacheRoot))).version).toBe('pg_dump (PostgreSQL) 15.4');
    expect(entries(cacheRoot)).toEqual([]);
  });
});

/**
 * Picking pg_dump asks each real program once for its version (a process start each): the same
 * file reached through two folders (/bin and /usr/bin on merged-/usr systems) is asked once, and
 * Debian's pg_wrapper only when no /usr/lib/postgresql/NN/bin program is a candidate.
 */
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

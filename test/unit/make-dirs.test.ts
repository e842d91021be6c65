/**
 * makeDirs (src/fs-private.ts), the bounded `mkdir -p` every folder cmmc-db creates goes through:
 * the folders made with their mode, an existing folder accepted, a file in the way refused as Node
 * refuses it, and a path that cannot hold folders (under /proc/self) refused at once: Node 20's own
 * recursive mkdirSync loops for ever there, deaf to Ctrl-C (test/unmakeable-folders.test.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeDirs } from '../../src/fs-private.js';

const made: string[] = [];
afterEach(() => {
  while (made.length) fs.rmSync(made.pop()!, { recursive: true, force: true });
});
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-make-dirs-'));
  made.push(d);
  return d;
}

describe('makeDirs', () => {
  it('makes each missing folder with the mode given, and accepts one that exists', () => {
    const root = tmp();
    const deep = path.join(root, 'a', 'b', 'c');
    makeDirs(deep, 0o700);
    for (const p of [path.join(root, 'a'), path.join(root, 'a', 'b'), deep]) expect(fs.statSync(p).mode & 0o777).toBe(0o700);
    expect(() => makeDirs(deep, 0o700)).not.toThrow();
    makeDirs(path.join(root, 'rel-check'));
    expect(fs.statSync(path.join(root, 'rel-check')).isDirectory()).toBe(true);
  });

  it('refuses a file in the way with EEXIST, and a folder under a file with ENOTDIR, as Node does', () => {
    const root = tmp();
    const file = path.join(root, 'file');
    fs.writeFileSync(file, 'x');
    expect(() => makeDirs(file)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => makeDirs(path.join(file, 'sub'))).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
  });

  it.runIf(fs.existsSync('/proc/self'))('refuses a folder under /proc/self at once (ENOENT), where Node 20 recursive mkdirSync never returns', () => {
    expect(() => makeDirs('/proc/self/cmmc-db/v8', 0o700)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});

describe('makeDirs that fails part of the way', () => {
  it('removes the folders it made before the refusal (a path too long for the file system), and none that were there', () => {
    const root = tmp();
    fs.mkdirSync(path.join(root, 'there'));
    // Each part is a legal name; together they pass PATH_MAX (4096 on Linux) part of the way down.
    const deep = path.join(root, 'there', ...Array.from({ length: 25 }, () => 'd'.repeat(200)));
    expect(() => makeDirs(deep, 0o700)).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG' }));
    expect(fs.readdirSync(root)).toEqual(['there']);
    expect(fs.readdirSync(path.join(root, 'there'))).toEqual([]);
  });
});

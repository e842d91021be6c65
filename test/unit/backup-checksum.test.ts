/**
 * The backup checksum (src/backup/store.ts) reads each file through one reused buffer sized to the
 * file (at most 4 MiB): the sha256 and size must be those of the whole file at every size around
 * the buffer's edges, and a directory archive's checksum covers its files in name order.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checksum } from '../../src/backup/store.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-checksum-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MiB = 1 << 20;

describe('backup checksum', () => {
  it('is the sha256 and size of the whole file, at every size around the buffer', async () => {
    for (const size of [0, 1, 4 * MiB - 1, 4 * MiB, 4 * MiB + 1, 9 * MiB + 7]) {
      const file = path.join(dir, `f${size}`);
      writeFileSync(file, randomBytes(size));
      expect(await checksum(file)).toEqual({ sha256: createHash('sha256').update(readFileSync(file)).digest('hex'), sizeBytes: size });
    }
  });

  it('covers a directory archive: each file name, then its bytes, in name order', async () => {
    const folder = path.join(dir, 'archive');
    mkdirSync(folder);
    const files = { 'toc.dat': randomBytes(1000), '3001.dat.gz': randomBytes(5 * MiB), '3002.dat.gz': Buffer.alloc(0) };
    for (const [name, bytes] of Object.entries(files)) writeFileSync(path.join(folder, name), bytes);
    const want = createHash('sha256');
    for (const name of Object.keys(files).sort()) want.update(`${name}\0`).update(files[name as keyof typeof files]);
    expect(await checksum(folder)).toEqual({ sha256: want.digest('hex'), sizeBytes: 1000 + 5 * MiB });
  });
});

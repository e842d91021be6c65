/**
 * `backup create` onto a full disk, encrypted or not, in each format: one line naming the real cause
 * (ENOSPC: the disk is full, and where), exit 1, and nothing kept — no archive, no manifest, no
 * partial file of either, no name reservation. Before, an encrypted backup said "pg_dump was stopped
 * by SIGPIPE" (the closed pipe, not the cause), and a manifest that did not fit left a 0-byte
 * `.NAME.manifest.json.….partial`. A real tmpfs of 64 KiB, filled so that 0 to 3 pages stay free
 * (the archive fits, the manifest does not, …); skipped where this user may not mount one.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';

const PAGE = 4096;

describe('backup create onto a full disk', () => {
  let work: string;
  let disk: string;
  let db: TestDatabase;
  let mountable = false;

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-full-'));
    disk = path.join(work, 'disk');
    mkdirSync(disk);
    mountable = (await execa('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk], { reject: false })).exitCode === 0;
    if (mountable) await execa('umount', [disk], { reject: false });
    db = await createTestDatabase('cmmc_full');
    await query(db.url, 'CREATE TABLE t (id int); INSERT INTO t VALUES (1)');
    writeFileSync(path.join(work, 'backup.key'), 'k'.repeat(48), { mode: 0o600 });
  });
  afterAll(async () => {
    await execa('umount', [disk], { reject: false });
    await db.drop();
    rmSync(work, { recursive: true, force: true });
  });

  it('says the disk is full (where, ENOSPC), exits 1 and keeps nothing, whichever file does not fit', async (ctx) => {
    if (!mountable) ctx.skip();
    const cases: [string, string[]][] = [
      ['custom', ['--encrypt', '--key-file', path.join(work, 'backup.key')]],
      ['tar', ['--encrypt', '--key-file', path.join(work, 'backup.key')]],
      ['plain', ['--encrypt', '--key-file', path.join(work, 'backup.key')]],
      ['custom', []],
    ];
    for (const [format, extra] of cases) {
      for (let freePages = 0; freePages <= 3; freePages++) {
        await execa('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk]);
        try {
          const dir = path.join(disk, 'backups');
          mkdirSync(dir, { mode: 0o700 });
          writeFileSync(path.join(disk, 'filler'), Buffer.alloc(64 * 1024 - freePages * PAGE));
          const r = await runCli(['backup', 'create', '--dir', dir, '--format', format, ...extra], { url: db.url });
          const what = `${format}${extra.length ? ' encrypted' : ''}, ${freePages} pages free: ${r.stderr}`;
          expect(r.stderr, what).not.toMatch(/SIGPIPE|\n\s+at /);
          if (r.exitCode === 0) {
            // It all fitted: the backup and its manifest, nothing else.
            expect(readdirSync(dir).sort(), what).toHaveLength(2);
            continue;
          }
          expect(r.exitCode, what).toBe(1);
          const errors = r.stderr.split('\n').filter((l) => /^error: /.test(l));
          expect(errors, what).toHaveLength(1);
          expect(errors[0], what).toMatch(/disk is full|No space left on device/);
          expect(errors[0], what).toMatch(/nothing was kept/);
          expect(readdirSync(dir), what).toEqual([]);
        } finally {
          await execa('umount', [disk]);
        }
      }
    }
  });
});

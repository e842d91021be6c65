/**
 * The embedded database on a full disk: `backup create` says where and why in the one line a
 * server's backup gives (before: "ENOSPC: no space left on device, write", no file, no hint), and a
 * command whose embedded folder is on the full disk names the lock it could not write and leaves no
 * empty lock behind. A real tmpfs of 64 KiB; skipped where this user may not mount one.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { embeddedBackend, type TestTarget } from './helpers/backends.js';

describe('the embedded database and a full disk', () => {
  let work: string;
  let disk: string;
  let target: TestTarget;
  let mountable = false;

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-embedded-full-'));
    disk = path.join(work, 'disk');
    mkdirSync(disk);
    mountable = (await execa('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk], { reject: false })).exitCode === 0;
    if (mountable) await execa('umount', [disk], { reject: false });
    target = await embeddedBackend.create();
    writeFileSync(path.join(work, 'backup.key'), 'k'.repeat(48), { mode: 0o600 });
  }, 120_000);
  afterAll(async () => {
    await execa('umount', [disk], { reject: false });
    await target?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  async function onFullDisk(run: () => Promise<void>, freePages = 0): Promise<void> {
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk]);
    try {
      writeFileSync(path.join(disk, 'filler'), Buffer.alloc((16 - freePages) * 4096));
      await run();
    } finally {
      await execa('umount', [disk]);
    }
  }

  it('backup create: one line naming the backup folder and the full disk, nothing kept', async (ctx) => {
    if (!mountable) ctx.skip();
    // 0 to 3 pages free: the name's reservation does not fit, or it does and the archive does not.
    for (const extra of [[], ['--encrypt', '--key-file', path.join(work, 'backup.key')]]) {
      for (let freePages = 0; freePages <= 3; freePages++) {
        await onFullDisk(async () => {
          const dir = path.join(disk, 'backups');
          mkdirSync(dir, { mode: 0o700 });
          const r = await runCli(['backup', 'create', '--dir', dir, ...extra], { env: target.env });
          const what = `${extra.length ? 'encrypted' : 'plain'}, ${freePages} pages free: ${r.stderr}`;
          const errors = r.stderr.split('\n').filter((l) => /^error: /.test(l));
          if (r.exitCode === 0) {
            // It all fitted: the backup and its manifest, nothing else.
            expect(readdirSync(dir).sort(), what).toHaveLength(2);
            return;
          }
          expect(r.exitCode, what).toBe(1);
          // The archive or the manifest: either way where, why and what was kept.
          expect(errors, what).toHaveLength(1);
          expect(errors[0], what).toContain(dir);
          expect(errors[0], what).toMatch(/the disk is full \[ENOSPC\]; nothing was kept — free space on that disk/);
          expect(readdirSync(dir), what).toEqual([]);
        }, freePages);
      }
    }
  }, 120_000);

  it('a command whose embedded folder is on the full disk names the lock and leaves none behind', async (ctx) => {
    if (!mountable) ctx.skip();
    await onFullDisk(async () => {
      const dir = path.join(disk, 'db');
      mkdirSync(dir, { mode: 0o700 });
      const r = await runCli(['init', '--yes'], { env: { CMMC_DB_DIR: dir } });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toContain(`error: cannot write ${path.join(dir, 'lock')}: it cannot be written: the disk is full [ENOSPC] — free space on that disk`);
      expect(readdirSync(dir)).toEqual([]);
    });
  }, 120_000);
});

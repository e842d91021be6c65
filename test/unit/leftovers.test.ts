/**
 * The pure parts of crash hygiene: owner tags (pid + start time) read back exactly, never out of a
 * user's own names; a dead process is told from a live one; the interruption's cleanups run newest
 * first and say whether they finished; manifests that point outside the backup folder are invalid.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir, ownerIn, ownerTag, parseOwner, processAlive, selfOwner, sweepTempDirs, TEMP_DIR_PATTERN } from '../../src/leftovers.js';
import { interruptSignal, onInterrupt, resetInterrupt, runAtExit, runInterruptCleanups } from '../../src/interrupt.js';
import { manifestProblem, partialPath, sweepPartials } from '../../src/backup/store.js';

describe('owner tags', () => {
  it('read back the pid and start time exactly, with either separator', () => {
    expect(parseOwner(ownerTag())).toEqual(selfOwner());
    expect(parseOwner(ownerTag('_'))).toEqual(selfOwner());
    expect(parseOwner('prod_test')).toEqual({ pid: parseInt('rod', 36), start: String(parseInt('est', 36)) });
  });

  it('are found only where a name puts them: a database called app_prod_test carries none', () => {
    expect(ownerIn('app_prod_test', TEMP_DIR_PATTERN)).toBeUndefined();
    expect(ownerIn('cmmc-tmp-decrypt-prod-test-zz', TEMP_DIR_PATTERN)).toBeUndefined();
    const name = path.basename(makeTempDirIn());
    expect(ownerIn(name, TEMP_DIR_PATTERN)).toEqual(selfOwner());
  });

  it('tell a live process from a dead one and from a later process given the same pid', () => {
    const { pid, start } = selfOwner();
    expect(processAlive(pid, start)).toBe(true);
    expect(processAlive(pid, String(BigInt(start) + 1n))).toBe(false);
    const dead = Number(execFileSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).trim());
    expect(processAlive(dead)).toBe(false);
  });
});

const roots: string[] = [];
function makeTempDirIn(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'leftovers-unit-'));
  roots.push(root);
  return makeTempDir('unit', root);
}
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
  resetInterrupt();
});

describe('sweeping', () => {
  it('removes the temporary folders and partial files of dead processes and keeps a live one', () => {
    const mine = makeTempDirIn();
    const root = path.dirname(mine);
    const dead = Number(execFileSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).trim());
    const theirs = path.join(root, `cmmc-tmp-decrypt-p${dead.toString(36)}-t0-00ff`);
    fs.mkdirSync(theirs);
    expect((fs.statSync(mine).mode & 0o777).toString(8)).toBe('700');
    expect(sweepTempDirs(root)).toEqual([theirs]);
    expect(fs.existsSync(mine)).toBe(true);

    const live = partialPath(root, 'db-20260101T000000Z.dump');
    const gone = path.join(root, `.app_prod_test-20260101T000000Z.dump.p${dead.toString(36)}-t0.partial`);
    const named = path.join(root, '.app_prod_test-20260101T000000Z.dump.partial');
    for (const f of [live, gone, named]) fs.writeFileSync(f, 'x');
    expect(sweepPartials(root, { remove: false })).toEqual([path.basename(gone)]);
    expect(sweepPartials(root)).toEqual([path.basename(gone)]);
    expect(fs.existsSync(live) && fs.existsSync(named) && !fs.existsSync(gone)).toBe(true);
  });
});

describe('manifest confinement', () => {
  const base = { manifestVersion: 2, name: 'db-20260101T000000Z', file: 'db-20260101T000000Z.dump', createdAt: '2026-01-01T00:00:00Z', sha256: 'ab'.repeat(32), sizeBytes: 10, format: 'custom' };
  const check = (m: object) => manifestProblem(os.tmpdir(), 'db-20260101T000000Z.manifest.json', m)?.reason;

  it('accepts a plain name that belongs to the backup and refuses everything else', () => {
    expect(check(base)).toBeUndefined();
    expect(check({ ...base, file: 'db-20260101T000000Z' })).toBeUndefined();
    for (const file of ['..', '.', '../notes.txt', '/etc/passwd', 'a/b', 'db-20260101T000000Z..dump', 'other-20260101T000000Z.dump', '', 7]) {
      expect(check({ ...base, file }), String(file)).toMatch(/"file"/);
    }
    expect(check({ ...base, name: '../x' })).toMatch(/"name"/);
  });

  it('refuses what verify and restore would read wrong: a missing or odd sha256, size, format or version (they threw a TypeError)', () => {
    const { sha256: _sha, ...noSha } = base;
    expect(check(noSha)).toBe('its "sha256" undefined is not a SHA-256 (64 hex digits)');
    expect(check({ ...base, sha256: 123 })).toMatch(/"sha256" 123/);
    const { sizeBytes: _size, ...noSize } = base;
    expect(check(noSize)).toMatch(/"sizeBytes" undefined is not a size in bytes/);
    expect(check({ ...base, sizeBytes: -1 })).toMatch(/"sizeBytes" -1/);
    expect(check({ ...base, format: 'zip' })).toMatch(/"format" "zip"/);
    expect(check({ ...base, manifestVersion: 99 })).toMatch(/"manifestVersion" 99 is not one this version of cmmc-db reads \(1 to 2\)/);
  });
});

describe('interruption cleanups', () => {
  it('run newest first, abort the signal, and say which finished, which were still running and which failed', async () => {
    const order: string[] = [];
    onInterrupt(() => void order.push('first'), 'first done');
    const release = onInterrupt(() => void order.push('never'), 'never');
    onInterrupt(() => new Promise(() => {}), 'slow');
    onInterrupt(() => {
      throw new Error('no');
    }, 'broken');
    onInterrupt(() => void order.push('last'), 'last done');
    release();
    const { states } = await runInterruptCleanups(50);
    expect(interruptSignal().aborted).toBe(true);
    expect(order).toEqual(['last', 'first']);
    expect(states.sort()).toEqual(['broken: FAILED', 'first done', 'last done', 'slow (finishing)']);
  });

  it('at the exit, the last resort runs for the cleanups still running, and only for those', async () => {
    resetInterrupt();
    const atExit: string[] = [];
    onInterrupt(() => new Promise(() => {}), 'slow', { atExit: () => void atExit.push('slow') });
    onInterrupt(() => {}, 'quick', { atExit: () => void atExit.push('quick') });
    onInterrupt(() => new Promise(() => {}), 'slow and broken at exit', {
      atExit: () => {
        throw new Error('no');
      },
    });
    const release = onInterrupt(() => new Promise(() => {}), 'released', { atExit: () => void atExit.push('released') });
    release();
    await runInterruptCleanups(20);
    runAtExit();
    expect(atExit).toEqual(['slow']);
    runAtExit();
    expect(atExit).toEqual(['slow']);
  });
});

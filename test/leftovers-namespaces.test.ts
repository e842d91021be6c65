/**
 * A run in another pid namespace (a container, `unshare --pid`) that shares the temporary folder
 * sees none of this machine's processes: every pid named in a folder's name looks gone from there.
 * Its sweep at start must leave this machine's folders alone — in CI, such a run removed the
 * scratch folder another test's `check` was creating its embedded database in (ENOENT mid-start).
 * Folders carry the machine (host name and pid namespace: hostTag), and each machine sweeps its own.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import os from 'node:os';
import { holderAlive } from '../src/embedded/lock.js';
import { hostTag, makeTempDir, sweepTempDirs } from '../src/leftovers.js';
import { ROOT } from './helpers/cli.js';

const made: string[] = [];
afterAll(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

describe('temporary folders and pid namespaces', () => {
  it('a sweep in another pid namespace leaves this machine\'s live folders; this machine still sweeps its own dead ones', async (ctx) => {
    const probe = await execa('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { reject: false }).catch(() => undefined);
    if (probe?.exitCode !== 0) ctx.skip(true, 'unshare --pid is not available here (it needs root): cannot start a run in another pid namespace');
    const live = makeTempDir('nsprobe');
    made.push(live);
    // The built module, as a run of the CLI in that namespace would sweep (same host name, same /tmp).
    const leftovers = pathToFileURL(path.join(ROOT, 'dist', 'leftovers.js')).href;
    const other = await execa('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, '--input-type=module', '-e', `const m = await import(${JSON.stringify(leftovers)}); console.log(JSON.stringify(m.sweepTempDirs()));`]);
    expect(JSON.parse(other.stdout)).not.toContain(live);
    expect(fs.existsSync(live)).toBe(true);

    // A folder of this machine whose process is gone is still swept here.
    const dead = Number((await execa('sh', ['-c', 'echo $$'])).stdout.trim());
    const gone = live.replace(/-p[0-9a-z]+-t[0-9a-z]+-/, `-p${dead.toString(36)}-t0-`);
    fs.mkdirSync(gone, { mode: 0o700 });
    made.push(gone);
    expect(sweepTempDirs()).toContain(gone);
    expect(fs.existsSync(live)).toBe(true);
  });

  it('an embedded folder\'s lock held in another pid namespace is never taken for a dead one', async () => {
    const dead = Number((await execa('sh', ['-c', 'echo $$'])).stdout.trim());
    const holder = { pid: dead, startTicks: '1', startedAt: new Date().toISOString(), hostname: os.hostname() };
    expect(holderAlive({ ...holder, machine: hostTag() === 'ffffff' ? 'eeeeee' : 'ffffff' })).toBe(true);
    expect(holderAlive({ ...holder, machine: hostTag() })).toBe(false);
    // A lock of an older version (no machine): by its pid, as before.
    expect(holderAlive(holder)).toBe(false);
  });
});

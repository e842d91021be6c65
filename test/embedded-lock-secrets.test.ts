/**
 * The embedded database's lock file names the command that holds the folder, and a process waiting
 * for it prints that command: neither ever shows a password, whether the command was given a URL, keyword=value settings
 * or --admin-url=VALUE, and not after a kill -9 either (the file stays). Real processes: the holder
 * is stopped (SIGSTOP) while it holds the lock, so that the waiter finds it held.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, cleanEnv, runCli } from './helpers/cli.js';

const SECRET = 'AdminSecret9';
const projects: string[] = [];
afterEach(() => {
  while (projects.length) fs.rmSync(projects.pop()!, { recursive: true, force: true });
});

/** A project folder of its own (package.json `{}`, no DATABASE_URL): the embedded database in .cmmc-db. */
function project(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-lock-secret-'));
  projects.push(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), '{}\n');
  return dir;
}

async function waitForFile(file: string, timeoutMs = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') === '') {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${file}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('the lock file and the waiting process never show a password', () => {
  it.each([
    ['a URL', ['--admin-url', `postgres://postgres:${SECRET}@127.0.0.1/postgres`]],
    ['keyword=value settings', ['--admin-url', `host=127.0.0.1 user=postgres password=${SECRET}`]],
    ['--admin-url=URL', [`--admin-url=postgres://postgres:${SECRET}@127.0.0.1/postgres`]],
    ['a password with ? and / in a URL', ['--admin-url', `postgres://postgres:${SECRET}?x/y@127.0.0.1/postgres`]],
  ])('%s', async (_, args) => {
    const cwd = project();
    const lock = path.join(cwd, '.cmmc-db', 'lock');
    const holder = execa('node', [BIN, 'init', ...args], { cwd, env: cleanEnv(), extendEnv: false, reject: false });
    try {
      await waitForFile(lock);
      holder.kill('SIGSTOP');
      const content = fs.readFileSync(lock, 'utf8');
      expect(content).not.toContain(SECRET);
      expect(JSON.parse(content).command).toMatch(/^init --admin-url[ =]/);

      const waiter = await runCli(['current'], { cwd, env: { CMMC_DB_LOCK_WAIT: '0' } });
      expect(waiter.exitCode).toBe(1);
      expect(waiter.stderr).toMatch(new RegExp(`in use by process ${holder.pid} \\(cmmc-db init --admin-url`));
      expect(waiter.stderr).not.toContain(SECRET);

      // kill -9: the file stays, still without the password.
      holder.kill('SIGKILL');
      await holder;
      expect(fs.readFileSync(lock, 'utf8')).not.toContain(SECRET);
    } finally {
      holder.kill('SIGKILL');
      await holder;
    }
  });

  it('a lock written by an older version (the command as typed) is shown masked', async () => {
    const cwd = project();
    const dir = path.join(cwd, '.cmmc-db');
    fs.mkdirSync(dir, { mode: 0o700 });
    // Held by a live process (this one), as an older cmmc-db wrote it.
    const command = `init --admin-url postgres://postgres:${SECRET}@127.0.0.1/postgres`;
    fs.writeFileSync(path.join(dir, 'lock'), JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString(), hostname: os.hostname(), command }) + '\n', { mode: 0o600 });
    const waiter = await runCli(['current'], { cwd, env: { CMMC_DB_LOCK_WAIT: '0' } });
    expect(waiter.exitCode).toBe(1);
    expect(waiter.stderr).toContain(`in use by process ${process.pid} (cmmc-db init --admin-url postgres://postgres:****@127.0.0.1/postgres)`);
    expect(waiter.stderr).not.toContain(SECRET);
  });
});

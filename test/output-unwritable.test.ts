/**
 * Standard output that cannot be written (a redirection to a full disk: `cmmc-db schema dump
 * --stdout > schema.sql`, `history > out.txt`): every command printed Node's stack trace, and
 * --version's and --help's exit code was 0 with the output lost. Now one line on stderr saying so,
 * exit 1. /dev/full stands for the full disk. A pipe closed early (`| head`) is still no error.
 */
import { statSync } from 'node:fs';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, COMMAND } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

const devFull = statSync('/dev/full', { throwIfNoEntry: false })?.isCharacterDevice() ?? false;

/** Runs the command with stdout sent to `target` by the shell, as a user's redirection does. */
async function redirected(args: string[], target: string, url?: string) {
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = await execa('sh', ['-c', `"$0" ${quoted} > ${target}`, COMMAND], {
    env: cleanEnv(url ? { DATABASE_URL: url } : {}),
    extendEnv: false,
    reject: false,
    timeout: 60_000,
  });
  return { exitCode: r.exitCode ?? 1, stderr: r.stderr };
}

describe('standard output that cannot be written', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('cmmc_stdout');
  });
  afterAll(async () => {
    await db.drop();
  });

  it.skipIf(!devFull).each([
    ['--version', ['--version']],
    ['--help (commander ends the process itself)', ['--help']],
    ['history (a bundled command)', ['history']],
    ['heads (a command of the modules)', ['heads']],
    ['current --json', ['current', '--json']],
    ['history --json (its write fails after the bundled command returned)', ['history', '--json']],
    ['status --json', ['status', '--json']],
  ])('%s: one line, exit 1, no stack trace', async (_name, args) => {
    const r = await redirected(args, '/dev/full', db.url);
    expect(r.exitCode, r.stderr).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error'));
    expect(errors).toEqual(['error: the output cannot be written (ENOSPC: no space left on device) — free space where standard output goes, or send it elsewhere']);
    expect(r.stderr).not.toMatch(/\n\s+at |Node\.js v/);
  });

  it('a pipe closed early is not an error, and a writable output is unchanged', async () => {
    const head = await execa('sh', ['-c', `"$0" history | head -1`, COMMAND], { env: cleanEnv({ DATABASE_URL: db.url }), extendEnv: false, reject: false });
    expect(head.exitCode, head.stderr).toBe(0);
    expect(head.stdout).toMatch(/\(head\)/);
    expect(head.stderr).not.toMatch(/error/);
    const version = await execa(COMMAND, ['--version'], { env: cleanEnv(), extendEnv: false });
    expect(version.stdout).toBe(JSON.parse((await import('node:fs')).readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
    const closed = await execa('sh', ['-c', `"$0" --version | true`, COMMAND], { env: cleanEnv(), extendEnv: false, reject: false });
    expect(closed.exitCode).toBe(0);
    expect(closed.stderr).toBe('');
  });
});

/**
 * Shell completion (@bomb.sh/tab's commander adapter): `completion bash` prints a script that bash
 * accepts, and, sourced into a real bash with `cmmc-db` on PATH, completes commands, subcommands
 * and options from the program itself.
 */
import { execa } from 'execa';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, runCli } from './helpers/cli.js';

const bin = mkdtempSync(path.join(os.tmpdir(), 'cmmc-complete-'));
writeFileSync(path.join(bin, 'cmmc-db'), `#!/bin/sh\nexec node ${JSON.stringify(BIN)} "$@"\n`);
chmodSync(path.join(bin, 'cmmc-db'), 0o755);
afterAll(() => rmSync(bin, { recursive: true, force: true }));

/**
 * COMPREPLY after pressing Tab at the end of `line` in bash, with the script of `completion bash`
 * loaded (`times` times, as a re-read ~/.bashrc does), with bash-completion's `_get_comp_words_by_ref`
 * (reduced to what the script reads) or, `bashCompletion: false`, without it, as in a bash that
 * lacks the bash-completion package.
 */
async function complete(line: string, cwd?: string, options: { bashCompletion?: boolean; times?: number } = {}): Promise<string[]> {
  const script = (await runCli(['completion', 'bash'])).stdout;
  const words = line.split(' ');
  const shim = '_get_comp_words_by_ref() { words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; cur="${COMP_WORDS[COMP_CWORD]}"; prev="${COMP_WORDS[COMP_CWORD-1]}"; }';
  const program = [
    options.bashCompletion === false ? '' : shim,
    ...Array.from({ length: options.times ?? 1 }, () => script),
    `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}`,
    '__cmmc_db_complete',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const r = await execa('bash', ['--norc', '--noprofile', '-c', program], { env: { PATH: `${bin}:${process.env.PATH}`, HOME: bin, NO_COLOR: '1' }, extendEnv: false, reject: false, cwd });
  // compopt only works while bash itself runs a completion; called directly, it says so and does nothing else.
  expect(r.stderr.split('\n').filter((l) => l && !l.includes('compopt: not currently executing completion function'))).toEqual([]);
  return r.stdout.split('\n').filter(Boolean);
}

describe('shell completion', () => {
  it('completion bash prints a script bash accepts, registered for cmmc-db', async () => {
    const r = await runCli(['completion', 'bash']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('complete -o default -F __cmmc_db_complete cmmc-db');
    const syntax = await execa('bash', ['-n'], { input: r.stdout, reject: false });
    expect(syntax.exitCode, syntax.stderr).toBe(0);
    for (const shell of ['zsh', 'fish']) expect((await runCli(['completion', shell])).stdout).toContain('cmmc-db');
  });

  it('completes commands, subcommands and options in a real bash', async () => {
    expect(await complete('cmmc-db up')).toEqual(['upgrade']);
    expect(await complete('cmmc-db sta')).toEqual(expect.arrayContaining(['stamp', 'status']));
    expect(await complete('cmmc-db backup ver')).toEqual(['verify']);
    expect(await complete('cmmc-db doctor --sk')).toEqual(['--skip']);
  });

  it('completes the global options after a command, and file or folder names after an option that takes one', async () => {
    // commander reads --json, --url, --yes... after the command too; they were offered before it only.
    expect(await complete('cmmc-db current --js')).toEqual(['--json']);
    expect(await complete('cmmc-db backup verify --ye')).toEqual(['--yes']);
    // A value option's value is not a command: `--url X <Tab>` still completes history's options.
    expect(await complete('cmmc-db history --url postgres://x --verb')).toEqual(['--verbose']);
    // Folders after --dir (and --migrations-dir, --backup-dir): the adapter answered "no file names" (directive 4).
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'cmmc-complete-cwd-'));
    try {
      mkdirSync(path.join(cwd, 'backups'));
      writeFileSync(path.join(cwd, 'backups.html'), '');
      expect(await complete('cmmc-db report --dir back', cwd)).toEqual(['backups']);
      expect(await complete('cmmc-db --migrations-dir back', cwd)).toEqual(['backups']);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
    // Files after --html, -o, --crontab-file: the answer leaves them to the shell (directive 0, not 4)...
    for (const words of [['report', '--html', ''], ['schema', 'dump', '-o', 'sch'], ['backup', 'schedule', 'install', '--crontab-file', '']]) {
      const r = await runCli(['complete', '--', ...words]);
      expect(r.stdout.trim().split('\n').at(-1), words.join(' ')).toBe(':0');
    }
    expect((await runCli(['complete', '--', 'current', ''])).stdout.trim().split('\n').at(-1)).toBe(':4');
    // ...and bash lists them only when the function is registered with -o default (zsh and fish fall back by themselves).
    expect((await runCli(['completion', 'bash'])).stdout).toContain('complete -o default -F __cmmc_db_complete cmmc-db');
    // The completion command is listed with its own description, as in --help.
    expect((await runCli(['complete', '--', 'compl'])).stdout).toContain('completion\tprint the shell completion script (bash, zsh, fish, powershell)');
  });

  it('loads twice, and completes in a bash without the bash-completion package, with no error', async () => {
    // `source <(cmmc-db completion bash)` in ~/.bashrc, read again: "ShellCompDirectiveError: readonly variable" x6.
    expect(await complete('cmmc-db up', undefined, { times: 2 })).toEqual(['upgrade']);
    // No bash-completion: every Tab said "_get_comp_words_by_ref: command not found" and completed nothing.
    expect(await complete('cmmc-db backup ver', undefined, { bashCompletion: false })).toEqual(['verify']);
    expect(await complete('cmmc-db current --js', undefined, { bashCompletion: false, times: 2 })).toEqual(['--json']);
  });

  it('an unknown shell is a usage error', async () => {
    const r = await runCli(['completion', 'tcsh']);
    expect(r.exitCode).toBe(2);
  });
});

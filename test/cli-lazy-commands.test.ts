/**
 * The CLI loads only the module of the command that runs. Each module must register the name it is
 * listed under, the command name must be found past global options and their values, and a run
 * that names no command of ours (help, a misspelling) must still see every command.
 */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMAND_MODULES, commandName } from '../src/cli/commands/index.js';
import { CliContext } from '../src/cli/context.js';
import { runCli } from './helpers/cli.js';

const VALUE_OPTIONS = new Set(['--url', '--migrations-dir']);

describe('lazy command loading', () => {
  it('lists each module under the name it registers', async () => {
    for (const [name, load] of COMMAND_MODULES) {
      const program = new Command('cmmc-db');
      (await load()).register(program, new CliContext());
      expect(program.commands.map((c) => c.name()), name).toEqual([name]);
    }
  });

  it('finds the command name past global options and their values', () => {
    expect(commandName(['current'], VALUE_OPTIONS)).toBe('current');
    expect(commandName(['--url', 'postgres://x/history', '--json', 'current', '-v'], VALUE_OPTIONS)).toBe('current');
    expect(commandName(['--url=postgres://x/y', 'backup', 'list'], VALUE_OPTIONS)).toBe('backup');
    expect(commandName(['--migrations-dir', 'seed', 'upgrade'], VALUE_OPTIONS)).toBe('upgrade');
    expect(commandName(['--json'], VALUE_OPTIONS)).toBeUndefined();
    expect(commandName(['--', 'show'], VALUE_OPTIONS)).toBe('show');
  });

  it('still lists every command in the top-level help, and suggests the right one for a misspelling', async () => {
    const help = await runCli(['--help']);
    expect(help.exitCode).toBe(0);
    for (const [name] of COMMAND_MODULES) expect(help.stdout).toMatch(new RegExp(`^\\s+${name}\\b`, 'm'));
    const typo = await runCli(['curent']);
    expect(typo.exitCode).toBe(2);
    expect(typo.stderr).toContain('current');
    const version = await runCli(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    // bin/'s fast path for a lone --version prints what commander prints.
    expect(version.stdout).toBe((await runCli(['--json', '--version'])).stdout);
    const sub = await runCli(['--json', 'history', '--help']);
    expect(sub.exitCode).toBe(0);
    expect(sub.stdout).toContain('Usage: cmmc-db history');
  });
});

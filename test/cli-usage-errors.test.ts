/**
 * Usage errors from the command line (a typo in a command or an option, a missing argument): one
 * line on stderr saying what is wrong, the suggestion when there is one, and where the usage is;
 * exit 2; under --json the same message in the error document. Commander's own output took two or
 * three lines; `backup restor` went to the default subcommand and said "too many arguments for
 * 'create'"; `help nosuch` printed the whole help and exited 0.
 */
import { describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';

// A server that is not there: none of these may get as far as connecting.
const url = 'postgres://postgres@127.0.0.1:1/none';

describe('usage errors', () => {
  it('are one line with the suggestion, exit 2, the same message under --json', async () => {
    const cases: [string[], RegExp][] = [
      [['upgrd'], /^error: unknown command 'upgrd' — did you mean upgrade\? Run with --help for usage$/],
      [['current', '--jsno'], /^error: unknown option '--jsno' — did you mean --json\? Run with --help for usage$/],
      [['upgrade', '--fro'], /^error: unknown option '--fro' — run with --help for usage$/],
      [['show'], /^error: missing required argument 'rev' — run with --help for usage$/],
      [['backup', 'restor'], /^error: unknown command 'restor' — did you mean restore\? Run with --help for usage$/],
      [['backup', 'schedule', 'instal'], /^error: unknown command 'instal' — did you mean install\? Run with --help for usage$/],
      [['schema', 'dmp'], /^error: unknown command 'dmp' — did you mean dump\? Run with --help for usage$/],
      [['help', 'upgrd'], /^error: unknown command 'upgrd' — did you mean upgrade\? Run with --help for usage$/],
    ];
    for (const [args, line] of cases) {
      const r = await runCli(args, { url });
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(r.stderr.trim().split('\n'), args.join(' ')).toEqual([expect.stringMatching(line)]);
      const j = await runCliJson(args, { url });
      expect(j.exitCode, args.join(' ')).toBe(2);
      expect(`error: ${j.data.error.message}`, args.join(' ')).toMatch(line);
    }
  });

  it('help for a command still prints its help and exits 0; the default subcommand still runs with options only', async () => {
    const help = await runCli(['help', 'upgrade']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/^Usage: cmmc-db upgrade/);
    // backup's default is create: with its options only it is create (here it fails to connect, exit 1, not a usage error).
    const create = await runCli(['backup', '--dir', '/nonexistent-cmmc-dir'], { url });
    expect(create.exitCode, create.stderr).toBe(1);
    expect(create.stderr).not.toMatch(/unknown command/);
  });

  it('a command group named without its subcommand shows its help on stderr and exits 2, not 0', async () => {
    // `cmmc-db schema` did nothing, printed the help and exited 0: a CI step `cmmc-db schema` passed.
    const group = await runCli(['schema'], { url });
    expect(group.exitCode).toBe(2);
    expect(group.stdout).toBe('');
    expect(group.stderr).toMatch(/^Usage: cmmc-db schema/);
    expect(group.stderr).toMatch(/dump \[options\]/);
    // Asked for, the help is data: stdout and exit 0.
    const asked = await runCli(['schema', '--help'], { url });
    expect(asked.exitCode).toBe(0);
    expect(asked.stdout).toMatch(/^Usage: cmmc-db schema/);
  });
});

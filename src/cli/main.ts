/**
 * The commander program. Each command lives in src/cli/commands/<name>.ts and registers itself;
 * command modules import their capability lazily so that `cmmc-db --version` stays fast.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { PACKAGE_DIR } from '../config/config.js';
import { findProjectRoot, unreadConfigIn } from '../config/project-root.js';
import { CmmcError, EXIT } from '../errors.js';
import { CliContext } from './context.js';
import { commandName, commandsFor } from './commands/index.js';
import { addCompletion, COMPLETION_COMMANDS } from './completion.js';
import { preloadColors } from './output.js';
import { describeError, renderError } from './render-error.js';
import { installSignalHandler } from './signals.js';
import { sweepTempDirs } from '../leftovers.js';
import { dotenvChoice, dotenvSecretWarning } from '../config/dotenv.js';
import { wasInterrupted } from '../interrupt.js';

function version(): string {
  return (JSON.parse(readFileSync(path.join(PACKAGE_DIR, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * The program with the commands `argv` needs (all of them when argv is undefined, or names no command
 * of ours): a run of `cmmc-db current` loads the module of `current` only.
 */
export async function buildProgram(ctx: CliContext, argv?: string[]): Promise<Command> {
  const program = withGlobalOptions(new Command('cmmc-db'))
    .showSuggestionAfterError()
    // Commander's usage errors took two or three lines (the error, "(Did you mean ...?)", "(run with --help ...)").
    .configureOutput({ outputError: (text, write) => write(`${oneLineUsage(text)}\n`) })
    .configureHelp({ showGlobalOptions: true })
    .exitOverride();
  ctx.attach(program);
  const args = argv?.slice(2) ?? [];
  const name = commandName(args, valueOptions(program));
  // `cmmc-db --version` needs no command at all.
  const versionOnly = name === undefined && args.some((a) => a === '-V' || a === '--version') && !args.some((a) => a === '-h' || a === '--help');
  for (const register of versionOnly ? [] : await commandsFor(name)) register(program, ctx);
  if (!versionOnly && (name === undefined || COMPLETION_COMMANDS.includes(name))) await addCompletion(program);
  for (const sub of program.commands) sub.exitOverride();
  refuseUnknownSubcommands(program);
  program.addHelpText(
    'after',
    `
Examples:
  $ cmmc-db upgrade head            apply every pending revision
  $ cmmc-db current                 show the revision the database is at
  $ cmmc-db history --indicate-current

With no DATABASE_URL or DB_* settings, commands use the embedded database in ./.cmmc-db/.`,
  );
  return program;
}

/**
 * A usage error of commander's as one line: what is wrong, the suggestion, and where the usage is.
 * @example oneLineUsage("error: unknown command 'upgrd'\n(Did you mean upgrade?)") // "error: unknown command 'upgrd' — did you mean upgrade? Run with --help for usage"
 */
export function oneLineUsage(text: string): string {
  const [what, ...rest] = text.trim().split('\n');
  const suggestion = /\(Did you mean (.+)\?\)/.exec(rest.join(' '))?.[1];
  return `${what} — ${suggestion ? `did you mean ${suggestion}? Run` : 'run'} with --help for usage`;
}

/**
 * A word where a command with a default subcommand expects one of its subcommands (`backup restor`)
 * is an unknown command, said with the suggestion: it went to the default (`backup create`) as an
 * argument, which said "too many arguments for 'create'".
 */
function refuseUnknownSubcommands(program: Command): void {
  const walk = (parent: Command) => {
    if (parent.commands.length === 0) return;
    parent.hook('preSubcommand', (self, sub) => {
      const word = self.args[0];
      if (word !== undefined && !word.startsWith('-') && word !== sub.name() && !sub.aliases().includes(word) && sub.registeredArguments.length === 0) unknownCommand(self);
    });
    parent.commands.forEach(walk);
  };
  walk(program);
}

/** `cmmc-db help WORD` where WORD names no command: the unknown-command error (commander printed the whole help, exit 0). */
function refuseUnknownHelpTopic(program: Command, argv: string[]): void {
  const args = argv.slice(2);
  if (commandName(args, valueOptions(program)) !== 'help') return;
  const word = args.slice(args.indexOf('help') + 1).find((a) => !a.startsWith('-'));
  if (word === undefined || program.commands.some((c) => c.name() === word || c.aliases().includes(word))) return;
  program.args = [word];
  unknownCommand(program);
}

/** Commander's own unknown-command error (with its suggestion): public in commander, missing from its typings. */
function unknownCommand(command: Command): never {
  return (command as Command & { unknownCommand(): never }).unknownCommand();
}

/** The program's name, description, version and global options. */
function withGlobalOptions(program: Command): Command {
  return program
    .description('PostgreSQL schema and operations toolkit for the CMMC Compliance Platform')
    .version(version(), '-V, --version', 'print the version')
    .option('--url <url>', 'database URL (overrides DATABASE_URL and DB_*)')
    .option('--json', 'print data as one JSON document on stdout')
    .option('-y, --yes', 'answer yes to confirmations (for scripts)')
    .option('-q, --quiet', 'no progress or success messages on stderr (data, warnings and errors still print)')
    .option('--env <name>', 'an environment of the project\'s cmmc-db.config file (its url and settings)')
    .option('--migrations-dir <dir>', 'the one folder of revision files (default: the platform\'s and the project\'s ./migrations)')
    .option('--no-color', 'no colours (also NO_COLOR=1 or no TTY)')
    .addOption(new Option('--debug', 'show stack traces on errors'));
}

/** Options of the program that take a value (--url URL): their value is not the command's name. */
function valueOptions(program: Command): Set<string> {
  return new Set(program.options.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short].filter((f): f is string => !!f)));
}

/**
 * The commands bin/cmmc-db.js runs from a bundle (src/cli/bundle-loader.ts), by bundle: ones whose
 * time is mostly the cold start, and whose code loads no package a bundle would load through
 * require() (Kysely's CommonJS build, say, beside the ES module a revision imports). Each bundle,
 * dist/cli-bundle-<name>.cjs, holds its commands' modules only (scripts/bundle-cli.mjs reads
 * this), so that `current` reads and deserializes the code of `current` and `history`, not that of
 * backups and upgrades; bin's quick look at argv names them too.
 */
export const BUNDLES: Readonly<Record<string, readonly string[]>> = {
  read: ['current', 'history'],
  backup: ['backup'],
  seed: ['seed'],
  migrate: ['upgrade', 'downgrade', 'stamp'],
};

/** Every command run from a bundle. */
export const BUNDLED_COMMANDS: ReadonlySet<string> = new Set(Object.values(BUNDLES).flat());

/** Whether `argv` runs one of the commands of the bundle `bundle` (as commander will read it). */
export function runsFromBundle(argv: string[], bundle: string): boolean {
  const name = commandName(argv.slice(2), valueOptions(withGlobalOptions(new Command('cmmc-db'))));
  return name !== undefined && (BUNDLES[bundle] ?? []).includes(name);
}

/** Runs the CLI and returns the exit code (bin/cmmc-db.js sets it). */
export async function run(argv: string[]): Promise<number> {
  await loadDotenv();
  if (!argv.includes('--no-color')) await preloadColors();
  const ctx = new CliContext();
  installSignalHandler((line) => ctx.out.error(line));
  // Temporary folders of earlier runs that were killed (kill -9, a crash): their process is gone.
  sweepTempDirs();
  const program = await buildProgram(ctx, argv);
  // The command being run (`backup verify`), to name what a lost connection interrupted.
  let running: string | undefined;
  program.hook('preAction', (_, action) => {
    const names: string[] = [];
    for (let c: typeof action | null = action; c && c !== program; c = c.parent) names.unshift(c.name());
    running = names.join(' ');
  });
  // Interrupted: the signal handler prints the one line and exits once its cleanups are done
  // (src/cli/signals.ts). A command that failed because of it, or that finished anyway (a step that
  // cannot be cut short, like the embedded pg_dump, ran to its end meanwhile), leaves the exit to it:
  // returning would exit 0 with the line already saying the run was stopped.
  const leaveExitToHandler = () => new Promise<never>(() => setInterval(() => {}, 1000));
  let failed = true;
  try {
    refuseUnknownHelpTopic(program, argv);
    await program.parseAsync(argv);
    if (wasInterrupted()) await leaveExitToHandler();
    failed = ctx.exitCode !== EXIT.ok;
    return ctx.exitCode;
  } catch (err) {
    if (wasInterrupted()) await leaveExitToHandler();
    // --json promises one document on stdout: a command that failed before writing its own gets one
    // saying so (status "error", with the same code, message and hint as the line on stderr).
    const errorDocument = (error: { code: string; message: string; hint?: string }) => {
      if (argv.includes('--json') && !ctx.out.wroteData) ctx.out.data({ status: 'error', error });
    };
    if (err instanceof CommanderError) {
      // commander.help with a non-zero code is a group named without its subcommand (`cmmc-db schema`):
      // its help went to stderr as a usage error, and a script must not read it as success.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      if (err.code === 'commander.help') return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      if (err.exitCode !== 0) errorDocument({ code: 'usage', message: oneLineUsage(err.message).replace(/^error: /, '') });
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const debug = argv.includes('--debug');
    errorDocument(describeError(err, running));
    renderError(err, ctx.out, debug, running);
    return err instanceof CmmcError ? err.exitCode : EXIT.failed;
  } finally {
    await ctx.closeAll({ failed });
  }
}

/**
 * Reads .env from the project root (found by walking up from the working folder, so a command run
 * from a subfolder reads the same file) without overriding what the environment already says.
 */
async function loadDotenv(): Promise<void> {
  const project = findProjectRoot(process.cwd());
  // A config file that is a folder, a FIFO or a dangling link is not read (configFileIn): said, not silent.
  if (!project.configFile) {
    const unread = unreadConfigIn(project.root);
    if (unread) process.stderr.write(`warning: ${unread.file} ${unread.what} — ${unread.hint}\n`);
  }
  // Loaded only when there is a .env (or dotenv's own DOTENV_* settings name another file): most runs have none.
  const choice = dotenvChoice(project.root, process.env);
  if (!choice.read) {
    if ('warning' in choice) process.stderr.write(`warning: ${choice.warning}\n`);
    return;
  }
  const { default: dotenv } = await import('dotenv');
  const { parsed } = dotenv.config({ ...(choice.named ? {} : { path: choice.file }), quiet: true });
  const exposed = parsed && dotenvSecretWarning(choice.file, parsed);
  if (exposed) process.stderr.write(`warning: ${exposed}\n`);
}

/**
 * Every command of the CLI, in the order `cmmc-db --help` lists them. One module per command,
 * loaded on demand: a run of one command loads that command's module only (see `commandsFor`).
 */
import type { RegisterCommand } from './types.js';

type Loader = () => Promise<{ register: RegisterCommand }>;

/** [name, module]: the name is the one the module registers (checked in test/cli-lazy-commands.test.ts). */
export const COMMAND_MODULES: readonly (readonly [string, Loader])[] = [
  ['revision', () => import('./revision.js')],
  ['upgrade', () => import('./upgrade.js')],
  ['downgrade', () => import('./downgrade.js')],
  ['current', () => import('./current.js')],
  ['status', () => import('./status.js')],
  ['history', () => import('./history.js')],
  ['heads', () => import('./heads.js')],
  ['branches', () => import('./branches.js')],
  ['show', () => import('./show.js')],
  ['stamp', () => import('./stamp.js')],
  ['merge', () => import('./merge.js')],
  ['check', () => import('./check.js')],
  ['seed', () => import('./seed.js')],
  ['init', () => import('./init.js')],
  ['backup', () => import('./backup.js')],
  ['doctor', () => import('./doctor.js')],
  ['refresh', () => import('./refresh.js')],
  ['schema', () => import('./schema.js')],
  ['test-migrations', () => import('./test-migrations.js')],
  ['health', () => import('./health.js')],
  ['report', () => import('./report.js')],
];

/**
 * The first operand of `args` (the command name), skipping global options and the values of those
 * that take one (`valueOptions`, for example `--url`); undefined when there is none.
 */
export function commandName(args: readonly string[], valueOptions: ReadonlySet<string>): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return args[i + 1];
    if (!a.startsWith('-') || a === '-') return a;
    if (!a.includes('=') && valueOptions.has(a)) i++;
  }
  return undefined;
}

/**
 * The register functions a run needs: the named command's alone when `name` is one of ours, every
 * command otherwise (no command, `help`, a misspelt name that commander should suggest a fix for).
 */
export async function commandsFor(name: string | undefined): Promise<RegisterCommand[]> {
  const one = COMMAND_MODULES.find(([n]) => n === name);
  const modules = await Promise.all((one ? [one] : COMMAND_MODULES).map(([, load]) => load()));
  return modules.map((m) => m.register);
}

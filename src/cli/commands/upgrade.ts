import { Option } from 'commander';
import type { RegisterCommand } from './types.js';
import type { CliContext } from '../context.js';
import { CmmcError, usageError } from '../../errors.js';
import type { RunResult } from '../../migrate/engine.js';

export interface MigrateRunFlags {
  sql?: boolean;
  /** upgrade only: a verified backup first (default: on when the configuration says production). */
  backup?: boolean;
  backupDir?: string;
  allowChanged?: boolean;
  lockTimeout?: string;
  statementTimeout?: string;
}

/** Shared by upgrade and downgrade: offline script, or an online run with progress and a summary. */
export async function migrateRun(ctx: CliContext, operation: 'upgrade' | 'downgrade', target: string, flags: MigrateRunFlags): Promise<number> {
  const { parseDuration } = await import('../../config/config.js');
  const ms = (value: string | undefined, flag: string) => {
    if (value === undefined) return undefined;
    const parsed = parseDuration(value);
    if (parsed === undefined) throw usageError(`${flag} "${value}" is not a duration`, 'use milliseconds or a unit: 500ms, 30s, 5min');
    return parsed;
  };
  const lockTimeoutMs = ms(flags.lockTimeout, '--lock-timeout');
  const statementTimeoutMs = ms(flags.statementTimeout, '--statement-timeout');
  const m = await import('../../migrate/index.js');
  const config = ctx.config();
  const script = await m.loadScript(config);
  if (flags.sql) {
    const text = await m.offlineScript(script, config, operation, target);
    if (ctx.out.json) ctx.out.data({ operation, range: target, sql: text });
    else process.stdout.write(text);
    return 0;
  }
  if (target.includes(':')) throw usageError(`a range "${target}" is only for --sql`, `use a single target, for example: cmmc-db ${operation} ${operation === 'upgrade' ? 'head' : '-1'}`);
  if (operation === 'downgrade' && config.production) {
    const ok = await ctx.out.confirm(`downgrade the PRODUCTION database to ${target}? Data in dropped objects is lost`, ctx.globals.yes);
    if (!ok) return 1;
  }
  const { arrow } = await import('../../migrate/report.js');
  let backup: { name: string; path: string; status: 'verified' } | undefined;
  if (operation === 'upgrade' && (flags.backup ?? config.production)) {
    // Before the run's own connection is opened: the embedded database is backed up from its folder.
    const { openDatabase } = await import('../../db/connection.js');
    ctx.announce(config);
    const probe = await openDatabase(config, { pool: { max: 1, min: 0 } });
    const status = await m.getStatus(probe, script).finally(() => probe.close());
    const planned = m.catchRevisionErrors(() => script.graph.upgradePlan(status.current.filter((r) => script.graph.has(r)), target));
    if (planned.length > 0) backup = await (await import('./schema.js')).backupBeforeUpgrade(ctx, flags.backupDir);
    else if (!ctx.out.json) ctx.out.info('nothing to upgrade: no backup taken');
  }
  const handle = await ctx.open();
  let spinner: Awaited<ReturnType<typeof ctx.out.spinner>> | undefined;
  const result = await m
    .migrate(handle, operation, target, {
      script,
      allowChanged: flags.allowChanged,
      lockTimeoutMs,
      statementTimeoutMs,
      onEvent: async (event) => {
        if (event.type === 'lock-wait') ctx.out.info(`waiting for another migration run to finish${event.heldBy ? ` (server pid ${event.heldBy})` : ''}...`);
        else if (event.type === 'step-start') spinner = await ctx.out.spinner(`${operation} ${arrow(event.revision, operation)}  ${event.revision.message}`);
        else spinner?.succeed(`${operation} ${arrow(event.revision, operation)}  ${event.revision.message}  ${ctx.out.c.dim(`(${event.durationMs} ms, ${event.revision.fileName})`)}`);
      },
    })
    .catch((err) => {
      spinner?.stop();
      throw refusal(ctx, operation, target, err);
    });
  spinner?.stop();
  return renderRun(ctx, result, backup ? { backup } : {});
}

/** With --json, a refused run still prints one document (status "refused") before the error line. */
export function refusal(ctx: CliContext, operation: string, target: string, err: unknown): unknown {
  if (ctx.out.json && err instanceof CmmcError) {
    ctx.out.data({ operation, target, status: 'refused', steps: [], error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } });
  }
  return err;
}

/**
 * Renders an engine result: with --json the one document (also when a step failed); otherwise a
 * summary. A failed step becomes the command's error (exit 1) after what was applied is shown.
 */
export function renderRun(ctx: CliContext, result: RunResult, extra: Record<string, unknown> = {}): number {
  const { operation } = result;
  if (ctx.out.json) ctx.out.data({ ...result, ...extra });
  const now = result.to.length ? result.to.join(', ') : 'base';
  if (result.failed) {
    if (!ctx.out.json && result.steps.length) ctx.out.info(`${result.steps.length} revision${result.steps.length === 1 ? '' : 's'} applied before the failure; the database is now at ${now}`);
    const e = result.failed.error;
    throw new CmmcError(e.code, e.message, { hint: e.hint });
  }
  if (ctx.out.json) return 0;
  if (operation === 'stamp') {
    ctx.out.success(`stamped: the version table now reads ${result.to.join(', ') || 'base (empty)'} (was ${result.from.join(', ') || 'base'}); no revision was run`);
    ctx.out.info(ctx.out.c.dim('next: cmmc-db check'));
    return 0;
  }
  if (result.steps.length === 0) {
    ctx.out.info(`nothing to ${operation}: the database is at ${now}`);
  } else {
    ctx.out.success(`${operation === 'upgrade' ? 'applied' : 'reverted'} ${result.steps.length} revision${result.steps.length === 1 ? '' : 's'} in ${result.totalMs} ms; the database is now at ${now}`);
  }
  ctx.out.info(ctx.out.c.dim(operation === 'upgrade' ? 'next: cmmc-db check (or cmmc-db history --indicate-current)' : 'next: cmmc-db current, or cmmc-db upgrade head to go back up'));
  return 0;
}

export function runFlags(cmd: import('commander').Command): import('commander').Command {
  return cmd
    .option('--sql', 'print the SQL script instead of running it (offline: TARGET may be a range FROM:TO)')
    .option('--lock-timeout <duration>', 'SET lock_timeout for the run (for example 5s; default: CMMC_LOCK_TIMEOUT)')
    .option('--statement-timeout <duration>', 'SET statement_timeout for the run (for example 10min; 0 = none)')
    .addOption(new Option('--allow-changed', 'upgrade even if an applied revision file changed since it was applied'));
}

export const register: RegisterCommand = (program, ctx) => {
  runFlags(
    program
      .command('upgrade [target]')
      .description('apply revisions up to TARGET (default head; "heads" for every branch; +N, ID, label@head...)'),
  )
    .option('--backup', 'take a verified backup before applying anything (default when NODE_ENV/CMMC_ENV=production)')
    .option('--no-backup', 'no backup first, even in production')
    .option('--backup-dir <dir>', 'folder for that backup (default: CMMC_BACKUP_DIR or ./backups)')
    .addHelpText('after', '\nExamples:\n  $ cmmc-db upgrade head\n  $ cmmc-db upgrade +1\n  $ cmmc-db upgrade head --backup          # verified backup first, named for backup restore\n  $ cmmc-db upgrade base:head --sql > upgrade.sql')
    .action(ctx.action(async (target: string | undefined, flags: MigrateRunFlags) => migrateRun(ctx, 'upgrade', target ?? 'head', flags)));
};

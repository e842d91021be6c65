/**
 * The run of `upgrade` and `downgrade` (shared by both commands): the offline script, or an online
 * run with progress, a summary and, for upgrade, a verified backup first.
 */
import { Option } from 'commander';
import type { CliContext } from './context.js';
import { usageError } from '../errors.js';

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
  const { parseDuration } = await import('../config/config.js');
  const ms = (value: string | undefined, flag: string) => {
    if (value === undefined) return undefined;
    const parsed = parseDuration(value);
    if (parsed === undefined) throw usageError(`${flag} "${value}" is not a duration`, 'use milliseconds or a unit: 500ms, 30s, 5min');
    return parsed;
  };
  const lockTimeoutMs = ms(flags.lockTimeout, '--lock-timeout');
  const statementTimeoutMs = ms(flags.statementTimeout, '--statement-timeout');
  const m = await import('../migrate/index.js');
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
  const { arrow } = await import('../migrate/report.js');
  let backup: { name: string; path: string; status: 'verified' } | undefined;
  if (operation === 'upgrade' && (flags.backup ?? config.production)) {
    // Before the run's own connection is opened: the embedded database is backed up from its folder.
    const { openDatabase } = await import('../db/connection.js');
    ctx.announce(config);
    const probe = await openDatabase(config, { pool: { max: 1, min: 0 } });
    const status = await m.getStatus(probe, script).finally(() => probe.close());
    const planned = m.catchRevisionErrors(() => script.graph.upgradePlan(status.current.filter((r) => script.graph.has(r)), target));
    if (planned.length > 0) backup = await backupBeforeUpgrade(ctx, flags.backupDir);
    else if (!ctx.out.json) ctx.out.info('nothing to upgrade: no backup taken');
  }
  const handle = await ctx.open();
  let spinner: Awaited<ReturnType<typeof ctx.out.spinner>> | undefined;
  const result = await m[operation === 'upgrade' ? 'runUpgrade' : 'runDowngrade'](handle, target, {
    script,
    allowChanged: flags.allowChanged,
    lockTimeoutMs,
    statementTimeoutMs,
    onEvent: async (event) => {
      if (event.type === 'lock-wait') ctx.out.info(`waiting for another migration run to finish${event.heldBy ? ` (server pid ${event.heldBy})` : ''}...`);
      else if (event.type === 'step-start') spinner = await ctx.out.spinner(`${operation} ${arrow(event.revision, operation)}  ${event.revision.message}`);
      else spinner?.succeed(`${operation} ${arrow(event.revision, operation)}  ${event.revision.message}  ${ctx.out.c.dim(`(${event.durationMs} ms, ${event.revision.fileName})`)}`);
    },
  }).catch((err) => {
    // The error itself names the revision, its file and the statement: one line, not two.
    spinner?.stop();
    throw err;
  });
  if (ctx.out.json) {
    ctx.out.data(backup ? { ...result, backup } : result);
    return 0;
  }
  const now = result.to.length ? result.to.join(', ') : 'base';
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


/**
 * `upgrade --backup`: a verified backup (src/backup's createBackup + verifyBackup) before anything
 * is applied, named on the terminal so that the way back is one `backup restore`. A backup that
 * does not verify stops the upgrade.
 */
export async function backupBeforeUpgrade(ctx: CliContext, dir?: string): Promise<{ name: string; path: string; status: 'verified' }> {
  const { createBackup, verifyBackup, formatBytes } = await import('../backup/index.js');
  const { CmmcError } = await import('../errors.js');
  const config = ctx.config();
  ctx.announce(config);
  const spinner = await ctx.out.spinner('backing up before the upgrade');
  let record;
  try {
    record = await createBackup(config, { dir });
    spinner.text = `verifying backup ${record.name}`;
    const verification = await verifyBackup(config, record.name, { dir });
    if (!verification.ok) {
      const failed = verification.checks.filter((c) => c.status === 'fail').map((c) => `${c.id}: ${c.detail}`).join('; ');
      throw new CmmcError('upgrade.backup', `the backup taken before the upgrade (${record.name}) does not verify: ${failed}; nothing was applied`, {
        hint: 'check the backup folder and pg_dump, or run with --no-backup to upgrade without one',
      });
    }
  } catch (err) {
    spinner.fail('backup before the upgrade failed: nothing was applied');
    throw err;
  }
  spinner.succeed(`backup ${record.name} (${formatBytes(record.sizeBytes)}) verified: ${record.path}`);
  ctx.out.info(ctx.out.c.dim(`the way back: cmmc-db backup restore ${record.name}${dir ? ` --dir ${dir}` : ''}`));
  return { name: record.name, path: record.path, status: 'verified' };
}


/**
 * The run of `upgrade` and `downgrade` (shared by both commands): the offline script, or an online
 * run with progress, a summary and, for upgrade, a verified backup first.
 */
import { Option } from 'commander';
import { whileOpening, type CliContext } from './context.js';
import { shellWord } from '../shell-word.js';
import { CmmcError, usageError } from '../errors.js';
import { wasInterrupted } from '../interrupt.js';
import { describeError } from './render-error.js';
import type { RunResult } from '../migrate/engine.js';

export interface MigrateRunFlags {
  sql?: boolean;
  /** upgrade only: a verified backup first (default: on when the configuration says production). */
  backup?: boolean;
  backupDir?: string;
  allowChanged?: boolean;
  lockTimeout?: string;
  statementTimeout?: string;
  /** downgrade only: show what would go and stop. */
  dryRun?: boolean;
}

/** Shared by upgrade and downgrade: offline script, or an online run with progress and a summary. */
export function migrateRun(ctx: CliContext, operation: 'upgrade' | 'downgrade', target: string, flags: MigrateRunFlags): Promise<number> {
  return documentedRun(ctx, operation, target, () => run(ctx, operation, target, flags));
}

async function run(ctx: CliContext, operation: 'upgrade' | 'downgrade', target: string, flags: MigrateRunFlags): Promise<number> {
  ctx.asOwner();
  const { timeoutMs } = await import('../config/config.js');
  const lockTimeoutMs = timeoutMs(flags.lockTimeout, '--lock-timeout');
  const statementTimeoutMs = timeoutMs(flags.statementTimeout, '--statement-timeout');
  // The engine's modules, not the library's index: the offline recorder loads Kysely (about 150 ms
  // of CPU), which a run of SQL and recorded platform revisions never needs.
  const [{ loadScript }, { migrate, planRun }, { getStatus }] = await Promise.all([
    import('../migrate/script.js'),
    import('../migrate/engine.js'),
    import('../migrate/status.js'),
  ]);
  const m = { loadScript, migrate, getStatus, planRun };
  const config = ctx.config();
  // The usual run (an upgrade with no backup first, not --sql) opens its session while the files
  // are read; the others read the files first (--sql needs no database; a downgrade asks first).
  const early = operation === 'upgrade' && !flags.sql && !(flags.backup ?? config.production) && !target.includes(':');
  // A wait for a writable primary is announced only once the files are read: a bad file is the one error.
  let filesRead = () => {};
  const read = new Promise<void>((resolve) => (filesRead = resolve));
  const [openedEarly, script] = early
    ? await whileOpening(() => openForWrites(ctx, read), async (turn) => m.loadScript(config, { turn }).then((loaded) => (filesRead(), loaded)), { server: config.kind === 'server' })
    : [undefined, await m.loadScript(config)];
  if (flags.sql) {
    const { offlineScript } = await import('../migrate/offline.js');
    const text = await offlineScript(script, config, operation, target);
    if (ctx.out.json) ctx.out.data({ operation, range: target, sql: text });
    else process.stdout.write(text);
    return 0;
  }
  if (target.includes(':')) throw usageError(`a range "${target}" is only for --sql`, `use a single target, for example: cmmc-db ${operation} ${operation === 'upgrade' ? 'head' : '-1'}`);
  if (operation === 'downgrade') {
    // The one confirmation rule (src/cli/output.ts): the plan, then a question on a terminal in
    // every environment, --yes in scripts, --dry-run for the plan alone.
    const plan = await downgradePlan(ctx, script, target);
    if (plan) {
      const go = await ctx.out.confirmPlan(plan, { yes: ctx.globals.yes, dryRun: flags.dryRun });
      if (!go) {
        if (!flags.dryRun) ctx.out.info('nothing was downgraded');
        return flags.dryRun ? 0 : 1;
      }
    } else if (flags.dryRun) {
      if (ctx.out.json) ctx.out.data({ status: 'dry-run', operation: 'downgrade', target, revisions: [] });
      ctx.out.info(`nothing to downgrade to ${target}`);
      return 0;
    }
  }
  const { arrow } = await import('../migrate/report.js');
  let backup: { name: string; path: string; status: 'verified' } | undefined;
  if (operation === 'upgrade' && (flags.backup ?? config.production)) {
    // Before the run's own connection is opened: the embedded database is backed up from its folder.
    const [{ openDatabase }, { writableTarget }] = await Promise.all([import('../db/connection.js'), import('../db/writable.js')]);
    ctx.announce(config);
    // The primary's version table (a standby listed first may lag behind it).
    const probe = await openDatabase(writableTarget(config), { pool: { max: 1, min: 0 }, kysely: false });
    const status = await m.getStatus(probe, script).finally(() => probe.close());
    // What the run would refuse is refused before the backup, not after it.
    const { plan: planned } = m.planRun(script, 'upgrade', target, status.current, () => status.changed, flags.allowChanged);
    if (planned.length > 0) backup = await backupBeforeUpgrade(ctx, flags.backupDir);
    else if (!ctx.out.json) ctx.out.info('nothing to upgrade: no backup taken');
  }
  const handle = openedEarly ?? (await openForWrites(ctx));
  let spinner: Awaited<ReturnType<typeof ctx.out.spinner>> | undefined;
  const { onInterrupt } = await import('../interrupt.js');
  let releaseStep: (() => void) | undefined;
  const result = await m
    .migrate(handle, operation, target, {
      script,
      allowChanged: flags.allowChanged,
      lockTimeoutMs,
      statementTimeoutMs,
      onEvent: async (event) => {
        if (event.type === 'lock-wait') ctx.out.info(`waiting for another migration run to finish${event.heldBy ? ` (server pid ${event.heldBy})` : ''}...`);
        else if (event.type === 'step-start') {
          // Interrupted now: the connection closes and the server rolls the step's transaction back;
          // a non-transactional revision keeps what it had run.
          const { revision } = event;
          releaseStep = onInterrupt(
            () => {},
            revision.transactional
              ? `${operation} ${arrow(revision, operation)} was not committed (the server rolls it back)`
              : `${operation} ${arrow(revision, operation)} is non-transactional: what it had run stays (check before running ${operation} again)`,
          );
          spinner = await ctx.out.spinner(`${operation} ${arrow(revision, operation)}  ${revision.message}`);
        } else if (event.type === 'step-lock-wait') {
          const { describeBlocker } = await import('../db/lock-wait.js');
          const on = event.relations.length ? ` on ${event.relations.join(', ')}` : '';
          const line = `${operation} ${arrow(event.revision, operation)} is waiting for a lock${on} held by ${event.blockers.map(describeBlocker).join('; ')}: every other query on ${event.relations.length === 1 ? 'that table' : 'those tables'} now waits too. End that session (SELECT pg_terminate_backend(${event.blockers[0].pid})) or press Ctrl-C${(lockTimeoutMs ?? config.lockTimeoutMs) ? '; the run gives up at its lock timeout' : '; --lock-timeout 5s makes a run give up by itself'}`;
          if (spinner) spinner.warn(line);
          else ctx.out.warn(line);
        } else if (event.type === 'step-commit') {
          // Synchronous (the engine does not wait): the COMMIT is on its way; the server decides.
          releaseStep?.();
          releaseStep = onInterrupt(() => {}, `${operation} ${arrow(event.revision, operation)} was being committed: "cmmc-db current" shows whether it was`);
        } else {
          releaseStep?.();
          spinner?.succeed(`${operation} ${arrow(event.revision, operation)}  ${event.revision.message}  ${ctx.out.c.dim(`(${event.durationMs} ms, ${event.revision.fileName})`)}`);
        }
      },
    })
    .catch((err) => {
      spinner?.stop();
      throw err;
    });
  spinner?.stop();
  return renderRun(ctx, result, backup ? { backup } : {});
}

/** Errors whose --json document is already on stdout (a refusal, or a run's result with its failed step). */
const documented = new WeakSet<object>();

/** With --json, a refused run still prints one document (status "refused") before the error line. */
function refusal(ctx: CliContext, operation: string, target: string, err: unknown): unknown {
  // Synchronous: interrupted (Ctrl-C while waiting for the lock), the process exits soon after.
  if (ctx.out.json && err && typeof err === 'object' && !documented.has(err)) {
    const error = wasInterrupted() ? { code: 'interrupted', message: `${operation} was interrupted before any revision ran` } : describeError(err, operation);
    ctx.out.data({ operation, target, status: wasInterrupted() ? 'interrupted' : 'refused', steps: [], error });
    documented.add(err);
  }
  return err;
}

/**
 * Runs a command that writes the version table (upgrade, downgrade, stamp) so that under --json
 * every refusal prints its document, wherever it came from: the files (a duplicate id, an
 * unreadable file), the connection (no such database), the target, the plan. docs/migrations.md
 * promises one document for every run.
 */
export async function documentedRun(ctx: CliContext, operation: string, target: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    throw refusal(ctx, operation, target, err);
  }
}

/**
 * Renders an engine result (upgrade, downgrade, stamp): with --json the one document, also when a
 * step failed; otherwise a summary. A failed step then becomes the command's error (exit 1), after
 * what was applied is shown.
 */
export function renderRun(ctx: CliContext, result: RunResult, extra: Record<string, unknown> = {}): number {
  const { operation } = result;
  if (ctx.out.json) ctx.out.data({ ...result, ...extra });
  const now = result.to.length ? result.to.join(', ') : 'base';
  const accepted = new Set((result.accepted ?? []).map((c) => c.revision));
  for (const c of result.changed ?? []) {
    const note = result.operation === 'downgrade' ? ' (its down section ran as the file is now)' : accepted.has(c.revision) ? ' — accepted as it is now (--allow-changed); nothing of it ran again' : '';
    ctx.out.warn(`applied revision ${c.revision} changed since it was applied: ${c.file}${note}`);
  }
  if (result.operation === 'upgrade' && result.status === 'ok' && result.changed?.length && !accepted.size) {
    ctx.out.info('restore the file as it was; if the change is deliberate, record it as it is now with cmmc-db upgrade --allow-changed');
  }
  if (result.failed) {
    if (!ctx.out.json && result.steps.length) ctx.out.info(`${result.steps.length} revision${result.steps.length === 1 ? '' : 's'} applied before the failure; the database is now at ${now}`);
    const e = result.failed.error;
    const failure = new CmmcError(e.code, e.message, { hint: e.hint });
    if (ctx.out.json) documented.add(failure);
    throw failure;
  }
  if (ctx.out.json) return 0;
  if (operation === 'stamp') {
    // Rows compared as sets: `stamp heads` on a database at its heads changes nothing, and saying
    // "stamped" over the same rows before and after read as if something had been written.
    const same = result.to.length === result.from.length && result.to.every((r) => result.from.includes(r));
    if (same) {
      ctx.out.info(`nothing to stamp: the version table already reads ${result.to.join(', ') || 'base (empty)'}`);
      return 0;
    }
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

/**
 * The connection of a run that writes the version table (upgrade, downgrade, stamp): on a writable
 * primary, waiting for one while a failover completes (src/migrate/primary.ts), said on stderr.
 */
export async function openForWrites(ctx: CliContext, announceAfter: Promise<unknown> = Promise.resolve(), { mustExist = false } = {}): Promise<import('../db/connection.js').DbHandle> {
  const [{ openWritablePrimary }, { connParamsOf }] = await Promise.all([import('../migrate/primary.js'), import('../config/conninfo.js')]);
  const config = ctx.config();
  // The engine runs on postgres.js; it loads Kysely itself when a TypeScript revision needs it.
  return openWritablePrimary(() => ctx.open({ kysely: false, mustExist, writes: true }), {
    // Another host may become the primary only when the URL lists more than one.
    waitForUnreachable: config.kind === 'server' && connParamsOf(config.url!).hosts.length > 1,
    onWait: (reason, waitMs) => void announceAfter.then(() => ctx.out.info(`waiting up to ${Math.round(waitMs / 1000)} s for a writable primary: ${reason}`)),
  });
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
  // The primary's, which the upgrade changes: not a standby listed first (src/db/writable.ts).
  const config = (await import('../db/writable.js')).writableTarget(ctx.config());
  ctx.announce(config);
  // Encrypted as the nightly backups are when CMMC_BACKUP_KEY_FILE names their key: a plaintext dump of
  // every tenant's data was written beside them before each upgrade, and kept as long as they are.
  const keyFile = process.env.CMMC_BACKUP_KEY_FILE || undefined;
  let key: Buffer | undefined;
  if (keyFile) {
    const { keyFileWarning, readKeyFile } = await import('../backup/crypto.js');
    const warning = keyFileWarning(keyFile);
    if (warning) ctx.out.warn(warning);
    key = readKeyFile(keyFile);
  }
  const spinner = await ctx.out.spinner('backing up before the upgrade');
  let record;
  try {
    record = await createBackup(config, { dir, key });
    spinner.text = `verifying backup ${record.name}`;
    const verification = await verifyBackup(config, record.name, { dir, key });
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
  ctx.out.info(ctx.out.c.dim(`the way back: cmmc-db backup restore ${shellWord(record.name)}${dir ? ` --dir ${shellWord(dir)}` : ''}`));
  return { name: record.name, path: record.path, status: 'verified' };
}


/**
 * What `downgrade TARGET` would take away: the revisions in the order they are reverted, and the
 * tables their downgrade drops with their row counts (src/migrate/downgrade-check.ts, which also
 * refuses a step that would fail on an object before anything is reverted). Undefined when nothing
 * would change.
 */
async function downgradePlan(ctx: CliContext, script: import('../migrate/index.js').Script, target: string): Promise<import('./output.js').Plan | undefined> {
  const [m, { checkDowngrade }] = await Promise.all([import('../migrate/index.js'), import('../migrate/downgrade-check.js')]);
  const config = ctx.config();
  // A downgrade of an embedded database that is not there has nothing to undo: none is created for it.
  const handle = await ctx.open({ kysely: false, mustExist: true });
  const status = await m.getStatus(handle, script);
  const current = status.current.filter((r) => script.graph.has(r));
  const steps = m.catchRevisionErrors(() => script.graph.downgradeSteps(current, target));
  if (!steps.length) return undefined;
  const revisions = steps.map((s) => s.revision);
  // The version rows after the whole walk, as the engine will write them.
  const heads = new Set(current);
  for (const step of steps) script.graph.versionOps(step, heads);
  const rowsAfter = [...heads];
  const check = await checkDowngrade(handle, revisions, target);
  if (check.refusal) throw new CmmcError(check.refusal.code, check.refusal.message, { hint: check.refusal.hint });
  const lines = [...revisions.map((r) => `revert ${r.revision}  ${r.message}`), ...check.tables.map((t) => `drop table ${t.name}${t.rows}`)];
  const { databaseName } = await import('../config/config.js');
  const where = config.kind === 'embedded' ? 'the embedded database' : `database "${databaseName(config.url!)}"`;
  return {
    title: `Downgrade ${where} from ${current.join(', ')} to ${rowsAfter.join(', ') || 'base'} (${revisions.length} revision${revisions.length === 1 ? '' : 's'})`,
    lines,
    warnings: config.production ? ['this is the PRODUCTION database: data in dropped objects is lost'] : [],
    data: { operation: 'downgrade', target, current, after: rowsAfter, revisions: revisions.map((r) => r.revision) },
  };
}

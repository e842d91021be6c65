import { Option } from 'commander';
import type { CliContext } from '../context.js';
import type { RegisterCommand } from './types.js';

interface DoctorOptions {
  verbose?: boolean;
  threshold?: string[];
  list?: boolean;
  health?: boolean;
  skip?: string[];
  record?: boolean;
  retentionDays?: string;
}

interface KillIdleCliOptions {
  olderThan: string;
  state?: 'idle' | 'idle-in-transaction';
  allDatabases?: boolean;
  includeSuperusers?: boolean;
  dryRun?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export const register: RegisterCommand = (program, ctx) => {
  const doctor = program
    .command('doctor')
    .description('run the diagnostics a DBA runs: schema, sizes, indexes, slow queries, connections, maintenance, vector indexes, materialized views')
    .argument('[checks...]', 'a family (indexes) or one check (indexes.unused); default: every check')
    .option('-v, --verbose', 'show the rows behind each figure')
    .option('--threshold <name=value>', 'override a threshold for this run, e.g. idle-in-transaction=1s (repeatable; see docs/doctor.md)', collect)
    .option('--skip <check>', 'leave out a check or a family, reported as skipped (repeatable)', collect)
    .option('--list', 'list the checks and exit')
    .option('--health', 'print the pool health report (the same as cmmc-db health) instead of the checks')
    .option('--record', 'also store this run in cmmc_db.doctor_runs, for cmmc-db report (suits cron)')
    .option('--retention-days <n>', 'with --record: delete recorded runs older than N days', '90')
    .addHelpText(
      'after',
      `
Exit codes (Nagios / check_postgres): 0 all ok (or skipped), 1 a warning, 2 a failure, 3 a check could not run.
A check whose prerequisite is absent (pg_stat_statements not preloaded, no backups kept here) is skipped,
with how to enable it.

Example:
  $ cmmc-db doctor
  $ cmmc-db doctor indexes --verbose
  $ cmmc-db doctor connections --threshold idle-in-transaction=30s --json
  $ cmmc-db doctor --skip slow-queries --skip backups.recent
  $ cmmc-db doctor --record --retention-days 90`,
    )
    .action(ctx.action(async (checks: string[], options: DoctorOptions) => runDoctorCommand(ctx, checks, options)));

  doctor
    .command('kill-idle')
    .description('list idle connections to this database and, with --yes, terminate them')
    .option('--older-than <duration>', 'idle at least this long (30s, 10min, 1h)', '1h')
    .addOption(new Option('--state <state>', 'only this state (default: both)').choices(['idle', 'idle-in-transaction']))
    .option('--all-databases', 'also connections to other databases')
    .option('--include-superusers', "also superusers' connections")
    .option('--dry-run', 'list the sessions that would end; end none')
    .addHelpText(
      'after',
      `
On a terminal it lists the sessions and asks; in scripts it needs --yes; --dry-run only lists.
Never touched: this command's own connection, background and
replication processes, sessions whose last statement was LISTEN, other databases and superusers
(unless asked).

Example:
  $ cmmc-db doctor kill-idle --older-than 30min --state idle-in-transaction --yes`,
    )
    .exitOverride()
    .action(ctx.action(async (options: KillIdleCliOptions) => runKillIdle(ctx, options)));
};

async function runDoctorCommand(ctx: CliContext, checks: string[], options: DoctorOptions): Promise<number> {
  const doctorLib = await import('../../doctor/index.js');
  if (options.list) {
    const rows = doctorLib.ALL_CHECKS.map((c) => ({ id: c.id, title: c.title, needsServer: c.needsServer }));
    if (ctx.out.json) ctx.out.data(rows);
    else ctx.out.table(['check', 'what it looks at', 'needs a server'], rows.map((r) => [r.id, r.title, r.needsServer ? 'yes' : 'no']));
    return 0;
  }
  if (options.health) return (await import('../health-report.js')).printHealth(ctx);
  // Parse everything a user can get wrong before connecting.
  const thresholds = doctorLib.resolveThresholds(options.threshold ?? []);
  doctorLib.selectChecks(checks, options.skip ?? []);
  const recordLib = options.record ? await import('../../doctor/record.js') : undefined;
  const retentionDays = recordLib?.checkRetentionDays(options.retentionDays ?? recordLib.DEFAULT_RETENTION_DAYS);

  // A run recorded is written (src/db/writable.ts): through a list of hosts, on the one primary,
  // wherever it is listed. One host is opened as it is, so that a standby's run is still shown when
  // its record is refused.
  const config = ctx.config();
  const writes = Boolean(recordLib) && config.kind === 'server' && (await import('../../config/conninfo.js')).connParamsOf(config.url!).hosts.length > 1;
  const handle = await ctx.open({ ...doctorLib.DOCTOR_OPEN_OPTIONS, writes }).catch(async (err: unknown) => {
    throw await unreachableIsCritical(err);
  });
  const spinner = await ctx.out.spinner('running checks');
  let report;
  try {
    report = await doctorLib.runDoctor(handle, { checks, skip: options.skip, thresholds, onCheck: (c) => (spinner.text = `checking ${c.id}`) });
  } finally {
    spinner.stop();
  }

  // A run that cannot be stored is still shown; the failure to store it is the command's error.
  let recordError: unknown;
  const recorded = recordLib
    ? await recordLib.recordRun(handle, report, { retentionDays }).catch((err: unknown) => {
        recordError = err;
        return undefined;
      })
    : undefined;

  if (ctx.out.json) {
    ctx.out.data(recorded ? { ...report, recorded } : report);
  } else {
    const c = ctx.out.c;
    const paint = { ok: c.green, warn: c.yellow, fail: c.red, unknown: c.magenta, skipped: c.dim } as const;
    printReport(ctx, report.checks.map((r) => ({ ...r, painted: paint[r.status](r.status) })));
    if (options.verbose) {
      for (const r of report.checks) {
        if (!r.rows?.length) continue;
        ctx.out.line(`\n${c.bold(r.id)}: ${r.title}`);
        const head = Object.keys(r.rows[0]);
        ctx.out.table(head, r.rows.map((row) => head.map((k) => cell(row[k]))));
      }
    }
  }
  if (report.limited) ctx.out.warn(report.limited);
  const count = (s: string) => report.checks.filter((r) => r.status === s).length;
  if (recorded) {
    ctx.out.info(`recorded as run ${recorded.id} in ${recorded.table}${recorded.pruned ? `; ${recorded.pruned} run(s) older than ${recorded.retentionDays} days deleted` : ''}`);
  }
  ctx.out.info(`${report.database}: ${count('ok')} ok, ${count('warn')} warn, ${count('fail')} fail, ${count('unknown')} unknown${count('skipped') ? `, ${count('skipped')} skipped` : ''} (exit ${report.exitCode})`);
  if (recordError) throw recordError;
  return report.exitCode;
}

/**
 * A database that cannot be reached is the worst finding there is, so under the monitoring convention
 * the doctor speaks it exits 2 (CRITICAL), as the monitoring plugins' check_pgsql does, not 1 (which
 * a monitor reads as a mere warning). Other errors keep their own exit code.
 */
async function unreachableIsCritical(err: unknown): Promise<unknown> {
  const { CmmcError } = await import('../../errors.js');
  // An embedded database that is not there is as unreachable as a server that is not.
  if (!(err instanceof CmmcError) || !(err.code.startsWith('connect.') || err.code === 'embedded.absent')) return err;
  return new CmmcError(err.code, err.message, { hint: err.hint, exitCode: 2, cause: err });
}

/**
 * The report: one table of check, status and figure, then every remedy printed whole below it
 * (a remedy is often SQL to copy and run, so it never goes into a wrapped cell).
 */
function printReport(ctx: CliContext, checks: { id: string; status: string; painted: string; figure: string; remedy: string }[]): void {
  ctx.out.table(['check', 'status', 'figure'], checks.map((r) => [r.id, r.painted, r.figure]), { record: false });
  ctx.out.notes(checks.filter((r) => r.remedy && r.status !== 'ok').map((r) => ({ label: `${r.id} (${r.status})`, text: r.remedy })));
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

async function runKillIdle(ctx: CliContext, options: KillIdleCliOptions): Promise<number> {
  const { CmmcError, usageError } = await import('../../errors.js');
  const { parseDuration } = await import('../../config/config.js');
  const olderThanMs = parseDuration(options.olderThan);
  if (olderThanMs === undefined) throw usageError(`--older-than "${options.olderThan}" is not a duration`, 'use 30s, 10min, 1h');
  if (ctx.config().kind === 'embedded') {
    throw new CmmcError('doctor.embedded', 'kill-idle needs a PostgreSQL server: the embedded database has no other connections to end', {
      hint: 'point DATABASE_URL at a server',
    });
  }
  const { killIdle, DOCTOR_OPEN_OPTIONS } = await import('../../doctor/index.js');
  const handle = await ctx.open(DOCTOR_OPEN_OPTIONS);
  const selection = {
    olderThanMs,
    states: options.state ? [options.state] : (['idle', 'idle-in-transaction'] as ('idle' | 'idle-in-transaction')[]),
    allDatabases: options.allDatabases,
    includeSuperusers: options.includeSuperusers,
  };
  // The one confirmation rule: the sessions that would end are the plan; a terminal asks, scripts need --yes.
  let result = await killIdle(handle, { ...selection, terminate: false });
  let terminate = false;
  if (result.matched.length) {
    const plan = {
      title: `End ${result.matched.length} idle session${result.matched.length === 1 ? '' : 's'} (pg_terminate_backend)`,
      lines: result.matched.map((m) => `pid ${m.pid}  ${m.user}@${m.database}  ${m.application || '(no application name)'}  ${m.state} for ${m.idleSeconds}s`),
    };
    terminate = await ctx.out.confirmPlan(plan, { yes: ctx.globals.yes, dryRun: options.dryRun });
    // Exactly the sessions of the plan that was confirmed: one that went idle while the question waited was not in it.
    if (terminate) result = await killIdle(handle, { ...selection, terminate: true, only: result.matched });
    else if (!options.dryRun) {
      ctx.out.info('nothing terminated');
      return 1;
    }
  }
  if (ctx.out.json) {
    ctx.out.data(result);
  } else if (result.matched.length) {
    const head = ['pid', ...(options.allDatabases ? ['database'] : []), 'user', 'application', 'state', 'since', 'idle for'];
    ctx.out.table(
      head,
      result.matched.map((m) => [m.pid, ...(options.allDatabases ? [m.database] : []), m.user, m.application, m.state, m.since, `${m.idleSeconds}s`]),
    );
  }
  const what = `${result.matched.length} idle connection${result.matched.length === 1 ? '' : 's'} idle over ${options.olderThan}`;
  if (!terminate) {
    ctx.out.info(result.matched.length ? `${what}; dry run: nothing terminated (run again with --yes to terminate them)` : `no ${what.replace(/^0 /, '')}`);
  } else {
    ctx.out.success(`terminated ${result.terminated.length} of ${result.matched.length}${result.terminated.length ? `: pid ${result.terminated.join(', ')}` : ''}`);
    if (result.skipped.length) ctx.out.info(`left alone (busy again or gone): pid ${result.skipped.join(', ')}`);
    for (const f of result.failed) ctx.out.warn(`could not end pid ${f.pid}: ${f.error} (GRANT pg_signal_backend TO the role that runs this)`);
  }
  ctx.out.info(result.suggestion);
  return result.failed.length ? 1 : 0;
}

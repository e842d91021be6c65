/**
 * `cmmc-db backup` and its subcommands: create (the default), list, verify, restore, prune,
 * schedule and pitr. Thin: parse, call src/backup, render.
 */
import { Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { usageError } from '../../errors.js';
import { shellWord } from '../../shell-word.js';
import { ident } from '../../sql/lexer.js';
import type { RegisterCommand } from './types.js';

const dirOption = () => new Option('--dir <dir>', 'backup folder (default: $CMMC_BACKUP_DIR or ./backups)');
const keyFileOption = () => new Option('--key-file <file>', 'key file of an encrypted backup (or $CMMC_BACKUP_KEY_FILE); never the key itself');

function wholeNumber(name: string) {
  return (value: string) => {
    if (!/^\d+$/.test(value)) throw usageError(`${name} must be a whole number, not "${value}"`);
    return Number(value);
  };
}

/** Key files already checked in this run (create --verify reads the one key file twice). */
const keyFilesChecked = new Set<string>();

/** Warns once when the key file a command reads (`--key-file`, else CMMC_BACKUP_KEY_FILE) is readable by others. */
async function checkKeyFile(ctx: CliContext, file: string | undefined): Promise<void> {
  if (!file || keyFilesChecked.has(file)) return;
  keyFilesChecked.add(file);
  const { keyFileWarning } = await import('../../backup/crypto.js');
  const warning = keyFileWarning(file);
  if (warning) ctx.out.warn(warning);
}

/** The warning of a verify whose result the backup folder could not take (read-only, full). */
function notRecordedLine(why: string): string {
  return `the result was not recorded (${why}): the manifest and the restore-drill records are as they were`;
}

async function lib() {
  return import('../../backup/index.js');
}

export const register: RegisterCommand = (program, ctx) => {
  const backup = program
    .command('backup')
    .description('back up, verify, restore and prune database backups (pg_dump / pg_restore), schedule them, and set up PITR')
    .addHelpText(
      'after',
      `
Examples:
  $ cmmc-db backup                         a full backup (custom format) into ./backups
  $ cmmc-db backup list
  $ cmmc-db backup verify --restore-test   restore the newest into a scratch database and check it
  $ cmmc-db backup restore NAME --target-db cmmc_copy
  $ cmmc-db backup prune --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --yes`,
    );

  registerCreate(backup, ctx);
  registerList(backup, ctx);
  registerVerify(backup, ctx);
  registerRestore(backup, ctx);
  registerPrune(backup, ctx);
  registerSchedule(backup, ctx);
  registerPitr(backup, ctx);
};

function registerCreate(backup: Command, ctx: CliContext): void {
  backup
    .command('create', { isDefault: true })
    .description('make a backup with pg_dump (custom format by default) and write its manifest')
    .addOption(dirOption())
    .addOption(new Option('--format <format>', 'custom, directory, tar or plain').choices(['custom', 'directory', 'tar', 'plain']).default('custom'))
    .option('--schema-only', 'the schema only, no data')
    .option('--data-only', 'the data only, no schema')
    .option('--jobs <n>', 'parallel dump jobs (with --format directory)', wholeNumber('--jobs'))
    .option('--compress <level>', "pg_dump's compression: 0-9, or gzip[:N], lz4, zstd")
    .option('--encrypt', 'encrypt the archive at rest (AES-256-GCM) with --key-file')
    .addOption(keyFileOption())
    .option('--verify', 'verify the backup once written (checksum and pg_restore --list)')
    .option('--from-standby', 'dump a hot standby instead of the primary (target_session_attrs=standby); the manifest records the standby and its WAL position')
    .addHelpText(
      'after',
      "\nExample:\n  $ cmmc-db backup create --format directory --jobs 4\n  $ cmmc-db backup create --encrypt --key-file /etc/cmmc/backup.key\n  $ cmmc-db backup create --from-standby --url \"$(pg_autoctl show uri --formation default)\"",
    )
    .action(
      ctx.action(async (opts: { dir?: string; format: string; schemaOnly?: boolean; dataOnly?: boolean; jobs?: number; compress?: string; encrypt?: boolean; keyFile?: string; verify?: boolean; fromStandby?: boolean }) => {
        ctx.asOwner();
        if (opts.schemaOnly && opts.dataOnly) throw usageError('--schema-only and --data-only cannot be used together');
        const keyFile = opts.keyFile ?? process.env.CMMC_BACKUP_KEY_FILE;
        if (opts.encrypt && !keyFile) throw usageError('--encrypt needs --key-file FILE', 'create one with: openssl rand -base64 48 > backup.key && chmod 600 backup.key');
        if (opts.keyFile && !opts.encrypt) throw usageError('--key-file is given without --encrypt', 'add --encrypt to encrypt the backup');
        // create.js and store.js only: the other subcommands' modules (verify, restore, prune,
        // schedule with cron-parser) are not loaded for the command run most often.
        const [{ createBackup, checkCreateOptions }, { formatBytes }, { readKeyFile }] = await Promise.all([
          import('../../backup/create.js'),
          import('../../backup/store.js'),
          import('../../backup/crypto.js'),
        ]);
        const options = {
          dir: opts.dir,
          format: opts.format as 'custom',
          contents: opts.schemaOnly ? ('schema-only' as const) : opts.dataOnly ? ('data-only' as const) : ('full' as const),
          jobs: opts.jobs,
          compress: opts.compress,
          keyFile: opts.encrypt ? keyFile : undefined,
          fromStandby: opts.fromStandby,
        };
        checkCreateOptions(options);
        await checkKeyFile(ctx, options.keyFile);
        // Read once for the backup and its --verify: a pipe (--key-file <(pass show key)) gives its bytes once.
        const key = options.keyFile ? readKeyFile(options.keyFile) : undefined;
        const config = ctx.config();
        ctx.announce(config);
        const spinner = await ctx.out.spinner('starting pg_dump');
        let manifest;
        try {
          manifest = await createBackup(config, {
            ...options,
            key,
            onNote: (line) => ctx.out.warn(line),
            onProgress: (bytes, ms) => {
              spinner.text = `pg_dump: ${formatBytes(bytes)} written, ${(ms / 1000).toFixed(0)}s`;
            },
          });
        } catch (err) {
          spinner.stop();
          throw err;
        }
        spinner.succeed(
          `backup ${manifest.name}: ${formatBytes(manifest.sizeBytes)}, ${(manifest.durationMs / 1000).toFixed(1)}s, revision ${manifest.revision.join(',') || '(none)'}${manifest.encrypted ? ', encrypted' : ''}${manifest.source ? `, from standby ${manifest.source.host} at WAL ${manifest.source.walReplayLsn}` : ''}`,
        );
        let code = 0;
        let verification;
        if (opts.verify) {
          const { verifyBackup } = await import('../../backup/verify.js');
          verification = await verifyBackup(config, manifest.name, { dir: opts.dir, keyFile: options.keyFile, key });
          if (verification.notRecorded) ctx.out.warn(notRecordedLine(verification.notRecorded));
          if (verification.ok) ctx.out.success(`verified: ${verification.checks.map((c) => c.id).join(', ')}`);
          else {
            ctx.out.error(`the new backup does not verify: ${verification.checks.filter((c) => c.status === 'fail').map((c) => c.detail).join('; ')}`);
            code = 1;
          }
        }
        if (ctx.out.json) ctx.out.data(verification ? { ...manifest, verified: { status: verification.status }, verification } : manifest);
        else {
          ctx.out.line(manifest.path);
          if (!opts.verify) ctx.out.info(ctx.out.c.dim(`next: cmmc-db backup verify ${shellWord(manifest.name)}${opts.dir ? ` --dir ${shellWord(opts.dir)}` : ''}`));
        }
        return code;
      }),
    );
}

function registerList(backup: Command, ctx: CliContext): void {
  backup
    .command('list')
    .description("list the configured database's backups with age, size, revision and whether they verified (--all: every database's)")
    .addOption(dirOption())
    .option('--all', "also other databases' backups in the folder")
    .addHelpText('after', '\nExample:\n  $ cmmc-db backup list --json\n  $ cmmc-db backup list --all')
    .action(
      ctx.action(async (opts: { dir?: string; all?: boolean }) => {
        const { scanBackups, invalidBackupLine, listPartials, sweepPartials, resolveBackupDir, formatAge, formatBytes, sameDatabase, identityOf, describeDatabase, currentIdentity, datedInFuture } = await lib();
        const dir = resolveBackupDir(opts.dir);
        const scan = scanBackups(dir);
        let source: import('../../backup/index.js').DatabaseIdentity | undefined;
        if (!opts.all) {
          try {
            source = await currentIdentity(ctx.config());
          } catch (err) {
            ctx.out.warn(`cannot tell which database is configured (${(err as Error).message.split('\n')[0]}): listing every database's backups`);
          }
        }
        const records = source ? scan.records.filter((r) => sameDatabase(identityOf(r), source)) : scan.records;
        const others = scan.records.length - records.length;
        // Unfinished files of runs that are gone (killed outright) are removed; a running backup's stay.
        const swept = sweepPartials(dir);
        const partials = listPartials(dir);
        const now = new Date();
        if (ctx.out.json) {
          ctx.out.data({
            dir,
            ...(source ? { identity: source } : {}),
            backups: records.map((r) => ({ ...r, ageSeconds: Math.round((now.getTime() - new Date(r.createdAt).getTime()) / 1000) })),
            otherDatabases: others,
            invalid: scan.invalid,
            partial: partials,
          });
          return 0;
        }
        if (!records.length) ctx.out.info(`no backups${source ? ` of ${describeDatabase(source)}` : ''} in ${dir}`);
        else
          ctx.out.table(
            // The database column always (issue 17): its name for this database's list, the full identity with --all.
            ['name', 'database', 'age', 'size', 'kind', 'revision', 'verified'],
            records.map((r) => [
              r.name,
              source ? r.database : describeDatabase(identityOf(r)),
              datedInFuture(r.createdAt, now) ? `${formatAge(now, new Date(r.createdAt))} ahead (clock?)` : formatAge(new Date(r.createdAt), now),
              formatBytes(r.sizeBytes),
              [r.format, r.contents === 'full' ? '' : r.contents, r.encrypted ? 'encrypted' : ''].filter(Boolean).join(' '),
              r.revision.join(',') || '(none)',
              r.verified?.status === 'verified' ? `yes${r.verified.restoreTested ? ' (restore-tested)' : ''}` : r.verified?.status === 'failed' ? 'FAILED' : 'no',
            ]),
          );
        if (others) ctx.out.info(`${others} backup(s) of other databases in ${dir}: cmmc-db backup list --all`);
        const future = records.filter((r) => datedInFuture(r.createdAt, now));
        if (future.length) {
          ctx.out.warn(
            `${future.length} backup(s) dated in the future (${future.map((r) => r.name).join(', ')}): a clock is wrong, here or where they were made; they are not taken as the newest, and prune keeps them (check the clocks: timedatectl)`,
          );
        }
        for (const bad of scan.invalid) ctx.out.warn(invalidBackupLine(bad));
        if (swept.length) ctx.out.info(`removed ${swept.length} unfinished file(s) left by runs that are gone: ${swept.join(', ')}`);
        if (partials.length) ctx.out.info(`${partials.length} backup(s) being written now: ${partials.join(', ')}`);
        return 0;
      }),
    );
}

function renderChecks(ctx: CliContext, checks: { id: string; status: string; detail: string }[]): void {
  ctx.out.table(
    ['check', 'status', 'detail'],
    checks.map((c) => [c.id, c.status, c.detail]),
  );
}

function registerVerify(backup: Command, ctx: CliContext): void {
  backup
    .command('verify [name]')
    .description('check a backup (default: the newest): sha256, pg_restore --list; --restore-test restores it into a scratch database')
    .addOption(dirOption())
    .addOption(keyFileOption())
    .option('--restore-test', 'restore into a scratch database (always dropped), check table count and revision, write a restore-drill record')
    .addHelpText('after', '\nExample:\n  $ cmmc-db backup verify --restore-test')
    .action(
      ctx.action(async (name: string | undefined, opts: { dir?: string; keyFile?: string; restoreTest?: boolean }) => {
        const { verifyBackup } = await lib();
        await checkKeyFile(ctx, opts.keyFile ?? process.env.CMMC_BACKUP_KEY_FILE);
        const config = ctx.config();
        if (opts.restoreTest) ctx.announce(config);
        const spinner = opts.restoreTest ? await ctx.out.spinner('restoring into a scratch database') : undefined;
        const result = await verifyBackup(config, name, { dir: opts.dir, keyFile: opts.keyFile, restoreTest: opts.restoreTest }).finally(() => spinner?.stop());
        if (ctx.out.json) ctx.out.data(result);
        else renderChecks(ctx, result.checks);
        if (result.drillRecord) ctx.out.info(`restore drill recorded in ${result.drillRecord}`);
        if (result.notRecorded) ctx.out.warn(notRecordedLine(result.notRecorded));
        if (result.ok) ctx.out.success(`${result.name} verifies`);
        else ctx.out.error(`${result.name} does not verify: ${result.checks.filter((c) => c.status === 'fail').map((c) => `${c.id}: ${c.detail}`).join('; ')}`);
        return result.ok ? 0 : 1;
      }),
    );
}

function registerRestore(backup: Command, ctx: CliContext): void {
  backup
    .command('restore [name]')
    .description(
      "restore a backup (default: this database's newest) exactly: into a new database, swapped in by name; the replaced one is kept under a dated name",
    )
    .addOption(dirOption())
    .addOption(keyFileOption())
    .option('--target-db <database>', 'restore into this database on the same server instead of the configured one')
    .option('--jobs <n>', 'parallel pg_restore jobs (gives up the single transaction)', wholeNumber('--jobs'))
    .option('--no-owner', 'do not restore ownership and grants (restoring as another user)')
    .option('--dry-run', 'verify the backup and show the plan; change nothing')
    .addHelpText(
      'after',
      `
The restored database holds exactly what the backup holds: it is built as a new database and then
takes the name of the one it replaces, which is kept as <name>_pre_restore_<time> (drop it once
you are satisfied). Other sessions on the database make the restore refuse, naming them.

Example:
  $ cmmc-db backup restore --dry-run
  $ cmmc-db backup restore cmmc_platform-20261125T020000Z --target-db cmmc_restored --yes`,
    )
    .action(
      ctx.action(async (name: string | undefined, opts: { dir?: string; keyFile?: string; targetDb?: string; jobs?: number; owner?: boolean; dryRun?: boolean }) => {
        const { restoreBackup } = await import('../../backup/restore.js');
        await checkKeyFile(ctx, opts.keyFile ?? process.env.CMMC_BACKUP_KEY_FILE);
        const config = ctx.config();
        ctx.announce(config);
        let spinner: Awaited<ReturnType<typeof ctx.out.spinner>> | undefined;
        const result = await restoreBackup(config, name, {
          dir: opts.dir,
          keyFile: opts.keyFile,
          targetDb: opts.targetDb,
          jobs: opts.jobs,
          noOwner: opts.owner === false,
          // --yes: the new database is made while the backup is verified (never before a yes).
          confirmed: Boolean(ctx.globals.yes) && !opts.dryRun,
          confirm: async (plan) => {
            const folder = plan.method === 'embedded-folder-swap';
            const lines = [
              `backup: ${plan.backup}, taken ${plan.backupCreatedAt.replace(/\.\d+Z$/, 'Z')} of ${plan.backupSource}, revision ${plan.backupRevision.join(',') || '(none)'}`,
              plan.exists
                ? `replaces: ${plan.database} as it is now (${plan.tablesNow ?? '?'} tables, revision ${plan.revisionNow?.join(',') || '(none)'})${plan.keepAs ? `; kept as ${folder ? `the folder ${plan.keepAs} beside it until you remove it` : `"${plan.keepAs}" until you drop it`}` : ''}`
                : `creates: ${plan.database}`,
              plan.method === 'data-into-existing'
                ? 'method: the data is loaded into the existing database in one transaction'
                : folder
                  ? 'method: built in a new data folder, then swapped in for the one there'
                  : 'method: built as a new database, then swapped in by name',
            ];
            const yes = await ctx.out.confirmPlan(
              { title: `Restore ${plan.backup} into ${plan.exists ? '' : 'new '}${/^the /.test(plan.database) ? plan.database : `database "${plan.database}"`}`, lines, warnings: plan.otherDatabase ? [plan.otherDatabase] : [] },
              { yes: ctx.globals.yes, dryRun: opts.dryRun },
            );
            if (yes) spinner = await ctx.out.spinner('restoring');
            return yes;
          },
        }).finally(() => spinner?.stop());
        if (!result.restored) {
          if (ctx.out.json) ctx.out.data(result);
          if (opts.dryRun) return 0;
          ctx.out.info('nothing restored');
          return 1;
        }
        if (ctx.out.json) ctx.out.data(result);
        else {
          const folder = result.plan.method === 'embedded-folder-swap';
          ctx.out.success(
            `restored ${result.name} into ${folder ? result.plan.database : `${result.created ? 'new ' : ''}database "${result.database}"`} (${result.tables} tables, ${(result.durationMs / 1000).toFixed(1)}s)`,
          );
          ctx.out.line(`revision: ${result.revision.join(',') || '(none)'}`);
          for (const note of result.notes) ctx.out.warn(note);
          if (result.keptAs && folder) {
            const kept = (await import('node:path')).join(config.embeddedDir, result.keptAs);
            ctx.out.info(`the data folder it replaced is kept as ${kept}: remove it once you are satisfied (rm -r ${shellWord(kept)})`);
          } else if (result.keptAs) ctx.out.info(`the database it replaced is kept as "${result.keptAs}": drop it once you are satisfied (DROP DATABASE ${ident(result.keptAs)})`);
          ctx.out.info(ctx.out.c.dim('next: cmmc-db current, then cmmc-db upgrade head if the application is newer than this revision'));
        }
        return 0;
      }),
    );
}

function registerPrune(backup: Command, ctx: CliContext): void {
  backup
    .command('prune')
    .description("delete this database's old backups by retention rules (asks first; --dry-run shows the plan); the newest verified backup always stays")
    .addOption(dirOption())
    .option('--keep-last <n>', 'keep the N newest', wholeNumber('--keep-last'))
    .option('--keep-days <n>', 'keep every backup younger than N days', wholeNumber('--keep-days'))
    .option('--keep-daily <n>', 'keep the newest of each of the last N days with backups', wholeNumber('--keep-daily'))
    .option('--keep-weekly <n>', 'keep the newest of each of the last N weeks', wholeNumber('--keep-weekly'))
    .option('--keep-monthly <n>', 'keep the newest of each of the last N months', wholeNumber('--keep-monthly'))
    .option('--dry-run', 'only show what would be deleted')
    .addHelpText(
      'after',
      `
Only the configured database's backups are considered; other databases' backups in the folder are
never touched. On a terminal it shows what would go and asks; in scripts it needs --yes.

Example:
  $ cmmc-db backup prune --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --dry-run
  $ cmmc-db backup prune --keep-days 30 --yes`,
    )
    .action(
      ctx.action(async (opts: { dir?: string; keepLast?: number; keepDays?: number; keepDaily?: number; keepWeekly?: number; keepMonthly?: number; dryRun?: boolean }) => {
        const { pruneBackups, checkPolicy, formatBytes, currentIdentity } = await lib();
        const policy = { keepLast: opts.keepLast, keepDays: opts.keepDays, keepDaily: opts.keepDaily, keepWeekly: opts.keepWeekly, keepMonthly: opts.keepMonthly };
        checkPolicy(policy);
        const identity = await currentIdentity(ctx.config());
        const plan = pruneBackups({ dir: opts.dir, policy, identity });
        const doomed = plan.entries.filter((e) => e.action === 'delete');
        const render = (result: typeof plan, applied: boolean) => {
          if (ctx.out.json) return ctx.out.data(result);
          if (result.entries.length) {
            ctx.out.table(
              ['name', 'created', 'verified', 'action', 'kept by'],
              result.entries.map((e) => [e.name, e.createdAt.replace(/\.\d+Z$/, 'Z'), e.verified, e.action === 'delete' ? (applied ? 'deleted' : 'would delete') : 'keep', e.reasons.join(', ')]),
            );
          } else ctx.out.info(`no backups of this database in ${result.dir}`);
          if (result.otherDatabases) ctx.out.info(`${result.otherDatabases} backup(s) of other databases left alone`);
        };
        if (!doomed.length && !plan.stalePartials.length) {
          render(plan, false);
          ctx.out.info('nothing to delete');
          return 0;
        }
        if (!ctx.out.json) render(plan, false);
        const lines = [
          ...doomed.map((e) => `${e.name} (${formatBytes(e.sizeBytes)}, ${e.createdAt.replace(/\.\d+Z$/, 'Z')})`),
          ...plan.stalePartials.map((f) => `${f} (unfinished, left by a run that is gone)`),
        ];
        const title = `Delete ${doomed.length} backup(s) (${formatBytes(plan.freedBytes)}) from ${plan.dir}${plan.stalePartials.length ? ` and ${plan.stalePartials.length} unfinished file(s)` : ''}`;
        if (!(await ctx.out.confirmPlan({ title, lines }, { yes: ctx.globals.yes, dryRun: opts.dryRun }))) {
          if (ctx.out.json) ctx.out.data(plan);
          return opts.dryRun ? 0 : 1;
        }
        const result = pruneBackups({ dir: opts.dir, policy, identity, apply: true });
        if (ctx.out.json) ctx.out.data(result);
        if (result.stalePartials.length) ctx.out.info(`removed ${result.stalePartials.length} unfinished file(s) left by runs that are gone: ${result.stalePartials.join(', ')}`);
        ctx.out.success(`deleted ${result.deleted.length} backup(s), freed ${formatBytes(result.freedBytes)}`);
        return 0;
      }),
    );
}

function registerSchedule(backup: Command, ctx: CliContext): void {
  const schedule = backup
    .command('schedule')
    .description('install, show or remove the crontab lines for nightly backups and pruning')
    .addHelpText('after', '\nExample:\n  $ cmmc-db backup schedule install --print\n  $ cmmc-db backup schedule install --at "0 2 * * *" --keep-days 30');

  schedule
    .command('install')
    .description('install (or replace) the nightly backup and prune lines in the crontab')
    .addOption(dirOption())
    .option('--at <cron>', 'when to back up (crontab expression)', '0 2 * * *')
    .option('--prune-at <cron>', 'when to prune (crontab expression)', '30 2 * * *')
    .option('--keep-days <n>', 'prune backups older than N days', wholeNumber('--keep-days'), 30)
    .addOption(new Option('--format <format>', 'backup format').choices(['custom', 'directory', 'tar', 'plain']))
    .option('--encrypt', 'encrypt the nightly backups with --key-file')
    .addOption(keyFileOption())
    .option('--crontab-file <file>', 'write to this file instead of the user crontab')
    .option('--print', 'print the lines without installing them')
    .option('--doctor-at <cron>', 'also record a doctor run (doctor --record, for cmmc-db report) at this time')
    .option('--doctor-retention-days <n>', 'with --doctor-at: keep recorded doctor runs N days', wholeNumber('--doctor-retention-days'), 90)
    .addHelpText('after', '\nExample:\n  $ cmmc-db backup schedule install --at "15 1 * * *" --keep-days 14\n  $ cmmc-db backup schedule install --doctor-at "45 2 * * *"')
    .action(
      ctx.action(async (opts: { dir?: string; at: string; pruneAt: string; keepDays: number; format?: string; encrypt?: boolean; keyFile?: string; crontabFile?: string; print?: boolean; doctorAt?: string; doctorRetentionDays: number }) => {
        const s = await lib();
        const path = await import('node:path');
        const { existsSync } = await import('node:fs');
        const { BIN_PATH } = await binPath();
        // As backup create: --key-file, else CMMC_BACKUP_KEY_FILE (the option's help says so).
        const keyFile = opts.keyFile ?? process.env.CMMC_BACKUP_KEY_FILE;
        if (opts.encrypt && !keyFile) throw usageError('--encrypt needs --key-file FILE (or CMMC_BACKUP_KEY_FILE)', 'create one with: openssl rand -base64 48 > backup.key && chmod 600 backup.key');
        if (opts.encrypt) {
          // Read by the job at each run, not now: it must be a file holding a key (not a pipe, not missing).
          // A name that cannot go into the crontab line is the first thing said (a usage error).
          s.refuseControlCharacters(opts.keyFile ? '--key-file' : 'CMMC_BACKUP_KEY_FILE', keyFile);
          (await import('../../backup/crypto.js')).checkKeyFileForLater(keyFile!);
          await checkKeyFile(ctx, keyFile);
        }
        const block = s.scheduleBlock({
          backupAt: opts.at,
          pruneAt: opts.pruneAt,
          keepDays: opts.keepDays,
          cwd: process.cwd(),
          node: process.execPath,
          bin: BIN_PATH,
          dir: s.resolveBackupDir(opts.dir),
          format: opts.format,
          keyFile: opts.encrypt && keyFile ? path.resolve(keyFile) : undefined,
          doctorAt: opts.doctorAt,
          doctorRetentionDays: opts.doctorRetentionDays,
          from: {
            dir: opts.dir ? '--dir' : process.env.CMMC_BACKUP_DIR ? 'CMMC_BACKUP_DIR' : 'the backup folder (the project root and backups/)',
            keyFile: opts.keyFile ? '--key-file' : 'CMMC_BACKUP_KEY_FILE',
          },
        });
        if (ctx.globals.url) ctx.out.warn('the cron job does not carry --url (it would expose the password): it reads DATABASE_URL from .env in this folder or the environment');
        else if (!existsSync(path.join(process.cwd(), '.env')) && !process.env.DATABASE_URL && !process.env.DB_HOST) {
          ctx.out.warn(`no .env in ${process.cwd()}: the cron job needs DATABASE_URL there (the password in .env or ~/.pgpass, never in crontab)`);
        }
        if (opts.print) {
          if (ctx.out.json) ctx.out.data({ lines: block, installed: false });
          else for (const line of block) ctx.out.line(line);
          return 0;
        }
        const where = opts.crontabFile ?? 'the crontab';
        const before = await s.readCrontab(opts.crontabFile);
        const after = s.mergeBlock(before, block, where);
        const changed = before !== after;
        if (changed) await s.writeCrontab(after, opts.crontabFile);
        if (ctx.out.json) ctx.out.data({ lines: block, installed: true, changed, target: where, nextBackups: s.nextRuns(opts.at) });
        else {
          for (const line of block) ctx.out.line(line);
          ctx.out.success(changed ? `installed in ${where}; next backups (UTC): ${s.nextRuns(opts.at).join(', ')}` : `already installed in ${where}; nothing changed`);
        }
        return 0;
      }),
    );

  schedule
    .command('show', { isDefault: true })
    .description("show cmmc-db's lines in the crontab")
    .option('--crontab-file <file>', 'read this file instead of the user crontab')
    .addHelpText('after', '\nExample:\n  $ cmmc-db backup schedule show')
    .action(
      ctx.action(async (opts: { crontabFile?: string }) => {
        const s = await lib();
        const where = opts.crontabFile ?? 'the crontab';
        const lines = s.extractBlock(await s.readCrontab(opts.crontabFile), where);
        if (ctx.out.json) ctx.out.data({ installed: Boolean(lines), lines: lines ?? [] });
        else if (lines) for (const line of lines) ctx.out.line(line);
        else ctx.out.info(`no cmmc-db schedule in ${where}; install one with: cmmc-db backup schedule install`);
        return 0;
      }),
    );

  schedule
    .command('remove')
    .description("remove cmmc-db's lines from the crontab (other lines are left alone)")
    .option('--crontab-file <file>', 'edit this file instead of the user crontab')
    .addHelpText('after', '\nExample:\n  $ cmmc-db backup schedule remove')
    .action(
      ctx.action(async (opts: { crontabFile?: string }) => {
        const s = await lib();
        const where = opts.crontabFile ?? 'the crontab';
        const before = await s.readCrontab(opts.crontabFile);
        const had = Boolean(s.extractBlock(before, where));
        if (had) await s.writeCrontab(s.mergeBlock(before, undefined, where), opts.crontabFile);
        if (ctx.out.json) ctx.out.data({ removed: had });
        else if (had) ctx.out.success(`removed the cmmc-db schedule from ${where}`);
        else ctx.out.info('no cmmc-db schedule was installed; nothing changed');
        return 0;
      }),
    );
}

async function binPath(): Promise<{ BIN_PATH: string }> {
  const path = await import('node:path');
  const { PACKAGE_DIR } = await import('../../config/config.js');
  return { BIN_PATH: path.join(PACKAGE_DIR, 'bin', 'cmmc-db.js') };
}

function registerPitr(backup: Command, ctx: CliContext): void {
  backup
    .command('pitr')
    .description('point-in-time recovery: print the WAL archiving settings and a recovery recipe; --check reads the server')
    .option('--check', 'check that WAL archiving is on and healthy (exit 1 when not)')
    .option('--archive-dir <dir>', 'where WAL segments are archived', '/var/lib/postgresql/wal_archive')
    .option('--target-time <time>', 'the moment to recover to, in the recipe (e.g. "2026-11-25 06:00:00+00")')
    .addHelpText('after', '\nExample:\n  $ cmmc-db backup pitr --target-time "2026-11-25 06:00:00+00"\n  $ cmmc-db backup pitr --check')
    .action(
      ctx.action(async (opts: { check?: boolean; archiveDir: string; targetTime?: string }) => {
        const { archivingSettings, recoveryRecipe, checkArchiving, pitrNeedsServer } = await lib();
        const config = ctx.config();
        if (config.kind === 'embedded') throw pitrNeedsServer();
        if (opts.check) {
          ctx.announce(config);
          const report = await checkArchiving(config);
          if (ctx.out.json) ctx.out.data(report);
          else {
            ctx.out.table(['check', 'status', 'value'], report.checks.map((c) => [c.id, c.status, c.figure]), { record: false });
            ctx.out.notes(report.checks.filter((c) => c.remedy && c.status !== 'ok').map((c) => ({ label: `${c.id} (${c.status})`, text: c.remedy ?? '' })));
          }
          if (report.status === 'ok') ctx.out.success('WAL archiving is on and healthy');
          else if (!report.archiving) ctx.out.warn('WAL archiving is off: point-in-time recovery is not possible (run cmmc-db backup pitr for the settings)');
          else ctx.out.warn(`WAL archiving is on but not healthy (${report.status})`);
          return report.status === 'ok' ? 0 : 1;
        }
        const settings = archivingSettings(opts.archiveDir);
        const recipe = recoveryRecipe({ archiveDir: opts.archiveDir, targetTime: opts.targetTime });
        if (ctx.out.json) {
          ctx.out.data({ postgresqlConf: settings, recipe });
          return 0;
        }
        ctx.out.line('# postgresql.conf (restart PostgreSQL afterwards)');
        for (const line of settings) ctx.out.line(line);
        ctx.out.line('');
        ctx.out.line('# Recovery to a point in time');
        for (const line of recipe) ctx.out.line(line);
        ctx.out.info(ctx.out.c.dim('next: cmmc-db backup pitr --check'));
        return 0;
      }),
    );
}

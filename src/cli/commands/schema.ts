import path from 'node:path';
import type { CliContext } from '../context.js';
import type { RegisterCommand } from './types.js';

export const register: RegisterCommand = (program, ctx) => {
  const schema = program
    .command('schema')
    .description('the schema as code: schema.sql and the generated Kysely types, both from the migrations\' head')
    .addHelpText('after', '\nExample:\n  $ cmmc-db schema dump\n  $ cmmc-db schema dump --check\n  $ cmmc-db schema types --check');

  schema
    .command('dump')
    .description('write schema.sql: the schema at the migrations\' head, built in a scratch database (dropped afterwards)')
    .option('-o, --output <file>', 'file to write (default: schema.sql in the project folder)')
    .option('--check', 'write nothing; exit 1 when the file differs from the migrations\' head (for CI)')
    .option('--stdout', 'print the schema on stdout instead of writing a file')
    .addHelpText('after', '\nExample:\n  $ cmmc-db schema dump                 # rewrite ./schema.sql\n  $ cmmc-db schema dump --check         # in CI: fail when schema.sql is stale')
    .action(
      ctx.action(async (opts: { output?: string; check?: boolean; stdout?: boolean }) => {
        const { dumpHeadSchema, schemaFilePath } = await import('../../schema-as-code/dump.js');
        const config = ctx.config();
        ctx.announce(config);
        const file = schemaFilePath(config, opts.output);
        const spinner = await ctx.out.spinner('building the migrations\' head in a scratch database');
        let text: string;
        try {
          text = await dumpHeadSchema(config);
        } catch (err) {
          spinner.stop();
          throw err;
        }
        spinner.stop();
        return writeOrCheck(ctx, file, text, opts, { against: "the migrations' head", command: 'cmmc-db schema dump' });
      }),
    );

  schema
    .command('types')
    .description('write src/schema/database.ts: the Kysely Database interface generated from the migrations\' head')
    .option('-o, --output <file>', 'file to write (default: src/schema/database.ts in the project folder)')
    .option('--check', 'write nothing; exit 1 when the file differs from what the head generates (for CI)')
    .option('--stdout', 'print the types on stdout instead of writing a file')
    .addHelpText('after', '\nExample:\n  $ cmmc-db schema types\n  $ cmmc-db schema types --check         # in CI: fail when the types are stale')
    .action(
      ctx.action(async (opts: { output?: string; check?: boolean; stdout?: boolean }) => {
        const { generateHeadTypes, typesFilePath } = await import('../../schema-as-code/typegen.js');
        const config = ctx.config();
        ctx.announce(config);
        const file = typesFilePath(config, opts.output);
        const text = await generateHeadTypes(config);
        return writeOrCheck(ctx, file, text, opts, { against: "the types of the migrations' head", command: 'cmmc-db schema types' });
      }),
    );
};

export interface AutogenerateFlags {
  message: string;
  revId?: string;
  from?: string;
  schemaFile?: string;
  dryRun?: boolean;
}

/**
 * `revision --autogenerate`: the rendering around src/schema-as-code/autogenerate.ts (called by
 * revision.ts). Writes a file or says there is nothing to write; never applies anything.
 */
export async function autogenerateAction(ctx: import('../context.js').CliContext, flags: AutogenerateFlags): Promise<number> {
  const { autogenerate } = await import('../../schema-as-code/autogenerate.js');
  const { usageError } = await import('../../errors.js');
  if (!flags.message.trim()) throw usageError('a revision needs a message: -m "what it does"');
  if (flags.from && flags.schemaFile) throw usageError('--from and --schema-file both name the desired state', 'give one of them');
  const config = ctx.config();
  ctx.announce(config);
  const spinner = await ctx.out.spinner('building the migrations\' head and the desired state in scratch databases');
  let result;
  try {
    result = await autogenerate(config, { message: flags.message, fromUrl: flags.from, schemaFile: flags.schemaFile, dryRun: flags.dryRun, revId: flags.revId });
  } finally {
    spinner.stop();
  }
  const shown = result.file ? path.relative(process.cwd(), result.file) || result.file : undefined;
  if (ctx.out.json) {
    ctx.out.data({ ...result, file: result.file ?? null });
  } else if (result.status === 'no-change') {
    ctx.out.success(`no difference between the migrations' head and ${path.relative(process.cwd(), result.desired) || result.desired}: no revision written`);
  } else {
    if (result.file) ctx.out.line(result.file);
    else for (const s of result.up) ctx.out.line(s);
    for (const d of result.destructive) ctx.out.warn(`DESTRUCTIVE (${d.direction}): ${d.statement.split('\n')[0]}`);
    if (result.status === 'written') {
      ctx.out.success(`revision ${result.revision} written: ${result.up.length} statement(s) up, ${result.down.length} down (down revision: ${result.downRevisions.join(', ') || 'base'})`);
      if (result.destructive.length) ctx.out.warn(`${result.destructive.length} destructive statement(s) are marked "-- DESTRUCTIVE: review" in ${shown}`);
      ctx.out.info(ctx.out.c.dim(`next: review ${shown}, then cmmc-db upgrade head and cmmc-db schema dump`));
    }
  }
  return 0;
}

/**
 * Drift for `check`: the live database against a scratch database built by the migrations to the
 * same revision. Prints every object added, changed or removed by hand and the reconciling SQL.
 */
export async function driftSection(
  ctx: import('../context.js').CliContext,
  handle: import('../../db/connection.js').DbHandle,
  current: string[],
): Promise<import('../../schema-as-code/drift.js').DriftReport> {
  const config = ctx.config();
  const { detectDrift } = await import('../../schema-as-code/drift.js');
  const spinner = await ctx.out.spinner('comparing the database with the migrations (scratch database)');
  const report = await detectDrift(config, handle, current).finally(() => spinner.stop());
  if (ctx.out.json) return report;
  if (report.status === 'ok') {
    ctx.out.success(`no drift: the schema is what the migrations build (at ${report.expectedAt.join(', ') || 'base'})`);
    return report;
  }
  ctx.out.error(`drift: ${report.objects.length} object(s) differ from what the migrations build (at ${report.expectedAt.join(', ') || 'base'})`);
  const word = { added: 'added by hand', removed: 'removed by hand', changed: 'changed by hand' } as const;
  ctx.out.table(
    ['object', 'name', 'drift', 'in the database'],
    report.objects.map((o) => [o.kind, o.name, word[o.change], (o.change === 'removed' ? '' : (o.after ?? '')).slice(0, 80)]),
  );
  if (report.reconcile.length) {
    ctx.out.info('SQL that brings the database back to the migrations (review before running; or write a revision for the change):');
    for (const s of report.reconcile) ctx.out.line(s);
  }
  return report;
}

/**
 * `upgrade --backup`: a verified backup (src/backup's createBackup + verifyBackup) before anything
 * is applied, named on the terminal so that the way back is one `backup restore`. A backup that
 * does not verify stops the upgrade.
 */
export async function backupBeforeUpgrade(ctx: import('../context.js').CliContext, dir?: string): Promise<{ name: string; path: string; status: 'verified' }> {
  const { createBackup, verifyBackup, formatBytes } = await import('../../backup/index.js');
  const { CmmcError } = await import('../../errors.js');
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

/**
 * The end of `schema dump` and `schema types`: print the generated text, check the committed file
 * against it (exit 1 when stale, naming the first difference), or write it.
 */
async function writeOrCheck(
  ctx: CliContext,
  file: string,
  text: string,
  opts: { check?: boolean; stdout?: boolean },
  words: { against: string; command: string },
): Promise<number> {
  const { compareSchemaFile } = await import('../../schema-as-code/dump.js');
  const { writeFileSync } = await import('node:fs');
  const shown = path.relative(process.cwd(), file) || file;
  if (opts.stdout && !opts.check) {
    process.stdout.write(text);
    return 0;
  }
  if (opts.check) {
    const result = compareSchemaFile(file, text);
    if (ctx.out.json) ctx.out.data({ file, status: result.upToDate ? 'ok' : 'stale', firstDifference: result.firstDifference ?? null });
    if (result.upToDate) {
      ctx.out.success(`${shown} matches the migrations' head`);
      return 0;
    }
    const d = result.firstDifference!;
    ctx.out.error(`${shown} differs from ${words.against} at line ${d.line}: expected "${d.expected}", found "${d.actual}"`);
    ctx.out.info(`run "${words.command}" and commit ${shown}`);
    return 1;
  }
  writeFileSync(file, text);
  const lines = text.split('\n').length - 1;
  if (ctx.out.json) ctx.out.data({ file, status: 'written', lines });
  ctx.out.success(`wrote ${shown} (${lines} lines)`);
  return 0;
}

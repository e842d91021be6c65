/**
 * The rendering around schema-as-code shared by more than one command: `revision --autogenerate`
 * and the drift section of `check`. (Commands import helpers from src/cli/, never from each other.)
 */
import path from 'node:path';
import type { CliContext } from './context.js';

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
export async function autogenerateAction(ctx: CliContext, flags: AutogenerateFlags): Promise<number> {
  const { autogenerate } = await import('../schema-as-code/autogenerate.js');
  const { usageError } = await import('../errors.js');
  if (!flags.message.trim()) throw usageError('a revision needs a message: -m "what it does"');
  if (flags.from && flags.schemaFile) throw usageError('--from and --schema-file both name the desired state', 'give one of them');
  (await import('../schema-as-code/diff.js')).loadMigra(); // before any scratch database is made
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
    for (const r of result.renames) {
      ctx.out.warn(`${r.table}: column ${r.from} is dropped and ${r.to} added, both ${r.definition}: if that is a rename, write ${r.statement} in place of both (the drop loses the column's data), and the reverse in the down`);
    }
    if (result.status === 'written') {
      ctx.out.success(`revision ${result.revision} written: ${result.up.length} statement(s) up, ${result.down.length} down (down revision: ${result.downRevisions.join(', ') || 'base'})`);
      if (result.destructive.length) ctx.out.warn(`${result.destructive.length} destructive statement(s) are marked "-- DESTRUCTIVE: review" in ${shown}`);
      if (result.check?.status !== 'fail') ctx.out.info(ctx.out.c.dim(`next: review ${shown}, then cmmc-db upgrade head and cmmc-db schema dump`));
    }
  }
  if (result.status === 'written' && result.check?.status === 'fail') {
    // Written all the same: the statements that are right are the user's starting point.
    const { describeSection } = await import('../schema-as-code/verify.js');
    const { up, down } = result.check;
    const target = flags.from ? 'the --from database' : path.relative(process.cwd(), result.desired) || result.desired;
    if (!ctx.out.json) {
      if (up.status !== 'ok') ctx.out.warn(`tried on a copy of the head, its up ${up.status === 'failed' ? describeSection(up) : `does not reach ${target}: ${describeSection(up)}`}`);
      if (down.status !== 'ok' && down.status !== 'skipped') ctx.out.warn(`tried after its up, its down ${down.status === 'failed' ? describeSection(down) : `does not give the head back: ${describeSection(down)}`}`);
      ctx.out.error(`revision ${result.revision} was written but does not work as generated: edit ${shown} before applying it (the warnings above say where)`);
    }
    return 1;
  }
  return 0;
}

/**
 * Drift for `check`: the live database against a scratch database built by the migrations to the
 * same revision. Prints every object added, changed or removed by hand and the reconciling SQL.
 */
export async function driftSection(
  ctx: CliContext,
  handle: import('../db/connection.js').DbHandle,
  current: string[],
): Promise<import('../schema-as-code/drift.js').DriftReport> {
  const config = ctx.config();
  const { detectDrift } = await import('../schema-as-code/drift.js');
  (await import('../schema-as-code/diff.js')).loadMigra();
  const spinner = await ctx.out.spinner('comparing the database with the migrations (scratch database)');
  const report = await detectDrift(config, handle, current).finally(() => spinner.stop());
  if (ctx.out.json) return report;
  if (report.ignoredExtensions.length) {
    ctx.out.info(`left alone: extension(s) installed outside the migrations, with their objects: ${report.ignoredExtensions.join(', ')}`);
  }
  if (report.status === 'ok') {
    ctx.out.success(`no drift: the schema is what the migrations build (at ${report.expectedAt.join(', ') || 'base'})`);
    return report;
  }
  ctx.out.error(`drift: ${report.objects.length} object(s) differ from what the migrations build (at ${report.expectedAt.join(', ') || 'base'})`);
  const word = { added: 'added by hand', removed: 'removed by hand', changed: 'changed by hand' } as const;
  ctx.out.table(
    ['object', 'name', 'drift', 'in the database'],
    report.objects.map((o) => [o.kind, o.name, word[o.change], o.change === 'removed' ? '' : (o.after ?? '')]),
  );
  if (report.reconcile.length) {
    ctx.out.info('SQL that brings the database back to the migrations (review before running; or write a revision for the change):');
    for (const s of report.reconcile) ctx.out.line(s);
  }
  return report;
}


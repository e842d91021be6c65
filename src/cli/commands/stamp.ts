import type { RegisterCommand } from './types.js';

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('stamp <targets...>')
    .description('move the version rows to TARGETS without running any revision: only the heads that share lineage with a target move (Alembic\'s stamp); --purge starts over')
    .option('--purge', 'delete every version row first, even ones no file declares (asks first; not with --sql)')
    .option('--dry-run', 'show the version rows now and what they would become; change nothing')
    .option('--sql', 'print the SQL script instead of running it (offline: a target may be FROM:TO, the rows it starts from)')
    .addHelpText('after', '\nExamples:\n  $ cmmc-db stamp head\n  $ cmmc-db stamp billing@head audit@head\n  $ cmmc-db stamp base --purge --dry-run\n  $ cmmc-db stamp base --purge --yes\n  $ cmmc-db stamp 3f1c0a9e5b01:head --sql > stamp.sql')
    .action(
      ctx.action(async (targets: string[], flags: { purge?: boolean; dryRun?: boolean; sql?: boolean }) => {
        const { documentedRun, openForWrites, renderRun } = await import('../migrate-run.js');
        if (flags.sql) {
          // Offline: no database is opened; the script says what a stamp would write.
          const [{ loadScript }, { offlineStamp }] = await Promise.all([import('../../migrate/script.js'), import('../../migrate/offline.js')]);
          const text = offlineStamp(await loadScript(ctx.config()), ctx.config(), targets, flags.purge);
          if (ctx.out.json) ctx.out.data({ operation: 'stamp', targets, sql: text });
          else process.stdout.write(text);
          return 0;
        }
        return documentedRun(ctx, 'stamp', targets.join(' '), async () => {
          ctx.asOwner();
          const [{ loadScript }, { migrate }, { getStatus }, { catchRevisionErrors, refuseUnknown }] = await Promise.all([
            import('../../migrate/script.js'),
            import('../../migrate/engine.js'),
            import('../../migrate/status.js'),
            import('../../migrate/errors.js'),
          ]);
          const script = await loadScript(ctx.config());
          // A dry run reads: it creates no embedded database.
          const handle = await openForWrites(ctx, undefined, { mustExist: Boolean(flags.dryRun) });
          if (flags.purge || flags.dryRun) {
            // The one confirmation rule: what the version table holds now goes; the plan first.
            const status = await getStatus(handle, script);
            // The rows after, as the engine will write them (what the run would refuse is refused here too).
            refuseUnknown(script, status.current.filter((r) => !script.graph.has(r)), Boolean(flags.purge));
            const start = flags.purge ? [] : status.current.filter((r) => script.graph.has(r));
            const after = catchRevisionErrors(() => script.graph.stampPlan(start, targets)).rows;
            const plan = {
              title: `${flags.purge ? 'Purge the version table and stamp' : 'Stamp'} it at ${targets.join(' ')}`,
              lines: [
                `version rows now: ${status.current.join(', ') || '(none)'}${flags.purge ? ' (all deleted, even ones no file declares)' : ''}`,
                `version rows after: ${after.join(', ') || '(none)'}`,
                'no revision is run; no table is touched',
              ],
              data: { operation: 'stamp', targets, purge: Boolean(flags.purge), current: status.current, after },
            };
            if (!(await ctx.out.confirmPlan(plan, { yes: ctx.globals.yes || !flags.purge, dryRun: flags.dryRun }))) return flags.dryRun ? 0 : 1;
          }
          return renderRun(ctx, await migrate(handle, 'stamp', targets, { script, purge: flags.purge }));
        });
      }),
    );
};

import type { RegisterCommand } from './types.js';

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('stamp <target>')
    .description('set the version table to TARGET without running any revision (for a database made by other means)')
    .option('--purge', 'delete every version row first, even ones no file declares (asks first)')
    .option('--dry-run', 'show the version rows now and what they would become; change nothing')
    .addHelpText('after', '\nExamples:\n  $ cmmc-db stamp head\n  $ cmmc-db stamp base --purge --yes')
    .action(
      ctx.action(async (target: string, flags: { purge?: boolean; dryRun?: boolean }) => {
        ctx.asOwner();
        const m = await import('../../migrate/index.js');
        const script = await m.loadScript(ctx.config());
        const handle = await ctx.open();
        if (flags.purge || flags.dryRun) {
          // The one confirmation rule: what the version table holds now goes; the plan first.
          const status = await m.getStatus(handle, script);
          const plan = {
            title: `${flags.purge ? 'Purge the version table and stamp' : 'Stamp'} it at ${target}`,
            lines: [`version rows now: ${status.current.join(', ') || '(none)'}${flags.purge ? ' (all deleted, even ones no file declares)' : ''}`, 'no revision is run; no table is touched'],
          };
          if (!(await ctx.out.confirmPlan(plan, { yes: ctx.globals.yes || !flags.purge, dryRun: flags.dryRun }))) return flags.dryRun ? 0 : 1;
        }
        const result = await m.runStamp(handle, target, { script, purge: flags.purge });
        if (ctx.out.json) {
          ctx.out.data(result);
          return 0;
        }
        ctx.out.success(`stamped: the version table now reads ${result.to.join(', ') || 'base (empty)'} (was ${result.from.join(', ') || 'base'}); no revision was run`);
        ctx.out.info(ctx.out.c.dim('next: cmmc-db check'));
        return 0;
      }),
    );
};

import type { RegisterCommand } from './types.js';

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('stamp <target>')
    .description('set the version table to TARGET without running any revision (for a database made by other means)')
    .option('--purge', 'delete every version row first, even ones no file declares (asks first)')
    .addHelpText('after', '\nExamples:\n  $ cmmc-db stamp head\n  $ cmmc-db stamp base --purge --yes')
    .action(
      ctx.action(async (target: string, flags: { purge?: boolean }) => {
        ctx.asOwner();
        const m = await import('../../migrate/index.js');
        const script = await m.loadScript(ctx.config());
        if (flags.purge && !(await ctx.out.confirm(`purge the version table and stamp it at ${target}?`, ctx.globals.yes))) return 1;
        const handle = await (await import('../migrate-run.js')).openForWrites(ctx);
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

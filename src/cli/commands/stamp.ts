import type { RegisterCommand } from './types.js';

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('stamp <targets...>')
    .description('move the version rows to TARGETS without running any revision: only the heads that share lineage with a target move (Alembic\'s stamp); --purge starts over')
    .option('--purge', 'delete every version row first, even ones no file declares (asks first)')
    .addHelpText('after', '\nExamples:\n  $ cmmc-db stamp head\n  $ cmmc-db stamp billing@head audit@head\n  $ cmmc-db stamp base --purge --yes')
    .action(
      ctx.action(async (targets: string[], flags: { purge?: boolean }) => {
        ctx.asOwner();
        const m = await import('../../migrate/index.js');
        const { refusal, renderRun } = await import('../migrate-run.js');
        const script = await m.loadScript(ctx.config());
        if (flags.purge && !(await ctx.out.confirm(`purge the version table and stamp it at ${targets.join(' ')}?`, ctx.globals.yes))) return 1;
        const handle = await (await import('../migrate-run.js')).openForWrites(ctx);
        const result = await m.migrate(handle, 'stamp', targets, { script, purge: flags.purge }).catch((err) => {
          throw refusal(ctx, 'stamp', targets.join(' '), err);
        });
        return renderRun(ctx, result);
      }),
    );
};

import type { RegisterCommand } from './types.js';

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('refresh')
    .description('refresh materialized views (all, or those named), CONCURRENTLY where a unique index allows')
    .argument('[views...]', 'materialized views, as name or schema.name; default: all')
    .addHelpText(
      'after',
      `
A view that was never populated, or has no unique index on plain columns, is refreshed with an
ACCESS EXCLUSIVE lock (readers wait); the others CONCURRENTLY.

Example:
  $ cmmc-db refresh
  $ cmmc-db refresh public.compliance_by_domain --json`,
    )
    .action(
      ctx.action(async (views: string[]) => {
        const { refreshMaterializedViews } = await import('../../doctor/refresh.js');
        const config = ctx.config();
        // A refresh may take longer than the pool's statement_timeout: use the configured one (none by default).
        const handle = await ctx.open({
          connection: {
            statement_timeout: config.statementTimeoutMs ?? 0,
            ...(config.lockTimeoutMs ? { lock_timeout: config.lockTimeoutMs } : {}),
          },
          pool: { max: 1, min: 0 },
          mustExist: true,
          writes: true,
        });
        const spinner = await ctx.out.spinner('refreshing');
        let results;
        try {
          results = await refreshMaterializedViews(handle.sql, views, (v, mode) => (spinner.text = `refreshing ${v.name} (${mode})`));
        } catch (err) {
          spinner.stop();
          throw err;
        }
        spinner.stop();
        if (ctx.out.json) {
          ctx.out.data({ refreshed: results });
        } else if (results.length) {
          ctx.out.table(['view', 'mode', 'why not concurrently', 'ms'], results.map((r) => [r.view, r.mode, r.why ?? '', r.ms]));
        }
        ctx.out.success(results.length ? `refreshed ${results.length} materialized view${results.length === 1 ? '' : 's'}` : 'no materialized view to refresh');
        return 0;
      }),
    );
};

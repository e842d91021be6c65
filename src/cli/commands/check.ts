import type { RegisterCommand } from './types.js';

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('check')
    .description('exit 1 when the database is not at the heads, an applied revision file has changed, or its schema drifted from the migrations (for CI)')
    .option('--no-drift', 'skip drift detection (the comparison with a scratch database built by the migrations)')
    .addHelpText('after', '\nExample:\n  $ cmmc-db check --json || echo "migrations needed"')
    .action(
      ctx.action(async (flags: { drift?: boolean }) => {
        const m = await import('../../migrate/index.js');
        const config = ctx.config();
        const script = await m.loadScript(config);
        const handle = await ctx.open({ mustExist: true });
        const status = await m.getStatus(handle, script);
        const { nextUpgradeStep } = await import('../../migrate/report.js');
        // Drift compares with what the migrations build at the current rows: with a row no file
        // declares there is no such schema (it compared with the rows it knew and offered SQL
        // creating tables of pending revisions).
        if (status.unknown.length && flags.drift !== false) ctx.out.warn(`drift not checked: the version table holds ${status.unknown.join(', ')}, which no file declares`);
        const drift = flags.drift === false || status.unknown.length ? undefined : await (await import('../schema-flows.js')).driftSection(ctx, handle, status.current).catch((err: { code?: string; message?: string; hint?: string }) => {
          // Drift needs the optional @pgkit/migra: without it, say so and check the rest.
          if (err.code !== 'schema.migra-missing') throw err;
          ctx.out.warn(`drift not checked: ${err.message} (${err.hint}; or pass --no-drift)`);
          return undefined;
        });
        const ok = status.atHead && status.changed.length === 0 && drift?.status !== 'drift';
        if (ctx.out.json) {
          ctx.out.data({ status: ok ? 'ok' : 'fail', ...status, ...(drift ? { drift } : {}) });
          return ok ? 0 : 1;
        }
        if (status.unknown.length) ctx.out.error(`the database is at ${status.unknown.join(', ')}, which no file in ${script.dirs.join(' or ')} declares`);
        if (status.overlapping.length) ctx.out.error(`the version table holds ${status.overlapping.join(', ')} below another of its rows (rows overlap); next: ${nextUpgradeStep(status)}`);
        if (status.pending.length && !status.overlapping.length) {
          ctx.out.error(`the database is not at the heads (${status.heads.join(', ')}): ${status.pending.length} revision(s) pending: ${status.pending.join(', ')}`);
          ctx.out.info(`next: ${nextUpgradeStep(status)}`);
        }
        for (const c of status.changed) ctx.out.error(`applied revision ${c.revision} changed since it was applied: ${c.file}`);
        if (status.changed.length) ctx.out.info('restore the changed file(s); if the change is deliberate, record them as they are now with cmmc-db upgrade --allow-changed (nothing runs again)');
        if (ok) ctx.out.success(`the database is at the heads (${status.heads.join(', ') || 'base'}) and no applied file changed`);
        return ok ? 0 : 1;
      }),
    );
};

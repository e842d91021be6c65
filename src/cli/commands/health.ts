import type { CliContext } from '../context.js';
import type { RegisterCommand } from './types.js';

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('health')
    .description('check that the database answers, and show the connection pool (status, size, in use, free, min, max)')
    .addHelpText('after', '\nExample:\n  $ cmmc-db health --json')
    .action(ctx.action(() => printHealth(ctx)));
};

/** The library's healthCheck on the pool as the platform opens it (also `cmmc-db doctor --health`). */
export async function printHealth(ctx: CliContext): Promise<number> {
  const { healthCheck, POOL_SETTINGS } = await import('../../db/index.js');
  const handle = await ctx.open({ pool: { min: POOL_SETTINGS.min, max: POOL_SETTINGS.max }, warm: true });
  const report = await healthCheck(handle);
  if (ctx.out.json) {
    ctx.out.data(report);
  } else {
    ctx.out.table(
      ['status', 'database', 'server', 'latency ms', 'pool size', 'in use', 'free', 'min', 'max'],
      [[report.status, report.database, report.serverVersion, report.latencyMs, report.pool.size, report.pool.inUse, report.pool.free, report.pool.min, report.pool.max]],
    );
  }
  return report.status === 'ok' ? 0 : 1;
}

import type { CliContext } from './context.js';

/** The library's healthCheck on the pool as the platform opens it (also `cmmc-db doctor --health`). */
export async function printHealth(ctx: CliContext): Promise<number> {
  const { healthCheck, POOL_SETTINGS } = await import('../db/index.js');
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

import type { CliContext } from './context.js';

/** The library's healthCheck on the pool as the platform opens it (also `cmmc-db doctor --health`). */
export async function printHealth(ctx: CliContext): Promise<number> {
  const { healthCheck, POOL_SETTINGS } = await import('../db/index.js');
  const handle = await ctx.open({ pool: { min: POOL_SETTINGS.min, max: POOL_SETTINGS.max }, warm: true, mustExist: true });
  const report = await healthCheck(handle);
  // Each host of the target with its role (a failover pair lists two; the pool reaches one).
  const hosts =
    handle.config.kind === 'server' && handle.url
      ? (await (await import('../db/host-roles.js')).hostRoles(handle.url, (await import('../db/connection.js')).targetOrigin(handle.config))).map(({ writable: _, ...h }) => h)
      : [];
  if (ctx.out.json) {
    ctx.out.data({ ...report, hosts });
  } else {
    ctx.out.table(
      ['status', 'database', 'server', 'latency ms', 'pool size', 'in use', 'free', 'min', 'max'],
      [[report.status, report.database, report.serverVersion, report.latencyMs, report.pool.size, report.pool.inUse, report.pool.free, report.pool.min, report.pool.max]],
    );
    if (hosts.length) ctx.out.table(['host', 'role', 'error'], hosts.map((h) => [h.host, `${h.role}${h.sameAs ? ` (the same server as ${h.sameAs})` : ''}`, h.error ?? '']));
  }
  return report.status === 'ok' ? 0 : 1;
}

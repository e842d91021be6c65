/**
 * The role of every host a (multi-host) target lists: each is asked on its own, with
 * target_session_attrs=any, whether it is in recovery. For `health` and `doctor replication.role`
 * on a failover pair, where the pool reaches only one of them.
 */
import { connParamsOf, describeHosts } from '../config/conninfo.js';
import { connectPool, type TargetOrigin } from '../db/driver.js';
import { CmmcError } from '../errors.js';

export interface HostRole {
  /** host:port */
  host: string;
  role: 'primary' | 'standby' | 'unreachable';
  /** Why it could not be asked, and the fix (one line), when unreachable. */
  error?: string;
}

/**
 * Each host of `url` with its role, in the URL's order. Never throws for an unreachable host: its
 * error's fix names the setting that listed it (`origin`, as `targetOrigin(config)` gives it).
 */
export async function hostRoles(url: string, origin: TargetOrigin = {}): Promise<HostRole[]> {
  const conn = connParamsOf(url);
  return Promise.all(
    conn.hosts.map(async (h): Promise<HostRole> => {
      const one = { ...conn, hosts: [h], targetSessionAttrs: 'any' as const, connectTimeout: Math.min(conn.connectTimeout || 5, 5) };
      const host = describeHosts(one);
      try {
        const sql = await connectPool(one, { applicationName: 'cmmc-db:host-roles' }, { ...origin, oneHost: true });
        try {
          const [r] = await sql<{ standby: boolean }[]>`SELECT pg_is_in_recovery() AS standby`;
          return { host, role: r.standby ? 'standby' : 'primary' };
        } finally {
          await sql.end({ timeout: 1 }).catch(() => {});
        }
      } catch (err) {
        const line = (err as Error).message.split('\n')[0];
        return { host, role: 'unreachable', error: err instanceof CmmcError && err.hint ? `${line} — ${err.hint}` : line };
      }
    }),
  );
}

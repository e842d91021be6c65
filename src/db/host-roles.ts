/**
 * The role of every host a (multi-host) target lists: each is asked on its own, with
 * target_session_attrs=any, whether it is in recovery and whether it takes writes. For `health` and
 * `doctor replication.role` on a failover pair, where the pool reaches only one of them, and for a
 * run that writes (src/db/writable.ts), which must not write to one of two primaries.
 */
import { connParamsOf, describeHosts } from '../config/conninfo.js';
import { connectPool, type TargetOrigin } from './driver.js';
import { CmmcError } from '../errors.js';

export interface HostRole {
  /** host:port */
  host: string;
  role: 'primary' | 'standby' | 'unreachable';
  /**
   * A primary that takes writes (not `default_transaction_read_only`, as pg_auto_failover sets
   * while it drains a primary it is about to demote). Only on a primary.
   */
  writable?: boolean;
  /** Why it could not be asked, and the fix (one line), when unreachable. */
  error?: string;
}

/**
 * Each host of `url` with its role, in the URL's order. Never throws for an unreachable host: its
 * error's fix names the setting that listed it (`origin`, as `targetOrigin(config)` gives it).
 * `connectTimeoutS`: the most each host is waited for (the URL's connect_timeout when shorter).
 */
export async function hostRoles(url: string, origin: TargetOrigin = {}, { connectTimeoutS = 5 }: { connectTimeoutS?: number } = {}): Promise<HostRole[]> {
  const conn = connParamsOf(url);
  return Promise.all(
    conn.hosts.map(async (h): Promise<HostRole> => {
      const one = { ...conn, hosts: [h], targetSessionAttrs: 'any' as const, connectTimeout: Math.min(conn.connectTimeout || connectTimeoutS, connectTimeoutS) };
      const host = describeHosts(one);
      try {
        const sql = await connectPool(one, { applicationName: 'cmmc-db:host-roles' }, { ...origin, oneHost: true });
        try {
          const [r] = await sql<{ standby: boolean; read_only: string }[]>`SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS read_only`;
          return r.standby ? { host, role: 'standby' } : { host, role: 'primary', writable: r.read_only !== 'on' };
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

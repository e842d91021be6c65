/**
 * The role of every host a (multi-host) target lists: each is asked on its own, with
 * target_session_attrs=any, whether it is in recovery and whether it takes writes. For `health` and
 * `doctor replication.role` on a failover pair, where the pool reaches only one of them, and for a
 * run that writes (src/db/writable.ts), which must not write to one of two primaries.
 */
import type postgres from 'postgres';
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
  /**
   * The host listed before this one that reaches the same server (127.0.0.1 and localhost, a name
   * and its address): one server listed twice is one primary, never a split brain (`primariesOf`).
   */
  sameAs?: string;
}

/**
 * What tells one server from another: its system identifier (pg_control_system(); a standby shares
 * its primary's, and keeps it when promoted) and the time its postmaster started. Two hosts giving
 * both the same are one server reached twice. Where the role may not call pg_control_system, the
 * start time alone (to the microsecond).
 */
async function serverIdentity(sql: postgres.Sql, started: string): Promise<string> {
  const id = await sql<{ id: string }[]>`SELECT system_identifier::text AS id FROM pg_control_system()`.then(
    ([r]) => r.id,
    () => '',
  );
  return `${id}@${started}`;
}

/**
 * The primaries among `hosts`, one for each server: a server listed twice (by name and by address)
 * counts once. More than one is a split brain. `writable`: only those that take writes now (not
 * draining under default_transaction_read_only).
 */
export function primariesOf(hosts: HostRole[], { writable = false }: { writable?: boolean } = {}): HostRole[] {
  return hosts.filter((h) => h.role === 'primary' && !h.sameAs && (!writable || h.writable));
}

/**
 * Each host of `url` with its role, in the URL's order. Never throws for an unreachable host: its
 * error's fix names the setting that listed it (`origin`, as `targetOrigin(config)` gives it).
 * `connectTimeoutS`: the most each host is waited for (the URL's connect_timeout when shorter).
 */
export async function hostRoles(url: string, origin: TargetOrigin = {}, { connectTimeoutS = 5 }: { connectTimeoutS?: number } = {}): Promise<HostRole[]> {
  const conn = connParamsOf(url);
  const asked = await Promise.all(
    conn.hosts.map(async (h): Promise<HostRole & { server?: string }> => {
      const one = { ...conn, hosts: [h], targetSessionAttrs: 'any' as const, connectTimeout: Math.min(conn.connectTimeout || connectTimeoutS, connectTimeoutS) };
      const host = describeHosts(one);
      try {
        const sql = await connectPool(one, { applicationName: 'cmmc-db:host-roles' }, { ...origin, oneHost: true });
        try {
          const [r] = await sql<{ standby: boolean; read_only: string; started: string }[]>`
            SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS read_only, pg_postmaster_start_time()::text AS started`;
          const server = await serverIdentity(sql, r.started);
          return r.standby ? { host, role: 'standby', server } : { host, role: 'primary', writable: r.read_only !== 'on', server };
        } finally {
          await sql.end({ timeout: 1 }).catch(() => {});
        }
      } catch (err) {
        const line = (err as Error).message.split('\n')[0];
        return { host, role: 'unreachable', error: err instanceof CmmcError && err.hint ? `${line} — ${err.hint}` : line };
      }
    }),
  );
  return asked.map(({ server, ...h }, i) => {
    const first = server === undefined ? undefined : asked.find((o, j) => j < i && o.server === server);
    return first ? { ...h, sameAs: first.host } : h;
  });
}

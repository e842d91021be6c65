/**
 * A session that writes (upgrade, downgrade, stamp, seed, restore, init, refresh, scratch
 * databases) belongs on the primary, and on one primary only. Three rules, applied by the
 * connection seam for `openDatabase(config, { writes: true })`:
 *
 * - A target that lists several hosts without target_session_attrs asks for `read-write`, as the
 *   URL pg_autoctl hands out does: libpq's default (`any`) takes the first host that answers, and
 *   with a standby listed first every write failed (25006) although the primary was in the list.
 * - A session that still lands on a standby or a read-only server (one host listed, or
 *   target_session_attrs asking for a standby) ends with `NotWritable`: one line naming the host,
 *   before anything is written (the waits of src/migrate/primary.ts retry it).
 * - With several hosts, each is asked on its own (src/db/host-roles.ts): two that take writes are a
 *   split brain, and nothing is written to either (`connect.split-brain`), since libpq would pick
 *   whichever is listed first, perhaps the one the failover manager has given up on.
 */
import type postgres from 'postgres';
import type { CmmcConfig } from '../config/config.js';
import { connParamsOf, formatConnUri } from '../config/conninfo.js';
import { CmmcError } from '../errors.js';
import { sessionHost, type TargetOrigin } from './driver.js';

/** What to do about two primaries; also doctor's replication.role remedy. */
export const SPLIT_BRAIN_REMEDY = 'stop the one the failover manager does not consider primary (pg_autoctl show state)';

/** `url` asking for `read-write` when it lists several hosts and leaves target_session_attrs at `any`. */
export function writableUrl(url: string): string {
  const conn = connParamsOf(url);
  if (conn.hosts.length < 2 || conn.targetSessionAttrs !== 'any') return url;
  return formatConnUri({ ...conn, targetSessionAttrs: 'read-write' });
}

/** The configuration pointed at the primary (see writableUrl), for runs that hand the URL to client programs too (restore). */
export function writableTarget(config: CmmcConfig): CmmcConfig {
  if (config.kind !== 'server' || !config.url) return config;
  const url = writableUrl(config.url);
  if (url === config.url) return config;
  const conn = connParamsOf(url);
  return { ...config, url, conn: config.conn?.fromPgEnv ? { ...conn, fromPgEnv: config.conn.fromPgEnv } : conn };
}

/**
 * `url` narrowed to the one host the session of `sql` is on (the primary a writes session found), for
 * the sessions and client programs that follow it: with the whole list, libpq stops at the first
 * host that refuses the connection, and a standby refuses a database the primary created a moment
 * ago and it has not replayed yet ("database ... does not exist"). target_session_attrs is kept, so
 * that they still refuse that host once it is no longer the primary. `url` itself with one host, or
 * when the session's host is not found in the list.
 */
export async function pinnedUrl(url: string, sql: postgres.Sql): Promise<string> {
  const conn = connParamsOf(url);
  if (conn.hosts.length < 2) return url;
  const host = await sessionHost(conn, sql);
  return host ? formatConnUri({ ...conn, hosts: [host] }) : url;
}

/** `config` narrowed to the one host the session of `sql` is on (`pinnedUrl`), for restore's client programs and sessions. */
export async function pinnedTarget(config: CmmcConfig, sql: postgres.Sql): Promise<CmmcConfig> {
  if (config.kind !== 'server' || !config.url) return config;
  const url = await pinnedUrl(config.url, sql);
  if (url === config.url) return config;
  return { ...config, url, conn: { ...connParamsOf(url), ...(config.conn?.fromPgEnv ? { fromPgEnv: config.conn.fromPgEnv } : {}) } };
}

/** The session is on a standby or a read-only server; `reason` is the short form (for a wait's message). */
export class NotWritable extends CmmcError {
  /** False when the target asks for a standby (target_session_attrs): waiting for a promotion would not help. */
  readonly waitable: boolean;

  constructor(readonly reason: string, attrs: string) {
    const asksStandby = ['standby', 'read-only', 'prefer-standby'].includes(attrs);
    super(attrs === 'read-only-server' ? 'connect.read-only' : 'connect.standby', `${reason}: this command writes and needs the primary; nothing was written`, {
      hint: asksStandby
        ? `target_session_attrs=${attrs} asks for a standby: for a command that writes, use read-write or leave it out`
        : 'point the URL at the primary, or list every host of the pair (pg_autoctl show uri); "cmmc-db health" shows each host and its role',
    });
    this.waitable = !asksStandby;
  }
}

/** Why the session of `sql` cannot write (a standby, or read-only), or undefined when it can. */
export async function whyNotWritable(sql: postgres.Sql): Promise<{ reason: string; readOnly: boolean } | undefined> {
  const [r] = await sql<{ standby: boolean; read_only: string; host: string | null; port: string }[]>`
    SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS read_only,
           host(inet_server_addr()) AS host, current_setting('port') AS port`;
  const where = `${r.host ?? 'local socket'}:${r.port}`;
  if (r.standby) return { reason: `${where} is a standby (in recovery)`, readOnly: false };
  if (r.read_only === 'on') return { reason: `${where} is read-only`, readOnly: true };
  return undefined;
}

/** Throws NotWritable when the session of `sql` cannot write. `url`: the target it was opened with. */
export async function refuseNotWritable(sql: postgres.Sql, url: string): Promise<void> {
  const why = await whyNotWritable(sql);
  if (why) throw new NotWritable(why.reason, why.readOnly ? 'read-only-server' : connParamsOf(url).targetSessionAttrs);
}

/**
 * The rules of `openDatabase(config, { writes: true })` for a session opened outside the seam (init's
 * admin session): `sql` must be on a primary that takes writes, and the only one of `url`'s hosts.
 * @throws NotWritable, or CmmcError `connect.split-brain`.
 */
export async function refuseUnlessOnePrimary(sql: postgres.Sql, url: string, origin: TargetOrigin): Promise<void> {
  await refuseNotWritable(sql, url);
  await refuseSplitBrain(url, origin);
}

/** Throws `connect.split-brain` when more than one host of `url` takes writes; nothing for a single host. */
export async function refuseSplitBrain(url: string, origin: TargetOrigin): Promise<void> {
  if (connParamsOf(url).hosts.length < 2) return;
  const { hostRoles, primariesOf } = await import('./host-roles.js');
  // A host that does not answer within libpq's shortest connect_timeout cannot be told: not a primary
  // here (a run must not wait 5 s more for a host that is down while the primary answered). One
  // server listed twice (127.0.0.1 and localhost) is one primary.
  const primaries = primariesOf(await hostRoles(url, origin, { connectTimeoutS: 2 }), { writable: true });
  if (primaries.length < 2) return;
  const list = `${primaries.slice(0, -1).map((h) => h.host).join(', ')} and ${primaries[primaries.length - 1].host}`;
  throw new CmmcError('connect.split-brain', `${list} ${primaries.length === 2 ? 'both' : 'all'} take writes (more than one primary: split brain); nothing was written`, {
    hint: `${SPLIT_BRAIN_REMEDY}, then run the command again; "cmmc-db health" shows each host and its role`,
  });
}

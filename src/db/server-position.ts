/**
 * Where the server of a session stands in replication: a primary, or a standby with how far its
 * replay is behind. One reading for everything that reports it (doctor's replication checks, the
 * backup's manifest), so that they agree.
 *
 * What a standby can tell on its own, measured against a pg_auto_failover formation:
 * - `pg_last_wal_receive_lsn()` restarts at the beginning of its WAL segment when the standby
 *   restarts: until new WAL arrives it is *behind* the replayed position (received minus replayed
 *   was -6.8 MB on an idle primary). WAL waiting for replay is never negative.
 * - `pg_last_xact_replay_timestamp()` is the commit time of the last transaction replayed: on a
 *   primary that was idle before its last write, its age counts the idle time too (a standby 1 s
 *   behind read 28 s behind). The WAL waiting was sent at `pg_stat_wal_receiver.latest_end_time`
 *   at the latest, so the standby is at least `now - latest_end_time` behind; how much more, only
 *   the primary knows (`pg_stat_replication.replay_lag`). Both bounds are reported.
 * - On a primary that has gone idle, its WAL often ends in the middle of a record (flushed up to a
 *   page boundary, the rest not yet): the standby has received the first part and cannot replay it,
 *   and received minus replayed read 6.5 kB, "behind", with nothing to replay. The startup process
 *   then waits for WAL (`RecoveryWalStream`): nothing complete waits, and nothing is counted. (Its
 *   wait is hidden from a role without pg_read_all_stats: then what was received counts.)
 * - `pg_stat_wal_receiver` has no row when the standby does not stream (its primary is gone, or
 *   replication is refused): the standby then falls behind by however much the primary writes,
 *   and nothing on the standby can say how much. A role without pg_read_all_stats sees the row
 *   without its details (`receiver: 'unknown'`).
 */
import type postgres from 'postgres';

export interface ServerPosition {
  role: 'primary' | 'standby';
  /** host:port as the server reports it (`local socket:5432` over a unix socket). */
  host: string;
  /** Standby only below (null on a primary). pg_last_wal_replay_lsn(). */
  replayLsn: string | null;
  /** pg_last_wal_receive_lsn(). */
  receiveLsn: string | null;
  /** Commit time of the last transaction replayed; null before the first. */
  lastReplayAt: Date | null;
  /** WAL received and waiting for replay, in bytes (0 on a primary; never negative; not the start of a record still incomplete). */
  pendingBytes: number;
  /** WAL replay paused (pg_wal_replay_pause()). */
  replayPaused: boolean;
  /** The WAL receiver: streaming, `stopped` (no receiver, or not streaming), `unknown` (its details are hidden from this role). */
  receiver: 'streaming' | 'stopped' | 'unknown' | null;
  /** host:port of the server it streams from, when known. */
  upstream: string | null;
  /** The primary's WAL end as the standby last heard of it, and when the primary sent it. */
  primaryLsn: string | null;
  primaryLsnSentAt: Date | null;
  /** primaryLsn minus the replayed position (≥ 0); null when the primary's position is not known. */
  behindBytes: number | null;
  /**
   * The standby is at least this far behind in time (now minus when the newest WAL waiting for
   * replay was sent; 0 when none waits); null when that is not known (no receiver details).
   */
  behindAtLeastMs: number | null;
  /** The age of the last replayed commit while WAL waits: the standby is at most this far behind (0 when none waits). */
  behindAtMostMs: number | null;
}

/** Reads the position of the server `sql` is connected to (one statement; inside a transaction too). */
export async function readServerPosition(sql: postgres.Sql | postgres.TransactionSql): Promise<ServerPosition> {
  const [r] = await sql<
    {
      standby: boolean;
      host: string | null;
      port: string;
      replay: string | null;
      receive: string | null;
      at: Date | null;
      pending: number | null;
      paused: string | null;
      has_receiver: boolean;
      status: string | null;
      upstream: string | null;
      primary_lsn: string | null;
      sent_at: Date | null;
      behind: number | null;
      since_sent_ms: number | null;
      since_commit_ms: number | null;
      startup_wait: string | null;
    }[]
  >`
    SELECT pg_is_in_recovery() AS standby, host(inet_server_addr()) AS host, current_setting('port') AS port,
           pg_last_wal_replay_lsn()::text AS replay, pg_last_wal_receive_lsn()::text AS receive,
           pg_last_xact_replay_timestamp() AS at,
           pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8 AS pending,
           CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END AS paused,
           w.pid IS NOT NULL AS has_receiver, w.status,
           w.sender_host || ':' || w.sender_port AS upstream,
           w.latest_end_lsn::text AS primary_lsn, w.latest_end_time AS sent_at,
           pg_wal_lsn_diff(w.latest_end_lsn, pg_last_wal_replay_lsn())::float8 AS behind,
           (extract(epoch FROM clock_timestamp() - w.latest_end_time) * 1000)::float8 AS since_sent_ms,
           (extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::float8 AS since_commit_ms,
           (SELECT wait_event FROM pg_stat_activity WHERE backend_type = 'startup') AS startup_wait
      FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver w ON true`;
  const host = `${r.host ?? 'local socket'}:${r.port}`;
  if (!r.standby) {
    return { role: 'primary', host, replayLsn: null, receiveLsn: null, lastReplayAt: null, pendingBytes: 0, replayPaused: false, receiver: null, upstream: null, primaryLsn: null, primaryLsnSentAt: null, behindBytes: null, behindAtLeastMs: null, behindAtMostMs: null };
  }
  // Replay has taken every complete record it has: what was received beyond is the start of one.
  const replayWaitsForWal = r.startup_wait === 'RecoveryWalStream' || r.startup_wait === 'RecoveryRetrieveRetryInterval';
  const received = Math.max(0, r.pending ?? 0);
  const pendingBytes = replayWaitsForWal ? 0 : received;
  const behindBytes = r.behind === null ? null : Math.max(0, r.behind - (replayWaitsForWal ? received : 0), pendingBytes);
  const waiting = (behindBytes ?? pendingBytes) > 0;
  const receiver = !r.has_receiver ? 'stopped' : r.status === null ? 'unknown' : r.status === 'streaming' ? 'streaming' : 'stopped';
  return {
    role: 'standby',
    host,
    replayLsn: r.replay,
    receiveLsn: r.receive,
    lastReplayAt: r.at,
    pendingBytes,
    replayPaused: r.paused !== null && r.paused !== 'not paused',
    receiver,
    upstream: r.upstream,
    primaryLsn: r.primary_lsn,
    primaryLsnSentAt: r.sent_at,
    behindBytes,
    behindAtLeastMs: !waiting ? 0 : r.since_sent_ms === null ? null : Math.max(0, r.since_sent_ms),
    behindAtMostMs: !waiting ? 0 : r.since_commit_ms === null ? null : Math.max(0, r.since_commit_ms),
  };
}

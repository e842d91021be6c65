/**
 * Replication: what a primary with hot standbys (a pg_auto_failover formation, Patroni, or plain
 * streaming replication) needs watched. Run against the primary, the doctor reads
 * pg_stat_replication, pg_replication_slots, synchronous_standby_names and pg_stat_archiver; run
 * against a standby, it reads the standby's own replay position. A server with no replication at
 * all is `ok` everywhere ("no standby") so that `doctor` stays quiet on a single server.
 *
 * Sources of the thresholds (src/doctor/thresholds.ts): Crunchy Data pgMonitor's alerts
 * (`PGReplicationByteLag` warns at 50 MB and is critical at 100 MB; `PGReplicationSlotsInactive`);
 * the PostgreSQL manual (synchronous replication: commits wait until a synchronous standby
 * confirms; pg_replication_slots.wal_status `unreserved`/`lost`; pg_stat_archiver).
 */
import type { CheckFamily, DoctorContext, Finding } from '../types.js';
import { bytes, duration, names, plural } from '../format.js';
import { SPLIT_BRAIN_REMEDY } from '../../db/writable.js';
import { readServerPosition, type ServerPosition } from '../../db/server-position.js';

/** The role of the server the doctor's session is on. */
export async function serverRole(sql: DoctorContext['sql']): Promise<'primary' | 'standby'> {
  const [{ standby }] = await sql<{ standby: boolean }[]>`SELECT pg_is_in_recovery() AS standby`;
  return standby ? 'standby' : 'primary';
}

interface StandbyRow {
  name: string;
  client: string;
  state: string;
  sync_state: string;
  replay_lag_bytes: number | null;
  replay_lag_ms: number | null;
}

async function standbys(ctx: DoctorContext): Promise<StandbyRow[]> {
  return ctx.sql<StandbyRow[]>`
    SELECT application_name AS name,
           coalesce(host(client_addr) || ':' || client_port, 'local') AS client,
           coalesce(state, 'unknown') AS state, coalesce(sync_state, 'unknown') AS sync_state,
           pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS replay_lag_bytes,
           (extract(epoch FROM replay_lag) * 1000)::float8 AS replay_lag_ms
      FROM pg_stat_replication
     ORDER BY application_name`;
}

/** With several hosts in the URL: each host's role; two primaries fail (split brain), an unreachable host warns. */
async function everyHost(ctx: DoctorContext): Promise<Finding | undefined> {
  if (ctx.embedded || !ctx.handle.url || !/^postgres(?:ql)?:\/\/[^/?]*,/.test(ctx.handle.url)) return undefined;
  const [{ hostRoles, primariesOf }, { targetOrigin }, { settingOf }] = await Promise.all([import('../../db/host-roles.js'), import('../../db/connection.js'), import('../../db/errors.js')]);
  const origin = targetOrigin(ctx.handle.config);
  const hosts = await hostRoles(ctx.handle.url, origin);
  // One server listed twice (a name and its address) is one primary, not two.
  const primaries = primariesOf(hosts);
  const unreachable = hosts.filter((h) => h.role === 'unreachable');
  const status = primaries.length > 1 ? 'fail' : unreachable.length || primaries.length === 0 ? 'warn' : 'ok';
  return {
    status,
    figure: hosts.map((h) => `${h.host} ${h.role}${h.sameAs ? ` (the same server as ${h.sameAs})` : ''}`).join(', '),
    remedy:
      primaries.length > 1
        ? `two hosts accept writes: ${SPLIT_BRAIN_REMEDY}`
        : status === 'ok'
          ? ''
          : `bring the unreachable host back, or take it out of the host list (${settingOf(origin.source, 'host', origin.settings)}); with no primary, writes fail until a failover completes`,
    rows: hosts.map((h) => ({ host: h.host, role: h.role, ...(h.error ? { error: h.error } : {}), ...(h.sameAs ? { same_as: h.sameAs } : {}) })),
  };
}

async function role(ctx: DoctorContext): Promise<Finding> {
  const hosts = await everyHost(ctx);
  if (hosts) return hosts;
  const r = await serverRole(ctx.sql);
  const [h] = await ctx.sql<{ host: string | null; port: string }[]>`SELECT host(inet_server_addr()) AS host, current_setting('port') AS port`;
  const self = `${h.host ?? 'local socket'}:${h.port}`;
  if (r === 'standby') {
    const [s] = await ctx.sql<{ sender: string | null; status: string | null }[]>`
      SELECT sender_host || ':' || sender_port AS sender, status FROM pg_stat_wal_receiver`;
    return {
      status: 'ok',
      figure: `${self} is a standby (in recovery)${s?.sender ? `, streaming from ${s.sender} (${s.status})` : ', not streaming from any primary'}`,
      remedy: '',
      rows: [{ host: self, role: 'standby', upstream: s?.sender ?? null, receiver: s?.status ?? null }],
    };
  }
  const rows = await standbys(ctx);
  return {
    status: 'ok',
    figure: rows.length ? `${self} is a primary with ${plural(rows.length, 'standby', 'standbys')}: ${names(rows.map((s) => `${s.name} at ${s.client} (${s.state}, ${s.sync_state})`))}` : `${self} is a primary with no standby`,
    remedy: '',
    rows: [{ host: self, role: 'primary' }, ...rows.map((s) => ({ host: s.client, role: 'standby', name: s.name, state: s.state, sync_state: s.sync_state }))],
  };
}

async function lag(ctx: DoctorContext): Promise<Finding> {
  const t = ctx.thresholds;
  const p = await readServerPosition(ctx.sql);
  if (p.role === 'standby') return standbyLag(p, t);
  const rows = await standbys(ctx);
  if (rows.length === 0) return { status: 'ok', figure: 'no standby connected', remedy: '', rows: [] };
  const worstBytes = Math.max(...rows.map((r) => r.replay_lag_bytes ?? 0));
  const worstMs = Math.max(...rows.map((r) => r.replay_lag_ms ?? 0));
  const status =
    worstBytes > t.replicationLagFailBytes || worstMs > t.replicationLagFailMs ? 'fail' : worstBytes > t.replicationLagWarnBytes || worstMs > t.replicationLagWarnMs ? 'warn' : 'ok';
  return {
    status,
    figure: names(rows.map((r) => `${r.name} ${bytes(r.replay_lag_bytes ?? 0)} / ${duration(r.replay_lag_ms ?? 0)} behind`)),
    remedy: status === 'ok' ? '' : 'a lagging standby loses those commits in a failover: check its disk and network, and long queries on it',
    rows: rows.map((r) => ({ standby: r.name, client: r.client, state: r.state, sync_state: r.sync_state, replay_lag_bytes: r.replay_lag_bytes ?? 0, replay_lag_seconds: (r.replay_lag_ms ?? 0) / 1000 })),
  };
}

/**
 * On a standby (src/db/server-position.ts): the WAL it has not replayed, in bytes and in time. The
 * time is a range: the newest WAL waiting was sent `behindAtLeastMs` ago, the last replayed commit
 * is `behindAtMostMs` old (on a primary idle before its last write that counts the idle time, which
 * is not lag). The verdict goes by the lower bound, the one the standby can vouch for; the primary's
 * pg_stat_replication (doctor on the primary) has the exact figure. A standby that does not stream,
 * or whose replay is paused, warns: it falls behind by whatever the primary writes.
 */
function standbyLag(p: ServerPosition, t: DoctorContext['thresholds']): Finding {
  const behind = p.behindBytes ?? p.pendingBytes;
  const lo = p.behindAtLeastMs;
  const hi = p.behindAtMostMs;
  const ms = lo ?? hi ?? 0;
  let status: Finding['status'] = behind > t.replicationLagFailBytes || ms > t.replicationLagFailMs ? 'fail' : behind > t.replicationLagWarnBytes || ms > t.replicationLagWarnMs ? 'warn' : 'ok';
  if (status === 'ok' && (p.receiver === 'stopped' || p.replayPaused)) status = 'warn';
  const lastCommit = p.lastReplayAt ? `the last commit it replayed was made at ${p.lastReplayAt.toISOString()}` : 'it has replayed no commit yet';
  const parts: string[] = [];
  if (p.receiver === 'stopped') {
    parts.push(`this standby is not streaming from a primary: it has replayed WAL up to ${p.replayLsn} and ${lastCommit}; it falls behind by whatever the primary writes`);
  } else {
    parts.push(`this standby has ${bytes(p.pendingBytes)} received and not yet replayed`);
    if (p.behindBytes !== null && p.behindBytes > p.pendingBytes) parts.push(`${bytes(p.behindBytes)} behind its primary's WAL`);
    if (behind > 0) {
      if (lo !== null && hi !== null && Math.round(hi / 1000) > Math.round(lo / 1000)) parts.push(`between ${duration(lo)} and ${duration(hi)} behind (the primary's pg_stat_replication has the exact figure)`);
      else if (lo !== null || hi !== null) parts.push(`${duration(ms)} behind`);
    }
  }
  if (p.replayPaused) parts.push('WAL replay is paused');
  const remedy =
    status === 'ok'
      ? ''
      : p.receiver === 'stopped'
        ? 'check that its primary runs and lets it connect (primary_conninfo, pg_hba.conf, the replication slot): cmmc-db doctor replication on the primary lists the standbys streaming from it'
        : p.replayPaused
          ? 'resume WAL replay on the standby: SELECT pg_wal_replay_resume()'
          : 'look for long queries on the standby holding replay back (max_standby_streaming_delay) and for I/O pressure';
  return {
    status,
    figure: parts.join(', '),
    remedy,
    rows: [
      {
        replay_lag_bytes: behind,
        replay_lag_seconds: ms / 1000,
        ...(hi !== null && lo !== null && hi > lo ? { replay_lag_seconds_at_most: hi / 1000 } : {}),
        pending_bytes: p.pendingBytes,
        streaming: p.receiver === 'streaming' ? true : p.receiver === 'stopped' ? false : null,
        replay_paused: p.replayPaused,
      },
    ],
  };
}

async function slots(ctx: DoctorContext): Promise<Finding> {
  const primary = (await serverRole(ctx.sql)) === 'primary';
  const rows = await ctx.sql<{ slot: string; type: string; active: boolean; wal_status: string | null; retained: number | null }[]>`
    SELECT slot_name AS slot, slot_type AS type, active, wal_status,
           pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END, restart_lsn)::float8 AS retained
      FROM pg_replication_slots ORDER BY slot_name`;
  if (rows.length === 0) return { status: 'ok', figure: 'no replication slot', remedy: '', rows: [] };
  const [{ max_wal }] = await ctx.sql<{ max_wal: number }[]>`SELECT pg_size_bytes(current_setting('max_wal_size'))::float8 AS max_wal`;
  const limit = ctx.thresholds.slotRetainedBytes || max_wal;
  const lost = rows.filter((r) => r.wal_status === 'lost' || r.wal_status === 'unreserved');
  const retaining = rows.filter((r) => (r.retained ?? 0) > limit);
  // A standby keeps the slots its peers will need after a failover (pg_auto_failover advances
  // them itself): inactive there is normal.
  const inactive = primary ? rows.filter((r) => !r.active) : [];
  const status = lost.length || retaining.length ? 'fail' : inactive.length ? 'warn' : 'ok';
  const parts: string[] = [];
  if (lost.length) parts.push(`${names(lost.map((r) => r.slot))} ${lost.length === 1 ? 'has' : 'have'} lost or unreserved WAL`);
  if (retaining.length) parts.push(`${names(retaining.map((r) => `${r.slot} retains ${bytes(r.retained ?? 0)}`))} (over ${bytes(limit)})`);
  if (inactive.length) parts.push(`${plural(inactive.length, 'inactive slot')}: ${names(inactive.map((r) => `${r.slot} retains ${bytes(r.retained ?? 0)}`))}`);
  return {
    status,
    figure: parts.length ? parts.join('; ') : `${plural(rows.length, 'slot')}, all ${primary ? 'active' : 'kept for failover'}, none retaining over ${bytes(limit)}`,
    remedy:
      status === 'ok' ? '' : 'bring the standby that uses the slot back, or drop the slot (SELECT pg_drop_replication_slot(name)) if that standby is gone for good: a slot keeps WAL until the disk fills',
    rows: rows.map((r) => ({ slot: r.slot, type: r.type, active: r.active, wal_status: r.wal_status, retained_bytes: r.retained ?? 0 })),
  };
}

async function synchronous(ctx: DoctorContext): Promise<Finding> {
  if ((await serverRole(ctx.sql)) === 'standby') {
    return { status: 'ok', figure: 'this host is a standby: the synchronous standby is checked on the primary', remedy: '' };
  }
  const [{ names: configured }] = await ctx.sql<{ names: string }[]>`SELECT current_setting('synchronous_standby_names') AS names`;
  const rows = await standbys(ctx);
  const sync = rows.filter((r) => (r.sync_state === 'sync' || r.sync_state === 'quorum') && r.state === 'streaming');
  if (!configured) {
    return {
      status: 'ok',
      figure: rows.length ? `asynchronous replication (synchronous_standby_names is empty) to ${plural(rows.length, 'standby', 'standbys')}` : 'no synchronous standby configured (no replication)',
      remedy: '',
      rows: [],
    };
  }
  if (sync.length === 0) {
    return {
      status: 'fail',
      figure: `synchronous_standby_names = '${configured}' but no synchronous standby is connected: commits wait`,
      remedy: 'start the standby, or let the failover manager drop it from synchronous_standby_names (pg_auto_failover does within about 20 s)',
      rows: rows.map((r) => ({ standby: r.name, state: r.state, sync_state: r.sync_state })),
    };
  }
  return {
    status: 'ok',
    figure: `${names(sync.map((r) => `${r.name} (${r.sync_state})`))} connected for synchronous_standby_names = '${configured}'`,
    remedy: '',
    rows: rows.map((r) => ({ standby: r.name, state: r.state, sync_state: r.sync_state })),
  };
}

async function archiving(ctx: DoctorContext): Promise<Finding> {
  const [a] = await ctx.sql<{ mode: string; command: string; library: string; archived: number; failed: number; last_archived: Date | null; last_failed: Date | null; last_wal: string | null }[]>`
    SELECT current_setting('archive_mode') AS mode, current_setting('archive_command') AS command,
           coalesce(current_setting('archive_library', true), '') AS library,
           archived_count::float8 AS archived, failed_count::float8 AS failed,
           last_archived_time AS last_archived, last_failed_time AS last_failed, last_failed_wal AS last_wal
      FROM pg_stat_archiver`;
  if (a.mode === 'off') return { status: 'ok', figure: 'WAL archiving is off', remedy: '' };
  const row = { archive_mode: a.mode, archived: a.archived, failed: a.failed, last_archived: a.last_archived, last_failed: a.last_failed };
  if (!a.command && !a.library) {
    return { status: 'fail', figure: `archive_mode = ${a.mode} with no archive_command: WAL piles up in pg_wal`, remedy: 'set archive_command (cmmc-db backup pitr prints one) or archive_mode = off', rows: [row] };
  }
  if (a.last_failed && (!a.last_archived || a.last_failed > a.last_archived)) {
    return {
      status: 'fail',
      figure: `the last archive attempt failed (${a.last_wal}, ${a.failed} failures in all); WAL is kept in pg_wal until it succeeds`,
      remedy: 'run the archive_command by hand on that file as the postgres user and fix what it says',
      rows: [row],
    };
  }
  return { status: 'ok', figure: `archiving (${a.mode}): ${a.archived} files archived, ${a.failed} failures, last ${a.last_archived?.toISOString() ?? 'never'}`, remedy: '', rows: [row] };
}

export const replicationFamily: CheckFamily = {
  name: 'replication',
  checks: [
    { id: 'replication.role', title: 'the role of the host (primary or standby) and its standbys', needsServer: true, run: role },
    { id: 'replication.lag', title: 'standby replay lag in bytes and seconds', needsServer: true, run: lag },
    { id: 'replication.slots', title: 'replication slots inactive or retaining WAL', needsServer: true, run: slots },
    { id: 'replication.synchronous', title: 'synchronous standby configured and connected', needsServer: true, run: synchronous },
    { id: 'replication.archiving', title: 'WAL archiving, when configured', needsServer: true, run: archiving },
  ],
};

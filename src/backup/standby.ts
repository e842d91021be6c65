/**
 * `backup --from-standby`: pg_dump runs against a hot standby to spare the primary. The target is
 * asked for with `target_session_attrs=standby` (libpq 14+ and postgres.js both read it; with a
 * formation's multi-host URL it picks the standby), then checked: the session must be in recovery.
 * The manifest records that the backup came from a standby and the WAL position the standby had
 * replayed when the dump started (pg_dump's snapshot is taken right after, so the dump holds at
 * least every commit up to that position).
 *
 * A long dump on a standby can be cancelled when WAL replay needs what the dump holds (a
 * "conflict with recovery"); the remedy is on the standby: `max_standby_streaming_delay` (how long
 * replay waits for queries) or `hot_standby_feedback` (the primary keeps the rows the standby's
 * queries still see).
 */
import type { CmmcConfig } from '../config/config.js';
import { redactUrl } from '../config/config.js';
import { openDatabase } from '../db/connection.js';
import { readServerPosition, type ServerPosition } from '../db/server-position.js';
import { CmmcError } from '../errors.js';
import { BACKUP_SESSION } from './dump.js';
import { formatBytes } from './store.js';

/** What the manifest records about a backup taken from a standby (with --from-standby, or a standby the URL led to). */
export interface StandbySource {
  role: 'standby';
  /** host:port of the standby (never a password). */
  host: string;
  /** pg_last_wal_replay_lsn() when the dump started, for example `0/3000148`. */
  walReplayLsn: string;
  /** pg_last_wal_receive_lsn(): WAL received, possibly not replayed yet (null when not streaming). */
  walReceiveLsn: string | null;
  /** Commit time of the last transaction replayed (ISO 8601), null before the first. */
  lastReplayAt: string | null;
  /** Whether it streamed from its primary when the dump started; null when this role may not see (pg_read_all_stats). */
  streaming: boolean | null;
  /** The primary's WAL position as the standby last heard of it; null when not known. */
  primaryWalLsn: string | null;
  /** WAL the primary had written that the dump lacks (primaryWalLsn minus walReplayLsn); null when not known. */
  behindBytes: number | null;
  /** WAL replay was paused on the standby. */
  replayPaused: boolean;
}

/** The manifest's record of a standby's position (src/db/server-position.ts). */
export function standbySourceOf(p: ServerPosition): StandbySource {
  return {
    role: 'standby',
    host: p.host,
    walReplayLsn: p.replayLsn ?? '0/0',
    walReceiveLsn: p.receiveLsn,
    lastReplayAt: p.lastReplayAt ? p.lastReplayAt.toISOString() : null,
    streaming: p.receiver === 'streaming' ? true : p.receiver === 'stopped' ? false : null,
    primaryWalLsn: p.primaryLsn,
    behindBytes: p.behindBytes,
    replayPaused: p.replayPaused,
  };
}

/**
 * The lines to tell about a backup taken from a standby: that it is one (when the user did not ask
 * for a standby: a URL whose first host is a standby, with target_session_attrs unset), and what
 * it lacks when the standby was behind its primary, did not stream, or had its replay paused.
 */
export function standbyNotes(source: StandbySource, asked: boolean): string[] {
  const notes: string[] = [];
  const replayed = `it holds the commits replayed up to WAL ${source.walReplayLsn}${source.lastReplayAt ? ` (the last made at ${source.lastReplayAt})` : ''}`;
  if (!asked) notes.push(`${source.host} is a standby, not the primary: this backup was taken there (the first host of the URL that answered) and ${replayed}; for the primary, add target_session_attrs=read-write to the URL`);
  if (source.streaming === false) notes.push(`standby ${source.host} was not streaming from its primary: commits made on the primary since WAL ${source.walReplayLsn} are not in this backup, however many there are`);
  else if (source.behindBytes) notes.push(`standby ${source.host} was ${formatBytes(source.behindBytes)} of WAL behind its primary (${source.primaryWalLsn}): the commits in that WAL are not in this backup`);
  if (source.replayPaused) notes.push(`WAL replay is paused on standby ${source.host}: resume it with SELECT pg_wal_replay_resume()`);
  return notes;
}

/** `url` with `target_session_attrs=standby` (replacing any other value). Works on multi-host URLs. */
export function standbyUrl(url: string): string {
  const [base, query = ''] = url.split(/\?(.*)$/s, 2);
  const params = query
    .split('&')
    .filter((p) => p && !/^target_session_attrs=/i.test(p));
  params.push('target_session_attrs=standby');
  return `${base}?${params.join('&')}`;
}

/** The configuration pointed at a standby of the configured server(s). */
export function standbyConfig(config: CmmcConfig): CmmcConfig {
  if (config.kind === 'embedded' || !config.url) {
    throw new CmmcError('backup.from-standby', '--from-standby needs a PostgreSQL server with a hot standby, not the embedded database', {
      hint: 'set DATABASE_URL to the formation URL (pg_autoctl show uri) or to the standby',
      exitCode: 2,
    });
  }
  return { ...config, url: standbyUrl(config.url) };
}

/** Reads where the standby is; fails in one line when the session is on a primary or no standby answers. */
export async function readStandbySource(config: CmmcConfig): Promise<StandbySource> {
  let handle;
  try {
    handle = await openDatabase(config, { ...BACKUP_SESSION, applicationName: 'cmmc-db:backup' });
  } catch (err) {
    // postgres.js ends a session whose server does not match target_session_attrs (CONNECTION_DESTROYED).
    const reason = (err as Error).message.split('\n')[0];
    throw new CmmcError('backup.no-standby', `no standby answered at ${redactUrl(config.url ?? '')}: each host is a primary or did not answer (${reason})`, {
      hint: 'check that the standby runs and is listed in the URL, or back up the primary without --from-standby',
    });
  }
  try {
    const p = await readServerPosition(handle.sql);
    if (p.role !== 'standby' || !p.replayLsn) {
      throw new CmmcError('backup.not-standby', `${p.host} is a primary, not a standby: --from-standby backs up a hot standby only`, {
        hint: 'point the URL at the standby (or at the formation: pg_autoctl show uri), or leave out --from-standby',
      });
    }
    return standbySourceOf(p);
  } finally {
    await handle.close();
  }
}

/** The hint for a dump cancelled by WAL replay on the standby, or undefined when that is not what happened. */
export function recoveryConflictHint(message: string): string | undefined {
  if (!/conflict with recovery|canceling statement due to conflict|User (was|query might have) /i.test(message)) return undefined;
  return "WAL replay on the standby cancelled pg_dump: on the standby, raise max_standby_streaming_delay (for example to -1 while backups run) or set hot_standby_feedback = on, then run the backup again";
}

/**
 * `current` and `status` read the version table of whichever host the URL reaches: on a
 * standby it is the primary's as of the WAL the standby has replayed, which may be behind (replay
 * paused, a query holding it back, the standby cut off from its primary). Said on stderr, once,
 * with how far behind the standby knows itself to be (src/db/server-position.ts).
 */
import type { DbHandle } from '../db/connection.js';
import type { CliContext } from './context.js';

/** Says so when `handle`'s session is on a standby (a warning when it is behind); nothing on a primary or the embedded database. */
export async function noteIfStandby(ctx: CliContext, handle: DbHandle): Promise<void> {
  if (handle.config.kind !== 'server') return;
  const [{ readServerPosition }, { formatBytes }] = await Promise.all([import('../db/server-position.js'), import('../backup/store.js')]);
  const p = await readServerPosition(handle.sql);
  if (p.role !== 'standby') return;
  const behind =
    p.receiver === 'stopped'
      ? ', not streaming from its primary'
      : p.behindBytes
        ? `, ${formatBytes(p.behindBytes)} of WAL behind its primary`
        : '';
  const line = `read on standby ${p.host}: its version table is the primary's as of the WAL it has replayed (up to ${p.replayLsn}${behind}${p.replayPaused ? ', replay paused' : ''}); the primary may be ahead`;
  // Caught up and streaming: said; behind, cut off or paused: warned.
  if (behind || p.replayPaused) ctx.out.warn(line);
  else ctx.out.info(line);
}

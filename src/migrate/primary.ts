/**
 * A run that writes (upgrade, downgrade, stamp) needs its session on a writable primary. Right
 * after a failover there is none for a moment: the old primary is gone or read-only, and the new
 * one refuses writes (25006) for about a second after its promotion (measured with pg_auto_failover,
 * docs/high-availability.md). So the connection, never a revision, is retried until a session is
 * on a server that is out of recovery and not read-only, for at most PRIMARY_WAIT_MS. Once a run
 * has started, a lost session ends it (the engine's one-line error names what was applied); the next
 * run starts from the version table.
 */
import type { DbHandle } from '../db/connection.js';
import { isConnectionLost } from '../db/errors.js';
import { NotWritable, whyNotWritable } from '../db/writable.js';
import { CmmcError } from '../errors.js';

/**
 * How long to wait for a writable primary: pg_auto_failover's monitor takes about 20 s to notice a
 * lost primary and a planned failover completes in 1-4 s; a minute covers both with room.
 */
export const PRIMARY_WAIT_MS = 60_000;
const POLL_MS = 250;

/**
 * Connection failures worth retrying during a failover (not authentication, names or TLS). With
 * target_session_attrs=read-write or primary (the formation's URL) every host is a standby for a
 * moment while one is promoted: `connect.session-attrs` is then waited for like a standby. With
 * several hosts, a database missing at the host that answered is waited for too: a standby listed
 * first lacks a database the primary made a moment ago until it has replayed it, and the connect
 * ends at its refusal, as libpq's.
 */
const RETRYABLE = new Set(['connect.refused', 'connect.timeout', 'connect.hosts', 'connect.starting', 'connect.closed', 'connect.lost', 'connect.database']);
/** Of those, the ones waited for only when the URL lists several hosts (the server is not there at all, or not this database yet). */
const UNREACHABLE = new Set(['connect.refused', 'connect.timeout', 'connect.hosts', 'connect.closed', 'connect.lost', 'connect.database']);

export interface PrimaryWaitOptions {
  waitMs?: number;
  /**
   * Whether a server that cannot be reached at all (refused, timed out, closed) is waited for
   * (default true). With one host only, nothing else can become the primary meanwhile: a refused
   * connection is a server that is down, said at once rather than after the whole wait. A standby
   * or a server starting up is waited for either way (it may be promoted, or come up).
   */
  waitForUnreachable?: boolean;
  /** Called once, when the first attempt did not land on a writable primary. */
  onWait?: (reason: string, waitMs: number) => void;
}

/** Why a session cannot write, or undefined when it can (checked already when it was opened with `writes`). */
async function notWritable(handle: DbHandle): Promise<string | undefined> {
  return handle.primary ? undefined : (await whyNotWritable(handle.sql))?.reason;
}

function retryable(err: unknown, waitForUnreachable: boolean): boolean {
  if (err instanceof NotWritable) return err.waitable;
  // A target asking for a standby (target_session_attrs=standby) is not waited for: no primary will do.
  if (err instanceof CmmcError && err.code === 'connect.session-attrs') return ['read-write', 'primary'].includes((err.cause as { attrs?: string } | undefined)?.attrs ?? '');
  if (err instanceof CmmcError) return RETRYABLE.has(err.code) && (waitForUnreachable || !UNREACHABLE.has(err.code));
  if (!waitForUnreachable && isConnectionLost(err)) return false;
  const code = (err as { code?: string })?.code;
  return code === '25006' || isConnectionLost(err);
}

/**
 * Opens with `open` until the session is on a writable primary; returns that handle. Other handles
 * are closed. Throws the connection's own error when it is not one a failover causes, and a
 * CmmcError `migrate.no-primary` when the wait runs out.
 */
export async function openWritablePrimary(open: () => Promise<DbHandle>, options: PrimaryWaitOptions = {}): Promise<DbHandle> {
  const waitMs = options.waitMs ?? PRIMARY_WAIT_MS;
  const unreachable = options.waitForUnreachable ?? true;
  const deadline = Date.now() + waitMs;
  let told = false;
  // Once a server has answered as a standby, one that closes or refuses a connection meanwhile is
  // changing role (a promotion, a manager restarting it): waited for, even with one host listed.
  let answered = false;
  for (;;) {
    let reason: string;
    try {
      const handle = await open();
      answered = true;
      const why = await notWritable(handle).catch((err) => {
        if (retryable(err, unreachable || answered)) return (err as Error).message.split('\n')[0];
        throw err;
      });
      if (!why) return handle;
      reason = why;
      await handle.close();
    } catch (err) {
      if (!retryable(err, unreachable || answered)) throw err;
      if (err instanceof NotWritable || (err instanceof CmmcError && err.code === 'connect.session-attrs')) answered = true;
      reason = err instanceof NotWritable ? err.reason : (err as Error).message.split('\n')[0];
    }
    if (Date.now() >= deadline) {
      throw new CmmcError('migrate.no-primary', `no writable primary within ${Math.round(waitMs / 1000)} s: ${reason}; nothing was run`, {
        hint: 'point the URL at the primary, or list every host of the pair (a failover in progress ends within seconds); "cmmc-db health" shows each host and its role',
      });
    }
    if (!told) {
      told = true;
      options.onWait?.(reason, waitMs);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

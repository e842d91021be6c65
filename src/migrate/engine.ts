/**
 * Online runs: upgrade, downgrade and stamp against a database, with Alembic 1.8's walks
 * (src/revision/revision-map.ts) and version-table changes.
 *
 * Safety, in order: one session-level advisory lock for the whole run, on ONE reserved connection,
 * so that the lock, the timeouts and every transaction share a session; the plan is made under the
 * lock and before anything is created, so a refused run leaves an empty database empty; each
 * revision in its own transaction together with its version-table change (row counts checked) and
 * its revision-log row; after each revision the session is cleaned (whatever the revision SET does
 * not reach the next one) and the engine's timeouts are set again. A failing revision is rolled
 * back alone; the run returns a result naming the steps applied and the step that failed
 * (`migrate`), or throws it (`runUpgrade`...), as the caller prefers.
 */
import type { Kysely } from 'kysely';
import type postgres from 'postgres';
import type { DbHandle } from '../db/connection.js';
import { advisoryLockHolder } from '../db/advisory-lock.js';
import { connectionLostError, sqlStateFix } from '../db/errors.js';
import { CmmcError, errorText } from '../errors.js';
import { interruptSignal, wasInterrupted } from '../interrupt.js';
import type { PlannedStep } from '../revision/graph.js';
import type { VersionOp } from '../revision/revision-map.js';
import { executeStatement, type StatementTarget } from '../sql/execute.js';
import { literal, stripComments, tokens, type SqlStatement } from '../sql/lexer.js';
import { catchRevisionErrors, refuseUnknown } from './errors.js';
import { changedFiles, engineTablesSql, readEngineState, readVersionRows, type EngineTables, type RunQuery } from './status.js';
import { loadScript, type Revision, type Script } from './script.js';
import { appliedByExpression, bootstrapStatements, lockKey, logInsert, metaNames, type MetaConfig } from './version-store.js';
import { describeBlocker, watchLockWait, type LockWait } from '../db/lock-wait.js';

export type Operation = 'upgrade' | 'downgrade' | 'stamp';

/** What the engine reports while it runs; the CLI renders it (the engine never writes to the terminal). */
export type EngineEvent =
  | { type: 'lock-wait'; heldBy: number | null }
  | { type: 'step-start'; revision: Revision; operation: Operation }
  /** The step's COMMIT is about to be sent: from now on a lost connection leaves its outcome unknown. Not awaited. */
  | { type: 'step-commit'; revision: Revision; operation: Operation }
  | { type: 'step-done'; revision: Revision; operation: Operation; durationMs: number }
  /**
   * The step has waited a second or more for a lock other sessions hold (on a server; said again when
   * they change). While it waits, every later query on those tables queues behind it.
   */
  | ({ type: 'step-lock-wait'; revision: Revision; operation: Operation } & LockWait);

export interface RunOptions {
  /** Run even if an applied revision's file changed since it was applied. */
  allowChanged?: boolean;
  /** SET lock_timeout / statement_timeout on the reserved session (ms; 0 = none). Default: the configuration's. */
  lockTimeoutMs?: number;
  statementTimeoutMs?: number;
  /** A script already loaded (default: loaded from handle.config.migrationsDir). */
  script?: Script;
  onEvent?: (event: EngineEvent) => void | Promise<void>;
  /** stamp only: delete every version row first, even ones no file declares. */
  purge?: boolean;
}

export interface StepResult {
  revision: string;
  file: string;
  message: string;
  operation: Operation;
  durationMs: number;
}

/** The step that failed: which revision, and the error as the CLI shows it. */
export interface FailedStep {
  revision: string;
  file: string;
  operation: Operation;
  error: { code: string; message: string; hint?: string; sqlState?: string };
}

export interface RunResult {
  operation: Operation;
  target: string;
  /**
   * `ok`; `failed` when a step failed (the steps before it stay applied); `interrupted` when the run
   * was interrupted (src/interrupt.ts) in a step, whose error then has the code `interrupted`.
   */
  status: 'ok' | 'failed' | 'interrupted';
  /** Version rows before and after. */
  from: string[];
  to: string[];
  /** The steps applied (committed), in order. */
  steps: StepResult[];
  failed?: FailedStep;
  /**
   * Applied revisions whose file changed since they were applied, when the run went ahead anyway:
   * nothing to upgrade, `allowChanged`, or a downgrade (which runs the file's down section as it is now).
   */
  changed?: { revision: string; file: string }[];
  /**
   * Of `changed`, those `allowChanged` accepted as they are now (an upgrade whose steps all
   * succeeded): their checksum is recorded again, so that `check` and the next upgrade stop naming them.
   */
  accepted?: { revision: string; file: string }[];
  totalMs: number;
}

/** A failed run as an error, carrying the run's result (`err.result`). */
export class MigrationFailedError extends CmmcError {
  constructor(
    readonly result: RunResult,
    cause: CmmcError,
  ) {
    super(cause.code, cause.message, { hint: cause.hint, exitCode: cause.exitCode, cause: cause.cause ?? cause });
  }
}

type Conn = Kysely<any>;

/**
 * Runs upgrade, downgrade or stamp and returns what happened: the steps applied, and the step that
 * failed with its error (status `failed`). Refusals before anything runs (an unknown target, a
 * changed file, the lock timeout) are thrown as CmmcError and leave the database untouched.
 */
export async function migrate(handle: DbHandle, operation: Operation, target: string | string[], options: RunOptions = {}): Promise<RunResult> {
  checkArguments(operation, target);
  const config = handle.config;
  const script = options.script ?? (await loadScript(config));
  const started = performance.now();
  const key = lockKey(config);
  const lockTimeout = options.lockTimeoutMs ?? config.lockTimeoutMs;
  const statementTimeout = options.statementTimeoutMs ?? config.statementTimeoutMs;
  const targets = Array.isArray(target) ? target : [target];
  const targetText = targets.join(' ');
  const reserved = await handle.sql.reserve();
  // Kysely is loaded only when a TypeScript revision runs (about 150 ms of CPU to load).
  let conn: Promise<Conn> | undefined;
  const q: RunQuery = async <T extends object>(text: string) => (await reserved.unsafe(text)) as unknown as T[];
  const timeoutsSql = [
    lockTimeout !== undefined ? ` SET lock_timeout = ${Math.max(0, Math.round(lockTimeout))};` : '',
    statementTimeout !== undefined ? ` SET statement_timeout = ${Math.max(0, Math.round(statementTimeout))};` : '',
  ].join('');
  try {
    const opened = await openRun(reserved, config, key, timeoutsSql);
    const settingsSql = (opened.checkInterval ? ' SET client_connection_check_interval = 1000;' : '') + timeoutsSql;
    const session: Session = {
      reserved,
      kysely: () => (conn ??= pinnedKysely(reserved)),
      target: config.kind === 'embedded' ? { kind: 'embedded', dir: config.embeddedDir } : { kind: 'server' },
      settingsSql,
      ...(config.kind === 'server' && opened.pid !== null ? { watch: { sql: handle.sql, pid: opened.pid, afterMs: lockTimeout ? Math.min(1000, Math.max(100, lockTimeout / 2)) : 1000 } } : {}),
    };
    let sessionLost = false;
    let state: RunState | undefined;
    if (!opened.locked) await acquireLock(reserved, key, lockTimeout, options);
    try {
      // Waited for the lock: the run that held it may have created the engine's tables meanwhile.
      const engine = await readEngineState(q, config, opened.locked ? opened.tables : undefined);
      const from = engine.current;
      const steps: StepResult[] = [];
      const run: RunState = { rows: from, unflushed: false, asyncCommits: opened.asyncCommits };
      state = run;
      let failed: FailedStep | undefined;
      try {
        if (operation === 'stamp') await stamp(session, config, script, targets, from, options, steps);
        else await runSteps(session, config, script, operation, targetText, from, engine.checksums, options, steps, run);
      } catch (err) {
        if (!(err instanceof StepFailure)) throw err;
        failed = err.failed;
      }
      // After a failure the connection may be gone: then the rows are those the committed steps left.
      // On a lost session no statement is tried at all: a second statement on a postgres.js reserved
      // connection whose socket is gone never settles (the process then exited 13 mid-failover).
      let accepted: { revision: string; file: string }[] = [];
      if (operation === 'upgrade' && options.allowChanged && !failed && run.changed?.length) {
        accepted = run.changed;
        await acceptChanged(reserved, config, script, accepted);
      }
      sessionLost = sessionGone(failed);
      const to = sessionLost
        ? [...run.rows].sort()
        : await readVersionRows(q, config).catch((err: unknown) => {
            if (failed) return [...run.rows].sort();
            throw err;
          });
      return { operation, target: targetText, status: !failed ? 'ok' : failed.error.code === 'interrupted' ? 'interrupted' : 'failed', from, to, steps, ...(failed ? { failed } : {}), ...(run.changed?.length ? { changed: run.changed } : {}), ...(accepted.length ? { accepted } : {}), totalMs: Math.round(performance.now() - started) };
    } finally {
      // A lost session released its advisory lock and its settings when it ended.
      if (!sessionLost) {
        // Revisions committed without waiting for the disk are made durable before the run ends.
        if (state?.unflushed) await flush(reserved, config).catch(() => {});
        await reserved`SELECT pg_advisory_unlock(${key.toString()}::bigint)`.catch(() => {});
        await cleanSession(reserved).catch(() => {});
      }
    }
  } finally {
    if (conn) await (await conn).destroy().catch(() => {});
    reserved.release();
  }
}

/**
 * `upgrade --allow-changed`: the applied files that changed are accepted as they are now: one
 * revision-log row each, operation `stamp` (recorded without running: the database keeps what the
 * earlier text did), with the file's checksum now, in one transaction under the run's lock. Without
 * it `check` named them for ever, though its hint said to upgrade with --allow-changed, which then
 * changed nothing.
 */
async function acceptChanged(reserved: postgres.ReservedSql, config: MetaConfig, script: Script, changed: { revision: string }[]): Promise<void> {
  const appliedBy = appliedByExpression();
  const rows = changed.map(({ revision }) => {
    const rev = script.graph.get(revision);
    return logInsert(config, { revision, operation: 'stamp', checksum: rev.checksum, file: rev.fileName, durationMs: 0 }, appliedBy);
  });
  try {
    await sendWithBookkeeping(reserved, ['BEGIN'], { before: [], version: [], after: rows });
    await reserved.unsafe('COMMIT');
  } catch (err) {
    await reserved.unsafe('ROLLBACK').catch(() => {});
    throw err;
  }
}

const OPERATIONS: readonly Operation[] = ['upgrade', 'downgrade', 'stamp'];

/**
 * What a JavaScript caller may pass that TypeScript would refuse, refused before anything runs: any
 * operation but upgrade and stamp was run as a downgrade.
 */
function checkArguments(operation: unknown, target: unknown): void {
  if (!OPERATIONS.includes(operation as Operation)) {
    throw new CmmcError('migrate.operation', `the operation ${JSON.stringify(operation) ?? String(operation)} is not one of ${OPERATIONS.join(', ')}`, {
      hint: "call migrate(handle, 'upgrade', 'head'), or runUpgrade, runDowngrade, runStamp",
      exitCode: 2,
    });
  }
  const targets = Array.isArray(target) ? target : [target];
  if (!targets.length || targets.some((t) => typeof t !== 'string')) {
    throw new CmmcError('migrate.operation', `the target ${JSON.stringify(target) ?? String(target)} is not a revision, a keyword or a list of them`, {
      hint: "name a revision, head, heads, base or a relative step such as -1 (a list for stamp)",
      exitCode: 2,
    });
  }
}

/** Applies revisions up to `target` (default `head`; `heads` for every branch). Throws MigrationFailedError when a step fails. */
export async function runUpgrade(handle: DbHandle, target = 'head', options: RunOptions = {}): Promise<RunResult> {
  return orThrow(await migrate(handle, 'upgrade', target, options));
}

/** Un-applies revisions down to `target` (`base`, an id, `-1`, `label@base`...). Throws MigrationFailedError when a step fails. */
export async function runDowngrade(handle: DbHandle, target: string, options: RunOptions = {}): Promise<RunResult> {
  return orThrow(await migrate(handle, 'downgrade', target, options));
}

/** Moves the version rows to `target` (one or several revisions) without running any revision. */
export async function runStamp(handle: DbHandle, target: string | string[], options: RunOptions = {}): Promise<RunResult> {
  return orThrow(await migrate(handle, 'stamp', target, options));
}

function orThrow(result: RunResult): RunResult {
  if (result.status === 'ok' || !result.failed) return result;
  const e = result.failed.error;
  throw new MigrationFailedError(result, new CmmcError(e.code, e.message, { hint: e.hint }));
}

/** A Kysely whose every connection is the one reserved session (TypeScript revisions run on it). */
async function pinnedKysely(reserved: postgres.ReservedSql): Promise<Conn> {
  const [{ Kysely }, { postgresJsDialect }] = await Promise.all([import('kysely'), import('../db/kysely-dialect.js')]);
  const shared = { unsafe: (text: string, params?: unknown[]) => reserved.unsafe(text, params as never[]), release: () => {} };
  return new Kysely<any>({ dialect: await postgresJsDialect({ postgres: (async () => ({ reserve: async () => shared, end: async () => {} })) as never }) });
}

async function acquireLock(reserved: postgres.ReservedSql, key: bigint, lockTimeout: number | undefined, options: RunOptions): Promise<void> {
  const k = key.toString();
  const [got] = await reserved<{ ok: boolean }[]>`SELECT pg_try_advisory_lock(${k}::bigint) AS ok`;
  if (got.ok) return;
  // Advisory locks belong to one database: the same key held in another database (another run of
  // cmmc-db on the same server) is not ours to name.
  const heldBy = await advisoryLockHolder(reserved, key);
  await options.onEvent?.({ type: 'lock-wait', heldBy });
  // Interrupted while waiting: the connection is being closed, and a statement in flight on it never
  // settles (postgres.js), so the wait ends on the interruption itself; nothing has run.
  let stop = () => {};
  const interrupted = new Promise<never>((_, reject) => {
    stop = () => reject(new CmmcError('interrupted', 'interrupted while waiting for another migration run to finish; nothing was run'));
    if (wasInterrupted()) stop();
    else interruptSignal().addEventListener('abort', stop, { once: true });
  });
  interrupted.catch(() => {}); // rejects only when the wait is interrupted
  // Poll instead of blocking in pg_advisory_lock: a session blocked inside a statement holds a
  // snapshot, and CREATE INDEX CONCURRENTLY in the run we wait for would wait for that snapshot.
  const deadline = lockTimeout ? Date.now() + lockTimeout : Infinity;
  try {
    for (;;) {
      await Promise.race([new Promise((r) => setTimeout(r, 250)), interrupted]);
      const [again] = await Promise.race([reserved<{ ok: boolean }[]>`SELECT pg_try_advisory_lock(${k}::bigint) AS ok`, interrupted]);
      if (again.ok) return;
      if (Date.now() > deadline) {
        throw new CmmcError('migrate.locked', `another migration run holds the lock${heldBy ? ` (server pid ${heldBy})` : ''} and the lock timeout passed`, {
          hint: 'wait for it to finish, or look at it in pg_stat_activity',
        });
      }
    }
  } finally {
    interruptSignal().removeEventListener('abort', stop);
  }
}

/**
 * Leaves the session as a new one would be, except for the advisory lock (so not DISCARD ALL, which
 * would release it): settings, role and session authorization, cursors, LISTEN, SQL-level prepared
 * statements, temporary tables, sequence state and cached plans. `before` (a COMMIT or ROLLBACK)
 * and `then` (the engine's settings) travel in the same flight: one round trip in all, unless the
 * revision left SQL-level prepared statements to deallocate. Resolves with the result of `before`'s
 * statements, or rejects with the first failure (a COMMIT refused by a deferred constraint).
 */
async function cleanSession(reserved: postgres.ReservedSql, then = '', before: string[] = []): Promise<void> {
  const texts = [
    ...before,
    `CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; UNLISTEN *; DISCARD TEMP; DISCARD SEQUENCES; DISCARD PLANS;${then}`,
    'SELECT name FROM pg_prepared_statements WHERE from_sql',
  ];
  const { settled, failed } = await sendFlight(reserved, texts);
  const prepared = settled[settled.length - 1];
  if (prepared.status === 'fulfilled') for (const p of prepared.value as unknown as { name: string }[]) await reserved.unsafe(`DEALLOCATE "${p.name.replace(/"/g, '""')}"`);
  if (failed < 0) return;
  if (failed < before.length) throw failureOf(settled, texts, failed);
  throw new SessionNotCleaned((settled[failed] as PromiseRejectedResult).reason);
}

/** The step's own statements (its COMMIT) went through, and cleaning the session after them failed. */
class SessionNotCleaned extends Error {
  constructor(override readonly cause: unknown) {
    super('the session could not be cleaned');
  }
}

/**
 * Sends statements in one flight (postgres.js pipelines the queries of a session) and resolves with
 * each one's result, or rejects with the first failure, its statement attached as `failedStatement`.
 * Only inside a transaction block: there, a failure makes the server refuse every later statement
 * (25P02) until ROLLBACK, as if they had been sent one by one and the run had stopped at it. Outside
 * one each statement would commit on its own and the ones after a failure would still run.
 */
async function pipeline(reserved: postgres.ReservedSql, texts: string[]): Promise<Rows[]> {
  const { settled, failed } = await sendFlight(reserved, texts);
  if (failed >= 0) throw failureOf(settled, texts, failed);
  return settled.map((r) => (r as PromiseFulfilledResult<Rows>).value);
}

type Rows = postgres.RowList<postgres.Row[]>;

/** Sends statements in one flight and waits for all: each one's outcome, and the first that failed (-1: none). */
async function sendFlight(reserved: postgres.ReservedSql, texts: string[]): Promise<{ settled: PromiseSettledResult<Rows>[]; failed: number }> {
  const settled = await Promise.allSettled(texts.map((t) => reserved.unsafe(t)));
  return { settled, failed: settled.findIndex((r) => r.status === 'rejected') };
}

/** The error of statement `i` of a flight, naming that statement (`failedStatement`, shown by failedStep). */
function failureOf(settled: PromiseSettledResult<Rows>[], texts: string[], i: number): object {
  return Object.assign((settled[i] as PromiseRejectedResult).reason as object, { failedStatement: texts[i] });
}

interface Session {
  reserved: postgres.ReservedSql;
  /**
   * Another connection of the pool and the reserved session's server pid: who a step waits for
   * (servers only), looked at after `afterMs` (within the lock timeout, so that a step that gives up
   * can name who held the lock).
   */
  watch?: { sql: postgres.Sql; pid: number; afterMs: number };
  /** A Kysely on the reserved session, for TypeScript revisions (loaded on first use). */
  kysely(): Promise<Conn>;
  target: StatementTarget;
  /** The engine's own settings (the orphan check, timeouts) as SQL, set again after each step's cleaning. */
  settingsSql: string;
}

class StepFailure extends Error {
  constructor(readonly failed: FailedStep) {
    super(failed.error.message);
  }
}

/** The SQL of one version-table change and the row count it must touch. */
function opSql(config: MetaConfig, op: VersionOp): string {
  const table = metaNames(config).version;
  if (op.op === 'insert') return `INSERT INTO ${table} (version_num) VALUES (${literal(op.version)})`;
  if (op.op === 'delete') return `DELETE FROM ${table} WHERE version_num = ${literal(op.version)}`;
  return `UPDATE ${table} SET version_num = ${literal(op.to)} WHERE version_num = ${literal(op.from)}`;
}

/** The version-table statements of one step (Alembic's HeadMaintainer), as SQL. */
export function versionStatements(config: MetaConfig, ops: VersionOp[]): string[] {
  return ops.map((op) => opSql(config, op));
}

/**
 * The walk of `upgrade`/`downgrade TARGET` from the version rows `from`: its steps in order, each
 * step's version-table changes and the rows after it. Throws (CmmcError) every refusal the run makes
 * before running anything, so that a caller can refuse before its own preparations (a backup):
 * rows no file declares (`migrate.unknown-version`), an unknown or invalid target (`revision.*`),
 * applied files changed since (`migrate.changed`, for an upgrade that runs something, unless
 * `allowChanged`; `changed` is asked only then), and a walk whose version-table changes cannot all
 * be made (refused whole, where Alembic stops midway: src/revision/divergences.ts).
 */
export function planRun(
  script: Script,
  operation: 'upgrade' | 'downgrade',
  target: string,
  from: string[],
  changed: () => { revision: string; file: string }[],
  allowChanged = false,
): { plan: PlannedStep<Revision>[]; ops: VersionOp[][]; rowsAfter: string[][] } {
  const { graph } = script;
  refuseUnknown(script, from.filter((r) => !graph.has(r)), false);
  const overlapping = graph.overlappingRows(from);
  if (overlapping.length) {
    const kept = from.filter((r) => !overlapping.includes(r));
    throw new CmmcError('migrate.overlapping-rows', `the version table holds ${overlapping.join(', ')} below another of its rows (${kept.join(', ')}): the rows overlap, and no walk starts from them`, {
      hint: `rewrite it without them: cmmc-db stamp --purge ${kept.join(' ')} (check first that those are what is applied: cmmc-db history --indicate-current)`,
    });
  }
  const plan = catchRevisionErrors(() => (operation === 'upgrade' ? graph.upgradeSteps(from, target) : graph.downgradeSteps(from, target)));
  if (operation === 'upgrade' && !allowChanged && plan.length) {
    const files = changed();
    if (files.length) {
      throw new CmmcError('migrate.changed', `applied revision file changed since it was applied: ${files.map((c) => `${c.revision} (${c.file})`).join(', ')}`, {
        hint: 'restore the file as it was, or run again with --allow-changed if the change is deliberate',
      });
    }
  }
  // Check every version-table change before running anything: a plan Alembic would stop midway is refused whole.
  const heads = new Set(from);
  const rowsAfter: string[][] = [];
  const ops = plan.map((step) => {
    const stepOps = catchRevisionErrors(() => graph.versionOps(step, heads));
    rowsAfter.push([...heads]);
    return stepOps;
  });
  return { plan, ops, rowsAfter };
}

async function runSteps(
  session: Session,
  config: MetaConfig,
  script: Script,
  operation: 'upgrade' | 'downgrade',
  target: string,
  from: string[],
  checksums: Map<string, string>,
  options: RunOptions,
  out: StepResult[],
  state: RunState,
): Promise<void> {
  const changed = () => changedFiles(script, script.graph.appliedSet(from), checksums);
  const { plan, ops, rowsAfter } = planRun(script, operation, target, from, changed, options.allowChanged);
  // Not a refusal here (nothing to upgrade, --allow-changed, a downgrade), but said: the checksums were
  // read in the run's first flight, so this costs no round trip.
  state.changed = operation === 'upgrade' ? changed() : changed().filter((c) => plan.some((step) => step.revision.revision === c.revision));
  const appliedBy = appliedByExpression();
  let bootstrapped = false;
  for (const [i, step] of plan.entries()) {
    const rev = step.revision;
    await options.onEvent?.({ type: 'step-start', revision: rev, operation });
    const t0 = performance.now();
    const elapsed = () => Math.round(performance.now() - t0);
    let failure: StepFailure | undefined;
    // Our own BEGIN is open on the session (a TypeScript revision's transaction is Kysely's).
    let open = false;
    // The session was cleaned in the step's last flight (with its COMMIT).
    let cleaned = false;
    // The step's COMMIT has been sent: a connection lost now leaves its outcome unknown.
    let committing = false;
    const commitSent = () => {
      committing = true;
      void Promise.resolve(options.onEvent?.({ type: 'step-commit', revision: rev, operation })).catch(() => {});
    };
    // The engine's writes of the step, after the revision's own. RESET ROLE: a revision that SET ROLE
    // must not decide who writes the engine's tables. durationMs null: measured by the server, from
    // the transaction's start (the revision ran in the same flight).
    const lazy = state.asyncCommits && i < plan.length - 1;
    const bookkeeping = (durationMs: number | null): Bookkeeping => ({
      before: ['RESET ROLE', ...(bootstrapped ? [] : bootstrapStatements(config)), ...(lazy ? ['SET LOCAL synchronous_commit = off'] : [])],
      version: versionStatements(config, ops[i]),
      after: [logInsert(config, { revision: rev.revision, operation, checksum: rev.checksum, file: rev.fileName, durationMs: durationMs ?? SERVER_DURATION }, appliedBy)],
    });
    // Watched while it runs: a statement that waits for a lock is said, with who holds it.
    let waited: LockWait | undefined;
    const onWait = (wait: LockWait) => {
      waited = wait;
      return options.onEvent?.({ type: 'step-lock-wait', revision: rev, operation, ...wait });
    };
    const watched = (fn: () => Promise<void>) => (session.watch ? watchLockWait(session.watch.sql, session.watch.pid, onWait, fn, session.watch.afterMs) : fn());
    try {
      await watched(async () => {
        const mod = await rev.load();
        if (!('upSql' in mod) && rev.transactional) {
          const conn = await session.kysely();
          await conn.transaction().execute(async (trx) => {
            await (operation === 'upgrade' ? mod.up(trx) : mod.down(trx));
            await sendWithBookkeeping(session.reserved, [], bookkeeping(elapsed()));
            commitSent(); // Kysely sends COMMIT once this callback returns
          });
        } else {
          if (!('upSql' in mod)) {
            // Non-transactional TypeScript: its statements commit one by one, then the bookkeeping does.
            const conn = await session.kysely();
            await (operation === 'upgrade' ? mod.up(conn) : mod.down(conn));
            open = true;
            await sendWithBookkeeping(session.reserved, ['BEGIN'], bookkeeping(elapsed()));
          } else {
            const body = operation === 'upgrade' ? mod.upSql : mod.downSql;
            if (!rev.transactional) {
              await runStatements(session, body);
              open = true;
              await sendWithBookkeeping(session.reserved, ['BEGIN'], bookkeeping(elapsed()));
            } else if (body.some((stmt) => stmt.copyData !== undefined || endsTransaction(stmt.text))) {
              // COPY carries its data in a sub-protocol of its own, and after a revision's own COMMIT or
              // ROLLBACK its statements run outside a transaction block, where a failure does not stop
              // the ones pipelined behind it (nor the version row): statement by statement. The
              // bookkeeping's BEGIN opens a transaction again if the revision ended ours (else a warning).
              open = true;
              await session.reserved.unsafe('BEGIN');
              await runStatements(session, body);
              await sendWithBookkeeping(session.reserved, ['BEGIN'], bookkeeping(elapsed()));
            } else {
              // The revision and the engine's writes in one flight, inside the transaction block.
              open = true;
              await sendWithBookkeeping(session.reserved, ['BEGIN', ...body.map((stmt) => stmt.text)], bookkeeping(null));
            }
          }
          // COMMIT ends the transaction block whether it succeeds or not (a deferred constraint).
          open = false;
          cleaned = true;
          commitSent();
          await cleanSession(session.reserved, session.settingsSql, ['COMMIT']);
        }
        });
      bootstrapped = true;
    } catch (err) {
      if (err instanceof SessionNotCleaned) throw err.cause;
      failure = new StepFailure(failedStep(err, step, operation, out.map((st) => st.revision), committing, waited));
      throw failure;
    } finally {
      // After a failure the session may be gone (a lost connection): the failure is what to report.
      // A lost session is not touched again (see migrate): only a live one is cleaned.
      if (!cleaned && !sessionGone(failure?.failed)) {
        await cleanSession(session.reserved, session.settingsSql, open ? ['ROLLBACK'] : []).catch((err: unknown) => {
          if (!failure) throw err instanceof SessionNotCleaned ? err.cause : err;
        });
      }
    }
    const durationMs = elapsed();
    state.unflushed = lazy;
    state.rows = rowsAfter[i];
    out.push({ revision: rev.revision, file: rev.fileName, message: rev.message, operation, durationMs });
    await options.onEvent?.({ type: 'step-done', revision: rev, operation, durationMs });
  }
}

/** What a run knows between its steps. */
interface RunState {
  /** The version rows the committed steps left. */
  rows: string[];
  /**
   * May a step other than the last commit without waiting for its WAL to reach the disk?
   * Each revision commits in its own transaction, and waiting for the disk at each COMMIT cost more
   * than a small revision's DDL (2-3 ms here, 500 times on a long chain; Alembic commits once). So
   * every step but the last commits with synchronous_commit off, and the last one's COMMIT (or
   * `flush` after a failure) writes them all to disk: a finished run is as durable as before. A
   * crash of the server during the run can lose the steps of its last moment (at most three times
   * wal_writer_delay) whole, each with its version row, never half: the next run applies them again.
   * Not with synchronous standbys: a failover must find on the new primary every step the run
   * reported (docs/high-availability.md), so each COMMIT waits for the standby as before. Not on the
   * embedded database either: single-user PGlite has no WAL writer, so nothing bounds the loss there.
   */
  asyncCommits: boolean;
  /** The last step committed so: flush before the run ends. */
  unflushed: boolean;
  /** Applied revisions whose file changed since they were applied (reported in the result). */
  changed?: { revision: string; file: string }[];
}

/**
 * The run's first flight, one round trip where it took six:
 * - the orphan check: a client killed outright leaves its statement running on the server, and the
 *   lock with it; PostgreSQL 14+ then checks the client's socket every second and cancels the
 *   orphan, freeing the lock (an older server refuses the setting and the run goes on without it);
 * - the advisory lock, tried once (`locked` false: acquireLock waits for it as before);
 * - the run's timeouts;
 * - which of the engine's tables exist, and whether commits may skip waiting for the disk
 *   (RunState.asyncCommits: not with synchronous standbys).
 * Outside a transaction block each statement stands alone: a refused SET stops nothing after it.
 * A refused timeout, or a lock the server would not try, is the run's error as before.
 */
async function openRun(reserved: postgres.ReservedSql, config: MetaConfig & { kind: string }, key: bigint, timeoutsSql: string): Promise<{ checkInterval: boolean; locked: boolean; tables: EngineTables; asyncCommits: boolean; pid: number | null }> {
  const check = config.kind === 'server' ? ['SET client_connection_check_interval = 1000'] : [];
  const texts = [
    ...check,
    `SELECT pg_try_advisory_lock(${key.toString()}::bigint) AS ok`,
    ...(timeoutsSql ? [timeoutsSql] : []),
    `${engineTablesSql(config)}, current_setting('synchronous_standby_names') AS sync_names, EXISTS (SELECT 1 FROM pg_stat_replication) AS streaming, pg_backend_pid() AS pid`,
  ];
  const { settled } = await sendFlight(reserved, texts);
  const [lock, ...rest] = settled.slice(check.length);
  const failed = [lock, ...rest].find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // The lock may have been taken before a later statement failed: a pooled session keeps it.
    if (lock.status === 'fulfilled' && (lock.value[0] as { ok: boolean }).ok) await reserved.unsafe(`SELECT pg_advisory_unlock(${key.toString()}::bigint)`).catch(() => {});
    throw failed.reason;
  }
  const [row] = (rest[rest.length - 1] as PromiseFulfilledResult<Rows>).value as unknown as (EngineTables & { sync_names: string; streaming: boolean; pid: number | null })[];
  return {
    checkInterval: check.length > 0 && settled[0].status === 'fulfilled',
    locked: ((lock as PromiseFulfilledResult<Rows>).value[0] as { ok: boolean }).ok,
    tables: { version: row.version, log: row.log },
    // Nor with any standby streaming: a commit not yet flushed is not yet sent, and a failover (planned,
    // which waits for the standby to catch up with what was flushed) lost a step the run had reported.
    // Nor on the embedded database: there the command's process is the server, with no WAL writer, so
    // a kill -9 of the command lost every step reported since the run began, not a moment's worth.
    asyncCommits: config.kind === 'server' && row.sync_names.trim() === '' && !row.streaming,
    pid: row.pid ?? null,
  };
}

/**
 * Makes every commit so far durable. A transaction that wrote WAL flushes it, the earlier commits'
 * included, when it commits synchronously; one that wrote none (`SELECT txid_current()`) does not
 * wait for the disk at all. So the version rows are written again as they are: the engine's own
 * table, under the run's lock.
 */
async function flush(reserved: postgres.ReservedSql, config: MetaConfig): Promise<void> {
  await reserved.unsafe(`UPDATE ${metaNames(config).version} SET version_num = version_num`);
}

/** The step's duration as the server measures it: from its transaction's start to the log row. */
const SERVER_DURATION = { sql: '(extract(epoch FROM clock_timestamp() - now()) * 1000)::integer' };

/** The engine's statements of one step: the version-table changes must each touch one row. */
interface Bookkeeping {
  before: string[];
  version: string[];
  after: string[];
}

/** Sends `leading` and the bookkeeping in one flight and checks the version-table row counts. */
async function sendWithBookkeeping(reserved: postgres.ReservedSql, leading: string[], b: Bookkeeping): Promise<void> {
  const results = await pipeline(reserved, [...leading, ...b.before, ...b.version, ...b.after]);
  const at = leading.length + b.before.length;
  for (const [k, statement] of b.version.entries()) {
    const count = results[at + k].count;
    if (count !== 1) {
      throw new CmmcError('migrate.version-table', `the version table changed under us: "${statement}" touched ${count} rows instead of 1`, {
        hint: 'another tool edited the version table; check it with cmmc-db current',
      });
    }
  }
}

/** Does the statement end the transaction block (COMMIT, END, ROLLBACK, ABORT, PREPARE TRANSACTION), not only a savepoint? */
export function endsTransaction(text: string): boolean {
  // Its first three words decide, comments between them dropped: a long body is not read.
  let t = '';
  let words = 0;
  for (const token of tokens(text)) {
    if (token.kind === 'comment') t += ' ';
    else if (token.kind !== 'space' && ++words > 3) break;
    else t += text.slice(token.start, token.end);
  }
  t = t.trim();
  return /^(commit|end|abort|rollback|prepare\s+transaction)\b/i.test(t) && !/^rollback(\s+(work|transaction))?\s+to\b/i.test(t);
}

/** A revision's statements one by one (COPY with its data through the COPY protocol, or outside a transaction). */
async function runStatements(session: Session, body: SqlStatement[]): Promise<void> {
  for (const stmt of body) {
    await executeStatement(session.reserved, stmt, session.target).catch((err: unknown) => {
      throw Object.assign(err as object, { failedStatement: stmt.text });
    });
  }
}

/** A failed step as one line: the revision, its file, the database's message and the failing statement. */
/** Whether a step's failure lost the session (a lost connection, or one closed by an interruption): it is not touched again. */
function sessionGone(failed: FailedStep | undefined): boolean {
  return failed?.error.code === 'connect.lost' || failed?.error.code === 'interrupted';
}

/**
 * A step's failure as the CLI shows it. `committing`: its COMMIT had been sent, so a lost connection
 * leaves it applied or not (the server decides; `current` shows which). A connection lost because
 * the run was interrupted (the CLI's signal handler closes the connections) is `interrupted`.
 */
function failedStep(err: unknown, step: PlannedStep<Revision>, operation: Operation, done: string[], committing = false, waited?: LockWait): FailedStep {
  const rev = step.revision;
  const base = { revision: rev.revision, file: rev.fileName, operation };
  const before = done.length ? `${operation === 'upgrade' ? 'applied' : 'reverted'} before it in this run: ${done.join(', ')}` : `nothing was ${operation === 'upgrade' ? 'applied' : 'reverted'} in this run`;
  const state = committing
    ? `its COMMIT had been sent, so ${rev.revision} may be ${operation === 'upgrade' ? 'applied' : 'reverted'} or not ("cmmc-db current" shows which); ${before}`
    : rev.transactional
      ? `${rev.revision} was rolled back and the database is consistent; ${before}`
      : `${rev.fileName} is non-transactional and may be partly done; ${before}`;
  const lost = connectionLostError(
    err,
    `${operation} of revision ${rev.revision} (${rev.fileName})`,
    state,
    `run "cmmc-db ${operation}" again once the server accepts connections ("cmmc-db current" shows where the database is)`,
  );
  if (lost && wasInterrupted()) {
    return {
      ...base,
      error: {
        code: 'interrupted',
        message: `${operation} of revision ${rev.revision} (${rev.fileName}) was interrupted: ${state}`,
        hint: rev.transactional || committing ? `"cmmc-db current" shows where the database is; run "cmmc-db ${operation}" again to go on` : `check what ${rev.fileName} left behind before running "cmmc-db ${operation}" again`,
      },
    };
  }
  if (lost) return { ...base, error: { code: lost.code, message: lost.message, hint: lost.hint } };
  if (err instanceof CmmcError) return { ...base, error: { code: err.code, message: `${operation} of revision ${rev.revision} (${rev.fileName}) failed: ${err.message}`, hint: err.hint } };
  const e = err as { message?: string; code?: string; hint?: string; query?: string; failedStatement?: string };
  const after = rev.transactional
    ? 'that revision was rolled back and the database is as it was before it'
    : `${rev.fileName} is non-transactional: check what it left behind first`;
  // RAISE EXCEPTION (P0001, raise_exception) is the revision refusing what it found, in its own words
  // (docs/migrations.md): its message and HINT say what to do, not the statement that raised it.
  if (e.code === 'P0001') {
    return {
      ...base,
      error: {
        code: 'migrate.step-refused',
        message: `${operation} of revision ${rev.revision} (${rev.fileName}) refused: ${errorText(err)}`,
        hint: e.hint ? `${after}; ${e.hint}` : after,
        sqlState: e.code,
      },
    };
  }
  // Comments dropped: an autogenerated revision's "-- DESTRUCTIVE: review" mark is not the statement.
  const statement = stripComments(e.failedStatement ?? e.query ?? '').replace(/\s+/g, ' ').trim();
  const shown = statement.length > 300 ? statement.slice(0, 297) + '...' : statement;
  const where = shown ? ` in statement: ${shown}` : '';
  // Not every failure is the file's: a lock held by another session, a timeout, a missing privilege.
  // A lock timeout after a wait the watch saw: who held the lock is known (after the cancel, nothing
  // shows as blocked any more, so "doctor connections.blocked" would find no one).
  const holders = e.code === '55P03' && waited?.blockers.length ? waited.blockers : undefined;
  const fix = holders
    ? `the lock${waited!.relations.length ? ` on ${waited!.relations.join(', ')}` : ''} was held by ${holders.map(describeBlocker).join('; ')}: end it (SELECT pg_terminate_backend(${holders[0].pid})) or run ${operation} again when it is done, or allow longer with --lock-timeout`
    : (sqlStateFix(e.code, { operation }) ?? `fix ${rev.fileName} and run ${operation} again`);
  return {
    ...base,
    error: {
      code: 'migrate.step-failed',
      message: `${operation} of revision ${rev.revision} (${rev.fileName}) failed: ${errorText(err)}${e.code ? ` [${e.code}]` : ''}${where}`,
      hint: `${after}; ${fix}`,
      ...(typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? { sqlState: e.code } : {}),
    },
  };
}

/**
 * The revision log rows of a stamp from the version rows `known` to `rows`: one per revision whose
 * applied state changes (what was applied before is what the rows the files declare say, with
 * --purge too: a revision that stays applied keeps its log row and the checksum recorded when it was
 * applied; re-logging it took the file's checksum now, so an edited applied file no longer showed as
 * changed). `logged` are the INSERTs, `stamped` the steps as a run reports them. Pure.
 */
export function stampLog(script: Script, config: MetaConfig, known: string[], rows: string[], appliedBy: string): { logged: string[]; stamped: StepResult[] } {
  const { graph } = script;
  const before = graph.appliedSet(known);
  const after = graph.appliedSet(rows);
  const logged: string[] = [];
  const stamped: StepResult[] = [];
  for (const rev of graph.ordered) {
    const was = before.has(rev.revision);
    const is = after.has(rev.revision);
    if (was === is) continue;
    logged.push(logInsert(config, { revision: rev.revision, operation: 'stamp', checksum: is ? rev.checksum : null, file: rev.fileName, durationMs: 0 }, appliedBy));
    stamped.push({ revision: rev.revision, file: rev.fileName, message: rev.message, operation: 'stamp', durationMs: 0 });
  }
  return { logged, stamped };
}

async function stamp(session: Session, config: MetaConfig, script: Script, targets: string[], from: string[], options: RunOptions, out: StepResult[]): Promise<void> {
  const { graph } = script;
  const known = from.filter((r) => graph.has(r));
  refuseUnknown(script, from.filter((r) => !graph.has(r)), Boolean(options.purge));
  const start = options.purge ? [] : known;
  let ops: VersionOp[];
  let rows: string[];
  try {
    ({ ops, rows } = catchRevisionErrors(() => graph.stampPlan(start, targets)));
  } catch (err) {
    // Alembic empties the table first and then fails; refusing first leaves the rows as they were.
    if (options.purge && err instanceof CmmcError) throw new CmmcError(err.code, `stamp --purge refused before emptying the version table: ${err.message}`, { hint: err.hint, exitCode: err.exitCode, cause: err });
    throw err;
  }
  // Nothing to change (--purge of an empty table included): the engine's tables are not even created.
  if (ops.length === 0 && (!options.purge || from.length === 0)) return;
  const { logged, stamped } = stampLog(script, config, known, rows, appliedByExpression());
  out.push(...stamped);
  const { reserved } = session;
  try {
    await sendWithBookkeeping(reserved, ['BEGIN'], {
      before: [...bootstrapStatements(config), ...(options.purge ? [`DELETE FROM ${metaNames(config).version}`] : [])],
      version: versionStatements(config, ops),
      after: logged,
    });
  } catch (err) {
    out.length = 0;
    await reserved.unsafe('ROLLBACK').catch(() => {});
    throw err;
  }
  try {
    await reserved.unsafe('COMMIT');
  } catch (err) {
    out.length = 0;
    throw err;
  }
}

/**
 * Online runs: upgrade, downgrade and stamp against a database.
 *
 * Safety, in order: one session-level advisory lock for the whole run, on ONE pinned connection
 * (`db.connection().execute`), so that the lock, the timeouts and every transaction share a session;
 * each revision in its own transaction together with its version-table change (row counts checked)
 * and its revision-log row; a failing revision is rolled back alone and the error names its file and
 * the failing statement. Non-transactional revisions run outside a transaction; their version change
 * follows in a transaction of its own.
 */
import { sql, type Kysely } from 'kysely';
import type { DbHandle } from '../db/connection.js';
import { CmmcError } from '../errors.js';
import { catchRevisionErrors } from './errors.js';
import { literal } from './sql-text.js';
import { changedFiles, readChecksums, readVersionRows, type RunQuery } from './status.js';
import { loadScript, type Revision, type Script } from './script.js';
import { appliedByExpression, bootstrapStatements, lockKey, logInsert, metaNames, versionChanges, type MetaConfig } from './version-store.js';

export type Operation = 'upgrade' | 'downgrade' | 'stamp';

/** What the engine reports while it runs; the CLI renders it (the engine never writes to the terminal). */
export type EngineEvent =
  | { type: 'lock-wait'; heldBy: number | null }
  | { type: 'step-start'; revision: Revision; operation: Operation }
  | { type: 'step-done'; revision: Revision; operation: Operation; durationMs: number };

export interface RunOptions {
  /** Run even if an applied revision's file changed since it was applied. */
  allowChanged?: boolean;
  /** SET lock_timeout / statement_timeout on the pinned session (ms; 0 = none). Default: the configuration's. */
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

export interface RunResult {
  operation: Operation;
  target: string;
  /** Version rows before and after. */
  from: string[];
  to: string[];
  steps: StepResult[];
  totalMs: number;
}

type Conn = Kysely<any>;

/** Applies revisions up to `target` (default `head`; `heads` for every branch). */
export async function runUpgrade(handle: DbHandle, target = 'head', options: RunOptions = {}): Promise<RunResult> {
  return run(handle, 'upgrade', target, options);
}

/** Un-applies revisions down to `target` (`base`, an id, `-1`, `label@base`...). */
export async function runDowngrade(handle: DbHandle, target: string, options: RunOptions = {}): Promise<RunResult> {
  return run(handle, 'downgrade', target, options);
}

/** Sets the version table to `target` without running any revision. */
export async function runStamp(handle: DbHandle, target: string, options: RunOptions = {}): Promise<RunResult> {
  return run(handle, 'stamp', target, options);
}

/** Statements on the pinned connection, for the readers in status.ts. */
const viaConn =
  (conn: Conn): RunQuery =>
  async <T extends object>(text: string) =>
    (await sql.raw<T>(text).execute(conn)).rows;

async function run(handle: DbHandle, operation: Operation, target: string, options: RunOptions): Promise<RunResult> {
  const config = handle.config;
  const script = options.script ?? (await loadScript(config));
  const started = performance.now();
  const key = lockKey(config);
  const lockTimeout = options.lockTimeoutMs ?? config.lockTimeoutMs;
  const statementTimeout = options.statementTimeoutMs ?? config.statementTimeoutMs;

  return handle.db.connection().execute(async (conn) => {
    // A client killed outright leaves its statement running on the server, and the lock with it:
    // PostgreSQL 14+ then checks the client's socket every second and cancels the orphan, freeing
    // the lock (an older server rejects the setting; the run goes on without it).
    if (config.kind === 'server') await sql.raw('SET client_connection_check_interval = 1000').execute(conn).catch(() => {});
    const { rows: got } = await sql<{ ok: boolean }>`SELECT pg_try_advisory_lock(${key}) AS ok`.execute(conn);
    if (!got[0].ok) {
      const { rows: holder } = await sql<{ pid: number }>`
        SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
           AND ((classid::bigint << 32) | objid::bigint) = ${key} LIMIT 1`.execute(conn);
      await options.onEvent?.({ type: 'lock-wait', heldBy: holder[0]?.pid ?? null });
      // Poll instead of blocking in pg_advisory_lock: a session blocked inside a statement holds a
      // snapshot, and CREATE INDEX CONCURRENTLY in the run we wait for would wait for that snapshot.
      const deadline = lockTimeout ? Date.now() + lockTimeout : Infinity;
      for (;;) {
        await new Promise((r) => setTimeout(r, 250));
        const { rows } = await sql<{ ok: boolean }>`SELECT pg_try_advisory_lock(${key}) AS ok`.execute(conn);
        if (rows[0].ok) break;
        if (Date.now() > deadline) {
          throw new CmmcError('migrate.locked', `another migration run holds the lock${holder[0] ? ` (server pid ${holder[0].pid})` : ''} and the lock timeout passed`, {
            hint: 'wait for it to finish, or look at it in pg_stat_activity',
          });
        }
      }
    }
    try {
      if (lockTimeout !== undefined) await sql.raw(`SET lock_timeout = ${Math.max(0, Math.round(lockTimeout))}`).execute(conn);
      if (statementTimeout !== undefined) await sql.raw(`SET statement_timeout = ${Math.max(0, Math.round(statementTimeout))}`).execute(conn);
      await conn.transaction().execute(async (trx) => {
        for (const stmt of bootstrapStatements(config)) await sql.raw(stmt).execute(trx);
      });
      const from = await readVersionRows(viaConn(conn), config);
      const steps = await runLocked(conn, config, script, operation, target, from, options);
      const to = await readVersionRows(viaConn(conn), config);
      return { operation, target, from, to, steps, totalMs: Math.round(performance.now() - started) };
    } finally {
      await sql`SELECT pg_advisory_unlock(${key})`.execute(conn).catch(() => {});
      await sql.raw('RESET lock_timeout; RESET statement_timeout').execute(conn).catch(() => {});
      if (config.kind === 'server') await sql.raw('RESET client_connection_check_interval').execute(conn).catch(() => {});
    }
  });
}

async function runLocked(conn: Conn, config: MetaConfig, script: Script, operation: Operation, target: string, from: string[], options: RunOptions): Promise<StepResult[]> {
  const { graph } = script;
  const unknown = from.filter((r) => !graph.has(r));
  if (operation === 'stamp') return stamp(conn, config, script, target, from, unknown, options);
  if (unknown.length) {
    throw new CmmcError('migrate.unknown-version', `the database is at revision ${unknown.join(', ')}, which no file in ${script.dir} declares`, {
      hint: 'point --migrations-dir at the right folder, or restore the file; "cmmc-db stamp <rev> --purge" rewrites the version table',
    });
  }
  const plan = catchRevisionErrors(() => (operation === 'upgrade' ? graph.upgradePlan(from, target) : graph.downgradePlan(from, target)));
  if (operation === 'upgrade' && !options.allowChanged) {
    const checksums = await readChecksums(viaConn(conn), config);
    const changed = changedFiles(script, graph.appliedSet(from), checksums);
    if (changed.length) {
      throw new CmmcError('migrate.changed', `applied revision file changed since it was applied: ${changed.map((c) => `${c.revision} (${c.file})`).join(', ')}`, {
        hint: 'restore the file as it was, or run again with --allow-changed if the change is deliberate',
      });
    }
  }
  let rows = from;
  let applied = graph.appliedSet(from);
  const steps: StepResult[] = [];
  const appliedBy = appliedByExpression();
  for (const rev of plan) {
    const next = new Set(applied);
    if (operation === 'upgrade') next.add(rev.revision);
    else next.delete(rev.revision);
    const after = graph.rowsFor(next);
    await options.onEvent?.({ type: 'step-start', revision: rev, operation });
    const t0 = performance.now();
    const mod = await rev.load();
    const body = async (db: Conn) => {
      if ('upSql' in mod) {
        for (const stmt of operation === 'upgrade' ? mod.upSql : mod.downSql) {
          await sql.raw(stmt).execute(db).catch((err: unknown) => {
            throw Object.assign(err as object, { failedStatement: stmt });
          });
        }
      } else {
        await (operation === 'upgrade' ? mod.up(db) : mod.down(db));
      }
    };
    const bookkeeping = async (db: Conn, durationMs: number) => {
      for (const change of versionChanges(config, rows, after)) {
        const result = await sql.raw(change.sql).execute(db);
        const count = Number(result.numAffectedRows ?? -1);
        if (count !== change.expectRows) {
          throw new CmmcError('migrate.version-table', `the version table changed under us: "${change.sql}" touched ${count} rows instead of ${change.expectRows}`, {
            hint: 'another tool edited the version table; check it with cmmc-db current',
          });
        }
      }
      await sql.raw(logInsert(config, { revision: rev.revision, operation, checksum: rev.checksum, file: rev.fileName, durationMs }, appliedBy)).execute(db);
    };
    try {
      if (rev.transactional) {
        await conn.transaction().execute(async (trx) => {
          await body(trx);
          await bookkeeping(trx, Math.round(performance.now() - t0));
        });
      } else {
        await body(conn);
        const durationMs = Math.round(performance.now() - t0);
        await conn.transaction().execute((trx) => bookkeeping(trx, durationMs));
      }
    } catch (err) {
      throw stepError(err, rev, operation);
    }
    const durationMs = Math.round(performance.now() - t0);
    rows = after;
    applied = next;
    steps.push({ revision: rev.revision, file: rev.fileName, message: rev.message, operation, durationMs });
    await options.onEvent?.({ type: 'step-done', revision: rev, operation, durationMs });
  }
  return steps;
}

async function stamp(conn: Conn, config: MetaConfig, script: Script, target: string, from: string[], unknown: string[], options: RunOptions): Promise<StepResult[]> {
  const { graph } = script;
  if (unknown.length && !options.purge) {
    throw new CmmcError('migrate.unknown-version', `the database is at revision ${unknown.join(', ')}, which no file declares`, {
      hint: 'use stamp --purge to replace the version table regardless',
    });
  }
  const targets = catchRevisionErrors(() => graph.resolveTarget(target, from.filter((r) => graph.has(r))));
  const before = options.purge ? new Set<string>() : graph.appliedSet(from.filter((r) => graph.has(r)));
  const after = graph.ancestors(targets);
  const rows = graph.rowsFor(after);
  const appliedBy = appliedByExpression();
  const steps: StepResult[] = [];
  await conn.transaction().execute(async (trx) => {
    const n = metaNames(config);
    await sql.raw(`DELETE FROM ${n.version}`).execute(trx);
    for (const r of rows) await sql.raw(`INSERT INTO ${n.version} (version_num) VALUES (${literal(r)})`).execute(trx);
    for (const rev of graph.ordered) {
      const was = before.has(rev.revision);
      const is = after.has(rev.revision);
      if (was === is) continue;
      await sql.raw(logInsert(config, { revision: rev.revision, operation: 'stamp', checksum: is ? rev.checksum : null, file: rev.fileName, durationMs: 0 }, appliedBy)).execute(trx);
      steps.push({ revision: rev.revision, file: rev.fileName, message: rev.message, operation: 'stamp', durationMs: 0 });
    }
  });
  return steps;
}

/** A failed step as one line: the revision, its file, the database's message and the failing statement. */
function stepError(err: unknown, rev: Revision, operation: Operation): unknown {
  if (err instanceof CmmcError) return err;
  const e = err as { message?: string; code?: string; query?: string; failedStatement?: string };
  const statement = (e.failedStatement ?? e.query ?? '').replace(/\s+/g, ' ').trim();
  const shown = statement.length > 300 ? statement.slice(0, 297) + '...' : statement;
  const where = shown ? ` in statement: ${shown}` : '';
  return new CmmcError('migrate.step-failed', `${operation} of revision ${rev.revision} (${rev.fileName}) failed: ${e.message ?? String(err)}${e.code ? ` [${e.code}]` : ''}${where}`, {
    hint: rev.transactional
      ? `that revision was rolled back and the database is as it was before it; fix ${rev.fileName} and run ${operation} again`
      : `${rev.fileName} is non-transactional: check what it left behind before running ${operation} again`,
    cause: err,
  });
}


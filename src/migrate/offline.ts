/**
 * Offline mode (`upgrade A:B --sql`, `downgrade B:A --sql`): the whole SQL script, without a
 * database. TypeScript revisions run against a Kysely whose driver records each compiled query with
 * its parameters inlined as literals; SQL revisions contribute their statements. Each revision gets
 * BEGIN/COMMIT (unless non-transactional) with its version-table change and revision-log row, the
 * same statements an online run executes, so both leave the same schema.
 */
// Types only: Kysely itself is imported when a recording is made, so that the online engine's
// modules (bundled for `upgrade`, src/cli/bundle-loader.ts) never load it, and the Kysely a
// recorded revision gets is the same ES module its own `import { sql } from 'kysely'` loads.
import type { CompiledQuery, DatabaseConnection, Dialect, Driver, Kysely, QueryResult } from 'kysely';
import { CmmcError, usageError } from '../errors.js';
import { catchRevisionErrors } from './errors.js';
import type { Operation } from './engine.js';
import type { Revision, Script } from './script.js';
import { inlineParameters, literal, statementForScript } from '../sql/lexer.js';
import { stampLog, versionStatements } from './engine.js';
import { appliedByExpression, bootstrapStatements, logInsert, metaNames, type MetaConfig } from './version-store.js';

/** A driver that executes nothing: it records each query as SQL text with its parameters inlined. */
export class RecordingDriver implements Driver {
  readonly statements: string[] = [];
  private readonly connection: DatabaseConnection = {
    executeQuery: async <R>(query: CompiledQuery): Promise<QueryResult<R>> => {
      this.statements.push(inlineParameters(query.sql, query.parameters));
      return { rows: [] };
    },
    streamQuery: async function* () {
      // Nothing to stream offline.
    },
  };
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return this.connection;
  }
  async beginTransaction(): Promise<void> {}
  async commitTransaction(): Promise<void> {}
  async rollbackTransaction(): Promise<void> {}
  async releaseConnection(): Promise<void> {}
  async destroy(): Promise<void> {}
  /** Takes the statements recorded so far. */
  take(): string[] {
    return this.statements.splice(0);
  }
}

/** A Kysely for PostgreSQL over a RecordingDriver (async: Kysely is loaded on first use). */
export async function recordingKysely(): Promise<{ db: Kysely<any>; driver: RecordingDriver }> {
  const { Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } = await import('kysely');
  const driver = new RecordingDriver();
  const dialect: Dialect = {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => driver,
    createQueryCompiler: () => new PostgresQueryCompiler(),
    createIntrospector: (db) => new PostgresIntrospector(db),
  };
  return { db: new Kysely<any>({ dialect }), driver };
}

/** What a revision executed against the recorder, and the first statement whose answer it read. */
export interface Recording {
  statements: string[];
  /** Set when the revision (or Kysely for it: a query builder's execute() reads the row count) read an answer. */
  readAnswerOf?: string;
}

/**
 * Runs `fn` (a revision's up or down) against a recorder that hands back empty answers and notes
 * whether any was read. A revision that read none executes the same statements against any
 * database, so its recording can stand for it (src/migrate/recorded.ts). Awaiting a result is not
 * reading it (`then` is looked up on every awaited value).
 */
export async function recordRevision(fn: (db: Kysely<any>) => Promise<void>): Promise<Recording> {
  const { db, driver } = await recordingKysely();
  let readAnswerOf: string | undefined;
  const acquire = driver.acquireConnection.bind(driver);
  driver.acquireConnection = async () => {
    const conn = await acquire();
    return {
      streamQuery: conn.streamQuery.bind(conn),
      executeQuery: async <R>(query: CompiledQuery): Promise<QueryResult<R>> => {
        const result = await conn.executeQuery<R>(query);
        return new Proxy(result, {
          get(target, key, receiver) {
            if (typeof key === 'string' && key !== 'then') readAnswerOf ??= query.sql;
            return Reflect.get(target, key, receiver) as unknown;
          },
        });
      },
    };
  };
  try {
    await fn(db);
    return { statements: driver.take(), ...(readAnswerOf !== undefined ? { readAnswerOf } : {}) };
  } finally {
    await db.destroy();
  }
}

/** Splits `A:B` (A may be empty = base). With no colon, the start is base (upgrade) or required (downgrade). */
export function parseRange(range: string, operation: 'upgrade' | 'downgrade'): { from: string; to: string } {
  const i = range.indexOf(':');
  if (i === -1) {
    if (operation === 'downgrade') throw usageError(`downgrade --sql needs a range "FROM:TO", not "${range}"`, 'for example: cmmc-db downgrade head:base --sql');
    return { from: 'base', to: range };
  }
  return { from: range.slice(0, i) || 'base', to: range.slice(i + 1) || (operation === 'upgrade' ? 'heads' : 'base') };
}

function terminate(stmt: string): string {
  const t = stmt.trim();
  return t.endsWith(';') ? t : t + ';';
}

/** The SQL script of an upgrade or downgrade over `range`, as one string. */
export async function offlineScript(script: Script, config: MetaConfig, operation: Exclude<Operation, 'stamp'>, range: string): Promise<string> {
  const { graph } = script;
  const { from, to } = parseRange(range, operation);
  const startRows = from === 'base' ? [] : catchRevisionErrors(() => graph.resolveTarget(from, []));
  const plan = catchRevisionErrors(() => (operation === 'upgrade' ? graph.upgradeSteps(startRows, to) : graph.downgradeSteps(startRows, to)));
  const heads = new Set(startRows);
  const ops = plan.map((step) => catchRevisionErrors(() => graph.versionOps(step, heads)));
  const bodies = await stepStatements(plan.map((step) => step.revision), operation);
  const appliedBy = appliedByExpression('offline');
  const out: string[] = [];
  out.push(`-- cmmc-db ${operation} ${from}:${to} (offline script: run with psql -v ON_ERROR_STOP=1 -f FILE)`, '');
  out.push(...bootstrapStatements(config).map(terminate), '');
  for (const [i, step] of plan.entries()) {
    const rev = step.revision;
    const body = bodies[i].statements;
    // RESET ROLE, as online: a revision that SET ROLE must not decide who writes the engine's tables.
    const bookkeeping = [
      'RESET ROLE',
      ...versionStatements(config, ops[i]),
      logInsert(config, { revision: rev.revision, operation, checksum: rev.checksum, file: rev.fileName, durationMs: null }, appliedBy),
    ].map(terminate);
    const arrow = operation === 'upgrade' ? `${rev.downRevisions.join(', ') || 'base'} -> ${rev.revision}` : `${rev.revision} -> ${rev.downRevisions.join(', ') || 'base'}`;
    out.push(`-- Running ${operation} ${arrow}: ${rev.message.replace(/\n/g, ' ')} (${rev.fileName})`);
    // Each revision starts from a clean session, as online (RESET ALL keeps the advisory lock psql
    // does not take anyway; it leaves the role and the session authorization, reset before it).
    const clean = ['SET SESSION AUTHORIZATION DEFAULT;', 'RESET ALL;', ''];
    if (rev.transactional) out.push('BEGIN;', ...body, ...bookkeeping, 'COMMIT;', ...clean);
    else out.push('-- non-transactional revision', ...body, 'BEGIN;', ...bookkeeping, 'COMMIT;', ...clean);
  }
  return out.join('\n');
}

/**
 * The statements each of `revisions` runs for `operation`, in order, as an offline script writes
 * them: an SQL revision's own, a TypeScript revision's as recorded against a Kysely that executes
 * nothing. Throws `migrate.offline` for a revision that cannot be recorded (it reads a query's answer
 * or fails without one).
 */
export async function stepStatements(revisions: Revision[], operation: Exclude<Operation, 'stamp'>): Promise<{ revision: string; statements: string[] }[]> {
  let recorder: Awaited<ReturnType<typeof recordingKysely>> | undefined;
  const out: { revision: string; statements: string[] }[] = [];
  try {
    for (const rev of revisions) {
      const mod = await rev.load();
      if ('upSql' in mod) {
        out.push({ revision: rev.revision, statements: (operation === 'upgrade' ? mod.upSql : mod.downSql).map(statementForScript) });
        continue;
      }
      // Kysely is loaded only for a TypeScript revision: a run of SQL revisions never needs it.
      recorder ??= await recordingKysely();
      const { db, driver } = recorder;
      driver.take();
      try {
        await (operation === 'upgrade' ? mod.up(db) : mod.down(db));
      } catch (err) {
        throw new CmmcError('migrate.offline', `revision ${rev.revision} (${rev.fileName}) cannot be recorded offline: ${(err as Error).message}`, {
          hint: 'a revision must only execute statements (no branching on query results) to work with --sql',
          cause: err,
        });
      }
      out.push({ revision: rev.revision, statements: driver.take().map(terminate) });
    }
  } finally {
    await recorder?.db.destroy();
  }
  return out;
}

/**
 * `stamp --sql`: the version-table statements (and revision log rows) of a stamp, as one script to
 * run with psql, for a database this process does not connect to (Alembic's `stamp --sql`). Each
 * target may be `FROM:TO`; FROM, the version rows the script starts from, is one revision for all
 * targets (Alembic: "Stamp operation with --sql only supports a single starting revision at a
 * time"), and base when no target names one. Throws usage errors for two different starts, and for
 * `purge`: Alembic 1.8 refuses it ("Can't use --purge with --sql mode"), and a script that deletes
 * rows it never saw would undo the guard that stops it on a database holding other rows than FROM.
 */
export function offlineStamp(script: Script, config: MetaConfig, targets: string[], purge = false): string {
  if (purge) {
    const to = targets.map((t) => t.slice(t.indexOf(':') + 1)).join(' ');
    throw usageError(
      'stamp --sql cannot --purge: the script is written from the rows FROM, and a purge deletes rows nobody has seen (Alembic refuses it too)',
      `write the stamp from the rows the database holds (cmmc-db stamp FROM:${to} --sql), or purge online: cmmc-db stamp --purge ${to}`,
    );
  }
  let start: string | undefined;
  const destinations = targets.map((t) => {
    const i = t.indexOf(':');
    if (i === -1) return t;
    const from = t.slice(0, i) || 'base';
    if (start !== undefined && start !== from) {
      throw usageError(`stamp --sql starts from one revision, not from both ${start} and ${from}`, 'write one FROM for every target (FROM:TO), or run the stamps one after the other');
    }
    start = from;
    return t.slice(i + 1);
  });
  const known = start === undefined || start === 'base' ? [] : catchRevisionErrors(() => script.graph.resolveTarget(start!, []));
  const { ops, rows } = catchRevisionErrors(() => script.graph.stampPlan(known, destinations));
  const { logged } = stampLog(script, config, known, rows, appliedByExpression('offline'));
  const out: string[] = [`-- cmmc-db stamp ${targets.join(' ')} (offline script: run with psql -v ON_ERROR_STOP=1 -f FILE)`, ''];
  out.push(...bootstrapStatements(config).map(terminate), '');
  out.push('BEGIN;', startGuard(config, known), ...versionStatements(config, ops).map(terminate), ...logged.map(terminate), 'COMMIT;', '');
  return out.join('\n');
}

/**
 * A statement that stops the script (psql -v ON_ERROR_STOP=1) when the version table does not hold
 * exactly `rows`, the rows the script was written from: run on a database elsewhere, its UPDATEs
 * would match nothing and its INSERTs add rows beside the ones there (two heads of one branch).
 * Alembic's offline stamp has no such guard; nothing in it is lost by having one.
 */
function startGuard(config: MetaConfig, rows: string[]): string {
  const version = metaNames(config).version;
  const expected = rows.length ? `ARRAY[${[...rows].sort().map((r) => literal(r)).join(', ')}]::text[]` : `'{}'::text[]`;
  const shown = literal(rows.length ? [...rows].sort().join(', ') : 'none (base)');
  return [
    'DO $cmmc_guard$ DECLARE held text[];',
    `BEGIN SELECT coalesce(array_agg(version_num::text ORDER BY version_num COLLATE "C"), '{}') INTO held FROM ${version};`,
    `  IF held <> ${expected} THEN`,
    `    RAISE EXCEPTION 'this stamp script was written for the version rows %, and the database holds %: nothing was stamped', ${shown}, coalesce(nullif(array_to_string(held, ', '), ''), 'none')`,
    `      USING HINT = 'write the script from the rows the database holds: cmmc-db stamp FROM:TO --sql';`,
    '  END IF;',
    'END $cmmc_guard$;',
  ].join('\n');
}

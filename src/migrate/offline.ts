/**
 * Offline mode (`upgrade A:B --sql`, `downgrade B:A --sql`): the whole SQL script, without a
 * database. TypeScript revisions run against a Kysely whose driver records each compiled query with
 * its parameters inlined as literals; SQL revisions contribute their statements. Each revision gets
 * BEGIN/COMMIT (unless non-transactional) with its version-table change and revision-log row, the
 * same statements an online run executes, so both leave the same schema.
 */
import {
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
} from 'kysely';
import { CmmcError, usageError } from '../errors.js';
import { catchRevisionErrors } from './errors.js';
import type { Operation } from './engine.js';
import type { Script } from './script.js';
import { inlineParameters } from './sql-text.js';
import { appliedByExpression, bootstrapStatements, logInsert, versionChanges, type MetaConfig } from './version-store.js';

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

/** A Kysely for PostgreSQL over a RecordingDriver. */
export function recordingKysely(): { db: Kysely<any>; driver: RecordingDriver } {
  const driver = new RecordingDriver();
  const dialect: Dialect = {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => driver,
    createQueryCompiler: () => new PostgresQueryCompiler(),
    createIntrospector: (db) => new PostgresIntrospector(db),
  };
  return { db: new Kysely<any>({ dialect }), driver };
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
  const startRows = catchRevisionErrors(() => graph.rowsFor(graph.ancestors(graph.resolveTarget(from, []))));
  const plan = catchRevisionErrors(() => (operation === 'upgrade' ? graph.upgradePlan(startRows, to) : graph.downgradePlan(startRows, to)));
  const { db, driver } = recordingKysely();
  const appliedBy = appliedByExpression('offline');
  const out: string[] = [];
  out.push(`-- cmmc-db ${operation} ${from}:${to} (offline script: run with psql -v ON_ERROR_STOP=1 -f FILE)`, '');
  out.push(...bootstrapStatements(config).map(terminate), '');
  let rows = startRows;
  let applied = graph.appliedSet(startRows);
  for (const rev of plan) {
    const next = new Set(applied);
    if (operation === 'upgrade') next.add(rev.revision);
    else next.delete(rev.revision);
    const after = graph.rowsFor(next);
    const mod = await rev.load();
    let body: string[];
    if ('upSql' in mod) body = operation === 'upgrade' ? mod.upSql : mod.downSql;
    else {
      driver.take();
      try {
        await (operation === 'upgrade' ? mod.up(db) : mod.down(db));
      } catch (err) {
        throw new CmmcError('migrate.offline', `revision ${rev.revision} (${rev.fileName}) cannot be recorded offline: ${(err as Error).message}`, {
          hint: 'a revision must only execute statements (no branching on query results) to work with --sql',
          cause: err,
        });
      }
      body = driver.take();
    }
    const bookkeeping = [
      ...versionChanges(config, rows, after).map((c) => c.sql),
      logInsert(config, { revision: rev.revision, operation, checksum: rev.checksum, file: rev.fileName, durationMs: null }, appliedBy),
    ];
    const arrow = operation === 'upgrade' ? `${rev.downRevisions.join(', ') || 'base'} -> ${rev.revision}` : `${rev.revision} -> ${rev.downRevisions.join(', ') || 'base'}`;
    out.push(`-- Running ${operation} ${arrow}: ${rev.message.replace(/\n/g, ' ')} (${rev.fileName})`);
    if (rev.transactional) out.push('BEGIN;', ...body.map(terminate), ...bookkeeping.map(terminate), 'COMMIT;', '');
    else out.push('-- non-transactional revision', ...body.map(terminate), 'BEGIN;', ...bookkeeping.map(terminate), 'COMMIT;', '');
    rows = after;
    applied = next;
  }
  await db.destroy();
  return out.join('\n');
}

/**
 * Kysely over postgres.js (kysely-postgres-js), with one repair. Kysely 0.28's PostgresDriver rolls a
 * failed transaction back and, when the ROLLBACK itself fails, calls a private method of its own
 * connection class that kysely-postgres-js 3.0's connection does not have: the TypeError
 * ("connection[PRIVATE_MARK_FOR_DISCARD_METHOD] is not a function") then replaces the error that
 * failed the transaction. That is what happens when the session is lost mid-transaction (a
 * failover, pg_terminate_backend): here a ROLLBACK on a lost session is skipped (the server rolled
 * the transaction back when the session ended) and the transaction's own error propagates.
 */
import type postgres from 'postgres';
import { CompiledQuery, type DatabaseConnection, type Dialect } from 'kysely';
import { isConnectionLost } from './errors.js';

/** The dialect for `sql` (imported lazily by the connection seam: Kysely costs start-up time). */
export async function dialectFor(sql: postgres.Sql): Promise<Dialect> {
  const { PostgresJSDialect, PostgresJSDriver } = await import('kysely-postgres-js');
  class Driver extends PostgresJSDriver {
    override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
      try {
        await connection.executeQuery(CompiledQuery.raw('rollback'));
      } catch (err) {
        if (!isConnectionLost(err)) throw err;
      }
    }
  }
  const dialect = new PostgresJSDialect({ postgres: sql });
  dialect.createDriver = () => new Driver({ postgres: sql });
  return dialect;
}

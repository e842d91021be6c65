/**
 * The one Kysely dialect over postgres.js (kysely-postgres-js), for the pool (./connection.ts) and
 * for the engine's pinned session (src/migrate/engine.ts).
 *
 * Kysely 0.28's PostgresDriver marks a connection whose ROLLBACK failed with a method that
 * kysely-postgres-js 3's connections lack: a lost connection then surfaced as "connection[...] is
 * not a function" instead of the real error. Here ROLLBACK's own error propagates (the patched
 * postgres.js pool drops the dead connection itself). Drop the override with kysely-postgres-js >= 5.
 */
import type { Dialect } from 'kysely';
import type { PostgresJSDialectConfig } from 'kysely-postgres-js';

export async function postgresJsDialect(config: PostgresJSDialectConfig): Promise<Dialect> {
  const [{ CompiledQuery }, { PostgresJSDialect }] = await Promise.all([import('kysely'), import('kysely-postgres-js')]);
  class RollbackKeepsItsError extends PostgresJSDialect {
    override createDriver() {
      const driver = super.createDriver();
      driver.rollbackTransaction = async (connection) => {
        await connection.executeQuery(CompiledQuery.raw('rollback'));
      };
      return driver;
    }
  }
  return new RollbackKeepsItsError(config);
}

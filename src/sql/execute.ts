/**
 * Running a script's statements on postgres.js, the one way for revisions and seed files.
 */
import type postgres from 'postgres';
import { CmmcError } from '../errors.js';
import type { SqlStatement } from './lexer.js';

/**
 * Runs one statement of a script on a postgres.js connection; `COPY ... FROM stdin` sends its data
 * through the COPY protocol (postgres.js `writable()`), bounded by the session's statement_timeout.
 * The embedded database cannot take COPY FROM STDIN (pglite-socket does not carry the COPY
 * sub-protocol, electric-sql/pglite#1028): refused there with one line.
 */
export async function executeStatement(pg: postgres.Sql | postgres.ReservedSql | postgres.TransactionSql, stmt: SqlStatement, embedded: boolean): Promise<void> {
  if (stmt.copyData === undefined) {
    await pg.unsafe(stmt.text);
    return;
  }
  if (embedded) {
    throw new CmmcError('sql.copy-embedded', 'COPY ... FROM stdin cannot run on the embedded database (its socket cannot carry COPY data)', {
      hint: 'write the rows as INSERT statements, or run against a PostgreSQL server (DATABASE_URL)',
    });
  }
  const writable = await pg.unsafe(stmt.text).writable();
  await new Promise<void>((resolve, reject) => {
    writable.on('error', reject);
    writable.on('finish', () => resolve());
    writable.end(stmt.copyData);
  });
}


/**
 * Running a script's statements on postgres.js, the one way for revisions and seed files.
 */
import type postgres from 'postgres';
import { tokens, type SqlStatement } from './lexer.js';

/** Where the statements run: a server, or the embedded database in this folder (for COPY, see below). */
export type StatementTarget = { kind: 'server' } | { kind: 'embedded'; dir: string };

/**
 * Runs one statement of a script on a postgres.js connection. `COPY ... FROM stdin` sends its data
 * through the COPY protocol (postgres.js `writable()`), bounded by the session's statement_timeout.
 * On the embedded database the socket cannot carry the COPY sub-protocol (electric-sql/pglite#1028),
 * so the data goes to PGlite itself as `COPY ... FROM '/dev/blob'` (PGlite's way to read COPY data):
 * PGlite is one session, so it runs inside the transaction the statements before it opened.
 */
export async function executeStatement(pg: postgres.Sql | postgres.ReservedSql | postgres.TransactionSql, stmt: SqlStatement, target: StatementTarget): Promise<void> {
  if (stmt.copyData === undefined) {
    await pg.unsafe(stmt.text);
    return;
  }
  if (target.kind === 'embedded') {
    const { acquireEmbedded, releaseEmbedded } = await import('../embedded/instance.js');
    const instance = await acquireEmbedded(target.dir);
    try {
      await instance.pg.query(copyFromBlob(stmt.text), [], { blob: new Blob([stmt.copyData]) });
    } finally {
      await releaseEmbedded(instance);
    }
    return;
  }
  const writable = await pg.unsafe(stmt.text).writable();
  await new Promise<void>((resolve, reject) => {
    writable.on('error', reject);
    writable.on('finish', () => resolve());
    writable.end(stmt.copyData);
  });
}

/** `COPY t (a) FROM stdin WITH (...)` as `COPY t (a) FROM '/dev/blob' WITH (...)` (the top-level STDIN word only). */
export function copyFromBlob(text: string): string {
  let depth = 0;
  let afterFrom = false;
  for (const t of tokens(text)) {
    if (t.kind === 'space' || t.kind === 'comment') continue;
    if (t.kind === 'open') depth++;
    else if (t.kind === 'close') depth--;
    const word = t.kind === 'ident' ? text.slice(t.start, t.end).toLowerCase() : '';
    if (depth === 0 && afterFrom && word === 'stdin') return `${text.slice(0, t.start)}'/dev/blob'${text.slice(t.end)}`;
    afterFrom = depth === 0 && word === 'from';
  }
  return text;
}

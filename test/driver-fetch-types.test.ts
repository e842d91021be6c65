/**
 * postgres.js asks each new connection for the array types (fetch_types) and dropped that query's
 * promise: when it failed (the connection closed under it in a failover, a statement_timeout, no
 * right to read pg_type) the process died of an unhandled rejection, with a stack trace, whatever
 * the caller awaited (porsager/postgres issues 1192, 1205, 1223; seen in CI while a standby of a
 * formation restarted). Our patch (patches/postgres+3.4.9.patch) holds the promise: the caller's own
 * query gets the failure as its own, catchable error (postgres.js hands the first query the error of
 * its array types query), and the process lives on. Made to fail for certain here: a role that may
 * not read pg_type.
 */
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';
import { query } from './helpers/server.js';
import { startTempCluster } from './helpers/temp-cluster.js';

describe('the array types query of a new connection', () => {
  it('failing, it does not kill the process: the caller catches it on its query', async () => {
    const cluster = await startTempCluster();
    try {
      await query(cluster.url(), 'CREATE ROLE probe LOGIN; REVOKE SELECT ON pg_catalog.pg_type FROM PUBLIC');
      const url = `postgres://probe@127.0.0.1:${cluster.port}/postgres`;
      const script = `
        import postgres from 'postgres';
        const sql = postgres(${JSON.stringify(url)}, { max: 1, onnotice: () => {} });
        const answer = await sql\`SELECT 1 AS one\`.then((rows) => rows, (err) => ({ caught: err.message }));
        // A second query on the pool runs normally.
        const again = await sql\`SELECT 2 AS two\`.then((rows) => rows, (err) => ({ caught: err.message }));
        console.log(JSON.stringify({ answer, again }));
        await sql.end();
      `;
      const r = await execa('node', ['--input-type=module', '-e', script], { cwd: path.join(ROOT), reject: false });
      // Unpatched: the process dies (exit 1) with the PostgresError's stack on stderr.
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      const out = JSON.parse(r.stdout);
      expect([[{ one: 1 }], { caught: 'permission denied for table pg_type' }]).toContainEqual(out.answer);
      expect(out.again).toEqual([{ two: 2 }]);
    } finally {
      await cluster.stop();
    }
  });
});

/**
 * The run's advisory lock is taken in the run's first flight; when a later statement of that flight is
 * refused (here a statement_timeout the server will not take), the lock must be let go before the
 * error: a pooled session would otherwise keep it, and every other process's run would wait on it.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/config.js';
import { openDatabase } from '../src/db/connection.js';
import { migrate } from '../src/migrate/index.js';
import { serverBackend } from './helpers/backends.js';
import { FIXTURES } from './engine-fixtures.js';
import { adminQuery } from './helpers/server.js';

describe('a run refused in its first flight', () => {
  it('lets go of the advisory lock it had taken, so that another session can run at once', async () => {
    const target = await serverBackend.create();
    const handle = await openDatabase(resolveConfig({ env: { ...target.env, CMMC_MIGRATIONS_DIR: path.join(FIXTURES, 'linear') } }), { pool: { max: 1, min: 0 } });
    try {
      // 2^31 ms and more is out of statement_timeout's range: the SET after the lock is refused (22023).
      await expect(migrate(handle, 'upgrade', 'head', { statementTimeoutMs: 2 ** 40 })).rejects.toThrow(/statement_timeout/);
      const dbName = new URL(target.url!).pathname.slice(1);
      const held = await adminQuery<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND d.datname = '${dbName}'`,
      );
      // The pool's session is still open (max 1, kept): had it kept the lock, the count would be 1.
      expect(held).toEqual([{ n: 0 }]);
      const again = await migrate(handle, 'upgrade', 'head', { lockTimeoutMs: 2000 });
      expect(again.status).toBe('ok');
    } finally {
      await handle.close();
      await target.drop();
    }
  });
});

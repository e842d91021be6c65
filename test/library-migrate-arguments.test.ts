/**
 * migrate(handle, operation, target) called from JavaScript (the package loads from CommonJS and
 * plain ES modules, where TypeScript's `'upgrade' | 'downgrade' | 'stamp'` checks nothing): any
 * operation other than 'upgrade' and 'stamp' ran as a downgrade: `migrate(pool, 'up', 'base')` ran
 * the newest revision's down step, and only the revision log's CHECK on its operation ('up' is not
 * 'upgrade') rolled it back, with a constraint error naming neither the cause nor the fix (a
 * non-transactional revision's down would have stayed). Now an unknown operation is refused before
 * anything runs (CmmcError `migrate.operation`), and so is a target that is not a string.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CmmcError, createPool, getStatus, migrate, runUpgrade, type DbHandle } from '../src/index.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

describe('migrate called with what TypeScript would have refused', () => {
  let tdb: TestDatabase;
  let pool: DbHandle;
  beforeAll(async () => {
    tdb = await createTestDatabase('cmmc_lib_migrate_args');
    pool = await createPool({ url: tdb.url }, { pool: { min: 1, max: 2 } });
    await runUpgrade(pool, 'head');
  });
  afterAll(async () => {
    await pool?.close();
    await tdb?.drop();
  });

  it.each([['up'], ['Upgrade'], ['rollback'], [undefined]])('the operation %s is refused, and nothing is reverted', async (operation) => {
    const before = (await getStatus(pool)).current;
    const err = await migrate(pool, operation as never, 'base').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CmmcError);
    expect((err as CmmcError).code).toBe('migrate.operation');
    expect((err as CmmcError).message).toContain(String(operation));
    expect((await getStatus(pool)).current).toEqual(before);
  });

  it('a target that is neither a string nor a list of strings is refused', async () => {
    for (const target of [undefined, 3, null, ['head', 4]]) {
      const err = await migrate(pool, 'upgrade', target as never).catch((e: unknown) => e);
      expect((err as CmmcError).code, String(target)).toBe('migrate.operation');
    }
  });
});

/**
 * An application logs what the library hands it: `console.log(pool)`, `logger.info({ config })`
 * (pino and most loggers JSON.stringify), `util.inspect` in an error report. The configuration
 * (`url`, `ownerUrl`, `conn.password`), the handle (`url`, `config`) and postgres.js's options
 * (`pool.sql.options.pass`) printed the database passwords in clear. Now every printed form masks
 * them, copies made with `{ ...config }` too, while the values themselves still connect.
 */
import util from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, openDatabase, resolveConfig } from '../src/index.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

const APP_PASSWORD = 'app-Pw-9f3c1e';
const OWNER_PASSWORD = 'owner-Pw-77ab2d';

/** Every way an application prints a value. */
function printed(value: unknown): Record<string, string> {
  return {
    inspect: util.inspect(value, { depth: Infinity }),
    hidden: util.inspect(value, { depth: Infinity, showHidden: true }),
    format: util.format('%o %O %j', value, value, value),
    json: JSON.stringify(value) ?? '',
    nested: JSON.stringify({ at: 'startup', value }),
  };
}

function leaks(value: unknown): string[] {
  return Object.entries(printed(value))
    .filter(([, text]) => text.includes(APP_PASSWORD) || text.includes(OWNER_PASSWORD))
    .map(([how]) => how);
}

describe('passwords in what the library hands an application', () => {
  let tdb: TestDatabase;
  let url: string;
  beforeAll(async () => {
    tdb = await createTestDatabase('cmmc_lib_secrets');
    // The server trusts 127.0.0.1: the password is sent and ignored.
    url = tdb.url.replace('postgres://postgres@', `postgres://postgres:${APP_PASSWORD}@`);
  });
  afterAll(async () => {
    await tdb?.drop();
  });

  it('the configuration prints with its passwords masked (URL, owner URL, parsed target, copies), and keeps them for connecting', () => {
    const env = { DB_HOST: '127.0.0.1', DB_USER: 'app', DB_PASSWORD: APP_PASSWORD, DB_OWNER_USER: 'owner', DB_OWNER_PASSWORD: OWNER_PASSWORD, DB_NAME: 'x' };
    const config = resolveConfig({ env });
    expect(config.url).toContain(APP_PASSWORD);
    expect(config.ownerUrl).toContain(OWNER_PASSWORD);
    expect(leaks(config)).toEqual([]);
    expect(leaks({ ...config, migrationsDir: '/elsewhere' })).toEqual([]);
    expect(leaks(resolveConfig({ url: `host=127.0.0.1 dbname=x user=app password=${APP_PASSWORD}`, env: {} }))).toEqual([]);
    // Still the whole configuration, only the passwords masked.
    const shown = JSON.parse(JSON.stringify(config));
    expect(shown).toMatchObject({ kind: 'server', source: 'DB_*', conn: { user: 'app', dbname: 'x', password: '****' } });
    expect(shown.url).toContain('app:****@127.0.0.1');
    expect(shown.ownerUrl).toContain('owner:****@127.0.0.1');
    expect(util.inspect(config)).toContain("kind: 'server'");
  });

  it('an open pool, its configuration and its postgres.js options print without the password; the pool still answers', async () => {
    const pool = await createPool({ url }, { pool: { min: 1 } });
    try {
      for (const value of [pool, pool.config, pool.sql, pool.sql.options]) expect(leaks(value)).toEqual([]);
      expect(JSON.parse(JSON.stringify(pool))).toMatchObject({ description: expect.stringContaining(tdb.name), applicationName: pool.applicationName });
      expect(await pool.sql`SELECT 1 AS one`).toEqual([{ one: 1 }]);
      // Another connection made from the printed-safe objects still has the password.
      const copy = await openDatabase({ ...pool.config }, { pool: { min: 0, max: 1 }, kysely: false });
      try {
        expect(copy.url).toContain(APP_PASSWORD);
        expect(await copy.sql`SELECT current_user AS u`).toEqual([{ u: 'postgres' }]);
      } finally {
        await copy.close();
      }
    } finally {
      await pool.close();
    }
  });
});

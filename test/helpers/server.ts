/**
 * The real PostgreSQL the tests use (127.0.0.1:5432, trust auth as postgres on this machine and
 * in CI), and throwaway databases on it: each test makes its own and drops it.
 */
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import postgres from 'postgres';
import { afterAll } from 'vitest';

export const ADMIN_URL = process.env.CMMC_TEST_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function urlFor(database: string, base = ADMIN_URL): string {
  const u = new URL(base);
  u.pathname = '/' + database;
  return u.toString();
}

export function uniqueName(prefix = 'cmmc_test'): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

/** Runs one statement as the admin user on the `postgres` database. */
export async function adminQuery<T extends object = Record<string, unknown>>(text: string): Promise<T[]> {
  const sql = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    return (await sql.unsafe(text)) as unknown as T[];
  } finally {
    await sql.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops the database, ending any connection still open to it. */
  drop(): Promise<void>;
}

export async function createTestDatabase(prefix?: string): Promise<TestDatabase> {
  const name = uniqueName(prefix);
  await adminQuery(`CREATE DATABASE "${name}"`);
  return { name, url: urlFor(name), drop: () => dropDatabase(name) };
}

export async function dropDatabase(name: string): Promise<void> {
  await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

/** Runs a query on a test database and closes the connection. */
export async function query<T extends object = Record<string, any>>(url: string, text: string, params: any[] = []): Promise<T[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return (await sql.unsafe(text, params)) as unknown as T[];
  } finally {
    await sql.end();
  }
}

/** The schema of a database as `pg_dump --schema-only` prints it, without comment lines and the per-run \restrict keys (to compare two databases). */
export async function schemaOf(database: string): Promise<string> {
  const r = await execa('pg_dump', ['--schema-only', '--no-owner', '-h', '127.0.0.1', '-U', 'postgres', database]);
  return r.stdout
    .split('\n')
    .filter((l) => !l.startsWith('--') && !/^\\(un)?restrict /.test(l))
    .join('\n');
}

/** The databases of one test file (`trackedDatabases`), each dropped once the file's tests are done. */
export interface TrackedDatabases {
  /** Creates a database (`createTestDatabase`) and tracks it. */
  create(prefix?: string): Promise<TestDatabase>;
  /** Tracks a database that a command under test creates, by its name. */
  adopt(name: string): TestDatabase;
}

/**
 * A tracker of the scratch databases of one `describe`: every database made or adopted through it
 * is dropped (WITH (FORCE)) in that block's `afterAll`, even when a test fails half-way. Call it in
 * the body of a `describe`.
 *
 * @example
 * ```ts
 * describe('backup verify', () => {
 *   const dbs = trackedDatabases();
 *   it('...', async () => {
 *     const db = await dbs.create('cmmc_vv');
 *     const restored = dbs.adopt(`${db.name}_r`);
 *   });
 * });
 * ```
 */
export function trackedDatabases(): TrackedDatabases {
  const dbs: TestDatabase[] = [];
  afterAll(async () => {
    for (const db of dbs.splice(0)) await db.drop();
  });
  return {
    async create(prefix) {
      const db = await createTestDatabase(prefix);
      dbs.push(db);
      return db;
    },
    adopt(name) {
      const db = { name, url: urlFor(name), drop: () => dropDatabase(name) };
      dbs.push(db);
      return db;
    },
  };
}

/**
 * A table whose rows load slowly only in a database being built by a restore (its name starts with
 * cmmc_scratch_: a restore's new database, or a restore test's scratch one): 60 rows, each checked by
 * a function that sleeps 0.5 s there. A restore of it is still loading when a test interrupts it.
 */
export const SLOW_RESTORE_SQL = `CREATE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE plpgsql AS $$
         BEGIN IF current_database() LIKE 'cmmc\\_scratch\\_%' THEN PERFORM pg_sleep(0.5); END IF; RETURN true; END $$;
       CREATE TABLE s (id int PRIMARY KEY CHECK (slow_ok(id)));
       INSERT INTO s SELECT generate_series(1, 60);`;

/**
 * One connection string run by psql (libpq itself) and by this tool's connection module, for tests
 * that compare the two: each answers "port|user|database" (port "socket" for a unix socket) or
 * "error", so that a case reads as "both connect to the same place, or both refuse".
 */
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { parseConnString, resolveConnOptions } from '../../src/config/conninfo.js';
import { connectPool } from '../../src/db/driver.js';
import { cleanEnv } from './cli.js';

/**
 * One case: the string and the environment (called when the test runs, after beforeAll), and what
 * psql must answer ("port|user|database" or "error"); this tool must answer the same.
 */
export interface LibpqCase {
  name: string;
  conn: () => string;
  env?: () => Record<string, string>;
  expect: () => string;
}

const QUERY = "select coalesce(inet_server_port()::text, 'socket') || '|' || current_user || '|' || current_database() as r";

/**
 * `viaPsql` and `viaTool` for cases run with `home` as HOME (its ~/.pgpass, ~/.pg_service.conf) and
 * `sysconf` as PGSYSCONFDIR, in an environment without the developer's database settings.
 */
export function libpqComparison(home: string, sysconf: string) {
  const caseEnv = (extra: Record<string, string>) => cleanEnv({ HOME: home, PGSYSCONFDIR: sysconf, ...extra }) as Record<string, string>;
  const compare = {
    /** One test per case: psql answers as the case expects, and this tool answers as psql. */
    itEach(cases: LibpqCase[]): void {
      for (const c of cases) {
        it(c.name, async () => {
          const conn = c.conn();
          const env = c.env?.() ?? {};
          const libpq = await compare.viaPsql(conn, env);
          const ours = await compare.viaTool(conn, env);
          expect(libpq, `psql ${conn}`).toBe(c.expect());
          expect(ours, conn).toBe(libpq);
        });
      }
    },
    /** psql never prompts (-w): a missing password is its error, as it is ours. */
    async viaPsql(conn: string, env: Record<string, string> = {}): Promise<string> {
      const r = await execa('psql', ['-w', conn, '-XAtc', QUERY], { env: caseEnv(env), extendEnv: false, reject: false, timeout: 30_000 });
      return r.exitCode === 0 ? r.stdout.trim() : 'error';
    },
    async viaTool(conn: string, env: Record<string, string> = {}): Promise<string> {
      const real = process.env;
      // The password file's warnings and PGPASSWORD are read from the process's environment, as libpq does.
      process.env = caseEnv(env);
      try {
        const sql = await connectPool(resolveConnOptions(parseConnString(conn, 'the URL'), process.env));
        try {
          const [row] = await sql.unsafe<{ r: string }[]>(QUERY);
          return row.r;
        } finally {
          await sql.end({ timeout: 1 });
        }
      } catch {
        return 'error';
      } finally {
        process.env = real;
      }
    },
  };
  return compare;
}

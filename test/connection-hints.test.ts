/**
 * A connection error's hint names the setting that actually holds the value to fix. libpq fills in
 * what the URL or DB_* leave out from PGHOST, PGPORT, PGDATABASE and PGPASSWORD, so when the refused
 * port is PGPORT's the fix is PGPORT, not "the port in DATABASE_URL" (which has none).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';

// A project folder of its own: no .env or config file of the repository's is read.
const project = mkdtempSync(path.join(os.tmpdir(), 'cmmc-conn-hints-'));
writeFileSync(path.join(project, 'package.json'), '{}\n');
afterAll(() => rmSync(project, { recursive: true, force: true }));

async function hintOf(env: Record<string, string>, args: string[] = ['current']): Promise<string> {
  const r = await runCliJson(args, { cwd: project, env });
  expect(r.exitCode, r.stderr).toBe(1);
  return r.data.error.hint as string;
}

describe('connection hints name where each setting came from', () => {
  it('a refused port: the PG* variable that supplied it, else the URL or DB_* setting that holds it', async () => {
    // The URL names the host only: the port is PGPORT's.
    expect(await hintOf({ DATABASE_URL: 'postgres://postgres@127.0.0.1/x', PGPORT: '1' })).toBe(
      'start the server (scripts/setup-postgres.sh) or fix PGPORT or the host in DATABASE_URL',
    );
    // The URL's own port wins over PGPORT, and is what to fix.
    expect(await hintOf({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x', PGPORT: '5432' })).toBe(
      'start the server (scripts/setup-postgres.sh) or fix the host or port in DATABASE_URL',
    );
    expect(await hintOf({ DB_USER: 'postgres', DB_HOST: '127.0.0.1', PGPORT: '1' })).toBe(
      'start the server (scripts/setup-postgres.sh) or fix PGPORT or DB_HOST',
    );
    expect(await hintOf({ DB_USER: 'postgres', DB_HOST: '127.0.0.1', DB_PORT: '1' })).toBe(
      'start the server (scripts/setup-postgres.sh) or fix DB_HOST/DB_PORT',
    );
    expect(await hintOf({ PGHOST: '127.0.0.1', PGPORT: '1', PGUSER: 'postgres' })).toBe('start the server (scripts/setup-postgres.sh) or fix PGHOST/PGPORT');
    // Both host and port from PG* under a URL that names neither.
    expect(await hintOf({ DATABASE_URL: 'postgres:///x?user=postgres', PGHOST: '127.0.0.1', PGPORT: '1' })).toBe(
      'start the server (scripts/setup-postgres.sh) or fix PGHOST/PGPORT',
    );
  });

  it('a missing database: PGDATABASE when it supplied the name', async () => {
    const url = 'postgres://postgres@127.0.0.1:5432';
    expect(await hintOf({ DATABASE_URL: url, PGDATABASE: 'cmmc_hint_nosuch' })).toBe(
      'create it with "cmmc-db init" or "createdb cmmc_hint_nosuch", or fix PGDATABASE',
    );
    expect(await hintOf({ DATABASE_URL: `${url}/cmmc_hint_nosuch`, PGDATABASE: 'postgres' })).toBe(
      'create it with "cmmc-db init" or "createdb cmmc_hint_nosuch", or fix the database name in DATABASE_URL',
    );
    expect(await hintOf({ DB_USER: 'postgres', DB_HOST: '127.0.0.1', DB_PORT: '5432', PGDATABASE: 'cmmc_hint_nosuch' })).toBe(
      'create it with "cmmc-db init" or "createdb cmmc_hint_nosuch", or fix PGDATABASE',
    );
    // --url names a database: the same rule under the flag.
    const flag = await runCli(['current', '--url', url], { cwd: project, env: { PGDATABASE: 'cmmc_hint_nosuch' } });
    expect(flag.stderr).toContain('or fix PGDATABASE');
  });
});

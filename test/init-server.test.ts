/**
 * `cmmc-db init` on the real server, starting from only the admin role (postgres): each test uses
 * its own role and database names and drops both afterwards. The server trusts local connections,
 * so passwords are not checked here (test/connection.test.ts covers authentication).
 */
import { execa } from 'execa';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { adminQuery, query, uniqueName } from './helpers/server.js';

interface Target {
  role: string;
  db: string;
  env: Record<string, string>;
  url: string;
}

function newTarget(): Target {
  const role = uniqueName('cmmc_app');
  const db = uniqueName('cmmc_init');
  return {
    role,
    db,
    env: { DB_HOST: '127.0.0.1', DB_PORT: '5432', DB_USER: role, DB_PASSWORD: 'app-Secret-42', DB_NAME: db, POSTGRES_USER: 'postgres' },
    url: `postgres://${role}@127.0.0.1:5432/${db}`,
  };
}

async function dropTarget(t: Target): Promise<void> {
  await adminQuery(`DROP DATABASE IF EXISTS "${t.db}" WITH (FORCE)`);
  // The application role, the schema owner (DB_OWNER_USER's default) and its bypass role.
  for (const role of [t.role, `${t.role}_owner_rls_bypass`, `${t.role}_owner`]) await adminQuery(`DROP ROLE IF EXISTS "${role}"`);
}

const adminOn = (db: string) => `postgres://postgres@127.0.0.1:5432/${db}`;

describe('cmmc-db init on a server with only the admin role', () => {
  const t = newTarget();
  let first: Awaited<ReturnType<typeof runCliJson>>;
  beforeAll(async () => {
    first = await runCliJson(['init'], { env: t.env });
  });
  afterAll(async () => {
    await dropTarget(t);
  });

  it('creates the roles, the database and the extensions, upgrades to head and loads the controls', async () => {
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.data.changed).toBe(true);
    const status = Object.fromEntries(first.data.steps.map((s: any) => [`${s.step}:${s.name}`, s.status]));
    expect(status).toMatchObject({
      [`role:${t.role}`]: 'created',
      [`role:${t.role}_owner`]: 'created',
      [`role:${t.role}_owner_rls_bypass`]: 'created',
      [`database:${t.db}`]: 'created',
      'extension:uuid-ossp': 'created',
      'extension:vector': 'created',
      [`privileges:${t.role}, ${t.role}_owner, ${t.role}_owner_rls_bypass`]: 'granted',
      'controls:cmmc_controls': 'present',
    });
    expect(first.data.steps.find((s: any) => s.step === 'schema').status).toBe('applied');
    expect(first.data.steps.find((s: any) => s.step === 'seeds').status).toBe('applied');
    expect(first.data.controls).toBe(110);
    expect(first.stderr).not.toContain('app-Secret-42');

    const [role] = await adminQuery<{ rolcanlogin: boolean; rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean }>(
      `SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = '${t.role}'`,
    );
    expect(role).toEqual({ rolcanlogin: true, rolsuper: false, rolcreatedb: false, rolcreaterole: false });
    const [db] = await adminQuery<{ owner: string }>(`SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = '${t.db}'`);
    expect(db.owner).toBe('postgres');

    const extensions = await query<{ extname: string; owner: string }>(adminOn(t.db), "SELECT extname, pg_get_userbyid(extowner) AS owner FROM pg_extension WHERE extname IN ('uuid-ossp', 'vector') ORDER BY extname");
    expect(extensions).toEqual([{ extname: 'uuid-ossp', owner: 'postgres' }, { extname: 'vector', owner: 'postgres' }]);
    // public holds the 16 tables (15 platform + version table), owned by the schema owner (DB_OWNER_USER, default <DB_USER>_owner).
    const tables = await query<{ tablename: string; tableowner: string }>(adminOn(t.db), "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'");
    expect(tables).toHaveLength(16);
    expect(new Set(tables.map((r) => r.tableowner))).toEqual(new Set([`${t.role}_owner`]));
  });

  it('psql as the application role counts 110 controls', async () => {
    const r = await execa('psql', ['-h', '127.0.0.1', '-U', t.role, '-d', t.db, '-Atc', 'SELECT COUNT(*) FROM cmmc_controls'], { reject: false, env: { PGPASSWORD: 'app-Secret-42' } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('110');
  });

  it('a second run changes nothing and says so', async () => {
    const second = await runCliJson(['init'], { env: t.env });
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.data.changed).toBe(false);
    expect(second.data.steps.every((s: any) => s.status === 'present')).toBe(true);
    expect(second.stderr).toContain(`role ${t.role}: already present`);
    expect(second.stderr).toContain('schema');
    expect(second.stderr).toContain('already at head');
    expect(second.stderr).toContain('nothing to do: already initialized (110 controls)');
    const [log] = await query(adminOn(t.db), 'SELECT count(*)::int AS n FROM cmmc_db.seed_log');
    expect(log.n).toBe(2);
  });

  it('the application role cannot create or drop extensions, nor drop a table it does not own', async () => {
    await query(adminOn(t.db), 'CREATE TABLE public.admin_owned (id int)');
    const sql = postgres(t.url, { max: 1, onnotice: () => {} });
    try {
      const attempt = async (text: string) => {
        try {
          await sql.unsafe(text);
          return 'succeeded';
        } catch (err) {
          return (err as Error).message;
        }
      };
      // pageinspect is untrusted like vector: only a superuser may create it.
      expect(await attempt('CREATE EXTENSION pageinspect')).toMatch(/permission denied to create extension "pageinspect"/);
      expect(await attempt('DROP EXTENSION vector')).toMatch(/must be owner of extension vector/);
      expect(await attempt('DROP TABLE public.admin_owned')).toMatch(/must be owner of table admin_owned/);
      expect(await attempt(`DROP DATABASE "${t.db}"`)).toMatch(/must be owner of database|cannot drop the currently open database/);
      expect(await attempt('CREATE ROLE intruder')).toMatch(/permission denied to create role/);
      // It creates nothing (test/tenant-isolation.test.ts has the whole matrix); it reads the controls.
      expect(await attempt('CREATE TABLE public.app_scratch (id int)')).toMatch(/permission denied for schema public/);
      expect(await attempt('SELECT count(*) FROM cmmc_controls')).toBe('succeeded');
    } finally {
      await sql.end();
    }
  });
});

describe('cmmc-db init with role names that need quoting', () => {
  it('a mixed-case DB_USER (and its owner and bypass roles): init finishes, twice, and the application role is bound', async () => {
    // regrole reads its text as an identifier: 'x_Mixed_owner'::regrole looked for x_mixed_owner, and init
    // stopped half-way ("role ... does not exist") after creating the roles and the database.
    const t = { ...newTarget() };
    t.role = `${t.role}_Mixed`;
    t.env = { ...t.env, DB_USER: t.role };
    try {
      for (const run of [1, 2]) {
        // The demo tenants too: they are there, and the application role sees none without a tenant set.
        const r = await runCli(run === 1 ? ['init', '--sample'] : ['init'], { env: t.env });
        expect(r.exitCode, `run ${run}: ${r.stderr}`).toBe(0);
      }
      const r = await execa('psql', ['-h', '127.0.0.1', '-U', t.role, '-d', t.db, '-Atc', 'SELECT current_user, count(*) FROM cmmc_controls GROUP BY 1; SELECT count(*) FROM organizations'], {
        reject: false,
        env: { PGPASSWORD: 'app-Secret-42' },
      });
      expect(r.stdout, r.stderr).toBe(`${t.role}|110\n0`);
      expect(await adminQuery(`SELECT rolname FROM pg_roles WHERE rolname IN ('${t.role}_owner', '${t.role}_owner_rls_bypass') ORDER BY 1`)).toHaveLength(2);
      const [{ n }] = await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM pg_database WHERE datname = '${t.db}'`);
      expect(n).toBe(1);
      expect(await query(adminOn(t.db), 'SELECT count(*)::int AS n FROM organizations')).not.toEqual([{ n: 0 }]);
    } finally {
      await dropTarget(t);
    }
  });
});

describe('cmmc-db init options', () => {
  it('takes the admin from --admin-url and refuses --sample in production before touching anything', async () => {
    const t = newTarget();
    try {
      const refused = await runCli(['init', '--sample'], { env: { ...t.env, NODE_ENV: 'production' } });
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain('refusing to load sample data in production');
      expect(await adminQuery(`SELECT 1 FROM pg_roles WHERE rolname = '${t.role}'`)).toHaveLength(0);

      const { POSTGRES_USER: _unused, ...env } = t.env;
      const r = await runCliJson(['init', '--sample', '--admin-url', 'postgres://postgres@127.0.0.1:5432/postgres'], { env });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.data.seeds.map((s: any) => [s.file, s.outcome])).toEqual([
        ['01_cmmc_controls.sql', 'applied'],
        ['02_provider_inheritance.sql', 'applied'],
        ['03_sample_data.sql', 'applied'],
      ]);
      const [users] = await query(adminOn(t.db), 'SELECT count(*)::int AS n FROM users');
      expect(users.n).toBe(4);
    } finally {
      await dropTarget(t);
    }
  });

  it('an admin that cannot connect gets one line naming the problem, without the password', async () => {
    const t = newTarget();
    try {
      const r = await runCli(['init', '--admin-url', 'postgres://postgres:admin-pw-99@127.0.0.1:1/postgres'], { env: t.env });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain('connection refused');
      expect(r.stderr).not.toContain('admin-pw-99');
      expect(r.stderr).not.toContain('app-Secret-42');
    } finally {
      await dropTarget(t);
    }
  });

  it('a failed admin connect names the setting the admin came from: --admin-url, or POSTGRES_USER and the target\'s host', async () => {
    const t = newTarget();
    const lastLine = (r: { stderr: string }) => r.stderr.trim().split('\n').at(-1);
    try {
      const { POSTGRES_USER: _unused, ...env } = t.env;
      const refused = await runCli(['init', '--admin-url', 'postgres://postgres@127.0.0.1:1/postgres'], { env });
      expect(lastLine(refused)).toBe('error: cannot connect to PostgreSQL at 127.0.0.1:1: connection refused — start PostgreSQL at 127.0.0.1:1, or fix the host or port in --admin-url');
      const missing = await runCli(['init', '--admin-url', 'postgres://postgres@127.0.0.1:5432/no_such_admin_db'], { env });
      expect(lastLine(missing)).toBe('error: database "no_such_admin_db" does not exist on 127.0.0.1:5432 — fix the database name in --admin-url: name a database that exists (usually postgres)');
      const user = await runCli(['init', '--admin-url', 'postgres://no_such_admin@127.0.0.1:5432/postgres'], { env });
      expect(lastLine(user)).toBe('error: the server at 127.0.0.1:5432 rejected user "no_such_admin" for database "postgres" — check the user name in --admin-url, and that pg_hba.conf allows this connection');
      // PGPORT completed the admin URL: that is what to fix.
      const pgport = await runCli(['init', '--admin-url', 'postgres://postgres@127.0.0.1/postgres'], { env: { ...env, PGPORT: '1' } });
      expect(lastLine(pgport)).toBe('error: cannot connect to PostgreSQL at 127.0.0.1:1: connection refused — start PostgreSQL at 127.0.0.1:1, or fix PGPORT or the host in --admin-url');
      // Without --admin-url: the admin is POSTGRES_USER on the target's host and port (DB_HOST/DB_PORT here).
      const byEnv = await runCli(['init'], { env: { ...t.env, POSTGRES_USER: 'no_such_admin' } });
      expect(lastLine(byEnv)).toBe('error: the server at 127.0.0.1:5432 rejected user "no_such_admin" for database "postgres" — check POSTGRES_USER, and that pg_hba.conf allows this connection');
      const byEnvPort = await runCli(['init'], { env: { ...t.env, DB_PORT: '1' } });
      expect(lastLine(byEnvPort)).toBe('error: cannot connect to PostgreSQL at 127.0.0.1:1: connection refused — start PostgreSQL at 127.0.0.1:1, or fix DB_HOST/DB_PORT, or unset the DB_* variables to use the embedded database');
      expect(await adminQuery(`SELECT 1 FROM pg_roles WHERE rolname = '${t.role}'`)).toHaveLength(0);
    } finally {
      await dropTarget(t);
    }
  });

  it('the application role\'s settings are named where they came from: DB_USER/DB_NAME, or the URL\'s user and database', async () => {
    const t = newTarget();
    const lastLine = (r: { stderr: string }) => r.stderr.trim().split('\n').at(-1);
    try {
      const revert = ['init', '--revert-roles', '--yes'];
      const byUrl = await runCli(revert, { env: { DATABASE_URL: t.url, POSTGRES_USER: 'postgres' } });
      expect(lastLine(byUrl)).toBe(`error: database "${t.db}" does not exist — check the database name in DATABASE_URL`);
      const byParts = await runCli(revert, { env: t.env });
      expect(lastLine(byParts)).toBe(`error: database "${t.db}" does not exist — check DB_NAME`);
      const admin = await runCli(revert, { env: { DATABASE_URL: adminOn(t.db), POSTGRES_USER: 'postgres' } });
      expect(lastLine(admin)).toBe('error: --revert-roles: the application role is the admin role, so there is no role model to revert — set the user name in DATABASE_URL to the platform role');
      expect(await adminQuery(`SELECT 1 FROM pg_database WHERE datname = '${t.db}'`)).toHaveLength(0);
    } finally {
      await dropTarget(t);
    }
  });
});

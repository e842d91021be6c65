/**
 * Role passwords never reach the server in cleartext (security trial): `init` computes the
 * SCRAM-SHA-256 verifier (or md5, when the server's password_encryption says so) on the client, as
 * psql's \password does. Before, `CREATE ROLE ... PASSWORD '<cleartext>'` landed in the server log
 * whenever the statement failed (log_min_error_statement=error) and, with log_statement=all, also in
 * the logged parameters of the `SELECT format(...)` that built it.
 *
 * On a throwaway cluster with scram-sha-256 authentication and log_statement=all.
 */
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { adminQuery, uniqueName } from './helpers/server.js';
import { startTempCluster, type TempCluster } from './helpers/temp-cluster.js';
import { md5Verifier, passwordMatches, scramSha256Verifier } from '../src/tenant/password-verifier.js';

const ADMIN_PASSWORD = 'Admin-Pw-0';
const APP_PASSWORD = 'App-Secret-ünï-7';
const OWNER_PASSWORD = "Owner-Secret-'8";
const FAILING_PASSWORD = 'Failing-Secret-9';

describe('init on a server that logs every statement', () => {
  let cluster: TempCluster;
  const log = () => fs.readFileSync(path.join(cluster.socketDir, 'log'), 'utf8');
  beforeAll(async () => {
    cluster = await startTempCluster({ log_statement: 'all' }, { password: ADMIN_PASSWORD });
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  const envFor = (app: string, db: string, extra: Record<string, string> = {}) => ({
    DB_HOST: '127.0.0.1',
    DB_PORT: String(cluster.port),
    DB_USER: app,
    DB_PASSWORD: APP_PASSWORD,
    DB_OWNER_PASSWORD: OWNER_PASSWORD,
    DB_NAME: db,
    POSTGRES_USER: 'postgres',
    POSTGRES_PASSWORD: ADMIN_PASSWORD,
    ...extra,
  });

  it('a failing CREATE ROLE (a reserved name) logs the statement without the password', async () => {
    const r = await runCli(['init'], { env: envFor('pg_x', 'cmmc_pw_fail', { DB_PASSWORD: FAILING_PASSWORD }) });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('role name "pg_x" is reserved');
    expect(r.stderr).not.toContain(FAILING_PASSWORD);
    const text = log();
    expect(text).not.toContain(FAILING_PASSWORD);
    expect(text).toContain('role name "pg_x" is reserved'); // the failure and its STATEMENT are in the log
    expect(text).toMatch(/STATEMENT: {2}CREATE ROLE "pg_x" LOGIN .* PASSWORD 'SCRAM-SHA-256\$4096:/);
  });

  it('after init the log holds no password, and the roles log in with theirs (scram-sha-256)', async () => {
    const app = 'cmmc_pw_app';
    const r = await runCli(['init'], { env: envFor(app, 'cmmc_pw') });
    expect(r.exitCode, r.stderr).toBe(0);
    const text = log();
    for (const secret of [APP_PASSWORD, OWNER_PASSWORD, OWNER_PASSWORD.replace("'", "''"), FAILING_PASSWORD]) expect(text).not.toContain(secret);
    expect(text).toContain(`CREATE ROLE "${app}" LOGIN`);
    for (const [user, password] of [[app, APP_PASSWORD], [`${app}_owner`, OWNER_PASSWORD]]) {
      const sql = postgres(`postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${cluster.port}/cmmc_pw`, { max: 1, onnotice: () => {} });
      try {
        const [me] = await sql`SELECT current_user AS who`;
        expect(me.who).toBe(user);
      } finally {
        await sql.end({ timeout: 5 });
      }
    }
    const admin = postgres(cluster.url(), { max: 1, onnotice: () => {} });
    try {
      const rows = await admin`SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(${[app, `${app}_owner`]}) ORDER BY 1`;
      for (const row of rows) expect(row.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
    } finally {
      await admin.end({ timeout: 5 });
    }
  });
});

describe('init again, with passwords that changed', () => {
  let cluster: TempCluster;
  beforeAll(async () => {
    cluster = await startTempCluster({ log_statement: 'all' }, { password: ADMIN_PASSWORD });
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  const canLogIn = async (user: string, password: string, db: string) => {
    const sql = postgres(`postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${cluster.port}/${db}`, { max: 1, onnotice: () => {} });
    try {
      await sql`SELECT 1`;
      return true;
    } catch {
      return false;
    } finally {
      await sql.end({ timeout: 5 });
    }
  };

  it('the owner password the first run had none for is set by the next (as its step line said); an application role keeps its own, with a warning', async () => {
    // Before, the second run said "nothing to do": the owner, made without a password, never got the
    // one DB_OWNER_PASSWORD then named, and a DB_PASSWORD other than the role's went unnoticed.
    const app = 'cmmc_pw_again';
    const env = (extra: Record<string, string>) => ({
      DB_HOST: '127.0.0.1',
      DB_PORT: String(cluster.port),
      DB_USER: app,
      DB_PASSWORD: APP_PASSWORD,
      DB_NAME: 'cmmc_pw_again',
      POSTGRES_PASSWORD: ADMIN_PASSWORD,
      ...extra,
    });
    const first = await runCli(['init'], { env: env({}) });
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stderr).toContain(`role ${app}_owner: created (schema owner, LOGIN, no password (put one in DB_OWNER_PASSWORD and run init again))`);
    expect(await canLogIn(`${app}_owner`, OWNER_PASSWORD, 'cmmc_pw_again')).toBe(false);

    const second = await runCli(['init'], { env: env({ DB_OWNER_PASSWORD: OWNER_PASSWORD, DB_PASSWORD: FAILING_PASSWORD }) });
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stderr).toContain(`role ${app}_owner: applied (already present; password set from DB_OWNER_PASSWORD (it had none))`);
    expect(second.stderr.trim().split('\n').at(-1)).toBe(
      `warning: the application role "${app}" has a password other than DB_PASSWORD: where the server checks passwords it cannot log in with DB_PASSWORD; put the role's password there, or set the role's to it as the admin (psql: \\password "${app}")`,
    );
    expect(await canLogIn(`${app}_owner`, OWNER_PASSWORD, 'cmmc_pw_again')).toBe(true);
    expect(await canLogIn(app, APP_PASSWORD, 'cmmc_pw_again')).toBe(true);
    expect(await canLogIn(app, FAILING_PASSWORD, 'cmmc_pw_again')).toBe(false);
    const text = fs.readFileSync(path.join(cluster.socketDir, 'log'), 'utf8');
    for (const secret of [OWNER_PASSWORD, OWNER_PASSWORD.replace("'", "''"), FAILING_PASSWORD, APP_PASSWORD]) expect(text).not.toContain(secret);
    expect(text).toMatch(new RegExp(`ALTER ROLE "${app}_owner" PASSWORD 'SCRAM-SHA-256\\$4096:`));

    // A third run: everything in place, nothing to say.
    const third = await runCli(['init'], { env: env({ DB_OWNER_PASSWORD: OWNER_PASSWORD }) });
    expect(third.exitCode, third.stderr).toBe(0);
    expect(third.stderr).toContain('nothing to do: already initialized (110 controls)');
    expect(third.stderr).not.toContain('warning:');
  });
});

describe('the verifiers are the ones PostgreSQL computes', () => {
  const role = uniqueName('cmmc_pw_check');
  afterAll(async () => {
    await adminQuery(`DROP ROLE IF EXISTS "${role}"`);
  });
  it('SCRAM-SHA-256 with SASLprep (a soft hyphen is dropped, a non-ASCII space mapped, a prohibited character kept as is) and md5', async () => {
    for (const password of ['plain-Pw-1', 'I\u00ADX\u00A0ü\u2163', 'bell\u0007x', 'ⅸ-\u0627']) {
      const literal = `'${password.replace(/'/g, "''")}'`;
      const [scram] = await adminQuery<{ rolpassword: string }>(
        `SET password_encryption = 'scram-sha-256'; DROP ROLE IF EXISTS "${role}"; CREATE ROLE "${role}" PASSWORD ${literal}; SELECT rolpassword FROM pg_authid WHERE rolname = '${role}'`,
      ).then((r: any) => r.at(-1));
      const [, iterations, salt] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(scram.rolpassword)!;
      expect(await scramSha256Verifier(password, Number(iterations), Buffer.from(salt, 'base64')), JSON.stringify(password)).toBe(scram.rolpassword);
      // What init compares an existing role's password with (passwordMatches): the server's own verifier.
      expect(await passwordMatches(scram.rolpassword, role, password)).toBe(true);
      expect(await passwordMatches(scram.rolpassword, role, password + 'x')).toBe(false);
      const [md5] = await adminQuery<{ rolpassword: string }>(
        `SET password_encryption = 'md5'; DROP ROLE "${role}"; CREATE ROLE "${role}" PASSWORD ${literal}; SELECT rolpassword FROM pg_authid WHERE rolname = '${role}'`,
      ).then((r: any) => r.at(-1));
      expect(md5Verifier(password, role)).toBe(md5.rolpassword);
      expect(await passwordMatches(md5.rolpassword, role, password)).toBe(true);
      expect(await passwordMatches(md5.rolpassword, role, password + 'x')).toBe(false);
    }
  });
});

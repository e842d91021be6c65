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
import { md5Verifier, scramSha256Verifier } from '../src/tenant/password-verifier.js';

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
      const [md5] = await adminQuery<{ rolpassword: string }>(
        `SET password_encryption = 'md5'; DROP ROLE "${role}"; CREATE ROLE "${role}" PASSWORD ${literal}; SELECT rolpassword FROM pg_authid WHERE rolname = '${role}'`,
      ).then((r: any) => r.at(-1));
      expect(md5Verifier(password, role)).toBe(md5.rolpassword);
    }
  });
});

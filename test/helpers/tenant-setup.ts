/**
 * The roles and database of one `cmmc-db init` on the real server, with unique names (tenant
 * isolation tests): the application role, the schema owner and its bypass role, the database.
 */
import postgres from 'postgres';
import { adminQuery, query, uniqueName } from './server.js';
import { runCli, runCliJson } from './cli.js';
import { bypassRoleName } from '../../src/tenant/roles.js';

export interface Setup {
  app: string;
  owner: string;
  db: string;
  env: Record<string, string>;
  appUrl: string;
  ownerUrl: string;
  adminUrl: string;
}

export function newSetup(prefix = 'ti'): Setup {
  const app = uniqueName(`${prefix}_app`);
  const owner = uniqueName(`${prefix}_own`);
  const db = uniqueName(`${prefix}_db`);
  return {
    app,
    owner,
    db,
    env: { DB_HOST: '127.0.0.1', DB_PORT: '5432', DB_USER: app, DB_PASSWORD: 'app-Pw-1', DB_OWNER_USER: owner, DB_OWNER_PASSWORD: 'owner-Pw-2', DB_NAME: db, POSTGRES_USER: 'postgres' },
    appUrl: `postgres://${app}:app-Pw-1@127.0.0.1:5432/${db}`,
    ownerUrl: `postgres://${owner}:owner-Pw-2@127.0.0.1:5432/${db}`,
    adminUrl: `postgres://postgres@127.0.0.1:5432/${db}`,
  };
}

export async function dropSetup(s: { db: string; roles: string[] }): Promise<void> {
  await adminQuery(`DROP DATABASE IF EXISTS "${s.db}" WITH (FORCE)`);
  for (const role of s.roles) {
    // Grants and default privileges in other databases would block DROP ROLE; there are none here.
    await adminQuery(`DROP ROLE IF EXISTS "${role}"`);
  }
}

export const rolesOf = (s: Setup) => [s.app, bypassRoleName(s.owner), s.owner];

/** Two tenants with one user each, as `initWithTwoTenants` makes them. */
export const TWO_TENANTS = {
  A: 'a0000000-0000-4000-8000-00000000000a',
  B: 'b0000000-0000-4000-8000-00000000000b',
  USER_A: 'a0000000-0000-4000-8000-000000000101',
  USER_B: 'b0000000-0000-4000-8000-000000000101',
  EMAIL_A: 'alice@a.example',
  EMAIL_B: 'bob@b.example',
} as const;

/**
 * `cmmc-db init` for the setup, then (as the admin) organizations A and B with one user each
 * (password hashes 'hash-a', 'hash-b').
 */
export async function initWithTwoTenants(s: Setup): Promise<void> {
  const init = await runCli(['init'], { env: s.env });
  if (init.exitCode !== 0) throw new Error(`cmmc-db init failed: ${init.stderr}`);
  const t = TWO_TENANTS;
  await query(s.adminUrl, `
    INSERT INTO organizations (id, name, organization_type) VALUES ('${t.A}', 'A', 'SMB'), ('${t.B}', 'B', 'SMB');
    INSERT INTO users (id, organization_id, email, password_hash, full_name) VALUES
      ('${t.USER_A}', '${t.A}', '${t.EMAIL_A}', 'hash-a', 'Alice'), ('${t.USER_B}', '${t.B}', '${t.EMAIL_B}', 'hash-b', 'Bob')`);
}

/** `doctor tenant.isolation --json` on `url`: the exit code and the check's result. */
export async function doctorTenant(url: string): Promise<{ exitCode: number; check: any }> {
  const r = await runCliJson(['doctor', 'tenant.isolation'], { url });
  return { exitCode: r.exitCode, check: r.data.checks.find((c: any) => c.id === 'tenant.isolation') };
}

/** Runs `statements` as the role of `url` on one session; returns the last result. */
export async function runStatements(url: string, statements: string[]): Promise<any[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    let last: any[] = [];
    for (const s of statements) last = [...(await sql.unsafe(s))];
    return last;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * `cmmc-db init` where something is already there, or where a run does not finish (trials on the real
 * server): roles that exist with other settings, a database that holds another application's tables,
 * a seed file that fails, an interruption half-way. Each test uses its own role and database names and
 * drops them. Passwords that really log in are test/init-passwords.test.ts's (a scram-sha-256 cluster).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { COMMAND, ROOT, cleanEnv, runCli } from './helpers/cli.js';
import { adminQuery, query, uniqueName } from './helpers/server.js';

interface Target {
  app: string;
  db: string;
  env: Record<string, string>;
}

const targets: Target[] = [];
const folders: string[] = [];

function newTarget(): Target {
  const app = uniqueName('cmmc_ex');
  const t = { app, db: `${app}_db`, env: { DB_HOST: '127.0.0.1', DB_PORT: '5432', DB_USER: app, DB_PASSWORD: 'app-Secret-42', DB_NAME: `${app}_db`, POSTGRES_USER: 'postgres' } };
  targets.push(t);
  return t;
}

function tempFolder(kind: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `cmmc-init-${kind}-`));
  folders.push(dir);
  return dir;
}

afterEach(async () => {
  for (const t of targets.splice(0)) {
    await adminQuery(`DROP DATABASE IF EXISTS "${t.db}" WITH (FORCE)`);
    for (const role of [t.app, `${t.app}_owner_rls_bypass`, `${t.app}_owner`]) await adminQuery(`DROP ROLE IF EXISTS "${role}"`);
  }
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const adminOn = (db: string) => `postgres://postgres@127.0.0.1:5432/${db}`;
const lastLine = (text: string) => text.trim().split('\n').at(-1) ?? '';
const roleExists = async (name: string) => (await adminQuery(`SELECT 1 FROM pg_roles WHERE rolname = '${name}'`)).length === 1;

/** What the application role may do on the tables that must not be its to rewrite, and on one that is. */
async function appPrivileges(t: Target): Promise<Record<string, boolean>> {
  const [row] = await query(
    adminOn(t.db),
    `SELECT has_table_privilege($1, 'public.audit_logs', 'UPDATE') AS audit_update,
            has_table_privilege($1, 'public.audit_logs', 'DELETE') AS audit_delete,
            has_table_privilege($1, 'public.cmmc_controls', 'INSERT') AS controls_insert,
            has_table_privilege($1, 'public.cmmc_schema_version', 'UPDATE') AS version_update`,
    [t.app],
  );
  return row;
}

describe('init with roles that exist already', () => {
  it('an application role whose password is not DB_PASSWORD: a warning last, and its password is left as it is', async () => {
    // Before, init said "nothing to do" and the platform could not log in with DB_PASSWORD.
    const t = newTarget();
    await adminQuery(`CREATE ROLE "${t.app}" LOGIN PASSWORD 'older-Secret-7'`);
    const [before] = await adminQuery<{ p: string }>(`SELECT rolpassword AS p FROM pg_authid WHERE rolname = '${t.app}'`);
    const r = await runCli(['init'], { env: t.env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(lastLine(r.stderr)).toBe(
      `warning: the application role "${t.app}" has a password other than DB_PASSWORD: where the server checks passwords it cannot log in with DB_PASSWORD; put the role's password there, or set the role's to it as the admin (psql: \\password "${t.app}")`,
    );
    expect(r.stderr + r.stdout).not.toContain('app-Secret-42');
    expect(r.stderr + r.stdout).not.toContain('older-Secret-7');
    const [after] = await adminQuery<{ p: string }>(`SELECT rolpassword AS p FROM pg_authid WHERE rolname = '${t.app}'`);
    expect(after.p).toBe(before.p);
    // The same password: no warning.
    const same = await runCli(['init'], { env: { ...t.env, DB_PASSWORD: 'older-Secret-7' } });
    expect(same.exitCode, same.stderr).toBe(0);
    expect(same.stderr).not.toContain('warning:');
  });

  it('an application role without LOGIN: said last, not inside a step line', async () => {
    const t = newTarget();
    await adminQuery(`CREATE ROLE "${t.app}" NOLOGIN`);
    const r = await runCli(['init'], { env: t.env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(lastLine(r.stderr)).toBe(`warning: the application role "${t.app}" cannot log in (NOLOGIN): as the admin: ALTER ROLE "${t.app}" LOGIN`);
  });

  it('an RLS bypass role that can log in, or lacks BYPASSRLS, is refused before anything is made', async () => {
    // Before, init took it as "already present": a login with a known password was made the owner's way
    // across tenants, and without BYPASSRLS every backup failed afterwards (pg_dump --role refused the tables).
    const t = newTarget();
    const bypass = `${t.app}_owner_rls_bypass`;
    await adminQuery(`CREATE ROLE "${bypass}" LOGIN PASSWORD 'known-to-someone'`);
    const r = await runCli(['init'], { env: t.env });
    expect(r.exitCode).toBe(1);
    expect(lastLine(r.stderr)).toBe(
      `error: the RLS bypass role "${bypass}" can log in: whoever had its password would cross every tenant through it, and has no BYPASSRLS: the seeds and backups that cross tenants through it would fail — as the admin: ALTER ROLE "${bypass}" NOLOGIN; ALTER ROLE "${bypass}" BYPASSRLS; then run init again`,
    );
    expect(await roleExists(t.app)).toBe(false);
    expect(await adminQuery(`SELECT 1 FROM pg_database WHERE datname = '${t.db}'`)).toHaveLength(0);

    await adminQuery(`ALTER ROLE "${bypass}" NOLOGIN`);
    const again = await runCli(['init'], { env: t.env });
    expect(again.exitCode).toBe(1);
    expect(lastLine(again.stderr)).toContain(`has no BYPASSRLS`);

    // Fixed as the hint says, init goes on; the owner's backup reads every tenant through it.
    await adminQuery(`ALTER ROLE "${bypass}" BYPASSRLS`);
    const fixed = await runCli(['init', '--sample'], { env: t.env });
    expect(fixed.exitCode, fixed.stderr).toBe(0);
    const backups = tempFolder('backups');
    const backup = await runCli(['backup'], { env: { ...t.env, DB_OWNER_USER: `${t.app}_owner`, CMMC_BACKUP_DIR: backups } });
    expect(backup.exitCode, backup.stderr).toBe(0);
  });
});

describe('init on a database that holds something else', () => {
  it("another application's tables: refused before any role is made, its rows and privileges as they were", async () => {
    // Before: "the platform's objects ... are owned by postgres", with advice to hand them to the owner,
    // after which init added the platform beside them and granted the application role DML on them.
    const t = newTarget();
    await adminQuery(`CREATE DATABASE "${t.db}"`);
    await query(adminOn(t.db), 'CREATE TABLE public.inventory (id int PRIMARY KEY, name text); INSERT INTO public.inventory VALUES (1, $$bolts$$)');
    const r = await runCli(['init'], { env: t.env });
    expect(r.exitCode).toBe(1);
    expect(lastLine(r.stderr)).toBe(
      `error: database "${t.db}" already holds a table (public.inventory) and no cmmc-db version table (public.cmmc_schema_version): init makes the platform only in a database of its own — set DB_NAME to a database that does not exist yet (init creates it), or one made by cmmc-db`,
    );
    expect(await roleExists(t.app)).toBe(false);
    expect(await query(adminOn(t.db), 'SELECT name FROM public.inventory')).toEqual([{ name: 'bolts' }]);
    expect(await query(adminOn(t.db), "SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'cmmc_db') AND c.relkind = 'r'")).toEqual([{ n: 1 }]);
  });
});

describe('init that does not finish', () => {
  it('a seed file that fails: the application role gets the grants of what exists, never writes to the audit trail or the reference data', async () => {
    // Before, the application role kept UPDATE and DELETE on audit_logs and writes on cmmc_controls and
    // the version table (the default privileges init had set before the upgrade), and "cmmc-db seed",
    // the failure's remedy, never took them back.
    const t = newTarget();
    const seeds = tempFolder('seeds');
    for (const f of ['01_cmmc_controls.sql', '02_provider_inheritance.sql']) copyFileSync(path.join(ROOT, 'seeds', f), path.join(seeds, f));
    writeFileSync(path.join(seeds, '05_broken.sql'), "INSERT INTO cmmc_controls (id) VALUES ('XX.L2-0.0.0');\n");
    const r = await runCli(['init'], { env: { ...t.env, CMMC_SEEDS_DIR: seeds } });
    expect(r.exitCode).toBe(1);
    expect(lastLine(r.stderr)).toContain('seed 05_broken.sql failed at statement 1');
    expect(await appPrivileges(t)).toEqual({ audit_update: false, audit_delete: false, controls_insert: false, version_update: false });
    const [usable] = await query(adminOn(t.db), "SELECT has_table_privilege($1, 'public.organizations', 'INSERT') AS ok, has_table_privilege($1, 'public.cmmc_controls', 'SELECT') AS reads", [t.app]);
    expect(usable).toEqual({ ok: true, reads: true });
  });

  it('interrupted during the upgrade: the application role holds no write it must not, the line says what is left, and init again finishes', async () => {
    const t = newTarget();
    const project = tempFolder('project');
    writeFileSync(path.join(project, 'package.json'), '{"name": "interrupted-init"}\n');
    mkdirSync(path.join(project, 'migrations'));
    const revision = path.join(project, 'migrations', 'a1b2c3d4e5f6_slow.sql');
    const slowRevision = (body: string) => `-- revision: a1b2c3d4e5f6\n-- down_revision: f14f1d09b343\n-- message: slow\n-- migrate:up\n${body}\n-- migrate:down\nSELECT 1;\n`;
    writeFileSync(revision, slowRevision(`SELECT pg_sleep(60) AS waiting_in_${t.app};`));
    const env = { ...t.env, CMMC_PROJECT_DIR: project };
    const run = execa(COMMAND, ['init'], { cwd: project, env: cleanEnv(env), extendEnv: false, reject: false });
    try {
      // The platform's revisions are committed; the project's is running.
      for (let i = 0; ; i++) {
        const waiting = await adminQuery(`SELECT 1 FROM pg_stat_activity WHERE query LIKE '%waiting_in_${t.app}%' AND pid <> pg_backend_pid()`);
        if (waiting.length) break;
        if (i > 600) throw new Error(`init never reached the slow revision: ${(await run.catch((e) => e)).stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(await appPrivileges(t)).toEqual({ audit_update: false, audit_delete: false, controls_insert: false, version_update: false });
      run.kill('SIGINT');
      const r = await run;
      expect(r.exitCode).toBe(130);
      expect(r.stderr).toContain(
        `interrupted (Ctrl-C): init stopped before finishing: what it finished is kept (roles ${t.app}, ${t.app}_owner, ${t.app}_owner_rls_bypass; database ${t.db}; extensions uuid-ossp, vector; ownership ${t.app}_owner), as is each revision it applied; run "cmmc-db init" again to finish`,
      );
    } finally {
      run.kill('SIGKILL');
    }
    writeFileSync(revision, slowRevision('SELECT 1;'));
    const again = await runCli(['init'], { cwd: project, env });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(await appPrivileges(t)).toEqual({ audit_update: false, audit_delete: false, controls_insert: false, version_update: false });
    const [usable] = await query(adminOn(t.db), "SELECT has_table_privilege($1, 'public.organizations', 'INSERT') AS ok", [t.app]);
    expect(usable.ok).toBe(true);
  });
});

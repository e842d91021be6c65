/**
 * `cmmc-db init`: from a server with only an admin role to a database at head with its controls.
 *
 * As the admin (`--admin-url`, or POSTGRES_USER / POSTGRES_PASSWORD on the target's host and port):
 *   1. the application role (the target's user, DB_USER / DB_PASSWORD) with LOGIN, where missing;
 *   2. the database (DB_NAME), owned by the admin, where missing;
 *   3. the extensions uuid-ossp and vector (vector is untrusted: only a superuser can create it);
 *   4. the application role's privileges, and no more: CONNECT, TEMPORARY and CREATE on the
 *      database (CREATE so it can make its bookkeeping schemas; it still cannot create untrusted
 *      extensions such as vector), USAGE and CREATE on schema public, and ownership of the engine's
 *      schema (cmmc_db). It is not a superuser and does not own the database, so it cannot drop the
 *      database, drop extensions, or drop tables it does not own.
 * As the application role:
 *   5. the schema, upgraded to head (the tables are then owned by the application role);
 *   6. the seeds 01 and 02 (03, the demo data, with `sample`).
 *
 * Every step is idempotent and reports `created` / `present` (or what it applied). On the embedded
 * database (config.kind === 'embedded') steps 1, 2 and 4 do not apply.
 */
import postgres from 'postgres';
import { databaseName, redactUrl, withDatabase, type CmmcConfig } from '../config/config.js';
import { openDatabase, translateConnectError, type DbHandle } from '../db/connection.js';
import { CmmcError, usageError } from '../errors.js';
import { checkSampleGuard, failureError, runSeeds, type SeedResult } from './loader.js';

export type InitStatus = 'created' | 'present' | 'granted' | 'applied' | 'skipped';

export interface InitStep {
  step: 'role' | 'database' | 'extension' | 'privileges' | 'schema' | 'seeds' | 'controls';
  name: string;
  status: InitStatus;
  detail: string;
}

export interface InitReport {
  /** False when the run changed nothing (everything was already in place). */
  changed: boolean;
  steps: InitStep[];
  seeds: SeedResult[];
  controls: number;
  /** Embedded, fresh folder: copied from the template at head (`used`), or it was built first (`built`). */
  template?: 'used' | 'built';
}

export interface InitOptions {
  /** Admin connection URL; default built from POSTGRES_USER / POSTGRES_PASSWORD and the target's host and port. */
  adminUrl?: string;
  env?: NodeJS.ProcessEnv;
  sample?: boolean;
  allowProductionSample?: boolean;
  /** Called as each step finishes. */
  onStep?: (step: InitStep) => void;
  /**
   * A fresh embedded folder is made from the template at head (src/seed/init-template.ts); false
   * runs every step (the template's own build does).
   */
  template?: boolean;
}

const EXTENSIONS = ['uuid-ossp', 'vector'] as const;

/** The admin URL: --admin-url, else POSTGRES_USER (default postgres) / POSTGRES_PASSWORD on the target's host and port. */
export function adminUrlFor(config: CmmcConfig, options: Pick<InitOptions, 'adminUrl' | 'env'>): string {
  if (options.adminUrl) {
    try {
      const u = new URL(options.adminUrl);
      if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error('protocol');
    } catch {
      throw usageError(`--admin-url is not a postgres:// URL: "${redactUrl(options.adminUrl)}"`, 'use the form postgres://postgres:password@host:5432/postgres');
    }
    return options.adminUrl;
  }
  const env = options.env ?? process.env;
  const target = new URL(config.url!);
  const u = new URL('postgres://localhost');
  u.hostname = target.hostname || 'localhost';
  u.port = target.port || '5432';
  for (const [key, value] of target.searchParams) if (key === 'host' || key === 'sslmode') u.searchParams.set(key, value);
  u.username = encodeURIComponent(env.POSTGRES_USER || 'postgres');
  if (env.POSTGRES_PASSWORD) u.password = encodeURIComponent(env.POSTGRES_PASSWORD);
  u.pathname = '/postgres';
  return u.toString();
}

function userOf(url: string): string {
  return decodeURIComponent(new URL(url).username) || 'postgres';
}

async function adminConnect(url: string): Promise<postgres.Sql> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10, connection: { application_name: 'cmmc-db:init' } });
  try {
    await sql`SELECT 1`;
  } catch (err) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw translateConnectError(err, url);
  }
  return sql;
}

/** Runs init; throws CmmcError on the first step that cannot be done. */
export async function runInit(config: CmmcConfig, options: InitOptions = {}): Promise<InitReport> {
  checkSampleGuard(config, options);
  if (config.kind === 'embedded') {
    const fromTemplate = await (await import('./init-template.js')).initFromTemplate(config, options, runInit);
    if (fromTemplate) return fromTemplate;
  }
  const steps: InitStep[] = [];
  const record = (step: InitStep) => {
    steps.push(step);
    options.onStep?.(step);
  };

  if (config.kind === 'server') {
    const adminUrl = adminUrlFor(config, options);
    const appUrl = config.url!;
    const appUser = userOf(appUrl);
    const appPassword = decodeURIComponent(new URL(appUrl).password);
    const dbName = databaseName(appUrl);
    const adminUser = userOf(adminUrl);
    const sameRole = appUser === adminUser;

    const admin = await adminConnect(adminUrl);
    try {
      // 1. role
      if (sameRole) {
        record({ step: 'role', name: appUser, status: 'skipped', detail: 'the application role is the admin role' });
      } else {
        const [role] = await admin<{ rolcanlogin: boolean }[]>`SELECT rolcanlogin FROM pg_roles WHERE rolname = ${appUser}`;
        if (role) {
          record({ step: 'role', name: appUser, status: 'present', detail: role.rolcanlogin ? 'already present' : 'already present (warning: it has no LOGIN)' });
        } else {
          // format() quotes the name and the password on the server side, exactly.
          const [{ statement }] = appPassword
            ? await admin<{ statement: string }[]>`SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', ${appUser}::text, ${appPassword}::text) AS statement`
            : await admin<{ statement: string }[]>`SELECT format('CREATE ROLE %I LOGIN', ${appUser}::text) AS statement`;
          await admin.unsafe(statement).catch((err) => {
            throw adminError(err, `cannot create role "${appUser}"`, adminUser);
          });
          record({ step: 'role', name: appUser, status: 'created', detail: appPassword ? 'LOGIN, with the password of DB_PASSWORD' : 'LOGIN, no password (set DB_PASSWORD to give it one)' });
        }
      }

      // 2. database
      const [db] = await admin`SELECT 1 FROM pg_database WHERE datname = ${dbName}`;
      if (db) {
        record({ step: 'database', name: dbName, status: 'present', detail: 'already present' });
      } else {
        const [{ statement }] = await admin<{ statement: string }[]>`SELECT format('CREATE DATABASE %I', ${dbName}::text) AS statement`;
        await admin.unsafe(statement).catch((err) => {
          throw adminError(err, `cannot create database "${dbName}"`, adminUser);
        });
        record({ step: 'database', name: dbName, status: 'created', detail: `owned by ${adminUser}` });
      }
    } finally {
      await admin.end({ timeout: 5 });
    }

    const adminDb = await adminConnect(withDatabase(adminUrl, dbName));
    try {
      // 3. extensions, as the admin
      await createExtensions(adminDb, record);
      // 4. privileges
      if (!sameRole) await grantPrivileges(adminDb, config, appUser, dbName, record);
    } finally {
      await adminDb.end({ timeout: 5 });
    }
  }

  // 5, 6: as the application role (or the embedded database)
  const handle = await openDatabase(config, { pool: { max: 2, min: 0 }, applicationName: 'cmmc-db:init' });
  try {
    if (config.kind === 'embedded') await createExtensions(handle.sql, record, 'created');
    await upgradeSchema(handle, record);
    const { results, failure } = await runSeeds(handle, { sample: options.sample, allowProductionSample: options.allowProductionSample });
    if (failure) throw failureError(failure);
    const applied = results.filter((r) => r.outcome === 'applied');
    const skipped = results.filter((r) => r.outcome === 'skipped');
    record({
      step: 'seeds',
      name: results.filter((r) => r.reason !== 'sample').map((r) => r.file.replace(/\.sql$/, '')).join(', ') || 'none',
      status: applied.length ? 'applied' : 'present',
      detail: applied.length
        ? `applied ${applied.map((r) => r.file).join(', ')}` + (skipped.length ? `; skipped ${skipped.map((r) => `${r.file} (${r.reason})`).join(', ')}` : '')
        : `already loaded` + (skipped.some((r) => r.reason === 'sample') ? ' (demo data not requested: --sample)' : ''),
    });
    const [{ count }] = await handle.sql<{ count: number }[]>`SELECT count(*)::int AS count FROM cmmc_controls`;
    record({ step: 'controls', name: 'cmmc_controls', status: 'present', detail: `${count} controls` });
    return {
      changed: steps.some((s) => s.status !== 'present' && s.status !== 'skipped'),
      steps,
      seeds: results,
      controls: count,
    };
  } finally {
    await handle.close();
  }
}

async function createExtensions(sql: postgres.Sql, record: (s: InitStep) => void, createdDetail = 'created by the admin role'): Promise<void> {
  const installed = new Set((await sql<{ extname: string }[]>`SELECT extname FROM pg_extension`).map((r) => r.extname));
  for (const ext of EXTENSIONS) {
    if (installed.has(ext)) {
      record({ step: 'extension', name: ext, status: 'present', detail: 'already present' });
      continue;
    }
    const [available] = await sql`SELECT 1 FROM pg_available_extensions WHERE name = ${ext}`;
    if (!available) {
      if (ext === 'vector') {
        const [{ major }] = await sql<{ major: number }[]>`SELECT current_setting('server_version_num')::int / 10000 AS major`;
        throw new CmmcError('init.pgvector', 'the server has no pgvector extension ("vector" is not among its available extensions)', {
          hint: `install pgvector on the database server: on Debian run scripts/setup-postgres.sh of this project, or apt-get install postgresql-${major}-pgvector`,
        });
      }
      throw new CmmcError('init.extension', `the server has no "${ext}" extension`, { hint: 'install the PostgreSQL contrib modules on the database server' });
    }
    await sql.unsafe(`CREATE EXTENSION IF NOT EXISTS "${ext}"`).catch((err) => {
      throw adminError(err, `cannot create extension "${ext}"`, 'the admin role');
    });
    record({ step: 'extension', name: ext, status: 'created', detail: createdDetail });
  }
}

async function grantPrivileges(sql: postgres.Sql, config: CmmcConfig, role: string, dbName: string, record: (s: InitStep) => void): Promise<void> {
  const done: string[] = [];
  const missingDb: string[] = [];
  for (const p of ['CONNECT', 'TEMPORARY', 'CREATE']) {
    const [{ ok }] = await sql<{ ok: boolean }[]>`SELECT has_database_privilege(${role}, ${dbName}, ${p}) AS ok`;
    if (!ok) missingDb.push(p);
  }
  if (missingDb.length) {
    await sql.unsafe(`GRANT ${missingDb.join(', ')} ON DATABASE ${ident(dbName)} TO ${ident(role)}`);
    done.push(`${missingDb.join(', ')} on database ${dbName}`);
  }
  const missingPublic: string[] = [];
  for (const p of ['USAGE', 'CREATE']) {
    const [{ ok }] = await sql<{ ok: boolean }[]>`SELECT has_schema_privilege(${role}, 'public', ${p}) AS ok`;
    if (!ok) missingPublic.push(p);
  }
  if (missingPublic.length) {
    await sql.unsafe(`GRANT ${missingPublic.join(', ')} ON SCHEMA public TO ${ident(role)}`);
    done.push(`${missingPublic.join(', ')} on schema public`);
  }
  // The engine's bookkeeping schema (and a non-public version schema): made here, owned by the role.
  for (const schema of new Set([config.metaSchema, config.versionSchema].filter((s) => s !== 'public'))) {
    const [found] = await sql`SELECT 1 FROM pg_namespace WHERE nspname = ${schema}`;
    if (!found) {
      await sql.unsafe(`CREATE SCHEMA ${ident(schema)} AUTHORIZATION ${ident(role)}`);
      done.push(`schema ${schema} owned by ${role}`);
    } else {
      const [{ ok }] = await sql<{ ok: boolean }[]>`SELECT has_schema_privilege(${role}, ${schema}, 'CREATE') AND has_schema_privilege(${role}, ${schema}, 'USAGE') AS ok`;
      if (!ok) {
        await sql.unsafe(`GRANT USAGE, CREATE ON SCHEMA ${ident(schema)} TO ${ident(role)}`);
        done.push(`USAGE, CREATE on schema ${schema}`);
      }
    }
  }
  record({
    step: 'privileges',
    name: role,
    status: done.length ? 'granted' : 'present',
    detail: done.length ? done.join('; ') : 'already present',
  });
}

async function upgradeSchema(handle: DbHandle, record: (s: InitStep) => void): Promise<void> {
  const { getStatus, runUpgrade } = await import('../migrate/index.js');
  const before = await getStatus(handle);
  if (before.atHead && before.pending.length === 0) {
    record({ step: 'schema', name: before.current.join(', ') || 'base', status: 'present', detail: 'already at head' });
    return;
  }
  const result = await runUpgrade(handle, 'head');
  record({
    step: 'schema',
    name: result.to.join(', '),
    status: 'applied',
    detail: `upgraded ${result.from.join(', ') || 'base'} -> ${result.to.join(', ')} (${result.steps.length} revision${result.steps.length === 1 ? '' : 's'})`,
  });
}

/** A quoted SQL identifier. */
function ident(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

function adminError(err: unknown, what: string, admin: string): CmmcError {
  const e = err as { code?: string; message?: string };
  if (e.code === '42501') {
    return new CmmcError('init.privilege', `${what}: ${admin} lacks the privilege (${e.message})`, {
      hint: 'run init with a superuser: --admin-url postgres://postgres@host/postgres or POSTGRES_USER/POSTGRES_PASSWORD',
      cause: err,
    });
  }
  return new CmmcError('init.failed', `${what}: ${e.message ?? String(err)}`, { cause: err });
}

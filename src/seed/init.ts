/**
 * `cmmc-db init`: from a server with only an admin role to a database at head with its controls,
 * with the two-role model of docs/schema.md ("Roles").
 *
 * As the admin (`--admin-url`, or POSTGRES_USER / POSTGRES_PASSWORD on the target's host and port; a
 * superuser), holding an advisory lock on its session so that concurrent inits run one after another:
 *   1. the roles, where missing: the application role (DB_USER / DB_PASSWORD), the schema owner
 *      (DB_OWNER_USER / DB_OWNER_PASSWORD, default `<DB_USER>_owner`), both LOGIN without superuser,
 *      CREATEDB, CREATEROLE or BYPASSRLS; and `<owner>_rls_bypass` (NOLOGIN BYPASSRLS), the one path
 *      across tenants, granted to the owner for the seed loader and pg_dump. An existing application
 *      role that can make itself able to read every tenant (escalationPaths, src/tenant/roles.ts) is
 *      refused, here and again in the database after step 7; passwords go to the server only as
 *      verifiers (src/tenant/password-verifier.ts). The admin as the application role is a warning;
 *   2. the database (DB_NAME, decoded from a URL as libpq does), owned by the admin, where missing;
 *   3. the extensions uuid-ossp and vector (vector is untrusted: only a superuser can create it);
 *   4. ownership: the engine's schema (cmmc_db) belongs to the owner, and every platform object the
 *      application role owns (what the old init left: it migrated as the application role) moves to
 *      the owner; the owner gets CONNECT, CREATE, TEMPORARY on the database and USAGE, CREATE on public;
 * As the owner (the admin's session with SET ROLE to it):
 *   5. the schema, upgraded to head;
 *   6. the seeds 01 and 02 (03, the demo data, with `sample`), each under SET LOCAL ROLE to the bypass role;
 * As the admin again:
 *   7. privileges: DML on the platform's tables and views for the application role, read-only on the
 *      engine's bookkeeping; CREATE on the database and schemas revoked from it; default privileges so
 *      that what the owner creates later gets the same grants.
 *
 * Every step is idempotent and reports `created` / `present` (or what it applied). On the embedded
 * database (config.kind === 'embedded') only the extensions, the schema and the seeds apply.
 */
import type postgres from 'postgres';
import { databaseName, parseDatabaseUrl, resolveDatabaseUrl, withDatabase, type CmmcConfig } from '../config/config.js';
import { connParamsOf, formatConnUri } from '../config/conninfo.js';
import { openDatabase, type DbHandle } from '../db/connection.js';
import { connectPool, type TargetOrigin } from '../db/driver.js';
import { settingOf } from '../db/errors.js';
import { pinnedUrl, refuseUnlessOnePrimary, writableUrl } from '../db/writable.js';
import { CmmcError, errorText, usageError } from '../errors.js';
import { checkSampleGuard, failureError, runSeeds, type SeedResult } from './loader.js';
import {
  applyGrants,
  bypassRoleName,
  defaultOwnerName,
  ensureRole,
  ident,
  moveOwnership,
  platformOwners,
  escalationPaths,
  revertToSingleRole,
  roleFacts,
  type ModelOptions,
  type PlatformRoles,
} from '../tenant/roles.js';

export type InitStatus = 'created' | 'present' | 'granted' | 'applied' | 'skipped';

export interface InitStep {
  step: 'role' | 'database' | 'extension' | 'ownership' | 'privileges' | 'schema' | 'seeds' | 'controls';
  name: string;
  status: InitStatus;
  detail: string;
  /** Something the user must act on although init went on (one line: what is wrong, what to do). */
  warning?: string;
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
  /**
   * Undo the two-role model instead (the reverse of what init does to an old database): every
   * platform object moves back to the application role, which gets CREATE on the database and
   * schema public again. Roles are kept. Nothing else runs.
   */
  revertRoles?: boolean;
  /** Called as each step finishes. */
  onStep?: (step: InitStep) => void;
  /**
   * A fresh embedded folder is made from the template at head (src/seed/init-template.ts); false
   * runs every step (the template's own build does).
   */
  template?: boolean;
}

const EXTENSIONS = ['uuid-ossp', 'vector'] as const;

/** The DB_USER named by the advice to use a role of its own (README's example). */
const SUGGESTED_APP = 'cmmc_app';

/**
 * Refuses an application role that can make itself able to read every tenant (escalationPaths:
 * superuser, BYPASSRLS, CREATEROLE or REPLICATION of its own or of a role it can SET ROLE to, the
 * schema owner, the server-access predefined roles and pg_write_all_data, owning the database, a schema
 * or a trigger's function, EXECUTE on server-file functions or on SECURITY DEFINER functions of a role
 * with a path, a usable user mapping, TRUNCATE/TRIGGER/REFERENCES), naming the path and the statement
 * that closes it. Its own BYPASSRLS, direct grants of the owner and bypass roles, and table privileges
 * granted to it or PUBLIC are left to applyGrants, which revokes them. `rolesOnly`: before the platform's
 * database is connected (the role-wide paths and the database's owner only). Warnings
 * (pg_signal_backend) do not refuse.
 */
async function refuseEscalation(sql: postgres.Sql, appUser: string, model: ModelOptions, admin: string, rolesOnly: boolean): Promise<void> {
  const { owner, bypass } = model.roles;
  const paths = (
    await escalationPaths(sql, appUser, {
      skipDirect: [owner, bypass],
      owners: { [owner]: 'the schema owner', [bypass]: 'the RLS bypass role' },
      metaSchema: model.metaSchema,
      quote: (n) => `"${n}"`,
      database: model.database,
      admin,
      rolesOnly,
    })
  ).filter((p) => !p.warnOnly && !(p.kind === 'bypassrls' && p.holder === appUser));
  const [first] = paths;
  if (!first) return;
  const more = paths.length > 1 ? ` (and ${paths.length - 1} more path${paths.length === 2 ? '' : 's'}: ${paths.slice(1).map((p) => p.fix).join('; ')})` : '';
  throw new CmmcError('init.app-superuser', `the application role "${appUser}" ${first.problem}: row-level security cannot bind it`, {
    hint: `as the admin: ${first.fix}${more}`,
  });
}

/** The admin URL: --admin-url, else POSTGRES_USER (default postgres) / POSTGRES_PASSWORD on the target's host and port. */
export function adminUrlFor(config: CmmcConfig, options: Pick<InitOptions, 'adminUrl' | 'env'>): string {
  if (options.adminUrl) return parseDatabaseUrl(options.adminUrl, '--admin-url', options.env ?? process.env);
  const env = options.env ?? process.env;
  // The target's hosts, ports and TLS settings (every host of a multi-host target), as the admin.
  const target = connParamsOf(config.url!);
  const { password: _appPassword, ...rest } = target;
  return formatConnUri({
    ...rest,
    user: env.POSTGRES_USER || 'postgres',
    ...(env.POSTGRES_PASSWORD ? { password: env.POSTGRES_PASSWORD } : {}),
    dbname: 'postgres',
  });
}

/**
 * Where the admin connection's parts came from, for the hint of a failed connect: --admin-url (the
 * PG* variables completing it), or the target's host and port with POSTGRES_USER/POSTGRES_PASSWORD
 * and the maintenance database postgres (which only --admin-url changes). Not DB_* or DATABASE_URL's
 * user or database: fixing those would not change the admin.
 */
export function adminOriginFor(config: CmmcConfig, options: Pick<InitOptions, 'adminUrl' | 'env'>): TargetOrigin {
  const env = options.env ?? process.env;
  if (options.adminUrl) {
    const { fromPgEnv } = resolveDatabaseUrl(options.adminUrl, '--admin-url', env);
    return { source: '--admin-url', maintenance: true, ...(fromPgEnv ? { settings: fromPgEnv } : {}) };
  }
  const { host, port } = config.conn?.fromPgEnv ?? {};
  return {
    source: config.source,
    maintenance: true,
    settings: { ...(host ? { host } : {}), ...(port ? { port } : {}), user: 'POSTGRES_USER', password: 'POSTGRES_PASSWORD', dbname: '--admin-url' },
  };
}

function userOf(url: string): string {
  return connParamsOf(url).user;
}

/** How a hint names the setting that holds the application role's user name or database (`settingOf`). */
type AppSetting = (what: 'user' | 'database') => string;

/**
 * The admin's search_path, sent at startup so that it wins over `ALTER DATABASE ... SET search_path`
 * and `ALTER ROLE ... IN DATABASE ... SET search_path`: the owner of the maintenance database (it need
 * not be the admin) could otherwise name a schema of its own before pg_catalog, and the superuser's
 * first `pg_advisory_lock` would run its function of that name. The admin names nothing outside
 * pg_catalog (the extensions go to `public` by name).
 */
const ADMIN_SEARCH_PATH = 'pg_catalog, pg_temp';

/** `origin`: where the admin's settings came from (`adminOriginFor`), named by a failed connect's hint. */
async function adminConnect(url: string, origin: TargetOrigin): Promise<postgres.Sql> {
  // The one postgres.js factory: the database name is decoded as libpq decodes it (cmmc%2Dplatform).
  return connectPool(url, { applicationName: 'cmmc-db:init', connection: { search_path: ADMIN_SEARCH_PATH } }, origin);
}

/** Advisory lock (two int4 keys: "cmmc", "init") on the admin's maintenance database: one init at a time per server. */
const INIT_LOCK = [0x636d6d63, 0x696e6974] as const;

/** The steps of a run, each also handed to `options.onStep` as it is recorded. */
function stepRecorder(options: InitOptions): { steps: InitStep[]; record: (step: InitStep) => void } {
  const steps: InitStep[] = [];
  return {
    steps,
    record: (step) => {
      steps.push(step);
      options.onStep?.(step);
    },
  };
}

/** Init of the embedded database, with its folder held: from the template on a fresh folder, else every step. */
async function initEmbedded(config: CmmcConfig, options: InitOptions): Promise<InitReport> {
  const fromTemplate = await (await import('./init-template.js')).initFromTemplate(config, options, runInit);
  if (fromTemplate) return fromTemplate;
  const { steps, record } = stepRecorder(options);
  const handle = await openDatabase(config, { pool: { max: 2, min: 0 }, applicationName: 'cmmc-db:init' });
  try {
    await createExtensions(handle.sql, record, 'created');
    return await schemaAndSeeds(handle, options, steps, record);
  } finally {
    await handle.close();
  }
}

/** Runs init; throws CmmcError on the first step that cannot be done. */
export async function runInit(config: CmmcConfig, options: InitOptions = {}): Promise<InitReport> {
  checkSampleGuard(config, options);
  if (config.kind === 'embedded') {
    // The folder is held for the whole init (the template's build and copy, or every step): a read
    // started meanwhile waits for it and reads the finished database, never a fresh or half-made one.
    const { holdEmbeddedFolder } = await import('../embedded/instance.js');
    // The template's build (template: false) runs in a scratch folder that is removed anyway: not named in the interruption's line.
    return holdEmbeddedFolder(config.embeddedDir, () => initEmbedded(config, options), { quiet: options.template === false });
  }
  const { steps, record } = stepRecorder(options);

  const env = options.env ?? process.env;
  // Roles, the database and the schema are made on the primary (src/db/writable.ts).
  const listedAdminUrl = writableUrl(adminUrlFor(config, options));
  const appUrl = config.url!;
  const appUser = userOf(appUrl);
  const appPassword = connParamsOf(appUrl).password ?? '';
  // libpq decodes the database name of a URL (cmmc%2Dplatform is cmmc-platform): so does databaseName.
  const dbName = databaseName(appUrl);
  const adminUser = userOf(listedAdminUrl);
  const sameRole = appUser === adminUser;
  // DB_OWNER_USER names the owner even when the target is an explicit --url (config.ownerUrl is not set then).
  const owner = config.ownerUrl ? userOf(config.ownerUrl) : env.DB_OWNER_USER || defaultOwnerName(appUser);
  const ownerPassword = config.ownerUrl ? connParamsOf(config.ownerUrl).password ?? '' : env.DB_OWNER_PASSWORD ?? '';
  const roles: PlatformRoles = { app: appUser, owner, bypass: bypassRoleName(owner) };
  if (!sameRole && owner === appUser) {
    throw usageError(`DB_OWNER_USER is the application role "${appUser}"`, 'give the schema owner its own name, e.g. DB_OWNER_USER=' + defaultOwnerName(appUser));
  }

  const model: ModelOptions = { roles, database: dbName, metaSchema: config.metaSchema, versionSchema: config.versionSchema, versionTable: config.versionTable };
  const adminOrigin = adminOriginFor(config, options);
  // The platform database, once it exists, is no maintenance database: a hint there may say to create it.
  const inDatabase: TargetOrigin = { ...adminOrigin, maintenance: false };
  // The application role's settings, as its hints name them: DB_USER, the user name in DATABASE_URL, PGUSER, ...
  const appSetting: AppSetting = (what) => settingOf(config.source, what, config.conn?.fromPgEnv);
  const appPasswordSetting = config.conn?.fromPgEnv?.password ?? ({ 'DB_*': 'DB_PASSWORD', 'PG*': 'PGPASSWORD' } as Record<string, string>)[config.source] ?? config.source;
  const admin = await adminConnect(listedAdminUrl, adminOrigin);
  try {
    // A run that writes (src/db/writable.ts): on the one primary, whichever host is listed first; and
    // every later session (the new database's) on that same host, not the list: a standby listed
    // first lacks a database the primary made a moment ago ("does not exist").
    await refuseUnlessOnePrimary(admin, listedAdminUrl, adminOrigin);
    const adminUrl = await pinnedUrl(listedAdminUrl, admin);
    // Concurrent inits queue here, on the admin's session, for the whole run: each then finds what
    // the one before it made. Released when the session ends.
    await admin`SELECT pg_advisory_lock(${INIT_LOCK[0]}::int, ${INIT_LOCK[1]}::int)`;
    // Before anything is made: a database whose platform another role owns is not this owner's.
    if (!options.revertRoles && !sameRole) await checkOwnerOfExisting(admin, adminUrl, inDatabase, model);
    // 1. roles
    if (options.revertRoles) {
      // nothing to create
    } else if (sameRole) {
      const facts = await roleFacts(admin, appUser);
      record({
        step: 'role',
        name: appUser,
        status: 'skipped',
        detail: 'the application role is the admin role: no separate owner or application role',
        warning: facts.superuser
          ? `the application role "${appUser}" is the admin, a superuser: row-level security does not bind it, so no tenant is isolated; set DB_USER (and DB_PASSWORD) to a new role, e.g. DB_USER=${SUGGESTED_APP}, and run cmmc-db init again to create it`
          : `the application role "${appUser}" is the admin role: set DB_USER (and DB_PASSWORD) to a new role, e.g. DB_USER=${SUGGESTED_APP}, and run cmmc-db init again to create it`,
      });
    } else {
      // Every way the application role could make itself able to read every tenant (one rule:
      // escalationPaths), apart from what applyGrants takes away: its own BYPASSRLS and direct
      // grants of the platform's own two roles.
      // Before anything is made: the roles, and who owns the platform's database (the rest lives in it).
      await refuseEscalation(admin, appUser, model, adminUser, true);
      await roleStep(admin, record, appUser, 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', appPassword, 'application role', appPasswordSetting, adminUser);
      const ownerIsAdmin = owner === adminUser;
      if (ownerIsAdmin) {
        record({ step: 'role', name: owner, status: 'skipped', detail: 'the schema owner is the admin role (a superuser is not bound by row-level security)' });
      } else {
        await roleStep(admin, record, owner, 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', ownerPassword, 'schema owner', 'DB_OWNER_PASSWORD', adminUser);
      }
      const status = await ensureRole(admin, roles.bypass, 'NOLOGIN BYPASSRLS').catch((err) => {
        throw adminError(err, `cannot create role "${roles.bypass}"`, adminUser);
      });
      record({ step: 'role', name: roles.bypass, status, detail: status === 'created' ? `NOLOGIN BYPASSRLS, for the seed loader and pg_dump (granted to ${owner})` : 'already present' });
    }

    if (options.revertRoles) return await revert(admin, adminUrl, inDatabase, model, sameRole, steps, record, appSetting);

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

    const adminDb = await adminConnect(withDatabase(adminUrl, dbName), inDatabase);
    try {
      // 3. extensions, as the admin
      await createExtensions(adminDb, record);
      // 4. ownership: the owner owns the engine's schemas, and what an old init left to the application
      // role moves to it; the database and schema privileges the owner needs to upgrade
      const grants: string[] = [];
      if (!sameRole) {
        await ownershipStep(adminDb, config, model, record);
        grants.push(...(await applyGrants(adminDb, model)));
        // Grants of functions are per database: checked again where they live.
        await refuseEscalation(adminDb, appUser, model, adminUser, false);
      }

      // 5, 6: the schema and the seeds, as the owner (the admin's session with SET ROLE to it, so
      // init needs no password of the owner's)
      const handle = await openDatabase(
        { ...config, url: withDatabase(adminUrl, dbName) },
        { pool: { max: 2, min: 0 }, applicationName: 'cmmc-db:init', ...(sameRole || owner === adminUser ? {} : { connection: { role: owner } }) },
      );
      try {
        const report = await schemaAndSeeds(handle, options, steps, record, async () => {
          // 7. privileges: grants on what now exists, default privileges for what comes later
          if (sameRole) return;
          const done = [...grants, ...(await applyGrants(adminDb, model))];
          record({ step: 'privileges', name: `${appUser}, ${owner}, ${roles.bypass}`, status: done.length ? 'granted' : 'present', detail: done.length ? summarizeGrants(done) : 'already present' });
        });
        return report;
      } finally {
        await handle.close();
      }
    } finally {
      await adminDb.end({ timeout: 5 });
    }
  } finally {
    await admin.end({ timeout: 5 });
  }
}

/**
 * Refuses a database whose platform objects belong to a role other than the schema owner and the
 * application role (whose objects init moves): another init's owner, or a superuser that migrated it.
 * Taking them over silently would leave the schema unchangeable by the owner that init reports.
 */
async function checkOwnerOfExisting(admin: postgres.Sql, adminUrl: string, origin: TargetOrigin, model: ModelOptions): Promise<void> {
  const [db] = await admin`SELECT 1 FROM pg_database WHERE datname = ${model.database}`;
  if (!db) return;
  const { owner, app } = model.roles;
  const adminDb = await adminConnect(withDatabase(adminUrl, model.database), origin);
  try {
    const found = (await platformOwners(adminDb, model)).find((r) => r !== owner && r !== app);
    if (!found) return;
    const facts = await roleFacts(admin, found);
    throw new CmmcError('init.owner', `the platform's objects in "${model.database}" are owned by "${found}", not by the schema owner "${owner}"`, {
      hint: facts.superuser
        ? `set DB_OWNER_USER=${found} to keep that owner, or move them to "${owner}" by hand as the admin (ALTER ... OWNER TO) and run init again`
        : `set DB_OWNER_USER=${found} to keep that owner, or as the admin in that database: REASSIGN OWNED BY "${found}" TO "${owner}"`,
    });
  } finally {
    await adminDb.end({ timeout: 5 });
  }
}

async function revert(
  admin: postgres.Sql,
  adminUrl: string,
  origin: TargetOrigin,
  model: ModelOptions,
  sameRole: boolean,
  steps: InitStep[],
  record: (s: InitStep) => void,
  appSetting: AppSetting,
): Promise<InitReport> {
  if (sameRole) throw usageError('--revert-roles: the application role is the admin role, so there is no role model to revert', `set ${appSetting('user')} to the platform role`);
  const [db] = await admin`SELECT 1 FROM pg_database WHERE datname = ${model.database}`;
  if (!db) throw new CmmcError('init.no-database', `database "${model.database}" does not exist`, { hint: `check ${appSetting('database')}` });
  const adminDb = await adminConnect(withDatabase(adminUrl, model.database), origin);
  try {
    const done = await revertToSingleRole(adminDb, model);
    const moved = done.filter((d) => d.startsWith('ALTER')).length;
    const granted = done.filter((d) => !d.startsWith('ALTER'));
    record({
      step: 'ownership',
      name: model.roles.app,
      status: done.length ? 'applied' : 'present',
      detail: done.length ? [moved ? `${moved} object${moved === 1 ? '' : 's'} moved from ${model.roles.owner} to ${model.roles.app}` : '', ...granted].filter(Boolean).join('; ') : `${model.roles.app} already owns the platform's objects`,
    });
    const [{ count }] = await adminDb<{ count: number }[]>`SELECT CASE WHEN to_regclass('public.cmmc_controls') IS NULL THEN 0 ELSE (SELECT count(*)::int FROM cmmc_controls) END AS count`.catch(() => [{ count: 0 }]);
    return { changed: done.length > 0, steps, seeds: [], controls: count };
  } finally {
    await adminDb.end({ timeout: 5 });
  }
}

async function roleStep(
  admin: postgres.Sql,
  record: (s: InitStep) => void,
  name: string,
  attributes: string,
  password: string,
  what: string,
  passwordSetting: string,
  adminUser: string,
): Promise<void> {
  const before = await roleFacts(admin, name);
  const status = await ensureRole(admin, name, attributes, password || undefined).catch((err) => {
    throw adminError(err, `cannot create role "${name}"`, adminUser);
  });
  if (status === 'present') {
    record({ step: 'role', name, status, detail: before.exists && !before.login ? `already present (warning: the ${what} has no LOGIN)` : 'already present' });
  } else {
    record({ step: 'role', name, status, detail: `${what}, LOGIN, ` + (password ? `with the password of ${passwordSetting}` : `no password (put one in ${passwordSetting})`) });
  }
}

async function ownershipStep(sql: postgres.Sql, config: CmmcConfig, model: ModelOptions, record: (s: InitStep) => void): Promise<void> {
  const { owner, app } = model.roles;
  const done: string[] = [];
  for (const schema of new Set([config.metaSchema, config.versionSchema].filter((s) => s !== 'public'))) {
    const [found] = await sql`SELECT 1 FROM pg_namespace WHERE nspname = ${schema}`;
    if (!found) {
      // A concurrent creation cannot happen: init holds its lock.
      await sql.unsafe(`CREATE SCHEMA ${ident(schema)} AUTHORIZATION ${ident(owner)}`);
      done.push(`schema ${schema} created, owned by ${owner}`);
    }
  }
  const moved = await moveOwnership(sql, model, app, owner);
  if (moved.length) done.push(`${moved.length} object${moved.length === 1 ? '' : 's'} moved from ${app} to ${owner}`);
  record({ step: 'ownership', name: owner, status: done.length ? 'applied' : 'present', detail: done.length ? done.join('; ') : `${owner} owns the platform's objects` });
}

/** Grant lines folded by grantee: "to app: 24 grants; revoked …". */
function summarizeGrants(lines: string[]): string {
  const revoked = lines.filter((l) => l.startsWith('revoked'));
  const granted = lines.length - revoked.length;
  return [granted ? `${granted} grant${granted === 1 ? '' : 's'} (see docs/schema.md, Roles)` : '', ...revoked].filter(Boolean).join('; ');
}

async function schemaAndSeeds(
  handle: DbHandle,
  options: InitOptions,
  steps: InitStep[],
  record: (s: InitStep) => void,
  afterSeeds?: () => Promise<void>,
): Promise<InitReport> {
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
  await afterSeeds?.();
  const [{ count }] = await handle.sql<{ count: number }[]>`SELECT count(*)::int AS count FROM cmmc_controls`;
  record({ step: 'controls', name: 'cmmc_controls', status: 'present', detail: `${count} controls` });
  return {
    changed: steps.some((s) => s.status !== 'present' && s.status !== 'skipped'),
    steps,
    seeds: results,
    controls: count,
  };
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
          hint: `install pgvector for PostgreSQL ${major} on the database server (Debian and Ubuntu: apt-get install postgresql-${major}-pgvector; elsewhere the pgvector package of your distribution, or build it from github.com/pgvector/pgvector), then run init again`,
        });
      }
      throw new CmmcError('init.extension', `the server has no "${ext}" extension`, { hint: 'install the PostgreSQL contrib modules on the database server' });
    }
    await sql.unsafe(`CREATE EXTENSION IF NOT EXISTS "${ext}" SCHEMA public`).catch((err) => {
      throw adminError(err, `cannot create extension "${ext}"`, 'the admin role');
    });
    record({ step: 'extension', name: ext, status: 'created', detail: createdDetail });
  }
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

function adminError(err: unknown, what: string, admin: string): CmmcError {
  const e = err as { code?: string; message?: string };
  if (e.code === '42501') {
    return new CmmcError('init.privilege', `${what}: ${admin} lacks the privilege (${e.message})`, {
      hint: 'run init with a superuser: --admin-url postgres://postgres@host/postgres or POSTGRES_USER/POSTGRES_PASSWORD',
      cause: err,
    });
  }
  return new CmmcError('init.failed', `${what}: ${errorText(err)}`, { cause: err });
}

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
 *      an existing application role or owner gets a password it lacks, and one that cannot log in as
 *      configured is a warning (loginCheck); an existing bypass role other than NOLOGIN BYPASSRLS is refused;
 *   2. the database (DB_NAME, decoded from a URL as libpq does), owned by the admin, where missing; an
 *      existing one holding tables but no version table is refused (checkExistingDatabase);
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
 *      that what the owner creates later gets the same grants (the application role's only now, so that
 *      a run stopped earlier leaves it less, never more); also after a failed revision or seed file.
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
import { onInterrupt, wasInterrupted } from '../interrupt.js';
import { passwordMatches, passwordVerifier } from '../tenant/password-verifier.js';
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
  const { steps, record: recordStep } = stepRecorder(options);
  // What an interruption leaves, for the one line the CLI prints then: renewed as each step finishes.
  let releaseInterrupt = () => {};
  const record = (step: InitStep) => {
    recordStep(step);
    releaseInterrupt();
    releaseInterrupt = onInterrupt(() => {}, interruptedState(steps));
  };

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
  releaseInterrupt = onInterrupt(() => {}, interruptedState(steps));
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
    if (!options.revertRoles) await checkExistingDatabase(admin, adminUrl, inDatabase, model, !sameRole, appSetting);
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
      await refuseBypassRole(admin, roles.bypass);
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
        // Not yet the application role's default privileges: until step 7 revokes what it must not
        // hold on the tables the upgrade makes (writes to audit_logs, the reference data, the version
        // table), a run stopped in between would leave it them. Stopped now, it holds less, never more.
        grants.push(...(await applyGrants(adminDb, model, { appDefaults: false })));
        // Grants of functions are per database: checked again where they live.
        await refuseEscalation(adminDb, appUser, model, adminUser, false);
      }

      // 5, 6: the schema and the seeds, as the owner (the admin's session with SET ROLE to it, so
      // init needs no password of the owner's)
      const handle = await openDatabase(
        { ...config, url: withDatabase(adminUrl, dbName) },
        { pool: { max: 2, min: 0 }, applicationName: 'cmmc-db:init', ...(sameRole || owner === adminUser ? {} : { connection: { role: owner } }) },
      );
      let privilegesRan = false;
      const privileges = async () => {
        // 7. privileges: grants on what now exists, default privileges for what comes later
        if (sameRole) return;
        privilegesRan = true;
        const done = [...grants, ...(await applyGrants(adminDb, model))];
        record({ step: 'privileges', name: `${appUser}, ${owner}, ${roles.bypass}`, status: done.length ? 'granted' : 'present', detail: done.length ? summarizeGrants(done) : 'already present' });
      };
      try {
        return await schemaAndSeeds(handle, options, steps, record, privileges);
      } catch (err) {
        // A revision or seed file failed: what exists gets the application role's grants all the same,
        // so that the failure's own remedy ("cmmc-db seed", "cmmc-db upgrade head") leaves a platform
        // it can use. The failure is the error; an interrupted run stops at once.
        if (!privilegesRan && !wasInterrupted()) await privileges().catch(() => {});
        throw err;
      } finally {
        await handle.close();
      }
    } finally {
      await adminDb.end({ timeout: 5 });
    }
  } finally {
    releaseInterrupt();
    await admin.end({ timeout: 5 });
  }
}

/**
 * The state an interrupted init leaves on a server, in one clause: each step it finished is kept (each
 * commits on its own), as is each revision applied; the application role holds no grant on what was
 * made after its privileges were last applied (step 7 adds them). A run again picks up where it stopped.
 */
function interruptedState(steps: InitStep[]): string {
  const made = new Map<string, string[]>();
  for (const s of steps) {
    if (s.status === 'present' || s.status === 'skipped' || s.step === 'controls') continue;
    made.set(s.step, [...(made.get(s.step) ?? []), s.name]);
  }
  const plural = (step: string, n: number) => (n > 1 && step !== 'ownership' ? `${step}s` : step);
  const kept = [...made].map(([step, names]) => `${plural(step, names.length)} ${names.join(', ')}`).join('; ');
  return `init stopped before finishing: ${kept ? `what it finished is kept (${kept}), as is each revision it applied` : 'it had finished no step yet'}; run "cmmc-db init" again to finish`;
}

/**
 * Refuses an existing database that is not init's to take: one that holds tables but no version table
 * (another application's data, or a schema made without cmmc-db: init would add the platform's tables
 * beside them, grant the application role DML on every table of public and revoke PUBLIC's CREATE), and,
 * unless `ownersToo` is false (the admin is the application role), one whose platform objects belong to
 * a role other than the schema owner and the application role (whose objects init moves): another
 * init's owner, or a superuser that migrated it. Taking them over silently would leave the schema
 * unchangeable by the owner that init reports.
 */
async function checkExistingDatabase(admin: postgres.Sql, adminUrl: string, origin: TargetOrigin, model: ModelOptions, ownersToo: boolean, appSetting: AppSetting): Promise<void> {
  const [db] = await admin`SELECT 1 FROM pg_database WHERE datname = ${model.database}`;
  if (!db) return;
  const { owner, app } = model.roles;
  const adminDb = await adminConnect(withDatabase(adminUrl, model.database), origin);
  try {
    const versionTable = `${ident(model.versionSchema)}.${ident(model.versionTable)}`;
    const foreign = await adminDb<{ name: string }[]>`
      SELECT c.oid::regclass::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE to_regclass(${versionTable}) IS NULL AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
         AND n.nspname NOT IN ('pg_catalog', 'information_schema', ${model.metaSchema}) AND n.nspname NOT LIKE 'pg\\_%'
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
       ORDER BY 1`;
    if (foreign.length) {
      const names = foreign.slice(0, 3).map((f) => f.name).join(', ') + (foreign.length > 3 ? `, … (${foreign.length} in all)` : '');
      throw new CmmcError('init.foreign-database', `database "${model.database}" already holds ${foreign.length === 1 ? 'a table' : `${foreign.length} tables`} (${names}) and no cmmc-db version table (${model.versionSchema}.${model.versionTable}): init makes the platform only in a database of its own`, {
        hint: `set ${appSetting('database')} to a database that does not exist yet (init creates it), or one made by cmmc-db`,
      });
    }
    if (!ownersToo) return;
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

/**
 * Refuses an existing `<owner>_rls_bypass` that is not what init makes of it (NOLOGIN BYPASSRLS, nothing
 * more), before anything is made: a LOGIN would let whoever has its password read every tenant, a
 * superuser or CREATEROLE role would lift the owner (who may SET ROLE to it) past every limit, and
 * without BYPASSRLS the seeds and backups that cross tenants through it fail (pg_dump refuses the tables).
 */
async function refuseBypassRole(admin: postgres.Sql, bypass: string): Promise<void> {
  const facts = await roleFacts(admin, bypass);
  if (!facts.exists) return;
  const r = ident(bypass);
  const problems: [string, string][] = [];
  if (facts.superuser) problems.push(['is a superuser: the schema owner, who can SET ROLE to it, would be one too', `ALTER ROLE ${r} NOSUPERUSER`]);
  if (facts.createrole) problems.push(['has CREATEROLE: the schema owner, who can SET ROLE to it, could grant itself any role', `ALTER ROLE ${r} NOCREATEROLE`]);
  if (facts.login) problems.push(["can log in: whoever had its password would cross every tenant through it", `ALTER ROLE ${r} NOLOGIN`]);
  if (!facts.bypassrls && !facts.superuser) problems.push(['has no BYPASSRLS: the seeds and backups that cross tenants through it would fail', `ALTER ROLE ${r} BYPASSRLS`]);
  if (!problems.length) return;
  throw new CmmcError('init.bypass-role', `the RLS bypass role "${bypass}" ${problems.map((p) => p[0]).join(', and ')}`, {
    hint: `as the admin: ${problems.map((p) => p[1]).join('; ')}; then run init again`,
  });
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
  const status = await ensureRole(admin, name, attributes, password || undefined).catch((err) => {
    throw adminError(err, `cannot create role "${name}"`, adminUser);
  });
  if (status === 'created') {
    record({ step: 'role', name, status, detail: `${what}, LOGIN, ` + (password ? `with the password of ${passwordSetting}` : `no password (put one in ${passwordSetting} and run init again)`) });
    return;
  }
  const login = await loginCheck(admin, name, password, what, passwordSetting);
  if (login.passwordSet) {
    record({ step: 'role', name, status: 'applied', detail: `already present; password set from ${passwordSetting} (it had none)` });
  } else {
    record({ step: 'role', name, status, detail: 'already present', ...(login.warning ? { warning: login.warning } : {}) });
  }
}

/**
 * An existing role of the platform, checked against its settings so that init never reports ready a
 * role that cannot connect as configured: `passwordSet` when it had no password and one is configured
 * (its verifier is stored, as for a new role: nothing logged in with a password before, so nothing is
 * locked out), else the warning to show: NOLOGIN, an expired password, a stored password other than
 * the configured one (that one is left: other clients may use it). The stored password
 * is compared on the client (passwordMatches); pg_authid is a superuser's to read: an admin that may not
 * read it gets no verdict on the password.
 */
async function loginCheck(admin: postgres.Sql, name: string, password: string, what: string, passwordSetting: string): Promise<{ passwordSet?: true; warning?: string }> {
  const [role] = await admin<{ login: boolean; expired: string | null }[]>`
    SELECT rolcanlogin AS login, CASE WHEN rolvaliduntil < now() THEN to_char(rolvaliduntil, 'YYYY-MM-DD') END AS expired FROM pg_roles WHERE rolname = ${name}`;
  const r = ident(name);
  if (!role.login) return { warning: `the ${what} "${name}" cannot log in (NOLOGIN): as the admin: ALTER ROLE ${r} LOGIN` };
  if (role.expired) return { warning: `the password of the ${what} "${name}" expired on ${role.expired}: as the admin: ALTER ROLE ${r} VALID UNTIL 'infinity' (or a later date)` };
  if (!password) return {};
  const [stored] = await admin<{ password: string | null }[]>`SELECT rolpassword AS password FROM pg_authid WHERE rolname = ${name}`.catch(() => [undefined]);
  if (!stored) return {};
  if (stored.password === null) {
    // The verifier holds only [A-Za-z0-9+/=$:]: quoted as a literal plainly (ensureRole).
    await admin.unsafe(`ALTER ROLE ${r} PASSWORD '${await passwordVerifier(admin, name, password)}'`);
    return { passwordSet: true };
  }
  if (!(await passwordMatches(stored.password, name, password))) {
    return { warning: `the ${what} "${name}" has a password other than ${passwordSetting}: where the server checks passwords it cannot log in with ${passwordSetting}; put the role's password there, or set the role's to it as the admin (psql: \\password ${r})` };
  }
  return {};
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

/**
 * Configuration: flags > environment (and `.env`) > defaults.
 *
 * The target database is, in libpq's order of precedence: `--url`, then `DATABASE_URL`, then the
 * parts `DB_USER`, `DB_PASSWORD`, `DB_HOST`, `DB_PORT`, `DB_NAME` (when any of them is set), each
 * completed from the `PG*` variables and then the defaults, as libpq completes a connection string;
 * with none of those, the `PG*` variables alone (when one names a server); otherwise the embedded
 * database in `.cmmc-db/` (see src/embedded). Connection strings are read by ./conninfo.ts exactly as
 * libpq reads them. Pure: takes the environment as an argument.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CmmcError } from '../errors.js';
import { findProjectRoot, resolveProject } from './project-root.js';
import { withProjectDotenv } from './dotenv.js';
import {
  connParamsOf,
  describeHosts,
  formatConnUri,
  parseConnString,
  redactConnString,
  resolveConnOptions,
  withDbname,
  DEFAULT_CONNECT_TIMEOUT_S,
  pgEnvNamesServer,
  type ConnOptions,
  type ConnParams,
} from './conninfo.js';
import { maskedConn, maskedUrl, plainCopy, printMasked } from './printable.js';

export type TargetKind = 'server' | 'embedded';

export interface CmmcConfig {
  kind: TargetKind;
  /**
   * Connection URL of a server target, fully resolved (hosts, ports, user, database, settings; see
   * `formatConnUri`); libpq reads it back to the same target. Read it with `connParamsOf`, never with
   * `new URL` (several hosts are not a WHATWG URL). For the embedded target, filled in once started.
   */
  url?: string;
  /** The resolved server target (the same as `url`, parsed). */
  conn?: ConnParams;
  /**
   * The schema owner's URL (the target with DB_OWNER_USER / DB_OWNER_PASSWORD as its user and
   * password), when DB_OWNER_USER is set and the target is not an explicit --url. Commands that
   * change or read the whole schema (upgrade, downgrade, stamp, seed, backup create) connect with it.
   */
  ownerUrl?: string;
  /** Where the target came from, for messages (a config file's environment names itself). */
  source: '--url' | 'DATABASE_URL' | 'DB_*' | 'PG*' | 'embedded' | (string & {});
  /** Folder of the embedded database. */
  embeddedDir: string;
  /** The project root (src/config/project-root.ts): .env, .cmmc-db/, migrations/, schema.sql, backups/. */
  projectDir: string;
  /** Where new revisions are written: the project's own revision folder. */
  migrationsDir: string;
  /** Every revision folder of the graph: the platform's (this package's) first, then the project's. */
  migrationDirs?: string[];
  seedsDir: string;
  templatesDir: string;
  /** Version table (Alembic's alembic_version): its schema and name. */
  versionSchema: string;
  versionTable: string;
  /** Schema for the engine's own bookkeeping (revision log, seed log), kept out of `public`. */
  metaSchema: string;
  /** NODE_ENV=production or CMMC_ENV=production (in any case, spaces around ignored), or the environment's `production: true`. */
  production: boolean;
  /** statement_timeout and lock_timeout for migrations, in milliseconds (0 = none). */
  statementTimeoutMs?: number;
  lockTimeoutMs?: number;
}

export interface ConfigInput {
  url?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  migrationsDir?: string;
  /** `--env NAME`: an environment of the project's cmmc-db.config file. */
  environment?: string;
}

/** The folder this package is installed in (holds its own migrations, seeds and templates). */
export const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

const INPUT_KEYS: readonly (keyof ConfigInput)[] = ['url', 'env', 'cwd', 'migrationsDir', 'environment'];

/**
 * The input of resolveConfig and createPool as TypeScript would check it, for JavaScript callers:
 * a URL string (pg's and postgres.js's pools take one) or a key of another library's options
 * ({ connectionString }) named no URL, and the embedded database was opened (and created) instead.
 */
export function checkConfigInput(input: unknown, caller: string): asserts input is ConfigInput {
  const hint = `pass ${caller}({ url: process.env.DATABASE_URL }), or ${caller}() to read DATABASE_URL, DB_* and .env`;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    const what = typeof input === 'string' ? 'a string' : input === null ? 'null' : Array.isArray(input) ? 'an array' : typeof input;
    throw new CmmcError('config.input', `${caller} takes { url, env, cwd, migrationsDir, environment }, not ${what}`, { hint, exitCode: 2 });
  }
  const unknown = Object.keys(input).filter((k) => !(INPUT_KEYS as string[]).includes(k));
  if (unknown.length) {
    throw new CmmcError('config.input', `${caller} does not know ${unknown.map((k) => JSON.stringify(k)).join(', ')}: it takes { ${INPUT_KEYS.join(', ')} }`, { hint, exitCode: 2 });
  }
}

/**
 * Whether NODE_ENV or CMMC_ENV names production. Read as the word, not the bytes: `Production`,
 * `PRODUCTION` or a stray space (a hand-edited .env, a CI variable) mean it as well, and the guards it
 * raises (no demo users with known passwords, a verified backup before upgrade) must not fall away for a
 * spelling.
 */
export function isProductionValue(value: string | undefined): boolean {
  return value?.trim().toLowerCase() === 'production';
}

export function resolveConfig(input: ConfigInput = {}): CmmcConfig {
  checkConfigInput(input, 'resolveConfig');
  const cwd = input.cwd ?? process.cwd();
  // With no `env` given (the library: createPool(), resolveConfig()), the project's .env counts as the
  // CLI's does, beneath process.env; the CLI passes process.env itself, having loaded .env into it.
  const env = input.env ?? withProjectDotenv(findProjectRoot(cwd).root, process.env);
  const project = resolveProject({ cwd, env, packageDir: PACKAGE_DIR, migrationsDir: input.migrationsDir, environment: input.environment });

  const base = {
    embeddedDir: project.embeddedDir,
    projectDir: project.projectDir,
    migrationsDir: project.migrationsDir,
    migrationDirs: project.migrationDirs,
    seedsDir: project.seedsDir,
    templatesDir: path.join(PACKAGE_DIR, 'templates'),
    versionSchema: identifier(env.CMMC_VERSION_SCHEMA ?? 'public', 'CMMC_VERSION_SCHEMA'),
    versionTable: identifier(env.CMMC_VERSION_TABLE ?? 'cmmc_schema_version', 'CMMC_VERSION_TABLE'),
    metaSchema: identifier(env.CMMC_META_SCHEMA ?? 'cmmc_db', 'CMMC_META_SCHEMA'),
    production: project.production === true || isProductionValue(env.NODE_ENV) || isProductionValue(env.CMMC_ENV),
    statementTimeoutMs: timeoutMs(env.CMMC_STATEMENT_TIMEOUT, 'CMMC_STATEMENT_TIMEOUT'),
    lockTimeoutMs: timeoutMs(env.CMMC_LOCK_TIMEOUT, 'CMMC_LOCK_TIMEOUT'),
  };

  const timeout = connectTimeoutDefault(env);
  const server = (conn: ConnParams, source: CmmcConfig['source']): CmmcConfig =>
    printMasked<CmmcConfig>(
      {
        ...base,
        kind: 'server',
        url: formatConnUri(conn),
        conn,
        ...(source === '--url' ? {} : ownerOf(conn, env)),
        source,
      },
      maskedConfig,
    );
  if (input.url) return server(resolveConnOptions(parseConnString(input.url, '--url'), env, { connectTimeout: timeout }, '--url'), '--url');
  // The config file's url: first with --env, after the environment's settings without it.
  const fromFile = (u: NonNullable<typeof project.url>) => server(resolveConnOptions(parseConnString(u.value(), u.from), env, { connectTimeout: timeout }, u.from), u.from);
  if (project.url?.explicit) return fromFile(project.url);
  if (env.DATABASE_URL) return server(resolveConnOptions(parseConnString(env.DATABASE_URL, 'DATABASE_URL'), env, { connectTimeout: timeout }, 'DATABASE_URL'), 'DATABASE_URL');
  if (env.DB_HOST || env.DB_NAME || env.DB_USER || env.DB_PORT || env.DB_PASSWORD) {
    return server(resolveConnOptions(optionsFromDbParts(env), env, { ...DB_PART_DEFAULTS, connectTimeout: timeout }, 'DB_*'), 'DB_*');
  }
  if (pgEnvNamesServer(env)) return server(resolveConnOptions({}, env, { connectTimeout: timeout }, 'the PG* variables'), 'PG*');
  if (project.url) return fromFile(project.url);
  return printMasked<CmmcConfig>({ ...base, kind: 'embedded', source: 'embedded' }, maskedConfig);
}

/**
 * The configuration as it may be printed: every password masked (`url`, `ownerUrl`, `conn`). A
 * configuration from resolveConfig prints so by itself (JSON.stringify, util.inspect), copies too.
 */
export function maskedConfig(config: CmmcConfig): Record<string, unknown> {
  return {
    ...plainCopy(config),
    ...(config.url !== undefined ? { url: maskedUrl(config.url) } : {}),
    ...(config.ownerUrl !== undefined ? { ownerUrl: maskedUrl(config.ownerUrl) } : {}),
    ...(config.conn ? { conn: maskedConn(config.conn) } : {}),
  };
}

/** The platform's defaults for the `DB_*` form (its deployment docs name these), after `PG*`. */
const DB_PART_DEFAULTS = { host: 'localhost', user: 'postgres', dbname: 'cmmc_platform' };

/** CMMC_CONNECT_TIMEOUT (seconds or a duration such as 30s), else 10 s; a URL's connect_timeout or PGCONNECT_TIMEOUT wins. */
function connectTimeoutDefault(env: NodeJS.ProcessEnv): number {
  const raw = env.CMMC_CONNECT_TIMEOUT;
  if (raw === undefined || raw === '') return DEFAULT_CONNECT_TIMEOUT_S;
  const ms = /^\s*\d+\s*$/.test(raw) ? Number(raw) * 1000 : parseDuration(raw);
  if (ms === undefined) {
    throw new CmmcError('config.duration', `CMMC_CONNECT_TIMEOUT "${raw}" is not a duration`, { hint: 'use seconds or a unit: 10, 30s, 2min', exitCode: 2 });
  }
  return Math.max(0, Math.round(ms / 1000));
}

/** The `DB_*` variables as libpq keyword values (only those that are set; a given host is kept as given). */
export function optionsFromDbParts(env: NodeJS.ProcessEnv): ConnOptions {
  const port = env.DB_PORT;
  if (port !== undefined && port !== '' && (!/^\d{1,5}$/.test(port) || Number(port) > 65535 || Number(port) < 1)) {
    throw new CmmcError('config.port', `DB_PORT "${port}" is not a port number`, { hint: 'set DB_PORT to a number such as 5432', exitCode: 2 });
  }
  const o: ConnOptions = {};
  if (env.DB_HOST) o.host = env.DB_HOST.replace(/^\[(.*)\]$/, '$1');
  if (port) o.port = port;
  if (env.DB_USER) o.user = env.DB_USER;
  if (env.DB_PASSWORD) o.password = env.DB_PASSWORD;
  if (env.DB_NAME) o.dbname = env.DB_NAME;
  return o;
}

/** `{ ownerUrl }`: the target with DB_OWNER_USER and DB_OWNER_PASSWORD, when DB_OWNER_USER is set. */
function ownerOf(conn: ConnParams, env: NodeJS.ProcessEnv): { ownerUrl?: string } {
  if (!env.DB_OWNER_USER) return {};
  const { password: _target, ...rest } = conn;
  return { ownerUrl: formatConnUri({ ...rest, user: env.DB_OWNER_USER, ...(env.DB_OWNER_PASSWORD ? { password: env.DB_OWNER_PASSWORD } : {}) }) };
}

/**
 * The configuration to run schema work with: the owner's URL when one is configured (see `ownerUrl`)
 * for the configuration's own database. A copy pointed at another database (`{ ...config, url }`)
 * is returned as it is: the owner named is the original database's.
 */
export function asOwner(config: CmmcConfig): CmmcConfig {
  if (!config.ownerUrl || !config.url) return config;
  const owner = connParamsOf(config.ownerUrl);
  const target = connParamsOf(config.url);
  const where = (c: ConnParams) => JSON.stringify([c.dbname, c.hosts.map((h) => [h.host, h.port])]);
  if (where(owner) !== where(target)) return config;
  // The resolved parameters too: they name the user on the "database:" line (it named the application role).
  return { ...config, url: config.ownerUrl, conn: owner };
}

/** A URL built from DB_USER, DB_PASSWORD, DB_HOST, DB_PORT and DB_NAME (then `PG*`, then defaults). */
export function urlFromParts(env: NodeJS.ProcessEnv): string {
  return formatConnUri(resolveConnOptions(optionsFromDbParts(env), env, DB_PART_DEFAULTS, 'DB_*'));
}

/**
 * Reads a connection string (a postgresql:// URL or keyword=value settings) as libpq does, completed
 * from the `PG*` variables of `env`, and returns it as this tool's resolved URL (see `formatConnUri`).
 * @throws CmmcError (exit 2) naming `from` when libpq would refuse it.
 */
export function parseDatabaseUrl(raw: string, from: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolveDatabaseUrl(raw, from, env).url;
}

/**
 * `parseDatabaseUrl`, with the `PG*` variables that completed the target (`ConnParams.fromPgEnv`), so
 * that a failed connect's hint names them rather than `from` (a flag such as `--from`, `--admin-url`).
 *
 * @example
 * const { url, fromPgEnv } = resolveDatabaseUrl(opts.from, '--from'); // PGPORT=1: fromPgEnv.port === 'PGPORT'
 */
export function resolveDatabaseUrl(raw: string, from: string, env: NodeJS.ProcessEnv = process.env): { url: string; fromPgEnv?: ConnParams['fromPgEnv'] } {
  const conn = resolveConnOptions(parseConnString(raw, from), env, { connectTimeout: connectTimeoutDefault(env) }, from);
  return { url: formatConnUri(conn), ...(conn.fromPgEnv ? { fromPgEnv: conn.fromPgEnv } : {}) };
}

/** The connection string with its password replaced by `****`; safe to print. Never throws. */
export function redactUrl(raw: string): string {
  return redactConnString(raw);
}

/** The database name of a connection URL. */
export function databaseName(url: string): string {
  return connParamsOf(url).dbname;
}

/** The same URL pointed at another database on the same server(s). */
export function withDatabase(url: string, database: string): string {
  return formatConnUri(withDbname(connParamsOf(url), database));
}

/** A one-line description of the target for stderr, password masked. */
export function describeTarget(config: CmmcConfig): string {
  if (config.kind === 'embedded') {
    const relative = path.relative(process.cwd(), config.embeddedDir);
    const shown = relative === '' ? '.' : relative.startsWith('..') ? config.embeddedDir : relative;
    return `embedded PostgreSQL (PGlite) in ${shown} — not a server`;
  }
  const conn = config.conn ?? connParamsOf(config.url!);
  return `${conn.user}@${describeHosts(conn)}/${conn.dbname} (from ${config.source})`;
}

function identifier(value: string, name: string): string {
  if (!IDENTIFIER.test(value)) {
    throw new CmmcError('config.identifier', `${name} "${value}" is not a plain SQL identifier`, {
      hint: 'use lower-case letters, digits and underscores, starting with a letter',
      exitCode: 2,
    });
  }
  return value;
}

/** The largest statement_timeout or lock_timeout PostgreSQL takes: INT_MAX milliseconds (about 24.8 days). */
export const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * A statement or lock timeout as given (`--statement-timeout`, `CMMC_LOCK_TIMEOUT`): a duration of at
 * most MAX_TIMEOUT_MS, which the server would refuse only after the run had started (22023).
 * @throws CmmcError (exit 2) naming `name` for what is not a duration or is out of range.
 */
export function timeoutMs(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) {
    throw new CmmcError('config.duration', `${name} "${value}" is not a duration`, { hint: 'use milliseconds or a unit: 500ms, 30s, 5min', exitCode: 2 });
  }
  if (Math.round(ms) > MAX_TIMEOUT_MS) {
    throw new CmmcError('config.duration', `${name} "${value}" is longer than PostgreSQL allows (${MAX_TIMEOUT_MS} ms, about 24 days)`, {
      hint: 'give a shorter one, or 0 for no timeout',
      exitCode: 2,
    });
  }
  return ms;
}

/** Parses `500`, `500ms`, `30s`, `5min`, `5m`, `1h`, `2d` into milliseconds. */
export function parseDuration(value: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|d)?\s*$/i.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] ?? 'ms').toLowerCase();
  const factor = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 }[unit]!;
  return Math.round(n * factor);
}

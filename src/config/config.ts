/**
 * Configuration: flags > environment (and `.env`) > defaults.
 *
 * The target database is, in order: `--url`, `DATABASE_URL`, the parts `DB_USER`, `DB_PASSWORD`,
 * `DB_HOST`, `DB_PORT`, `DB_NAME` (when any of them is set), and otherwise the embedded database
 * in `.cmmc-db/` (see src/embedded). Pure: takes the environment as an argument.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CmmcError } from '../errors.js';
import { resolveProject } from './project-root.js';

export type TargetKind = 'server' | 'embedded';

export interface CmmcConfig {
  kind: TargetKind;
  /** Connection URL of a server target; for the embedded target, filled in once it is started. */
  url?: string;
  /** Where the target came from, for messages: `--url`, `DATABASE_URL`, `DB_*`, the config file or `embedded`. */
  source: '--url' | 'DATABASE_URL' | 'DB_*' | 'embedded' | (string & {});
  /** Folder of the embedded database. */
  embeddedDir: string;
  /** The project root (src/config/project-root.ts): .env, .cmmc-db/, migrations/, schema.sql. */
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
  /** NODE_ENV=production or CMMC_ENV=production. */
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

export function resolveConfig(input: ConfigInput = {}): CmmcConfig {
  const env = input.env ?? process.env;
  const cwd = input.cwd ?? process.cwd();
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
    production: project.production === true || env.NODE_ENV === 'production' || env.CMMC_ENV === 'production',
    statementTimeoutMs: optionalMs(env.CMMC_STATEMENT_TIMEOUT, 'CMMC_STATEMENT_TIMEOUT'),
    lockTimeoutMs: optionalMs(env.CMMC_LOCK_TIMEOUT, 'CMMC_LOCK_TIMEOUT'),
  };

  if (input.url) return { ...base, kind: 'server', url: parseDatabaseUrl(input.url, '--url'), source: '--url' };
  if (project.url?.explicit) return { ...base, kind: 'server', url: parseDatabaseUrl(project.url.value, project.url.from), source: project.url.from };
  if (env.DATABASE_URL) return { ...base, kind: 'server', url: parseDatabaseUrl(env.DATABASE_URL, 'DATABASE_URL'), source: 'DATABASE_URL' };
  if (env.DB_HOST || env.DB_NAME || env.DB_USER || env.DB_PORT || env.DB_PASSWORD) {
    return { ...base, kind: 'server', url: urlFromParts(env), source: 'DB_*' };
  }
  if (project.url) return { ...base, kind: 'server', url: parseDatabaseUrl(project.url.value, project.url.from), source: project.url.from };
  return { ...base, kind: 'embedded', source: 'embedded' };
}

/** Builds a URL from DB_USER, DB_PASSWORD, DB_HOST, DB_PORT and DB_NAME. */
export function urlFromParts(env: NodeJS.ProcessEnv): string {
  const port = env.DB_PORT ?? '5432';
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    throw new CmmcError('config.port', `DB_PORT "${port}" is not a port number`, { hint: 'set DB_PORT to a number such as 5432' });
  }
  const url = new URL('postgres://localhost');
  url.hostname = env.DB_HOST ?? 'localhost';
  url.port = port;
  url.username = encodeURIComponent(env.DB_USER ?? 'postgres');
  if (env.DB_PASSWORD) url.password = encodeURIComponent(env.DB_PASSWORD);
  url.pathname = '/' + encodeURIComponent(env.DB_NAME ?? 'cmmc_platform');
  return url.toString();
}

/** Checks that `raw` is a postgres:// or postgresql:// URL with a host; returns it unchanged. */
export function parseDatabaseUrl(raw: string, from: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CmmcError('config.url', `${from} is not a valid URL: "${redactUrl(raw)}"`, {
      hint: 'use the form postgres://user:password@host:5432/dbname',
      exitCode: 2,
    });
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new CmmcError('config.url', `${from} must start with postgres:// or postgresql://, not ${url.protocol}//`, {
      hint: 'use the form postgres://user:password@host:5432/dbname',
      exitCode: 2,
    });
  }
  if (!url.hostname && !url.searchParams.get('host')) {
    throw new CmmcError('config.url', `${from} names no host: "${redactUrl(raw)}"`, {
      hint: 'use the form postgres://user:password@host:5432/dbname',
      exitCode: 2,
    });
  }
  return raw;
}

/** The URL with its password replaced by `****`; safe to print. Never throws. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '****';
    for (const key of ['password', 'sslpassword']) if (url.searchParams.has(key)) url.searchParams.set(key, '****');
    return url.toString();
  } catch {
    // Not parseable: mask anything between "//user:" and "@".
    return raw.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1****@');
  }
}

/** The database name of a URL. */
export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  return name || decodeURIComponent(new URL(url).username) || 'postgres';
}

/** The same URL pointed at another database on the same server. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = '/' + encodeURIComponent(database);
  return u.toString();
}

/** A one-line description of the target for stderr, password masked. */
export function describeTarget(config: CmmcConfig): string {
  if (config.kind === 'embedded') {
    const relative = path.relative(process.cwd(), config.embeddedDir);
    const shown = relative === '' ? '.' : relative.startsWith('..') ? config.embeddedDir : relative;
    return `embedded PostgreSQL (PGlite) in ${shown} — not a server`;
  }
  return `${redactUrl(config.url!)} (from ${config.source})`;
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

function optionalMs(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) {
    throw new CmmcError('config.duration', `${name} "${value}" is not a duration`, { hint: 'use milliseconds or a unit: 500ms, 30s, 5min', exitCode: 2 });
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

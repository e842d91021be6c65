/**
 * The project: its root folder, its configuration file, and the folders that follow from them.
 *
 * The root is found by walking up from the working folder (find-up-simple and lilconfig do the
 * walking): the nearest folder with a `cmmc-db.config.*` file, else the nearest with a
 * `package.json`, else the working folder itself. CMMC_PROJECT_DIR names it outright. `.env`, the
 * embedded database (`.cmmc-db/`), `schema.sql` and the project's own revisions (`migrations/`) live
 * at the root, so a command run from `src/` uses the same ones as from the root and never makes a
 * second embedded database below the project.
 *
 * Revisions come from several folders that form one graph (as Alembic's `version_locations`): the
 * platform's, shipped in this package, and the project's own (`./migrations` by default), whose
 * first revision builds on the platform's head. New revisions are written into the project's
 * folder, never into the package.
 *
 * The configuration file (`cmmc-db.config.json`, `.ts`, `.mts`, `.js`, `.mjs`, `.cjs`, or a
 * `"cmmc-db"` key in package.json) is optional:
 *
 * ```json
 * {
 *   "migrations": ["migrations"],
 *   "environments": {
 *     "staging": { "url": "${STAGING_DATABASE_URL}" },
 *     "production": { "url": "${PRODUCTION_DATABASE_URL}", "production": true }
 *   }
 * }
 * ```
 *
 * `--env staging` picks an environment; its settings override the top-level ones. `${NAME}` in a
 * URL is read from the environment (and `.env`), so that no password is written in the file.
 */
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { findUpSync } from 'find-up-simple';
import type { LoaderSync } from 'lilconfig';
import { cacheDir } from '../cache-dir.js';
import { CmmcError } from '../errors.js';
import { compileLinked } from '../migrate/compile-cache.js';
import { isRegularFile } from '../fs-private.js';

/** The names a configuration file may have, in the order they are looked for in a folder. */
export const CONFIG_FILES = [
  'cmmc-db.config.json',
  'cmmc-db.config.ts',
  'cmmc-db.config.mts',
  'cmmc-db.config.js',
  'cmmc-db.config.mjs',
  'cmmc-db.config.cjs',
] as const;

/** Settings that the top level of the file and each environment may hold. */
export interface ProjectSettings {
  /** The project's revision folders, relative to the root; new revisions go into the first. Default `migrations`. */
  migrations?: string | string[];
  /** Include the platform's revisions (this package's `migrations/`) in the graph. Default true. */
  platformMigrations?: boolean;
  /** Seed folder, relative to the root. Default `seeds` when the project has one, else the platform's. */
  seeds?: string;
  /** Folder of the embedded database, relative to the root. Default `.cmmc-db`. */
  embeddedDir?: string;
  /** Database URL; `${NAME}` is read from the environment. Used after --url, DATABASE_URL and DB_*, or first with --env. */
  url?: string;
  /** Treat this target as production (confirmations, a backup before upgrade). */
  production?: boolean;
}

/** The configuration file's shape (`defineConfig` in cmmc-db.config.ts returns it as it is). */
export interface ProjectFile extends ProjectSettings {
  environments?: Record<string, ProjectSettings>;
}

/** The root and how it was found. */
export interface ProjectRoot {
  root: string;
  foundBy: 'CMMC_PROJECT_DIR' | 'config file' | 'package.json' | 'working folder';
  /** The configuration file at the root, if any. */
  configFile?: string;
}

/** The folders and target settings that follow from the root, the file and the chosen environment. */
export interface ProjectFolders {
  projectDir: string;
  /** Where new revisions are written (the project's first revision folder). */
  migrationsDir: string;
  /** Every revision folder of the graph, the platform's first. */
  migrationDirs: string[];
  seedsDir: string;
  embeddedDir: string;
  /** The URL the file gives for the chosen environment (`--env`) or at its top level. */
  url?: { value: () => string; from: string; explicit: boolean };
  production?: boolean;
  environment?: string;
  configFile?: string;
}

/** For TypeScript config files: `export default defineConfig({ ... })` with type checking. */
export function defineConfig(config: ProjectFile): ProjectFile {
  return config;
}

const SETTING_KEYS = ['migrations', 'platformMigrations', 'seeds', 'embeddedDir', 'url', 'production'] as const;

/** Walks up from `cwd` to the project root. Pure apart from reading the file system; never throws. */
export function findProjectRoot(cwd: string, env: NodeJS.ProcessEnv = process.env): ProjectRoot {
  if (env.CMMC_PROJECT_DIR) {
    const root = path.resolve(cwd, env.CMMC_PROJECT_DIR);
    return { root, foundBy: 'CMMC_PROJECT_DIR', configFile: configFileIn(root) };
  }
  const pkg = findUpSync('package.json', { cwd, stopAt: stopDir(cwd) });
  const pkgDir = pkg ? path.dirname(pkg) : undefined;
  // The nearest configuration file at or below the nearest package.json's folder (found, not read:
  // a file that does not parse is reported when it is loaded, inside the command's error handling).
  const configs = CONFIG_FILES.map((name) => findUpSync(name, { cwd, stopAt: pkgDir ?? stopDir(cwd) })).filter((f): f is string => f !== undefined);
  const nearest = configs.sort((a, b) => path.dirname(b).length - path.dirname(a).length)[0];
  if (nearest && (!pkgDir || isInside(path.dirname(nearest), pkgDir))) return { root: path.dirname(nearest), foundBy: 'config file', configFile: nearest };
  if (pkgDir) return { root: pkgDir, foundBy: 'package.json', configFile: hasConfigKey(pkg!) ? pkg : undefined };
  return { root: path.resolve(cwd), foundBy: 'working folder' };
}

/** package.json with a "cmmc-db" key holds the configuration. */
function hasConfigKey(pkg: string): boolean {
  try {
    return Object.hasOwn(JSON.parse(readFileSync(pkg, 'utf8')) as object, 'cmmc-db');
  } catch {
    return false;
  }
}

/** The home folder stops the walk (a stray package.json in ~ is not a project), unless cwd is outside it. */
function stopDir(cwd: string): string | undefined {
  const home = os.homedir();
  return isInside(path.resolve(cwd), home) ? home : undefined;
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function configFileIn(dir: string): string | undefined {
  // Regular files only, as the walk up finds them (find-up-simple's type 'file'): a FIFO would block its read for ever.
  return CONFIG_FILES.map((f) => path.join(dir, f)).find((f) => isRegularFile(f));
}

/**
 * A config file in `dir` that is there but was not read (`configFileIn` takes regular files only):
 * what it is instead, and the fix. Undefined when there is none.
 */
export function unreadConfigIn(dir: string, wanted = 'the settings'): { file: string; what: string; hint: string } | undefined {
  for (const file of CONFIG_FILES.map((f) => path.join(dir, f))) {
    const link = lstatSync(file, { throwIfNoEntry: false });
    if (!link || isRegularFile(file)) continue;
    const target = statSync(file, { throwIfNoEntry: false });
    const replace = `replace it with a file that has ${wanted}`;
    if (!target) return { file, what: `is a symbolic link to ${readlinkSync(file)}, which does not exist, so it was not read`, hint: 'fix the link, or remove it' };
    if (target.isDirectory()) return { file, what: 'is a folder, not a file, so it was not read', hint: replace };
    return { file, what: 'is not a regular file (a FIFO, socket or device), so it was not read', hint: replace };
  }
  return undefined;
}

/**
 * TypeScript config files are compiled once into the cache and required as ES modules, their
 * `import { defineConfig } from 'cmmc-db'` served by this module: through tsx, which also compiled
 * every module of the library that import loads, each command took seconds longer. A config that is
 * not self-contained (a relative import) is loaded through tsx's CommonJS loader as before.
 */
const loadTs: LoaderSync = (filepath) => {
  const require = createRequire(import.meta.url);
  const linked = compileLinked(filepath, cacheDir('config'), { 'cmmc-db': { url: import.meta.url, names: ['defineConfig'] } });
  if (linked !== undefined) {
    const mod = require(linked) as Record<string, unknown>;
    return mod.default ?? mod;
  }
  const tsx = require('tsx/cjs/api') as { require: (id: string, from: string) => Record<string, unknown> };
  const mod = tsx.require(filepath, import.meta.url);
  return mod.default ?? mod;
};

const loadJs: LoaderSync = (filepath) => {
  const require = createRequire(import.meta.url);
  try {
    const mod = require(filepath) as Record<string, unknown>;
    return mod.default ?? mod;
  } catch (err) {
    // An ES module config (.mjs, or .js in a "type": "module" package) loads through tsx too.
    if ((err as { code?: string }).code === 'ERR_REQUIRE_ESM') return loadTs(filepath, '');
    throw err;
  }
};

/** lilconfig, loaded only when a configuration file is read (most runs have none). */
function configSearcher(stop: string) {
  const { lilconfigSync } = createRequire(import.meta.url)('lilconfig') as typeof import('lilconfig');
  return lilconfigSync('cmmc-db', {
    searchPlaces: [...CONFIG_FILES, 'package.json'],
    packageProp: 'cmmc-db',
    loaders: { '.ts': loadTs, '.mts': loadTs, '.js': loadJs, '.mjs': loadJs, '.cjs': loadJs },
    stopDir: stop,
    cache: false,
  });
}

/** Reads and checks the configuration file. A file that does not parse or has unknown settings is a one-line error. */
export function loadProjectFile(file: string): ProjectFile {
  const shown = path.basename(file);
  let raw: unknown;
  try {
    raw = configSearcher(path.dirname(file)).load(file)?.config;
  } catch (err) {
    throw new CmmcError('config.file', `${shown} could not be read: ${(err as Error).message.split('\n')[0]}`, {
      hint: `fix ${file} (see docs/extending.md for its settings)`,
      exitCode: 2,
    });
  }
  if (raw === undefined || raw === null) return {};
  return checkFile(raw, shown);
}

function checkFile(raw: unknown, shown: string): ProjectFile {
  const obj = object(raw, shown);
  const { environments, ...settings } = obj;
  const file: ProjectFile = checkSettings(settings, shown);
  if (environments !== undefined) {
    const envs = object(environments, `${shown}: "environments"`);
    file.environments = {};
    for (const [name, value] of Object.entries(envs)) {
      file.environments[name] = checkSettings(object(value, `${shown}: environment "${name}"`), `${shown}: environment "${name}"`);
    }
  }
  return file;
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badSetting(`${where} must be an object`);
  return value as Record<string, unknown>;
}

function checkSettings(obj: Record<string, unknown>, where: string): ProjectSettings {
  for (const key of Object.keys(obj)) {
    if (!(SETTING_KEYS as readonly string[]).includes(key) && key !== 'environments') {
      throw badSetting(`${where}: unknown setting "${key}" (known: ${[...SETTING_KEYS, 'environments'].join(', ')})`);
    }
  }
  const out: ProjectSettings = {};
  const str = (key: 'seeds' | 'embeddedDir' | 'url') => {
    if (obj[key] === undefined) return;
    if (typeof obj[key] !== 'string' || obj[key] === '') throw badSetting(`${where}: "${key}" must be a non-empty string`);
    out[key] = obj[key];
  };
  str('seeds');
  str('embeddedDir');
  str('url');
  for (const key of ['platformMigrations', 'production'] as const) {
    if (obj[key] === undefined) continue;
    if (typeof obj[key] !== 'boolean') throw badSetting(`${where}: "${key}" must be true or false`);
    out[key] = obj[key];
  }
  const m = obj.migrations;
  if (m !== undefined) {
    const list = typeof m === 'string' ? [m] : m;
    if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'string' && x !== '')) {
      throw badSetting(`${where}: "migrations" must be a folder or a non-empty list of folders`);
    }
    out.migrations = list as string[];
  }
  return out;
}

function badSetting(message: string): CmmcError {
  return new CmmcError('config.file', message, { hint: 'see docs/extending.md for the settings of cmmc-db.config.json', exitCode: 2 });
}

/** `${NAME}` replaced by the environment's NAME; a missing one is an error naming it. */
function interpolate(value: string, env: NodeJS.ProcessEnv, where: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const v = env[name];
    if (v === undefined || v === '') {
      throw new CmmcError('config.file', `${where} reads \${${name}}, which is not set`, { hint: `set ${name} in the environment or in .env at the project root`, exitCode: 2 });
    }
    return v;
  });
}

export interface ProjectInput {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The folder this package is installed in: its migrations/ and seeds/ are the platform's. */
  packageDir: string;
  /** `--migrations-dir` (relative to cwd): the only revision folder, as before several were possible. */
  migrationsDir?: string;
  /** `--env NAME`: an environment of the configuration file. */
  environment?: string;
}

/**
 * The folders of the project (see the file comment). Order of each setting: flag, CMMC_* variable
 * (relative to the root, as written in .env), the chosen environment, the file's top level, the
 * default.
 */
export function resolveProject(input: ProjectInput): ProjectFolders {
  const { cwd, env, packageDir } = input;
  const found = findProjectRoot(cwd, env);
  const root = found.root;
  const file = found.configFile ? loadProjectFile(found.configFile) : {};
  const shown = found.configFile ? path.basename(found.configFile) : 'cmmc-db.config.json';
  let settings: ProjectSettings = { ...file };
  delete (settings as ProjectFile).environments;
  if (input.environment) {
    const chosen = file.environments?.[input.environment];
    if (!chosen) {
      const known = Object.keys(file.environments ?? {});
      const wanted = `"environments": { "${input.environment}": { "url": "\${DATABASE_URL}" } }`;
      // A config file that is a folder, a FIFO or a dangling link is not read (configFileIn): say so rather than "no file".
      const unread = found.configFile ? undefined : unreadConfigIn(root, wanted);
      const missing = unread ? `${unread.file} ${unread.what}` : `no cmmc-db.config file in ${root}`;
      throw new CmmcError('config.environment', `--env ${input.environment}: ${found.configFile ? `${shown} has no environment "${input.environment}"` : missing}`, {
        hint: known.length ? `use one of: ${known.join(', ')}` : unread ? unread.hint : `add ${wanted} to ${shown} at the project root`,
        exitCode: 2,
      });
    }
    settings = { ...settings, ...chosen };
  }
  const fromRoot = (p: string) => path.resolve(root, p);
  const platformDir = path.join(packageDir, 'migrations');
  let migrationDirs: string[];
  let migrationsDir: string;
  const single = input.migrationsDir ? path.resolve(cwd, input.migrationsDir) : env.CMMC_MIGRATIONS_DIR ? fromRoot(env.CMMC_MIGRATIONS_DIR) : undefined;
  if (single) {
    migrationsDir = single;
    migrationDirs = [single];
  } else {
    const own = (typeof settings.migrations === 'string' ? [settings.migrations] : (settings.migrations ?? ['migrations'])).map(fromRoot);
    migrationsDir = own[0];
    migrationDirs = [...new Set([...(settings.platformMigrations === false ? [] : [platformDir]), ...own])];
  }
  const ownSeeds = fromRoot(settings.seeds ?? 'seeds');
  const seedsDir = env.CMMC_SEEDS_DIR
    ? fromRoot(env.CMMC_SEEDS_DIR)
    : settings.seeds || isDir(ownSeeds)
      ? ownSeeds
      : path.join(packageDir, 'seeds');
  const where = input.environment ? `${shown} (environment ${input.environment})` : shown;
  return {
    projectDir: root,
    migrationsDir,
    migrationDirs,
    seedsDir,
    embeddedDir: env.CMMC_DB_DIR ? fromRoot(env.CMMC_DB_DIR) : fromRoot(settings.embeddedDir ?? '.cmmc-db'),
    url: settings.url ? { value: () => interpolate(settings.url!, env, `"url" of ${where}`), from: where, explicit: Boolean(input.environment && file.environments?.[input.environment]?.url) } : undefined,
    production: settings.production,
    environment: input.environment,
    configFile: found.configFile,
  };
}

function isDir(p: string): boolean {
  return existsSync(p) && statSync(p).isDirectory();
}

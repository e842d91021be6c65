/**
 * The PostgreSQL client programs (pg_dump, pg_restore, psql) and how they are run: the newest
 * pg_dump found in the PostgreSQL bin folders or on PATH, at least as new as the server, and a
 * connection environment (PGHOST, PGPORT, PGUSER, PGDATABASE, a temporary 0600 PGPASSFILE) so that
 * no password ever reaches a command line.
 */
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa, type Options as ExecaOptions, type ResultPromise } from 'execa';
import { CmmcError } from '../errors.js';

export interface PgTools {
  /** The folder the three programs come from. */
  binDir: string;
  pgDump: string;
  pgRestore: string;
  psql: string;
  /** `pg_dump --version`, for example `pg_dump (PostgreSQL) 15.10 (Debian 15.10-0+deb12u1)`. */
  version: string;
  /** Major version of pg_dump. */
  major: number;
}

/** Parses `pg_dump (PostgreSQL) 15.10 ...` into its major and minor numbers. */
export function parsePgVersion(text: string): { major: number; minor: number } | undefined {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(text) ?? /(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2] ?? 0) };
}

/** The folders to look in: CMMC_PG_BIN_DIR alone when set, else /usr/lib/postgresql/NN/bin and PATH. */
export function candidateBinDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.CMMC_PG_BIN_DIR) return [path.resolve(env.CMMC_PG_BIN_DIR)];
  const dirs: string[] = [];
  for (const root of ['/usr/lib/postgresql', '/usr/local/pgsql', '/opt/homebrew/opt', '/usr/pgsql']) {
    try {
      for (const entry of readdirSync(root)) dirs.push(path.join(root, entry, 'bin'));
    } catch {
      // Not present on this machine.
    }
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter)) if (dir) dirs.push(dir);
  return [...new Set(dirs)];
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Picks the newest pg_dump whose major version is at least the server's, with pg_restore and psql
 * from the same folder. `serverVersionNum` is `server_version_num` (150010 for 15.10).
 */
export async function findPgTools(serverVersionNum: number, env: NodeJS.ProcessEnv = process.env): Promise<PgTools> {
  const serverMajor = Math.floor(serverVersionNum / 10000);
  const found: PgTools[] = [];
  for (const dir of candidateBinDirs(env)) {
    const pgDump = path.join(dir, 'pg_dump');
    if (!existsSync(pgDump) || !executable(pgDump)) continue;
    let version: string;
    try {
      version = (await execa(pgDump, ['--version'], { reject: true, timeout: 10_000 })).stdout.trim();
    } catch {
      continue;
    }
    const parsed = parsePgVersion(version);
    if (!parsed) continue;
    found.push({ binDir: dir, pgDump, pgRestore: path.join(dir, 'pg_restore'), psql: path.join(dir, 'psql'), version, major: parsed.major });
  }
  const usable = found
    .filter((t) => t.major >= serverMajor && executable(t.pgRestore) && executable(t.psql))
    .sort((a, b) => b.major - a.major);
  if (usable.length) return usable[0];
  const install = `install postgresql-client-${serverMajor} (apt-get install postgresql-client-${serverMajor}) or set CMMC_PG_BIN_DIR to its bin folder`;
  if (found.length === 0) {
    throw new CmmcError('backup.pg-dump-missing', `pg_dump was not found (looked in ${candidateBinDirs(env).slice(0, 4).join(', ')} and PATH)`, { hint: install });
  }
  const newest = found.sort((a, b) => b.major - a.major)[0];
  throw new CmmcError(
    'backup.pg-dump-old',
    `pg_dump ${newest.major} (${newest.pgDump}) is older than the server (PostgreSQL ${serverMajor}) and cannot dump it`,
    { hint: install },
  );
}

/** The connection of a URL as libpq environment variables; the password goes to a PGPASSFILE. */
export interface PgEnv {
  env: Record<string, string>;
  /** Removes the temporary password file. Safe to call twice. */
  cleanup(): void;
}

function escapePass(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}

/**
 * Builds PGHOST, PGPORT, PGUSER, PGDATABASE (and SSL settings from the query string) for `url`,
 * pointed at `database` when given. A password is written to a temporary 0600 file named by
 * PGPASSFILE, never put on a command line; call `cleanup()` in a finally.
 */
export function pgEnvFor(url: string, database?: string): PgEnv {
  const u = new URL(url);
  const env: Record<string, string> = {};
  const host = u.searchParams.get('host') ?? (u.hostname ? decodeURIComponent(u.hostname).replace(/^\[(.*)\]$/, '$1') : 'localhost');
  env.PGHOST = host;
  env.PGPORT = u.port || u.searchParams.get('port') || '5432';
  env.PGUSER = decodeURIComponent(u.username) || u.searchParams.get('user') || 'postgres';
  env.PGDATABASE = database ?? (decodeURIComponent(u.pathname.replace(/^\//, '')) || env.PGUSER);
  const map: Record<string, string> = {
    sslmode: 'PGSSLMODE',
    sslrootcert: 'PGSSLROOTCERT',
    sslcert: 'PGSSLCERT',
    sslkey: 'PGSSLKEY',
    connect_timeout: 'PGCONNECT_TIMEOUT',
    application_name: 'PGAPPNAME',
    options: 'PGOPTIONS',
  };
  for (const [param, name] of Object.entries(map)) {
    const value = u.searchParams.get(param);
    if (value) env[name] = value;
  }
  if (u.searchParams.get('ssl') === 'true' && !env.PGSSLMODE) env.PGSSLMODE = 'require';
  const password = u.password ? decodeURIComponent(u.password) : u.searchParams.get('password') ?? undefined;
  let dir: string | undefined;
  if (password) {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-pgpass-'));
    const file = path.join(dir, 'pgpass');
    writeFileSync(file, `*:*:*:${escapePass(env.PGUSER)}:${escapePass(password)}\n`, { mode: 0o600 });
    env.PGPASSFILE = file;
  }
  let cleaned = false;
  const cleanup = () => {
    if (cleaned || !dir) return;
    cleaned = true;
    rmSync(dir, { recursive: true, force: true });
    process.off('exit', cleanup);
  };
  if (dir) process.on('exit', cleanup);
  return { env, cleanup };
}

/** Environment for a child: the parent's, without any libpq setting that could point elsewhere. */
export function childEnv(pg: Record<string, string>): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('PG')) delete env[key];
  return { ...env, ...pg };
}

/**
 * Runs a client program with files created 0600 (umask 077 while the child starts; execa spawns
 * synchronously, so the umask is restored before anything else runs).
 */
export function runPg(file: string, args: string[], pg: Record<string, string>, options: ExecaOptions = {}): ResultPromise {
  const previous = process.umask(0o077);
  try {
    return execa(file, args, { env: childEnv(pg), extendEnv: false, reject: false, stripFinalNewline: true, ...options }) as ResultPromise;
  } finally {
    process.umask(previous);
  }
}

/** The last meaningful line of a client program's stderr, for a one-line error. */
export function lastLine(stderr: unknown): string {
  const lines = String(stderr ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const errorLine = [...lines].reverse().find((l) => /error|fatal/i.test(l));
  return (errorLine ?? lines[lines.length - 1] ?? 'no message').slice(0, 400);
}

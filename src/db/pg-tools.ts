/**
 * The one way this tool runs PostgreSQL's client programs (pg_dump, pg_restore, psql), for every
 * command (backup, restore, verify, schema dump, scratch databases): the newest client found in
 * CMMC_PG_BIN_DIR, else the PostgreSQL bin folders and PATH, at least as new as the server, picked
 * once per run; the target reaches it as libpq environment variables built from the same resolved
 * target the driver uses (src/config/conninfo.ts), with the password in the child's environment
 * (PGPASSWORD) — never on a command line, never in a file.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { inheritedEnv } from '../child-env.js';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, readdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { connParamsOf, ENV_OF, type ConnKeyword, type ConnParams } from '../config/conninfo.js';
import { cacheDir } from '../cache-dir.js';
import { CmmcError } from '../errors.js';
import { makeDirs } from '../fs-private.js';
import { interruptSignal } from '../interrupt.js';

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

const picked = new Map<string, Promise<PgTools>>();

/**
 * Picks the newest pg_dump whose major version is at least the server's, with pg_restore and psql
 * from the same folder. `serverVersionNum` is `server_version_num` (150010 for 15.10). The choice
 * is made once per run (per server major version and search path).
 * @throws CmmcError `pgtools.missing` / `pgtools.old` with the package to install.
 */
export function findPgTools(serverVersionNum: number, env: NodeJS.ProcessEnv = process.env): Promise<PgTools> {
  const serverMajor = Math.floor(serverVersionNum / 10000);
  const key = `${serverMajor}\0${env.CMMC_PG_BIN_DIR ?? ''}\0${env.PATH ?? ''}`;
  let found = picked.get(key);
  if (!found) {
    found = pickPgTools(serverMajor, env);
    picked.set(key, found);
    found.catch(() => picked.delete(key));
  }
  return found;
}

/**
 * The pg_dump programs worth asking for their version, in candidate order: each real file once
 * (/bin and /usr/bin are one folder on merged-/usr systems), and Debian's pg_wrapper (a Perl script
 * that runs one of the /usr/lib/postgresql/NN/bin programs) only when none of those is a candidate.
 */
export function distinctPgDumps(dirs: string[]): { dir: string; pgDump: string }[] {
  const seen = new Set<string>();
  const out: { dir: string; pgDump: string; real: string }[] = [];
  for (const dir of dirs) {
    const pgDump = path.join(dir, 'pg_dump');
    if (!existsSync(pgDump) || !executable(pgDump)) continue;
    let real: string;
    try {
      real = realpathSync(pgDump);
    } catch {
      continue;
    }
    if (seen.has(real)) continue;
    seen.add(real);
    out.push({ dir, pgDump, real });
  }
  const versioned = out.some((c) => /\/postgresql\/\d+\/bin\/pg_dump$/.test(c.real));
  return out.filter((c) => !(versioned && path.basename(c.real) === 'pg_wrapper')).map(({ dir, pgDump }) => ({ dir, pgDump }));
}

/**
 * `file --version`. A compiled program's answer is text compiled into it (pg_dump prints
 * `"pg_dump (PostgreSQL) " PG_VERSION`), so it is kept by the sha256 of the program's bytes
 * (`versionCacheEntry`): a later run reads it instead of starting the program (a process start
 * and about 30 ms of CPU beside ours). A changed program is a new entry; a script (Debian's
 * pg_wrapper, a shell wrapper) is always asked, since its answer depends on other files.
 */
function versionOf(file: string, cache: string): Promise<string | undefined> {
  const entry = versionCacheEntry(file, cache);
  if (entry?.version) return Promise.resolve(entry.version);
  return new Promise((resolve) => {
    execFile(file, ['--version'], { timeout: 10_000, env: inheritedEnv() }, (err, stdout) => {
      const version = err ? undefined : String(stdout).trim();
      if (version && entry) keepVersion(entry.path, version);
      resolve(version);
    });
  });
}

/** The ELF magic number: a compiled program (Linux, the BSDs). */
const ELF = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/**
 * Where `file`'s version is kept in `cache` (named by the sha256 of its bytes), and the version
 * when it is there and reads as a version; undefined for a program that is not compiled (or that
 * cannot be read: then it is asked).
 */
export function versionCacheEntry(file: string, cache: string): { path: string; version?: string } | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return undefined;
  }
  if (bytes.length < 4 || !bytes.subarray(0, 4).equals(ELF)) return undefined;
  const entry = path.join(cache, createHash('sha256').update(bytes).digest('hex'));
  try {
    const version = readFileSync(entry, 'utf8').trim();
    // A damaged entry is not an answer: the program is asked and the entry written again.
    if (/^\S+ \(PostgreSQL\) \d/.test(version) && !/[\0-\x1f]/.test(version)) return { path: entry, version };
  } catch {
    // Not kept yet.
  }
  return { path: entry };
}

function keepVersion(entry: string, version: string): void {
  try {
    makeDirs(path.dirname(entry), 0o700);
    // Written aside and renamed: a concurrent reader sees the whole answer or none.
    writeFileSync(`${entry}.${process.pid}`, `${version}\n`);
    renameSync(`${entry}.${process.pid}`, entry);
  } catch {
    // A read-only cache only costs a process start next time.
  }
}

const probes = new Map<string, Promise<PgTools[]>>();

/**
 * Every candidate pg_dump with its version, asked once per search path. It needs no server, so a
 * command that will run pg_dump starts it first (`warmPgTools`) and connects meanwhile.
 */
function probePgDumps(env: NodeJS.ProcessEnv): Promise<PgTools[]> {
  const key = `${env.CMMC_PG_BIN_DIR ?? ''}\0${env.PATH ?? ''}`;
  let probe = probes.get(key);
  if (!probe) {
    // Asked all at once: each answer is a process start, and the candidates do not depend on each other.
    const candidates = distinctPgDumps(candidateBinDirs(env));
    const cache = cacheDir('pg-tools', env);
    probe = Promise.all(candidates.map((c) => versionOf(c.pgDump, cache))).then((versions) => {
      const found: PgTools[] = [];
      candidates.forEach(({ dir, pgDump }, i) => {
        const version = versions[i];
        const parsed = version ? parsePgVersion(version) : undefined;
        if (!version || !parsed) return;
        found.push({ binDir: dir, pgDump, pgRestore: path.join(dir, 'pg_restore'), psql: path.join(dir, 'psql'), version, major: parsed.major });
      });
      return found;
    });
    probes.set(key, probe);
  }
  return probe;
}

/** Starts asking the candidate programs for their version now, before the server's version is known. */
export function warmPgTools(env: NodeJS.ProcessEnv = process.env): void {
  void probePgDumps(env);
}

async function pickPgTools(serverMajor: number, env: NodeJS.ProcessEnv): Promise<PgTools> {
  const found = [...(await probePgDumps(env))];
  const usable = found
    .filter((t) => t.major >= serverMajor && executable(t.pgRestore) && executable(t.psql))
    .sort((a, b) => b.major - a.major);
  if (usable.length) return usable[0];
  const install = `install postgresql-client-${serverMajor} (apt-get install postgresql-client-${serverMajor}) or set CMMC_PG_BIN_DIR to its bin folder`;
  if (found.length === 0) {
    const where = env.CMMC_PG_BIN_DIR ? `CMMC_PG_BIN_DIR (${env.CMMC_PG_BIN_DIR})` : `${candidateBinDirs(env).slice(0, 4).join(', ')} and PATH`;
    throw new CmmcError('pgtools.missing', `pg_dump was not found (looked in ${where})`, { hint: install });
  }
  const newest = found.sort((a, b) => b.major - a.major)[0];
  throw new CmmcError(
    'pgtools.old',
    `pg_dump ${newest.major} (${newest.pgDump}) is older than the server (PostgreSQL ${serverMajor}) and cannot dump it`,
    { hint: install },
  );
}

/** The client programs for the server at `target` (connects once to read its version). */
export async function pgToolsFor(target: string | ConnParams): Promise<PgTools> {
  const { connectPool } = await import('./driver.js');
  const sql = await connectPool(target, { applicationName: 'cmmc-db:version' });
  try {
    const [row] = await sql<{ num: string }[]>`SELECT current_setting('server_version_num') AS num`;
    return await findPgTools(Number(row.num));
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/**
 * The target as libpq environment variables for a child program: PGHOST and PGPORT as libpq's
 * comma lists (several hosts), PGUSER, PGDATABASE (`database` when given), PGPASSWORD when a
 * password was given (else PGPASSFILE, so that libpq reads the password file itself), and the TLS,
 * timeout, application-name, options and target_session_attrs settings.
 */
export function libpqEnv(target: string | ConnParams, database?: string): Record<string, string> {
  const conn = typeof target === 'string' ? connParamsOf(target) : target;
  const env: Record<string, string> = {
    PGHOST: conn.hosts.map((h) => h.host).join(','),
    PGPORT: conn.hosts.map((h) => String(h.port)).join(','),
    PGUSER: conn.user,
    PGDATABASE: database ?? conn.dbname,
    PGSSLMODE: conn.sslmode,
    PGCONNECT_TIMEOUT: String(conn.connectTimeout),
  };
  if (conn.password !== undefined) env.PGPASSWORD = conn.password;
  const passfile = conn.passfile ?? process.env.PGPASSFILE;
  if (passfile) env.PGPASSFILE = passfile;
  if (conn.sslrootcert) env.PGSSLROOTCERT = conn.sslrootcert;
  if (conn.sslcert) env.PGSSLCERT = conn.sslcert;
  if (conn.sslkey) env.PGSSLKEY = conn.sslkey;
  if (conn.applicationName) env.PGAPPNAME = conn.applicationName;
  if (conn.options) env.PGOPTIONS = conn.options;
  if (conn.targetSessionAttrs !== 'any') env.PGTARGETSESSIONATTRS = conn.targetSessionAttrs;
  for (const [k, v] of Object.entries(conn.extra)) {
    const name = ENV_OF[k as ConnKeyword];
    if (name && v !== undefined) env[name] = v;
  }
  return env;
}

/**
 * Environment for a child: the parent's without its credentials (src/child-env.ts) nor any libpq
 * setting that could point elsewhere, and the target's `pg` (its own password alone).
 */
export function childEnv(pg: Record<string, string>): Record<string, string | undefined> {
  const env = inheritedEnv();
  for (const key of Object.keys(env)) if (key.startsWith('PG')) delete env[key];
  return { ...env, ...pg };
}

/** How a client program ended: its exit code (1 when it could not start or was killed) and its output. */
export interface PgResult {
  exitCode: number;
  /** Empty when stdout was handed to the caller (`stdout: 'stream'`). */
  stdout: string;
  stderr: string;
  /**
   * Set when the program did not run to its own end: it could not be started (missing, not
   * executable), or a signal stopped it (the user's Ctrl-C, kill -9, the OOM killer). Its exit
   * then says nothing about what it was given (src/backup/verify.ts: no verdict on a backup).
   */
  ended?: 'not-started' | 'stopped';
}

export interface RunPgOptions {
  /** `pipe`: the caller writes the child's stdin (`child.stdin`); default: none. */
  stdin?: 'pipe' | 'ignore';
  /** `stream`: the caller reads `child.stdout` (an archive streamed on); default: kept in memory. */
  stdout?: 'buffer' | 'stream';
  /** Stops the program (SIGTERM) when aborted: an interruption, or the caller giving up. */
  cancelSignal?: AbortSignal;
}

/** A running client program: the process (for its streams) and the promise of how it ended. */
export interface PgRun {
  child: ChildProcess;
  stdin: Writable | null;
  stdout: Readable | null;
  done: Promise<PgResult>;
}

/** The signals that end a Node process that does not handle them (and that the CLI's handler handles). */
const TERMINATING_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs a client program with files created 0600 (umask 077 while the child starts: spawn is
 * synchronous, so the umask is restored before anything else runs). node:child_process directly:
 * a process runner library costs more to load (execa: about 86 ms of CPU) than pg_dump takes to
 * dump a small database. Never rejects: a program that cannot start or is stopped ends with
 * exit code 1 and the reason on stderr.
 *
 * The program runs in a session of its own (detached: setsid), so the terminal's Ctrl-C (and a
 * signal to this process's group, as `timeout -s INT` sends) reaches this process alone, and the
 * program is stopped by this process: by its interruption (interruptSignal) or the caller's
 * `cancelSignal`, with SIGTERM. Whether it was stopped is then decided by facts: the signal that
 * ended it, or this run having asked it to stop. Never by its words: a program stopped by its own
 * handler exits with a code like any failure (pg_dump and pg_restore 1, psql 3), and what it and
 * the server say ("terminated by user", "canceling statement due to user request") depends on
 * lc_messages and the client's translations. Before, the program could see a Ctrl-C first and
 * exit before this process had heard of it; only its English words told the two apart.
 *
 * That holds where this process handles the signals (the CLI's handler, src/cli/signals.ts; an
 * application's own, which runs runInterruptCleanups). An application that handles none dies of
 * Ctrl-C or a signal to its group with Node's default, and a program in a session of its own would
 * run on alone (its session, its locks, its partial file): there it stays in this process's group
 * and the same signal stops it.
 */
export function runPg(file: string, args: string[], pg: Record<string, string>, options: RunPgOptions = {}): PgRun {
  // Stopped with the run, and when the caller gives up.
  const stop = options.cancelSignal ? AbortSignal.any([options.cancelSignal, interruptSignal()]) : interruptSignal();
  const previous = process.umask(0o077);
  let child: ChildProcess;
  try {
    child = spawn(file, args, {
      env: childEnv(pg),
      stdio: [options.stdin === 'pipe' ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      signal: stop,
      killSignal: 'SIGTERM',
      detached: TERMINATING_SIGNALS.some((signal) => process.listenerCount(signal) > 0),
    });
  } finally {
    process.umask(previous);
  }
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  if (options.stdout !== 'stream') child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  // An aborted signal makes spawn emit an AbortError: the program was stopped, which is its result.
  child.stdin?.on('error', () => {});
  const done = new Promise<PgResult>((resolve) => {
    let failure: Error | undefined;
    child.once('error', (e) => {
      failure = e;
      // A program that never started emits no 'close'.
      if (child.pid === undefined) resolve({ exitCode: 1, stdout: '', stderr: e.message, ended: 'not-started' });
    });
    child.once('close', (code, signal) => {
      const said = Buffer.concat(err).toString();
      // Killed outright (kill -9, the OOM killer), a program says nothing: say what ended it.
      const stderr = said || (failure ? failure.message : signal ? `${path.basename(file)} was stopped by ${signal}` : '');
      // Ended by a signal (anyone's), or failed once this run had asked it to stop (its own handler's exit).
      const stopped = signal !== null || (stop.aborted && code !== 0);
      resolve({ exitCode: code ?? 1, stdout: Buffer.concat(out).toString(), stderr, ...(stopped ? { ended: 'stopped' as const } : {}) });
    });
  });
  return { child, stdin: child.stdin, stdout: child.stdout, done };
}

/** Runs a client program against `url` (psql, pg_dump, pg_restore); output kept in memory. */
export async function runPgClient(
  name: 'pg_dump' | 'psql' | 'pg_restore',
  url: string,
  args: string[],
  options: { env?: Record<string, string>; database?: string } = {},
): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const tools = await pgToolsFor(url);
  const file = name === 'pg_dump' ? tools.pgDump : name === 'psql' ? tools.psql : tools.pgRestore;
  const base = libpqEnv(url, options.database);
  const pgEnv = { ...base, ...options.env };
  // The target's own startup options stay, followed by the caller's.
  if (base.PGOPTIONS && options.env?.PGOPTIONS) pgEnv.PGOPTIONS = `${base.PGOPTIONS} ${options.env.PGOPTIONS}`;
  return runPg(file, args, pgEnv).done;
}

/** The last meaningful line of a client program's stderr, for a one-line error. */
export function lastLine(stderr: unknown): string {
  const lines = String(stderr ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  // The statement a detail line quotes (`detail: Query was: COPY ...`) can name anything (a column
  // error_message): it is never the line that says what went wrong.
  const said = lines.filter((l) => !/detail: (?:Query|Command) was:/.test(l));
  const errorLine = [...said].reverse().find((l) => /\b(?:error|fatal|panic):/i.test(l)) ?? [...said].reverse().find((l) => /error|fatal/i.test(l));
  return (errorLine ?? said[said.length - 1] ?? lines[lines.length - 1] ?? 'no message').slice(0, 400);
}

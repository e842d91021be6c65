/**
 * Scratch databases: uniquely named databases on the configured server, made for one command
 * (build the migrations' head, apply schema.sql, run the stairway) and always dropped afterwards —
 * in `finally`, and on SIGINT/SIGTERM. They are created through the admin connection of the
 * configured URL (same server, same credentials, database `postgres`); the user's database is
 * never opened by this module.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import type postgres from 'postgres';
import { databaseName, redactUrl, withDatabase, type CmmcConfig } from '../config/config.js';
import { targetOrigin } from '../db/connection.js';
import { connectPool, createPool, type TargetOrigin } from '../db/driver.js';
import { pinnedUrl, writableUrl } from '../db/writable.js';
import { settingOf } from '../db/errors.js';
import { CmmcError } from '../errors.js';
import { onInterrupt } from '../interrupt.js';
import { hostTag, makeTempDir, ownerIn, ownerTag, processAlive } from '../leftovers.js';
import { literal } from '../sql/lexer.js';

/** Every scratch database's name starts with this (tests look for leftovers by it). */
export const SCRATCH_PREFIX = 'cmmc_scratch_';

export interface ScratchDatabase {
  name: string;
  /** server: a database on the configured server; embedded: a PGlite folder in a temporary folder. */
  kind: 'server' | 'embedded';
  /**
   * URL of a server scratch database (same credentials as the configured URL: never print it
   * unmasked). Empty for an embedded one: open `config` and use the handle's URL while it is open.
   */
  url: string;
  /** The configuration with the scratch database as its target (same migrations folder). */
  config: CmmcConfig;
  drop(): Promise<void>;
  /** Keeps it for good (a restore renamed it into place): no longer dropped on an interruption. */
  keep(): void;
}

/**
 * Scratch databases alive in this process: dropped when the run is interrupted (the CLI's signal
 * handler runs the cleanup registered here), and by the next run when this process was killed
 * outright (their names carry the pid and start time: `sweepScratchDatabases`).
 */
const live = new Map<string, () => void>();

function track(name: string, where: { adminUrl?: string; folder?: string; creating?: () => Promise<unknown> }): void {
  // A session kept ready on the maintenance database while the scratch database lives: dropping it
  // on an interruption then costs the DROP alone, not a new connection, within the second the
  // signal handler gives.
  const standby = where.adminUrl ? createPool(where.adminUrl, { applicationName: 'cmmc-db:scratch' }) : undefined;
  if (standby) void standby`SELECT 1`.catch(() => {});
  const drop = async () => {
    if (where.folder) rmSync(where.folder, { recursive: true, force: true });
    else {
      // A CREATE DATABASE still running commits after a DROP sent meanwhile (which finds nothing):
      // the drop waits for it to end, made or not.
      await where.creating?.().catch(() => {});
      await standby!.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
  };
  const release = onInterrupt(drop, 'scratch databases dropped');
  live.set(name, () => {
    release();
    void standby?.end({ timeout: 1 }).catch(() => {});
  });
}

function untrack(name: string): void {
  live.get(name)?.();
  live.delete(name);
}

/** CMMC_SCRATCH_TAG lets parallel CI jobs (and tests) tell their scratch databases apart: "tag_" or "". */
function scratchTag(): string {
  const tag = (process.env.CMMC_SCRATCH_TAG ?? '').toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 16);
  return tag ? `${tag}_` : '';
}

let counter = 0;

/**
 * `cmmc_scratch_[tag_]<label>_h<host>_p<pid>_t<start>_<n>`: at most 63 bytes, and it says which
 * machine and which process made it (src/leftovers.ts), so that a later run can drop it once that
 * process is gone.
 */
export function scratchName(label: string, prefix = SCRATCH_PREFIX): string {
  const tail = `_h${hostTag()}_${ownerTag('_')}_${(++counter).toString(36)}`;
  const head = `${prefix}${scratchTag()}`;
  // The label gives way first: a database name holds at most 63 bytes.
  return head + label.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, Math.max(1, 63 - head.length - tail.length)) + tail;
}

/**
 * Drops the scratch databases (names made by `scratchName`, any prefix starting `cmmc_`) that
 * this machine made for processes that are gone: the leftovers of a run killed outright.
 * Best effort and quiet: a database the role may not drop is left for doctor to report.
 * `candidates`: the answer of `scratchCandidates` when the caller already has it (asked when absent).
 * Returns the names dropped.
 */
export async function sweepScratchDatabases(sql: postgres.Sql, candidates?: string[]): Promise<string[]> {
  const dropped: string[] = [];
  try {
    const host = hostTag();
    for (const datname of candidates ?? (await scratchCandidates(sql))) {
      const owner = ownerIn(datname, new RegExp(`_h${host}_(p[0-9a-z]+_t[0-9a-z]+)_[0-9a-z]+$`));
      if (!owner || processAlive(owner.pid, owner.start)) continue;
      try {
        await sql.unsafe(`DROP DATABASE IF EXISTS "${datname.replace(/"/g, '""')}" WITH (FORCE)`);
        dropped.push(datname);
      } catch {
        // Not ours to drop, or in use: left alone.
      }
    }
  } catch {
    // The catalogue could not be read: nothing swept this time.
  }
  return dropped;
}

/**
 * The databases of this machine whose names say a cmmc-db process made them (dead or alive): what
 * `sweepScratchDatabases` looks at. The CLI asks this as its connection's first statement, so that
 * the sweep costs no round trip of its own when there is nothing to drop (nearly always).
 *
 * The statement is a constant: a parameter would cost postgres.js a second round trip (it
 * describes a parameterised statement first), and this machine's tag (a sha256, hostTag) would
 * load node:crypto before the connection is even started. Names of other machines are dropped
 * here, once the answer is in (nearly always empty).
 */
export async function scratchCandidates(sql: postgres.Sql): Promise<string[]> {
  const rows = await sql<{ datname: string }[]>`SELECT datname FROM pg_database WHERE datname LIKE 'cmmc\\_%\\_h%\\_p%'`;
  if (rows.length === 0) return [];
  const mine = `_h${hostTag()}_p`;
  return rows.map((r) => r.datname).filter((name) => name.includes(mine));
}

/** The server URL scratch databases are made on: the configured URL, or an error for the embedded target. */
export function serverUrl(config: CmmcConfig, purpose: string): string {
  if (config.kind !== 'server' || !config.url) {
    throw new CmmcError('scratch.server', `${purpose} needs a PostgreSQL server for its scratch databases, and none is configured`, {
      hint: 'set DATABASE_URL (or --url) to a server; scratch databases are created there and dropped afterwards',
    });
  }
  return config.url;
}

/** `origin`: where the server's settings came from (`targetOrigin`), named by a failed connect's hint. */
async function admin<T>(adminUrl: string, fn: (sql: postgres.Sql) => Promise<T>, origin?: TargetOrigin): Promise<T> {
  const sql = await connectPool(adminUrl, { applicationName: 'cmmc-db:scratch' }, origin);
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 }).catch(() => {});
  }
}

/**
 * DROP DATABASE ... WITH (FORCE) ends the sessions still open on it, but gives them 5 s to go: on
 * a busy server that can fail with "being accessed by other users" (55006). Try again a few times.
 */
async function dropByName(adminUrl: string, name: string, origin: TargetOrigin): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await admin(adminUrl, (sql) => sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`), origin);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '55006' || attempt >= 5) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

/**
 * Creates an empty scratch database on the server of `config.url`.
 *
 * @example
 * const scratch = await createScratchDatabase(config, 'head');
 * try { ... } finally { await scratch.drop(); }
 */
export async function createScratchDatabase(config: CmmcConfig, label = 'db'): Promise<ScratchDatabase> {
  if (config.kind === 'embedded') return createEmbeddedScratch(config, label);
  const url = serverUrl(config, 'this command');
  // On the primary (src/db/writable.ts): a standby listed first cannot create it.
  const adminUrl = writableUrl(withDatabase(url, 'postgres'));
  // The maintenance database is always postgres; the rest is the configured target's.
  const origin = targetOrigin(config, true);
  const name = scratchName(label);
  if (name === databaseName(url)) throw new CmmcError('scratch.name', 'refusing to use the configured database as a scratch database');
  // Tracked before it exists: a signal that lands while CREATE DATABASE runs must still drop it,
  // once the CREATE has ended (DROP ... IF EXISTS covers the case where it was never made).
  let creating: Promise<unknown> = Promise.resolve();
  track(name, { adminUrl, creating: () => creating });
  // The host the database is made on: its sessions and client programs go there, not to the list,
  // where a standby listed first lacks it for a moment ("does not exist").
  let onPrimary = adminUrl;
  try {
    await admin(adminUrl, async (sql) => {
      onPrimary = await pinnedUrl(adminUrl, sql);
      await sweepScratchDatabases(sql);
      creating = sql.unsafe(`CREATE DATABASE "${name}" TEMPLATE template0`);
      await creating;
    }, origin);
  } catch (err) {
    untrack(name);
    if (err instanceof CmmcError) throw err;
    const e = err as { code?: string; message?: string };
    if (e.code === '42501') {
      throw new CmmcError('scratch.create', `cannot create a scratch database on ${redactUrl(adminUrl)}: permission denied`, {
        // The application role (DB_USER) has no CREATEDB by design (docs/schema.md, Roles): not a role to give it to.
        hint: `connect as the admin or another role with CREATEDB (${settingOf(config.source, 'user', config.conn?.fromPgEnv)}), not as the application role`,
      });
    }
    throw err;
  }
  const scratchUrl = withDatabase(onPrimary, name);
  let dropped = false;
  return {
    name,
    kind: 'server',
    url: scratchUrl,
    config: { ...config, kind: 'server', url: scratchUrl, production: false },
    keep() {
      dropped = true;
      untrack(name);
    },
    async drop() {
      if (dropped) return;
      dropped = true;
      try {
        await dropByName(onPrimary, name, origin);
      } finally {
        untrack(name);
      }
    },
  };
}

/**
 * An embedded scratch database: a fresh PGlite folder in the temporary folder, removed afterwards.
 * Every handle opened on it must be closed before `drop()`.
 */
function createEmbeddedScratch(config: CmmcConfig, label: string): ScratchDatabase {
  const folder = makeTempDir(`scratch${scratchTag().replace(/_$/, '')}${label.replace(/[^A-Za-z0-9]/g, '')}`);
  const name = path.basename(folder);
  track(name, { folder });
  let dropped = false;
  return {
    name,
    kind: 'embedded',
    url: '',
    config: { ...config, kind: 'embedded', url: undefined, embeddedDir: folder, production: false },
    keep() {
      dropped = true;
      untrack(name);
    },
    async drop() {
      if (dropped) return;
      dropped = true;
      try {
        rmSync(folder, { recursive: true, force: true });
      } finally {
        untrack(name);
      }
    },
  };
}

/** Runs `fn` with a fresh scratch database and drops it afterwards, whatever happens. */
export async function withScratchDatabase<T>(config: CmmcConfig, label: string, fn: (scratch: ScratchDatabase) => Promise<T>): Promise<T> {
  const scratch = await createScratchDatabase(config, label);
  try {
    return await fn(scratch);
  } finally {
    await scratch.drop();
  }
}

/** Names of scratch databases left on a server (there should be none; for tests and doctor). */
export async function listScratchDatabases(url: string): Promise<string[]> {
  return admin(withDatabase(url, 'postgres'), async (sql) => {
    const rows = await sql<{ datname: string }[]>`SELECT datname FROM pg_database WHERE datname LIKE ${SCRATCH_PREFIX + '%'} ORDER BY 1`;
    return rows.map((r) => r.datname);
  });
}

/**
 * Empties a scratch database (every schema but the system ones, with their extensions), leaving
 * an empty `public`: cheaper than dropping and creating another database on a busy server.
 */
export async function resetScratchDatabase(scratch: ScratchDatabase): Promise<void> {
  const sql = createPool(scratch.url, { applicationName: 'cmmc-db:scratch' });
  try {
    const schemas = await sql<{ nspname: string }[]>`
      SELECT nspname FROM pg_namespace
       WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND nspname NOT LIKE 'pg\\_%'`;
    // public comes back with the comment it had (the template's "standard public schema"), so that a
    // reset database compares equal to a new one.
    const publicSchema = await sql<{ comment: string | null }[]>`SELECT obj_description(oid, 'pg_namespace') AS comment FROM pg_namespace WHERE nspname = 'public'`;
    const comment = publicSchema[0]?.comment ?? null;
    for (const { nspname } of schemas) await sql.unsafe(`DROP SCHEMA "${nspname.replace(/"/g, '""')}" CASCADE`);
    const extensions = await sql<{ extname: string }[]>`SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'`;
    for (const { extname } of extensions) await sql.unsafe(`DROP EXTENSION IF EXISTS "${extname.replace(/"/g, '""')}" CASCADE`);
    await sql.unsafe('CREATE SCHEMA public');
    if (comment !== null) await sql.unsafe(`COMMENT ON SCHEMA public IS ${literal(comment)}`);
  } finally {
    await sql.end({ timeout: 5 }).catch(() => {});
  }
}

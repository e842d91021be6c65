/**
 * The connection seam. Every capability (engine, seeds, backup, doctor) opens the database through
 * `openDatabase`, which hands back postgres.js (`sql`) and Kysely over it (kysely-postgres-js).
 * The embedded database (PGlite) plugs in here too, so nothing above this file knows which it is.
 */
import type postgres from 'postgres';
import type { Kysely } from 'kysely';
import type { CmmcConfig } from '../config/config.js';
import { asOwner, describeTarget, maskedConfig } from '../config/config.js';
import { maskedUrl, printMasked } from '../config/printable.js';
import { connParamsOf } from '../config/conninfo.js';
import { CmmcError } from '../errors.js';
import { boundedFirstQuery, connectError, createPool, type TargetOrigin } from './driver.js';
import { POOL_SETTINGS, type PoolSettings } from './pool-settings.js';
import { refuseNotWritable, refuseSplitBrain, writableUrl } from './writable.js';

export interface OpenOptions {
  /** Pool settings; defaults to the platform's POOL_SETTINGS. The CLI uses a small pool. */
  pool?: Partial<PoolSettings>;
  /** Open `pool.min` connections at once (the library pool does; the CLI does not). */
  warm?: boolean;
  applicationName?: string;
  /** Extra startup parameters (for example lock_timeout). */
  connection?: Record<string, string | number>;
  /**
   * Build Kysely over the pool (default true). Commands that only read with postgres.js pass false:
   * loading Kysely costs about 70 ms of a cold start.
   */
  kysely?: boolean;
  /** postgres.js's fetch_types (default true); see PoolOptions.fetchTypes. */
  fetchTypes?: boolean;
  /**
   * The statement that checks the new pool answers (default `SELECT 1`). A caller that has a
   * statement to run at once anyway passes it here and saves a round trip; its failure is reported
   * as a failed connect.
   */
  firstQuery?: (sql: postgres.Sql) => Promise<unknown>;
  /**
   * Only an embedded database that is there (default false: opening one creates it). Commands that
   * read (current, status, doctor, backup create...) pass true: a read creates nothing, and an
   * absent database is the error "there is no embedded database ... yet: cmmc-db init".
   */
  mustExist?: boolean;
  /**
   * The session will write: it must be on the one primary (src/db/writable.ts). A target listing
   * several hosts without target_session_attrs asks for read-write; a session on a standby or a
   * read-only server fails with `NotWritable`; two hosts that take writes fail with
   * `connect.split-brain`. Nothing is written before these checks.
   */
  writes?: boolean;
}

export interface DbHandle<DB = any> {
  /** Kysely over the pool. */
  db: Kysely<DB>;
  /** postgres.js itself, for what Kysely does not do (COPY, LISTEN, raw scripts). */
  sql: postgres.Sql;
  /**
   * The URL postgres.js connected with (contains the password: never print it by itself). The handle
   * and its `config` print with every password masked (console.log, util.inspect, JSON.stringify).
   */
  url: string;
  /** The embedded database's client connections (its pg_stat_activity shows one session only). */
  embedded?: { connections(): number };
  config: CmmcConfig;
  /** One line naming the target, password masked. */
  description: string;
  /** Set when the session was checked to be on the one writable primary at open (OpenOptions.writes). */
  primary?: true;
  settings: PoolSettings;
  applicationName: string;
  /**
   * Ends the pool. Default: each idle session is ended (Terminate) and its socket's close awaited,
   * queries in flight first, at most 5 s. `{ now: true }` when the caller is done with everything
   * (the CLI, once its command returned): Terminate is sent and the sockets are closed at once,
   * without waiting the server's 5-10 ms to close its side; a query still in flight is abandoned.
   * `{ failed: true }` when the caller's run failed: an embedded database this open created (the
   * folder had none) is removed again, so that the failed run leaves the files as they were.
   */
  close(options?: { now?: boolean; failed?: boolean }): Promise<void>;
}

/** Hooks the embedded engine registers, so that this module does not import PGlite on its own. */
export interface EmbeddedProvider {
  start(config: CmmcConfig, options?: { mustExist?: boolean }): Promise<{ url: string; socketPath?: string; connections?(): number; stop(options?: { failed?: boolean }): Promise<void> }>;
}
let embeddedProvider: () => Promise<EmbeddedProvider> = async () => (await import('../embedded/provider.js')).provider;
export function registerEmbeddedProvider(load: () => Promise<EmbeddedProvider>): void {
  embeddedProvider = load;
}

let poolCounter = 0;

/** Opens a pool to the configured database and checks that it answers. */
export async function openDatabase<DB = any>(config: CmmcConfig, options: OpenOptions = {}): Promise<DbHandle<DB>> {
  // From JavaScript, `openDatabase({ url })` connected and then failed wherever a setting it lacks was read.
  if (config?.kind !== 'server' && config?.kind !== 'embedded') {
    throw new CmmcError('config.input', 'openDatabase takes the configuration resolveConfig returns', {
      hint: 'pass openDatabase(resolveConfig({ url: process.env.DATABASE_URL })), or use createPool({ url })',
      exitCode: 2,
    });
  }
  const settings: PoolSettings = { ...POOL_SETTINGS, ...options.pool };
  let url = config.url;
  let stopEmbedded: ((options?: { failed?: boolean }) => Promise<void>) | undefined;
  let embedded: DbHandle['embedded'];
  if (config.kind === 'embedded') {
    const started = await (await embeddedProvider()).start(config, { mustExist: options.mustExist });
    url = started.url;
    stopEmbedded = started.stop;
    embedded = { connections: () => started.connections?.() ?? 0 };
  }
  if (!url) throw new CmmcError('config.url', 'no database URL is configured', { hint: 'set DATABASE_URL' });
  const writes = options.writes === true && config.kind === 'server';
  if (writes) url = writableUrl(url);
  // Each host asked on its own while the pool connects (a failed connect leaves it unread).
  const splitBrain = writes ? refuseSplitBrain(url, targetOrigin(config)) : undefined;
  splitBrain?.catch(() => {});

  // The embedded database's URL names its socket folder (?host=), read like any other target.
  // Always from the URL: a caller may point a copy of the config at another database by its URL.
  const conn = connParamsOf(url);
  const applicationName = options.applicationName ?? poolName(conn.applicationName);
  const sql = createPool(conn, {
    max: settings.max,
    idleTimeoutSeconds: settings.idleTimeoutSeconds,
    maxLifetimeSeconds: settings.maxLifetimeSeconds,
    applicationName,
    fetchTypes: options.fetchTypes,
    connection: {
      // The pool's sessions are counted by this name (healthCheck): ours wins over the target's.
      application_name: applicationName,
      ...(settings.statementTimeoutMs ? { statement_timeout: settings.statementTimeoutMs } : {}),
      ...options.connection,
    },
  });
  let db: Kysely<DB> | undefined;
  if (options.kysely !== false) {
    const [{ Kysely }, { postgresJsDialect }] = await Promise.all([import('kysely'), import('./kysely-dialect.js')]);
    db = new Kysely<DB>({ dialect: await postgresJsDialect({ postgres: sql }) });
  }
  const close = async (how: { now?: boolean; failed?: boolean } = {}) => {
    // postgres.js first, with a timeout: after a session was lost mid-transaction (a failover)
    // its plain end(), which Kysely's destroy() calls, never settles and the process would exit
    // with 13 (a pending top-level await) instead of the run's one-line error.
    await sql.end({ timeout: how.now ? 0 : 5 }).catch(() => {});
    await db?.destroy().catch(() => {});
    await stopEmbedded?.({ failed: how.failed });
  };
  const handle: DbHandle<DB> = printMasked<DbHandle<DB>>(
    {
      get db(): Kysely<DB> {
        if (!db) throw new Error('this connection was opened with { kysely: false }: use handle.sql');
        return db;
      },
      sql,
      url,
      ...(embedded ? { embedded } : {}),
      config,
      description: describeTarget(config),
      ...(writes ? { primary: true as const } : {}),
      settings,
      applicationName,
      close,
    },
    // Logged by an application (console.log(pool), a logger's JSON): what it is, no password.
    (h) => ({ description: h.description, url: maskedUrl(h.url), applicationName: h.applicationName, settings: h.settings, config: maskedConfig(h.config) }),
  );

  try {
    await boundedFirstQuery(sql, conn, () =>
      options.warm && settings.min > 0
        ? Promise.all(Array.from({ length: Math.min(settings.min, settings.max) }, () => sql`SELECT 1`))
        : options.firstQuery
          ? options.firstQuery(sql)
          : sql`SELECT 1`,
    );
  } catch (err) {
    // Nothing to wait for after a failed connect: end at once.
    await sql.end({ timeout: 0 }).catch(() => {});
    await stopEmbedded?.({ failed: true });
    // The config's own target knows which PG* variable filled in what its URL left out (the hint
    // names it); a URL the caller substituted does not.
    const fromPgEnv = url === config.url ? config.conn?.fromPgEnv : undefined;
    throw connectError(err, fromPgEnv ? { ...conn, fromPgEnv } : conn, { source: config.source });
  }
  if (writes) {
    try {
      await refuseNotWritable(sql, url);
      await splitBrain;
    } catch (err) {
      await close({ now: true });
      throw err;
    }
  }
  return handle;
}

/**
 * The pool's application_name, `<name>:<pid>:<n>`: unique to the pool, since healthCheck counts its
 * sessions by it, and led by the target's own application_name (the URL's, PGAPPNAME) when it names
 * one, so that an application's sessions show under its name in pg_stat_activity and the server's
 * log; else `cmmc-db`. As the server keeps it: printable ASCII (it replaces the rest), 63 bytes at most.
 */
function poolName(targetName: string | undefined): string {
  const suffix = `:${process.pid}:${++poolCounter}`;
  const name = (targetName || 'cmmc-db').replace(/[^\x20-\x7e]/g, '?');
  return name.slice(0, 63 - suffix.length) + suffix;
}

/**
 * Runs `work` as the schema owner when the handle's configuration names one for its database
 * (DB_OWNER_USER, `ownerUrl`) and the handle connects as another role (the application role of
 * `createPool()`): on a connection of the owner's, opened for it and closed after it, as the CLI's
 * upgrade, downgrade, stamp and backup create connect as the owner. Otherwise on the handle itself.
 */
export async function asSchemaOwner<T>(handle: DbHandle, work: (owner: DbHandle) => Promise<T>): Promise<T> {
  const config = asOwner(handle.config);
  if (!config.url || !handle.url || connParamsOf(config.url).user === connParamsOf(handle.url).user) return work(handle);
  // Two: the engine reserves one session for its run, a read beside it must not wait for it.
  const owner = await openDatabase(config, { pool: { max: 2, min: 0 }, kysely: false });
  try {
    return await work(owner);
  } finally {
    await owner.close();
  }
}

/**
 * Where the configured target came from, for connects made beside `openDatabase` on the same server
 * (a scratch database's maintenance connection, each host of a failover list): a failed connect's hint
 * then names the setting to fix (`DATABASE_URL`, `--url`, `DB_HOST`, the `PG*` variable that filled a
 * part in). `maintenance`: the database connected to is a fixed one, not the configured database.
 */
export function targetOrigin(config: CmmcConfig, maintenance = false): TargetOrigin {
  const { dbname: _fixed, ...settings } = config.conn?.fromPgEnv ?? {};
  const fromPgEnv = maintenance ? settings : config.conn?.fromPgEnv;
  return { source: config.source, ...(maintenance ? { maintenance } : {}), ...(fromPgEnv && Object.keys(fromPgEnv).length ? { settings: fromPgEnv } : {}) };
}

/** The user-facing error for a failed connect to `url`, or the error itself when it is not about connecting. */
export function translateConnectError(err: unknown, url: string): unknown {
  return connectError(err, connParamsOf(url));
}

export interface HealthReport {
  status: 'ok' | 'error';
  database?: string;
  serverVersion?: string;
  latencyMs?: number;
  error?: string;
  pool: { size: number; inUse: number; free: number; min: number; max: number };
}

/**
 * Health of a pool. Pool figures are read from the server's `pg_stat_activity` by this pool's
 * application_name, because postgres.js keeps its counts private; the health query's own
 * connection is not counted as in use.
 */
export async function healthCheck(handle: DbHandle): Promise<HealthReport> {
  const { min, max } = handle.settings;
  const started = performance.now();
  try {
    const [row] = await handle.sql<{ database: string; version: string; size: number; in_use: number }[]>`
      SELECT current_database() AS database,
             current_setting('server_version') AS version,
             count(a.pid)::int AS size,
             (count(a.pid) FILTER (WHERE a.state NOT IN ('idle') AND a.pid <> pg_backend_pid()))::int AS in_use
        FROM (SELECT 1) AS one
        LEFT JOIN pg_stat_activity a ON a.application_name = ${handle.applicationName}`;
    const latencyMs = Math.round((performance.now() - started) * 10) / 10;
    // Embedded: one PostgreSQL session shared by the pool; count the client connections instead.
    const size = handle.embedded ? handle.embedded.connections() : row.size;
    const inUse = handle.embedded ? 0 : row.in_use;
    return {
      status: 'ok',
      database: row.database,
      serverVersion: row.version,
      latencyMs,
      pool: { size, inUse, free: Math.max(0, size - inUse), min, max },
    };
  } catch (err) {
    return { status: 'error', error: (err as Error).message, pool: { size: 0, inUse: 0, free: 0, min, max } };
  }
}

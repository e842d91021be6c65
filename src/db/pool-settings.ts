/** The platform's connection pool settings (from its design), in one place. */
export const POOL_SETTINGS = {
  /** Connections opened at start and kept warm (postgres.js has no minimum of its own: we open them). */
  min: 5,
  max: 20,
  /** Close a connection idle this long. */
  idleTimeoutSeconds: 300,
  /** Recycle every connection after this long, so that server-side memory and settings are renewed. */
  maxLifetimeSeconds: 30 * 60,
  /** The connect timeout is the target's connect_timeout (default 10 s; src/config/conninfo.ts). */
  statementTimeoutMs: 60_000,
} as const;

export type PoolSettings = { -readonly [K in keyof typeof POOL_SETTINGS]: number };

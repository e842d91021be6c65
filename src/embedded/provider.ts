/**
 * The embedded database (PGlite) behind the connection seam. PGlite is served over the PostgreSQL
 * wire protocol by `@electric-sql/pglite-socket` on a unix socket in a private temporary folder
 * (mode 0700: no other user of the machine can connect, nothing listens on the network), so
 * postgres.js and Kysely, and every capability above them, run unchanged on it.
 *
 * PGlite is one PostgreSQL session: the socket server lets several client connections share it,
 * running one statement at a time and holding the others back while one connection is inside a
 * transaction. Startup parameters (application_name, statement_timeout) are accepted and ignored.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CmmcConfig } from '../config/config.js';
import type { EmbeddedProvider } from '../db/connection.js';
import { absentDatabase, acquireEmbedded, checkEmbeddedFolder, releaseEmbedded, type EmbeddedInstance } from './instance.js';
import { makeTempDir } from '../leftovers.js';

/** More than any pool of the CLI or the library asks for (POOL_SETTINGS.max is 20). */
const MAX_CONNECTIONS = 64;

export interface EmbeddedServer {
  /** A libpq-style URL (`?host=<socket folder>`): psql understands it; postgres.js needs `socketPath`. */
  url: string;
  /** The unix socket itself (postgres.js's `path` option). */
  socketPath: string;
  /** Client connections open now. */
  connections(): number;
  stop(): Promise<void>;
}

interface Served {
  socketDir: string;
  socketPath: string;
  stats(): { activeConnections: number };
}
const served = new WeakMap<EmbeddedInstance, Promise<Served>>();

async function serve(instance: EmbeddedInstance): Promise<Served> {
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  // Named for this process (src/leftovers.ts): a run killed outright leaves it for the next run to sweep.
  const socketDir = makeTempDir('sock');
  // postgres.js and libpq look for <host folder>/.s.PGSQL.<port>.
  const socketPath = path.join(socketDir, '.s.PGSQL.5432');
  const server = new PGLiteSocketServer({ db: instance.pg, path: socketPath, maxConnections: MAX_CONNECTIONS });
  await server.start();
  instance.beforeClose.push(async () => {
    await server.stop();
    fs.rmSync(socketDir, { recursive: true, force: true });
  });
  return { socketDir, socketPath, stats: () => server.getStats() };
}

/**
 * Starts (or shares) the embedded database of `config.embeddedDir` and serves it on a unix socket.
 * `stop()` drops this user's share; the last one closes PGlite and frees the folder.
 */
export async function startEmbeddedServer(config: Pick<CmmcConfig, 'embeddedDir'>, options: { waitMs?: number; mustExist?: boolean } = {}): Promise<EmbeddedServer> {
  const instance = await acquireEmbedded(config.embeddedDir, options);
  try {
    let serving = served.get(instance);
    if (!serving) {
      serving = serve(instance);
      served.set(instance, serving);
    }
    const s = await serving;
    let stopped = false;
    return {
      url: `postgres://postgres@localhost:5432/postgres?host=${encodeURIComponent(s.socketDir)}`,
      socketPath: s.socketPath,
      connections: () => s.stats().activeConnections,
      async stop(options: { failed?: boolean } = {}) {
        if (stopped) return;
        stopped = true;
        await releaseEmbedded(instance, options);
      },
    };
  } catch (err) {
    await releaseEmbedded(instance);
    throw err;
  }
}

export const provider: EmbeddedProvider = {
  start: (config: CmmcConfig, options: { mustExist?: boolean } = {}) => {
    // A folder that is not the embedded database's (other files, a bare data directory) is named as such first.
    checkEmbeddedFolder(config.embeddedDir);
    // A read creates nothing (docs/migrations.md: current "reads only"), not even the folder: with no
    // folder at all it stops here; otherwise it is checked again under the folder's lock (a read that
    // waits for an init in progress then reads what the init made).
    if (options.mustExist && !fs.existsSync(config.embeddedDir)) throw absentDatabase(config.embeddedDir);
    return startEmbeddedServer(config, { mustExist: options.mustExist });
  },
};

/**
 * One set of tests, two backends: the real server, and (once src/embedded works) the embedded
 * PGlite database. A test asks for a fresh target, runs the CLI with `target.env`, inspects it with
 * `target.query`, and drops it.
 *
 *   describe.each(BACKENDS)('upgrade on $name', (backend) => {
 *     it('...', async () => {
 *       const target = await backend.create();
 *       try { const r = await runCli(['upgrade', 'head'], { env: target.env }); ... }
 *       finally { await target.drop(); }
 *     });
 *   });
 */
import { createTestDatabase, query } from './server.js';

export type BackendName = 'server' | 'embedded';

export interface TestTarget {
  backend: BackendName;
  /** Environment for runCli: DATABASE_URL for the server, CMMC_DB_DIR for the embedded one. */
  env: Record<string, string>;
  /** Server URL (undefined for the embedded backend). */
  url?: string;
  /** Runs SQL on the target (for the embedded backend, only while no CLI process holds it). */
  query<T extends object = Record<string, any>>(text: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

export interface Backend {
  name: BackendName;
  create(): Promise<TestTarget>;
}

export const serverBackend: Backend = {
  name: 'server',
  async create() {
    const tdb = await createTestDatabase();
    return {
      backend: 'server',
      env: { DATABASE_URL: tdb.url },
      url: tdb.url,
      query: (text, params = []) => query(tdb.url, text, params as any[]),
      drop: () => tdb.drop(),
    };
  },
};

/** The backends every engine and schema test runs on. The embedded capability adds itself here. */
export const BACKENDS: Backend[] = [serverBackend];

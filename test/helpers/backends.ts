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
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, query } from './server.js';
import { acquireEmbedded, releaseEmbedded } from '../../src/embedded/instance.js';

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

/**
 * The embedded database (PGlite) in a fresh temporary folder. `query` opens the folder itself (with
 * the same extensions, taking the folder lock), so it must not overlap a running CLI process.
 */
export const embeddedBackend: Backend = {
  name: 'embedded',
  async create() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-embedded-test-'));
    // A database that is there and untouched, as the server backend's new database is (commands that
    // read refuse to create one).
    await releaseEmbedded(await acquireEmbedded(dir, { waitMs: 30_000 }));
    return {
      backend: 'embedded',
      env: { CMMC_DB_DIR: dir },
      async query<T extends object = Record<string, any>>(text: string, params: unknown[] = []): Promise<T[]> {
        const instance = await acquireEmbedded(dir, { waitMs: 30_000 });
        try {
          // Values as postgres.js gives them (int8 as a string, bytea as a Buffer), so one assertion fits both backends.
          const options = { parsers: { 20: (v: string) => v, 17: (v: string) => Buffer.from(v.slice(2), 'hex') } };
          if (params.length === 0) {
            // No parameters: a script of one or more statements (simple protocol); the last one's rows.
            const results = await instance.pg.exec(text, options);
            return (results.at(-1)?.rows ?? []) as T[];
          }
          return (await instance.pg.query<T>(text, params as any[], options)).rows;
        } finally {
          await releaseEmbedded(instance);
        }
      },
      async drop() {
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

/** The backends every engine and schema test runs on. */
export const BACKENDS: Backend[] = [serverBackend, embeddedBackend];

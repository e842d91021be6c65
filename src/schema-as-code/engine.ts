/**
 * The migration engine (src/migrate), as this capability uses it: upgrade and downgrade a scratch
 * database, and the revisions in order from base to head. Loaded lazily so that commands which do
 * not migrate stay fast.
 */
import type { CmmcConfig } from '../config/config.js';
import { openDatabase, type DbHandle } from '../db/connection.js';

type Engine = typeof import('../migrate/index.js');

export async function loadEngine(): Promise<Engine> {
  return import('../migrate/index.js');
}

/** Opens a scratch database with a small pool. */
export async function openScratch(config: CmmcConfig): Promise<DbHandle> {
  return openDatabase(config, { pool: { max: 2, min: 0 }, applicationName: 'cmmc-db:schema-as-code' });
}

/** Upgrades the database to `target` (default: every head). */
export async function upgradeTo(handle: DbHandle, target = 'heads'): Promise<void> {
  const engine = await loadEngine();
  await engine.runUpgrade(handle, target);
}

export async function downgradeTo(handle: DbHandle, target: string): Promise<void> {
  const engine = await loadEngine();
  await engine.runDowngrade(handle, target);
}

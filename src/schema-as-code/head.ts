/** A scratch database built to the migrations' head, handed to a callback and dropped afterwards. */
import type { CmmcConfig } from '../config/config.js';
import { openScratch, upgradeTo } from './engine.js';
import { withScratchDatabase, type ScratchDatabase } from './scratch.js';

/** Builds the migrations' head in a new scratch database, runs `fn`, and always drops the database. */
export async function withHeadDatabase<T>(config: CmmcConfig, label: string, fn: (scratch: ScratchDatabase) => Promise<T>): Promise<T> {
  return withScratchDatabase(config, label, async (scratch) => {
    await buildHead(scratch);
    return fn(scratch);
  });
}

/** Runs every revision up to the heads in the scratch database. */
export async function buildHead(scratch: ScratchDatabase): Promise<void> {
  const handle = await openScratch(scratch.config);
  try {
    await upgradeTo(handle, 'heads');
  } finally {
    await handle.close();
  }
}

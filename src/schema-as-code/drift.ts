/**
 * Drift: objects added, changed or removed by hand in a live database, found by comparing it object
 * by object with a scratch database built by the migrations to the same revision, with the SQL
 * (from migra) that would bring the live database back to what the migrations say.
 */
import type { CmmcConfig } from '../config/config.js';
import { diffSchemas } from './diff.js';
import { loadEngine, openScratch, upgradeTo } from './engine.js';
import { withScratchDatabase } from './scratch.js';
import type { DbHandle } from '../db/connection.js';
import { compareSnapshots, snapshotWith, type ObjectChange } from './snapshot.js';

export interface DriftReport {
  status: 'ok' | 'drift';
  /** The revisions the expected schema was built to (the live database's version rows, or the heads). */
  expectedAt: string[];
  /** From the migrations' point of view: `added` = made by hand, `removed` = dropped by hand. */
  objects: ObjectChange[];
  /** Statements that turn the live schema back into the migrations' schema (never a DROP EXTENSION). */
  reconcile: string[];
  /**
   * Extensions installed in the live database outside the migrations (pg_stat_statements, Citus,
   * pg_auto_failover's): left alone, with everything they own; never drift, never dropped.
   */
  ignoredExtensions: string[];
}

/**
 * Splits extensions installed by hand out of the changes: an extension and its objects belong to
 * whoever installed it (the snapshot already leaves out objects that are extension members). Pure.
 */
export function withoutHandInstalledExtensions(changes: ObjectChange[]): { objects: ObjectChange[]; ignoredExtensions: string[] } {
  const isHandInstalled = (c: ObjectChange) => c.kind === 'extension' && c.change === 'added';
  return { objects: changes.filter((c) => !isHandInstalled(c)), ignoredExtensions: changes.filter(isHandInstalled).map((c) => c.name) };
}

/** A reconciling statement that would drop an extension (migra proposes one for each extension the migrations do not make). */
export function dropsAnExtension(statement: string): boolean {
  return /^\s*drop\s+extension\b/i.test(statement);
}

/**
 * Compares the database of the `live` handle with the migrations. The expected schema is built to the live
 * database's own version rows when the migrations know them (so pending revisions are not drift),
 * else to the heads (no version rows: the expected schema is empty). Reads the live database;
 * changes nothing there.
 */
export async function detectDrift(config: CmmcConfig, live: DbHandle, liveVersions: string[]): Promise<DriftReport> {
  const engine = await loadEngine();
  const script = await engine.loadScript(config);
  const known = liveVersions.every((v) => script.graph.has(v));
  const expectedAt = known ? liveVersions : script.graph.heads;
  const options = { versionSchema: config.versionSchema, versionTable: config.versionTable, metaSchema: config.metaSchema };
  return withScratchDatabase(config, 'drift', async (scratch) => {
    // Kept open for the comparison: an embedded scratch database is reachable only while it is.
    const handle = await openScratch(scratch.config);
    try {
      for (const target of expectedAt) await upgradeTo(handle, target);
      const expected = await snapshotWith(handle.sql, options);
      const actual = await snapshotWith(live.sql, options);
      const { objects, ignoredExtensions } = withoutHandInstalledExtensions(compareSnapshots(expected, actual));
      const reconcile =
        objects.length === 0
          ? []
          : (
              await diffSchemas(live.url, handle.url, {
                excludeSchemas: [config.metaSchema],
                ignoreTables: [`${config.versionSchema}.${config.versionTable}`],
              })
            ).filter((statement) => !dropsAnExtension(statement));
      return { status: objects.length === 0 ? 'ok' : 'drift', expectedAt, objects, reconcile, ignoredExtensions };
    } finally {
      await handle.close();
    }
  });
}

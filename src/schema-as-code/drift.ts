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
import { reloadThroughDump } from './reload.js';
import { compareSnapshots, snapshotWith, takeSnapshot, type ObjectChange, type Snapshot } from './snapshot.js';

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
 * else to the heads (no version rows: the expected schema is empty). A definition that differs
 * only as PostgreSQL prints it after a pg_dump → restore round trip (a restored backup) is not drift:
 * the expected schema is then also reloaded into a second scratch database and either form counts
 * (server scratch databases only). Reads the live database; changes nothing there.
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
      // `from`: the live database, or its copy through pg_dump → psql when the comparison was made in that form.
      const report = async (changes: ObjectChange[], to: { url: string; snapshot: Snapshot }, from = { url: live.url, snapshot: actual }): Promise<DriftReport> => {
        const { objects, ignoredExtensions } = withoutHandInstalledExtensions(changes);
        const reconcile =
          objects.length === 0
            ? []
            : (await diffSchemas(from.url, to.url, options, { from: from.snapshot, to: to.snapshot })).filter((statement) => !dropsAnExtension(statement));
        return { status: objects.length === 0 ? 'ok' : 'drift', expectedAt, objects, reconcile, ignoredExtensions };
      };
      const direct = compareSnapshots(expected, actual);
      const changed = (changes: ObjectChange[]) => changes.filter((c) => c.change === 'changed').length;
      // `return await`, not `return`: the finally below must not close the scratch database (and, when
      // embedded, its socket) while the report still reads it.
      if (changed(direct) === 0 || scratch.kind !== 'server') return await report(direct, { url: handle.url, snapshot: expected });
      // Definitions differ: the live database may have been through a backup and restore, which
      // PostgreSQL deparses differently (reload.ts). The expected schema goes through the same
      // round trip, and a definition equal to either form is unchanged.
      return await withScratchDatabase(config, 'reload', async (reloaded) => {
        await reloadThroughDump(handle.url, reloaded, config);
        const expectedReloaded = { url: reloaded.url, snapshot: await takeSnapshot(reloaded.url, options) };
        const changes = compareSnapshots(expected, actual, expectedReloaded.snapshot);
        // The reconciling SQL is computed against the form the live database is in.
        if (changed(changes) === 0) return report(changes, expectedReloaded);
        // Still different: the live database's definitions may be the ones a revision wrote from a
        // reloaded text (autogenerate). Its schema goes through the round trip too (pg_dump only
        // reads it); what reads the same in both reloaded forms is unchanged, and the reconciling
        // SQL is computed between the two reloaded forms, so that it holds only real differences.
        return withScratchDatabase(config, 'live', async (liveCopy) => {
          await reloadThroughDump(live.url, liveCopy, config);
          const liveReloaded = { url: liveCopy.url, snapshot: await takeSnapshot(liveCopy.url, options) };
          return report(compareSnapshots(expected, actual, expectedReloaded.snapshot, liveReloaded.snapshot), expectedReloaded, liveReloaded);
        });
      });
    } finally {
      await handle.close();
    }
  });
}

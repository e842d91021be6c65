/**
 * The migration tests pytest-alembic made standard, as one run on a scratch database:
 * a single head; upgrade from base to head one revision at a time; the stairway (each revision up,
 * down, up again); up/down consistency (after a revision's down the schema is exactly what it was
 * before its up, object by object); and schema.sql matching the head.
 */
import type { CmmcConfig } from '../config/config.js';
import type { DbHandle } from '../db/connection.js';
import { compareSchemaFile, dumpSchema, schemaFilePath } from './dump.js';
import { loadEngine, openScratch } from './engine.js';
import { withScratchDatabase } from './scratch.js';
import { compareSnapshots, snapshotWith, type ObjectChange, type Snapshot } from './snapshot.js';

export type TestName = 'single-head' | 'upgrade' | 'stairway' | 'up-down-consistency' | 'schema-file';

export interface TestOutcome {
  test: TestName;
  status: 'ok' | 'fail' | 'skipped';
  /** One line: what was checked, or what failed. */
  detail: string;
  /** The revision that failed. */
  revision?: string;
  /** The objects that differ (up/down consistency, stairway). */
  objects?: ObjectChange[];
}

export interface MigrationTestReport {
  status: 'ok' | 'fail';
  revisions: number;
  tests: TestOutcome[];
}

export interface MigrationTestOptions {
  /** schema.sql to compare with the head (default: the project's); null skips that test. */
  schemaFile?: string | null;
  onProgress?: (text: string) => void;
}

/** REV@PARENT (Alembic: PARENT on REV's lineage) reverts REV alone, also for a merge or beside applied siblings. */
function downTarget(rev: { revision: string; downRevisions: string[] }): string {
  return `${rev.revision}@${rev.downRevisions[0] ?? 'base'}`;
}

function errorLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

/** The engine's error names the revision and its file already ("upgrade of revision R (file) failed: ..."). */
function failure(what: string, rev: { revision: string; fileName: string }, err: unknown): string {
  const line = errorLine(err);
  return line.includes(rev.revision) ? `${what === 'upgrade again' ? 'upgrading again: ' : ''}${line}` : `${what} ${rev.revision} (${rev.fileName}) failed: ${line}`;
}

function listObjects(objects: ObjectChange[], max = 5): string {
  const names = objects.slice(0, max).map((o) => `${o.kind} ${o.name} (${o.change})`);
  return names.join(', ') + (objects.length > max ? `, and ${objects.length - max} more` : '');
}

export async function runMigrationTests(config: CmmcConfig, options: MigrationTestOptions = {}): Promise<MigrationTestReport> {
  const engine = await loadEngine();
  const script = await engine.loadScript(config);
  const { graph } = script;
  const ordered = graph.ordered;
  const progress = options.onProgress ?? (() => {});
  const tests: TestOutcome[] = [];
  const snapOptions = { versionSchema: config.versionSchema, versionTable: config.versionTable, metaSchema: config.metaSchema };

  const heads = graph.heads;
  tests.push(
    heads.length <= 1
      ? { test: 'single-head', status: 'ok', detail: heads.length ? `one head: ${heads[0]}` : 'no revisions' }
      : { test: 'single-head', status: 'fail', detail: `${heads.length} heads: ${heads.join(', ')} (merge them with "cmmc-db merge heads")` },
  );

  await withScratchDatabase(config, 'tests', async (scratch) => {
    const handle: DbHandle = await openScratch(scratch.config);
    const runOpts = { script };
    const snap = () => snapshotWith(handle.sql, snapOptions);
    try {
      // Upgrade from base to head, one revision at a time, noting the schema before each.
      let upgradeFailed = false;
      const beforeUp: Snapshot[] = [];
      for (const rev of ordered) {
        progress(`upgrade ${rev.revision}`);
        beforeUp.push(await snap());
        try {
          await engine.runUpgrade(handle, rev.revision, runOpts);
        } catch (err) {
          tests.push({ test: 'upgrade', status: 'fail', revision: rev.revision, detail: failure('upgrade', rev, err) });
          upgradeFailed = true;
          break;
        }
      }
      if (!upgradeFailed) tests.push({ test: 'upgrade', status: 'ok', detail: `base → head in ${ordered.length} steps` });

      if (upgradeFailed) {
        tests.push({ test: 'stairway', status: 'skipped', detail: 'upgrade failed' });
        tests.push({ test: 'up-down-consistency', status: 'skipped', detail: 'upgrade failed' });
      } else {
        // Up/down consistency: from head back to base one revision at a time, in the reverse order;
        // after each down the schema must be what it was before that revision's up. Going all the
        // way down first names the revision whose down forgot something, where the stairway would
        // only meet it later as an up that fails ("already exists") at the next revision.
        let consistency: TestOutcome | undefined;
        let downFailed = false;
        for (let i = ordered.length - 1; i >= 0; i--) {
          const rev = ordered[i];
          progress(`downgrade ${rev.revision}`);
          try {
            await engine.runDowngrade(handle, downTarget(rev), runOpts);
          } catch (err) {
            consistency = { test: 'up-down-consistency', status: 'fail', revision: rev.revision, detail: failure('downgrade', rev, err) };
            downFailed = true;
            break;
          }
          const down = compareSnapshots(beforeUp[i], await snap());
          if (down.length && !consistency) {
            consistency = {
              test: 'up-down-consistency',
              status: 'fail',
              revision: rev.revision,
              detail: `after the down of ${rev.revision} (${rev.fileName}) the schema differs from before its up: ${listObjects(down)}`,
              objects: down,
            };
          }
        }
        let stairway: TestOutcome | undefined;
        if (downFailed) stairway = { test: 'stairway', status: 'skipped', detail: 'a down failed' };
        for (const rev of downFailed ? [] : ordered) {
          progress(`stairway ${rev.revision}`);
          const step = async (what: string, fn: () => Promise<unknown>): Promise<boolean> => {
            try {
              await fn();
              return true;
            } catch (err) {
              stairway = { test: 'stairway', status: 'fail', revision: rev.revision, detail: failure(what, rev, err) };
              return false;
            }
          };
          if (!(await step('upgrade', () => engine.runUpgrade(handle, rev.revision, runOpts)))) break;
          const after = await snap();
          if (!(await step('downgrade', () => engine.runDowngrade(handle, downTarget(rev), runOpts)))) break;
          if (!(await step('upgrade again', () => engine.runUpgrade(handle, rev.revision, runOpts)))) break;
          const again = compareSnapshots(after, await snap());
          if (again.length) {
            stairway = {
              test: 'stairway',
              status: 'fail',
              revision: rev.revision,
              detail: `upgrading ${rev.revision} (${rev.fileName}) a second time gives another schema: ${listObjects(again)}`,
              objects: again,
            };
            break;
          }
        }
        tests.push(stairway ?? { test: 'stairway', status: 'ok', detail: `${ordered.length} revisions up, down and up again` });
        tests.push(consistency ?? { test: 'up-down-consistency', status: 'ok', detail: `each down restores the schema before its up (${ordered.length} revisions)` });
      }

      if (options.schemaFile === null) {
        tests.push({ test: 'schema-file', status: 'skipped', detail: 'not asked' });
      } else if (scratch.kind === 'embedded') {
        tests.push({ test: 'schema-file', status: 'skipped', detail: 'schema.sql is pg_dump of a server: compared on a server only' });
      } else if (upgradeFailed || tests.some((t) => (t.test === 'stairway' || t.test === 'up-down-consistency') && t.status === 'fail')) {
        tests.push({ test: 'schema-file', status: 'skipped', detail: 'the head could not be built' });
      } else {
        progress('schema.sql');
        await engine.runUpgrade(handle, 'heads', runOpts);
        const file = schemaFilePath(config, options.schemaFile);
        const result = compareSchemaFile(file, await dumpSchema(handle.url, config));
        tests.push(
          result.upToDate
            ? { test: 'schema-file', status: 'ok', detail: `${file} matches the head` }
            : {
                test: 'schema-file',
                status: 'fail',
                detail: `${file} differs from the head at line ${result.firstDifference!.line} (run "cmmc-db schema dump")`,
              },
        );
      }
    } finally {
      await handle.close();
    }
  });

  return { status: tests.some((t) => t.status === 'fail') ? 'fail' : 'ok', revisions: ordered.length, tests };
}

/**
 * The migration engine's library API.
 *
 * @example
 * ```ts
 * import { resolveConfig, openDatabase, runUpgrade, getStatus } from 'cmmc-db';
 * const handle = await openDatabase(resolveConfig());
 * await runUpgrade(handle, 'head');
 * console.log(await getStatus(handle)); // { current, heads, pending: [], changed: [], atHead: true }
 * await handle.close();
 * ```
 */
export { loadScript, loadRevisionFile, type Revision, type RevisionModule, type Script } from './script.js';
export {
  migrate,
  MigrationFailedError,
  type FailedStep,
  runUpgrade,
  runDowngrade,
  runStamp,
  type RunOptions,
  type RunResult,
  type StepResult,
  type EngineEvent,
  type Operation,
} from './engine.js';
export { getCurrentHeads, getStatus, type Status, type ChangedFile } from './status.js';
export { offlineScript, offlineStamp, recordingKysely, RecordingDriver, parseRange } from './offline.js';
export { writeRevision, newRevisionId, type NewRevisionOptions } from './new-revision.js';
export { graphErrorToUser, catchRevisionErrors } from './errors.js';
export { bootstrapStatements, lockKey, metaNames } from './version-store.js';
export { splitStatements, inlineParameters, literal } from '../sql/lexer.js';
export { openWritablePrimary, PRIMARY_WAIT_MS, type PrimaryWaitOptions } from './primary.js';

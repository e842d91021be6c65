/**
 * Reading where a database stands, without the lock and without creating anything: the version
 * table's rows, the checksums revisions were applied with, and the status against the files.
 * Uses postgres.js directly (not Kysely) so that `current` and `check` load as little as possible.
 */
import type { DbHandle } from '../db/connection.js';
import type { Script } from './script.js';
import { literal } from '../sql/lexer.js';
import { metaNames, type MetaConfig } from './version-store.js';

/** Runs one statement and returns its rows (postgres.js or a pinned Kysely connection). */
export type RunQuery = <T extends object>(text: string) => Promise<T[]>;

export interface ChangedFile {
  revision: string;
  file: string;
}

export interface Status {
  current: string[];
  heads: string[];
  pending: string[];
  changed: ChangedFile[];
  atHead: boolean;
  /** Version rows that no revision file declares. */
  unknown: string[];
  /**
   * Version rows below another row (its ancestor, by down revision or dependency): the engine never
   * leaves both, and every upgrade refuses them ("overlaps with other requested revisions"). A
   * hand-edited table, or one copied between databases.
   */
  overlapping: string[];
}

async function tableExists(q: RunQuery, qualified: string): Promise<boolean> {
  const rows = await q<{ t: string | null }>(`SELECT to_regclass(${literal(qualified)})::text AS t`);
  return rows[0]?.t != null;
}

/** The version table's rows; [] when it does not exist yet. */
export async function readVersionRows(q: RunQuery, config: MetaConfig): Promise<string[]> {
  const n = metaNames(config);
  if (!(await tableExists(q, n.version))) return [];
  const rows = await q<{ version_num: string }>(`SELECT version_num FROM ${n.version} ORDER BY version_num`);
  return rows.map((r) => r.version_num);
}

/** The checksum each revision had when it was last applied (upgrade or stamp). */
export async function readChecksums(q: RunQuery, config: MetaConfig): Promise<Map<string, string>> {
  const n = metaNames(config);
  if (!(await tableExists(q, n.log))) return new Map();
  const rows = await q<{ revision: string; checksum: string }>(
    `SELECT DISTINCT ON (revision) revision, checksum FROM ${n.log}
      WHERE operation IN ('upgrade', 'stamp') AND checksum IS NOT NULL
      ORDER BY revision, id DESC`,
  );
  return new Map(rows.map((r) => [r.revision, r.checksum]));
}

export function changedFiles(script: Script, applied: Set<string>, checksums: Map<string, string>): ChangedFile[] {
  return script.graph.ordered
    .filter((r) => applied.has(r.revision) && checksums.has(r.revision) && r.checksum !== checksums.get(r.revision)!.trim() && !r.acceptedChecksums.has(checksums.get(r.revision)!.trim()))
    .map((r) => ({ revision: r.revision, file: r.fileName }));
}

export function computeStatus(script: Script, current: string[], checksums: Map<string, string>): Status {
  const { graph } = script;
  const unknown = current.filter((r) => !graph.has(r));
  const applied = graph.appliedSet(current.filter((r) => graph.has(r)));
  const pending = graph.ordered.filter((r) => !applied.has(r.revision)).map((r) => r.revision);
  const changed = changedFiles(script, applied, checksums);
  const overlapping = graph.overlappingRows(current);
  return { current, heads: graph.heads, pending, changed, atHead: pending.length === 0 && unknown.length === 0 && overlapping.length === 0, unknown, overlapping };
}

const viaPostgres =
  (handle: DbHandle): RunQuery =>
  async <T extends object>(text: string) =>
    (await handle.sql.unsafe(text)) as unknown as T[];

/** The version table's rows; [] when the table does not exist yet (nothing is created). */
export async function getCurrentHeads(handle: DbHandle): Promise<string[]> {
  return readVersionRows(viaPostgres(handle), handle.config);
}

/** Which of the engine's two tables exist: each one's name, or null. */
export interface EngineTables {
  version: string | null;
  log: string | null;
}

/** The statement that answers EngineTables (its columns can be sent alongside others'). */
export function engineTablesSql(config: MetaConfig): string {
  const n = metaNames(config);
  return `SELECT to_regclass(${literal(n.version)})::text AS version, to_regclass(${literal(n.log)})::text AS log`;
}

/**
 * The version table's rows and the recorded checksums together, in two statements where
 * readVersionRows + readChecksums take four: which of the two tables exist (a statement cannot name
 * a table that may be missing), then both tables' rows in one. Each statement is a round trip, and
 * `current` is mostly waiting on them. `known`: the tables' existence when already asked (one
 * statement less).
 */
export async function readEngineState(q: RunQuery, config: MetaConfig, known?: EngineTables): Promise<{ current: string[]; checksums: Map<string, string> }> {
  const n = metaNames(config);
  const exists = known ?? (await q<EngineTables>(engineTablesSql(config)))[0];
  if (exists?.version == null || exists.log == null) {
    // A database that is not (fully) under the engine yet: the rare case, read as before.
    return {
      current: exists?.version == null ? [] : await readVersionRows(q, config),
      checksums: exists?.log == null ? new Map() : await readChecksums(q, config),
    };
  }
  const rows = await q<{ version_num: string | null; revision: string | null; checksum: string | null }>(
    `SELECT version_num, NULL AS revision, NULL AS checksum FROM ${n.version}
     UNION ALL
     SELECT * FROM (SELECT DISTINCT ON (revision) NULL AS version_num, revision, checksum FROM ${n.log}
                     WHERE operation IN ('upgrade', 'stamp') AND checksum IS NOT NULL
                     ORDER BY revision, id DESC) AS applied
     ORDER BY version_num`,
  );
  // Version rows first, ordered as readVersionRows orders them (the log's rows have no version_num).
  const current: string[] = [];
  const checksums = new Map<string, string>();
  for (const r of rows) {
    if (r.version_num != null) current.push(r.version_num);
    else checksums.set(r.revision!, r.checksum!);
  }
  return { current, checksums };
}

/** The engine's state of an open database (readEngineState on its pool): no lock, nothing created. */
export function readEngineStateOf(handle: DbHandle): Promise<{ current: string[]; checksums: Map<string, string> }> {
  return readEngineState(viaPostgres(handle), handle.config);
}

/**
 * readEngineStateOf, and whether the server is a standby, asked in the statement that asks which
 * engine tables exist: `current` says when it read a standby (src/cli/standby-note.ts) without a
 * round trip more on a primary.
 */
export async function readEngineStateAndRecovery(handle: DbHandle): Promise<{ current: string[]; checksums: Map<string, string>; standby: boolean }> {
  const q = viaPostgres(handle);
  const [row] = await q<EngineTables & { standby: boolean }>(`${engineTablesSql(handle.config)}, pg_is_in_recovery() AS standby`);
  return { ...(await readEngineState(q, handle.config, row)), standby: row.standby };
}

/** Where the database stands against the files. Takes no lock and creates nothing. */
export async function getStatus(handle: DbHandle, script?: Script): Promise<Status> {
  const s = script ?? (await (await import('./script.js')).loadScript(handle.config));
  const { current, checksums } = await readEngineStateOf(handle);
  return computeStatus(s, current, checksums);
}

/**
 * `cmmc-db status`: where the database stands, in one report. Reads only (creates nothing, takes
 * no lock):
 * - revisions: current and pending, and for each applied revision when, by whom and how long it
 *   took, from the engine's revision log (`<meta schema>.revision_log`);
 * - seeds: each seed file applied, changed or pending (src/seed);
 * - backups: the newest verified backup of this database in the backup folder and its age.
 */
import type { CmmcConfig } from '../config/config.js';
import type { DbHandle } from '../db/connection.js';
import { listBackups, resolveBackupDir, type DatabaseIdentity } from '../backup/store.js';
import { newestInPast } from '../backup/retention.js';
import { loadScript, type Script } from '../migrate/script.js';
import { currentViaDependsOn } from '../migrate/report.js';
import { computeStatus, readChecksums, readVersionRows, type RunQuery } from '../migrate/status.js';
import { metaNames } from '../migrate/version-store.js';
import { seedStatus, type SeedStatusRow } from '../seed/loader.js';

export interface AppliedRevision {
  revision: string;
  message: string;
  file: string;
  /** The last upgrade or stamp of it in the revision log (null when the log has no entry: stamped by another tool). */
  appliedAt: string | null;
  appliedBy: string | null;
  durationMs: number | null;
  operation: 'upgrade' | 'stamp' | null;
}

export interface StatusReport {
  database: string;
  revisions: {
    current: string[];
    /** Revisions current only because a version row depends on them (Alembic's `current` lists them too). */
    currentViaDependsOn: string[];
    heads: string[];
    atHead: boolean;
    /** Applied revisions, newest first. */
    applied: AppliedRevision[];
    /** Pending revisions in the order upgrade would apply them. */
    pending: { revision: string; message: string; file: string }[];
    /** Ids in the version table that no file declares. */
    unknown: string[];
    /** Rows below another row (see `Status.overlapping` in src/migrate/status.ts). */
    overlapping: string[];
    /** Applied revisions whose file changed since. */
    changed: string[];
  };
  seeds: {
    /** `applied` when every file (demo data aside) is applied and unchanged; `none` without seed files. */
    status: 'applied' | 'pending' | 'changed' | 'none';
    files: SeedStatusRow[];
  };
  backup: {
    dir: string;
    /** The newest verified backup of this database, or null. */
    newest: { name: string; createdAt: string; ageSeconds: number; path: string; restoreTested: boolean } | null;
  };
}

interface LogRow {
  revision: string;
  operation: 'upgrade' | 'downgrade' | 'stamp';
  applied_at: Date;
  applied_by: string;
  duration_ms: number | null;
}

/**
 * The report for `handle`'s database. `now` is for the backup's age (seconds); `backupDir` as
 * `backup list --dir` (default CMMC_BACKUP_DIR or backups/ at the project root).
 */
export async function readStatus(handle: DbHandle, options: { script?: Script; backupDir?: string; now?: Date } = {}): Promise<StatusReport> {
  const config = handle.config;
  const script = options.script ?? (await loadScript(config));
  const q: RunQuery = async <T extends object>(text: string) => (await handle.sql.unsafe(text)) as unknown as T[];
  const current = await readVersionRows(q, config);
  const status = computeStatus(script, current, await readChecksums(q, config));
  const log = await lastLogEntries(handle, config);
  const applied = script.graph.appliedSet(current.filter((r) => script.graph.has(r)));
  const revisions = {
    current,
    currentViaDependsOn: currentViaDependsOn(script.graph, current).map((c) => c.revision),
    heads: status.heads,
    atHead: status.atHead,
    applied: [...script.graph.ordered]
      .filter((r) => applied.has(r.revision))
      .reverse()
      .map((r) => {
        const entry = log.get(r.revision);
        const live = entry && entry.operation !== 'downgrade' ? entry : undefined;
        return {
          revision: r.revision,
          message: r.message,
          file: r.file,
          appliedAt: live ? live.applied_at.toISOString() : null,
          appliedBy: live?.applied_by ?? null,
          durationMs: live?.duration_ms ?? null,
          operation: live ? (live.operation as 'upgrade' | 'stamp') : null,
        };
      }),
    pending: status.pending.map((id) => {
      const r = script.graph.get(id);
      return { revision: id, message: r.message, file: r.file };
    }),
    unknown: status.unknown,
    overlapping: status.overlapping,
    changed: status.changed.map((c) => c.revision),
  };
  const files = await seedStatus(handle);
  const required = files.filter((f) => !f.sample);
  const seeds = {
    status: (files.length === 0
      ? 'none'
      : required.some((f) => f.status === 'changed')
        ? 'changed'
        : required.some((f) => f.status === 'pending')
          ? 'pending'
          : 'applied') as StatusReport['seeds']['status'],
    files,
  };
  const [{ database }] = await handle.sql<{ database: string }[]>`SELECT current_database() AS database`;
  const dir = resolveBackupDir(options.backupDir);
  const { identityOfOpen } = await import('../backup/dump.js');
  return { database, revisions, seeds, backup: { dir, newest: newestVerifiedBackup(dir, await identityOfOpen(handle.config, handle), options.now ?? new Date()) } };
}

/**
 * The newest backup of the database `identity` names in `dir` whose verification passed (the rule of
 * `backup list`: a same-named database of another server sharing the folder is another database;
 * and of `newestInPast`: one dated in the future is not the newest); null when there is none.
 */
export function newestVerifiedBackup(dir: string, identity: DatabaseIdentity, now: Date): StatusReport['backup']['newest'] {
  const verified = listBackups(dir, identity).filter((b) => b.verified?.status === 'verified');
  const b = newestInPast(verified, now, (r) => r.createdAt);
  if (!b) return null;
  return {
    name: b.name,
    createdAt: b.createdAt,
    ageSeconds: Math.max(0, Math.round((now.getTime() - new Date(b.createdAt).getTime()) / 1000)),
    path: b.path,
    restoreTested: Boolean(b.verified.restoreTested),
  };
}

/** The last log entry of each revision; empty when the engine has never run here. */
async function lastLogEntries(handle: DbHandle, config: CmmcConfig): Promise<Map<string, LogRow>> {
  const n = metaNames(config);
  const [exists] = await handle.sql<{ ok: boolean }[]>`SELECT to_regclass(${n.log}) IS NOT NULL AS ok`;
  if (!exists.ok) return new Map();
  const rows = (await handle.sql.unsafe(
    `SELECT DISTINCT ON (revision) revision, operation, applied_at, applied_by, duration_ms FROM ${n.log} ORDER BY revision, id DESC`,
  )) as unknown as LogRow[];
  return new Map(rows.map((r) => [r.revision, r]));
}

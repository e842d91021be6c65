/**
 * Gathers the report's data: a doctor run now (health, indexes, embeddings), the recorded runs
 * (growth and statement trends), the revision files and log (schema), the backup manifests and
 * drill records of this database (backups), and the evidence built from them. Reads only.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { DbHandle } from '../db/connection.js';
import { runDoctor, type DoctorReport } from '../doctor/run.js';
import { countRuns, readRuns, tablesFrom, type RecordedRun, type RunCount } from '../doctor/record.js';
import type { CheckResult } from '../doctor/types.js';
import { maskedSqlText } from '../config/printable.js';
import { buildEvidence, readTableFacts } from './evidence.js';
import type {
  BackupsSection,
  GrowthSection,
  HealthSection,
  QueriesSection,
  ReportData,
  RunRef,
  SchemaSection,
  SectionName,
  Series,
  StatementRow,
} from './types.js';

export interface CollectOptions {
  /** The backup folder (default: CMMC_BACKUP_DIR, else ./backups). */
  backupDir?: string;
  /** Only recorded runs of the last N days (default: all kept). */
  sinceDays?: number;
  /** How many tables, indexes and statements the charts draw (default 8). */
  top?: number;
  now?: Date;
}

/** What each section misses on the embedded database, which keeps no server statistics. */
export const NEEDS_SERVER: { section: SectionName; what: string }[] = [
  { section: 'health', what: 'checks that read server statistics (connections, slow queries, unused indexes, maintenance) are unknown' },
  { section: 'growth', what: 'unused indexes (index scan counts)' },
  { section: 'queries', what: 'top statements (pg_stat_statements)' },
];

/**
 * Collects the report for the database behind `handle` (open it with DOCTOR_OPEN_OPTIONS).
 *
 * @example
 * ```ts
 * const handle = await openDatabase(config, DOCTOR_OPEN_OPTIONS);
 * const data = await collectReport(handle, { backupDir: 'backups' });
 * writeFileSync('report.html', renderHtml(data, loadAssets()));
 * ```
 */
export async function collectReport(handle: DbHandle, options: CollectOptions = {}): Promise<ReportData> {
  const now = options.now ?? new Date();
  const top = options.top ?? 8;
  const embedded = handle.config.kind === 'embedded';
  // The health section's backups.recent looks in the folder the backups section reads.
  const doctor = await runDoctor(handle, { backupDir: options.backupDir });
  let runsNote = '';
  const recorded = await readRecorded(handle, options.sinceDays).catch((err: { code?: string; message?: string }) => {
    // A role that may not read the recorded runs still gets the rest of the report.
    if (err.code !== '42501') throw err;
    // Not "GRANT SELECT to this role": a run holds what the doctor saw of every tenant (RECORDED_TABLES).
    runsNote = `the recorded runs could not be read: ${err.message} — report as the owner (DB_OWNER_USER): the runs hold what the doctor saw of every tenant, kept from roles that read one tenant`;
    return { runs: [] as RecordedRun[], count: { runs: 0, first: null, last: null } };
  });
  const { runs, count } = recorded;
  if (count.runs > runs.length) {
    runsNote = `the charts draw ${runs.length} of the ${count.runs} recorded runs, spread evenly: the first, and the last of each group of about ${Math.round(count.runs / (runs.length - 1))} consecutive runs`;
  }
  const schema = await collectSchema(handle);
  const backups = await collectBackups(handle, options.backupDir, now);
  const { tenant, audit } = await readTableFacts(handle);
  const generatedAt = now.toISOString();
  return {
    reportVersion: 1,
    generatedAt,
    database: doctor.database,
    target: handle.description,
    embedded,
    needsServer: embedded ? NEEDS_SERVER : [],
    health: healthOf(doctor, runs, now),
    growth: { ...growthOf(doctor, runs, top), recorded: count, runsNote },
    queries: queriesOf(doctor, runs, top),
    schema,
    backups,
    evidence: buildEvidence({
      generatedAt,
      tenant,
      audit,
      schema,
      backups,
      records: { doctorRuns: count.runs, firstRun: count.first, lastRun: count.last },
      checks: doctor.checks,
    }),
  };
}

/** Charted runs at most: a chart is at most 1100 pixels wide, and reading thousands of runs outlasted the doctor's statement timeout. */
export const MAX_CHARTED_RUNS = 500;

/** The runs the charts draw (without their checks, which no chart needs) and how many are recorded. */
async function readRecorded(handle: DbHandle, sinceDays: number | undefined): Promise<{ runs: RecordedRun[]; count: RunCount }> {
  const count = await countRuns(handle, { sinceDays });
  const runs = await readRuns(handle, { sinceDays, atMost: MAX_CHARTED_RUNS, withoutChecks: true });
  return { runs, count };
}

function healthOf(doctor: DoctorReport, runs: RecordedRun[], now: Date): HealthSection {
  const withConnections = runs.filter((r) => r.connections);
  const byState = (r: RecordedRun) => Object.entries(r.connections?.byState ?? {}).map(([state, n]) => ({ state, n }));
  const replicated = [...runs].reverse().find((r) => r.replication);
  const counts: Record<string, number> = {};
  for (const c of doctor.checks) counts[c.status] = (counts[c.status] ?? 0) + 1;
  return {
    at: now.toISOString(),
    status: doctor.status,
    counts,
    checks: doctor.checks.map(({ id, title, status, figure, remedy }) => ({ id, title, status, figure, remedy })),
    limited: doctor.limited,
    connections: {
      runs: refs(withConnections),
      series: seriesOver(withConnections, byState, (x) => x.state, (x) => x.n, 8),
      max: withConnections.at(-1)?.connections?.max ?? null,
    },
    replication: replicated?.replication
      ? { at: replicated.recordedAt, role: replicated.replication.role, standbys: replicated.replication.standbys.length, slots: replicated.replication.slots.length, lag: replicated.replication.lag }
      : null,
  };
}

const refs = (runs: RecordedRun[]): RunRef[] => runs.map((r) => ({ id: r.id, at: r.recordedAt, status: r.status }));

/** Pure: one series per name over the runs, ranked by the latest value, largest first. */
export function seriesOver<T>(runs: RecordedRun[], items: (run: RecordedRun) => T[] | null, name: (t: T) => string, value: (t: T) => number, top: number): Series[] {
  const maps = runs.map((r) => new Map((items(r) ?? []).map((t) => [name(t), value(t)])));
  const latest = new Map<string, number>();
  for (const m of maps) for (const [k, v] of m) latest.set(k, v);
  const ranked = [...latest.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, top);
  return ranked.map(([n]) => ({ name: n, values: maps.map((m) => (m.has(n) ? m.get(n)! : null)) }));
}

const rowsOf = (doctor: DoctorReport, id: string): Record<string, unknown>[] => doctor.checks.find((c) => c.id === id)?.rows ?? [];
const checkOf = (doctor: DoctorReport, id: string): CheckResult | undefined => doctor.checks.find((c) => c.id === id);

function growthOf(doctor: DoctorReport, runs: RecordedRun[], top: number): Omit<GrowthSection, 'runsNote' | 'recorded'> {
  const last = runs.at(-1);
  const indexBytes = new Map((last?.indexes ?? []).map((i) => [i.index, i.bytes]));
  const latest = last?.tables.length ? last.tables : tablesFrom(doctor.checks.find((c) => c.id === 'sizes.tables'));
  const unused = checkOf(doctor, 'indexes.unused');
  const dup = checkOf(doctor, 'indexes.duplicate');
  return {
    runs: refs(runs),
    tables: seriesOver(runs, (r) => r.tables, (t) => t.table, (t) => t.total_bytes, top),
    indexes: seriesOver(runs, (r) => r.indexes, (i) => i.index, (i) => i.bytes, top),
    latest: [...latest].sort((a, b) => b.total_bytes - a.total_bytes),
    withoutEmbeddings: rowsOf(doctor, 'vector.embeddings').map((r) => ({ column: String(r.column), rows: Number(r.rows), without: Number(r.without_embedding) })),
    // Rows with `kept` serve a foreign key: listed by the doctor, not unused.
    unusedIndexes: (unused?.rows ?? []).filter((r) => r.kept === undefined).map((r) => ({ index: String(r.index), table: String(r.table), bytes: indexBytes.get(String(r.index)) ?? null, size: String(r.size) })),
    duplicateIndexes: (dup?.rows ?? []).map((r) => ({
      index: String(r.index),
      coveredBy: String(r.covered_by),
      table: String(r.table),
      kind: String(r.kind),
      bytes: indexBytes.get(String(r.index)) ?? null,
      size: String(r.size),
      keptByDesign: r.kept !== undefined,
    })),
    unusedNote: unused && (unused.status === 'unknown' || unused.figure.startsWith('no verdict')) ? unused.figure : '',
  };
}

function queriesOf(doctor: DoctorReport, runs: RecordedRun[], top: number): QueriesSection {
  const check = checkOf(doctor, 'slow-queries.top');
  const available = Boolean(check && check.status !== 'unknown' && (check.status as string) !== 'skipped');
  const rows: StatementRow[] = (check?.rows ?? []).map((r) => ({ query: String(r.query), calls: Number(r.calls), total_ms: Number(r.total_ms), mean_ms: Number(r.mean_ms) }));
  const withStatements = runs.filter((r) => r.statements);
  return {
    available,
    note: available ? '' : `${check?.figure ?? 'slow-queries.top did not run'}${check?.remedy ? ` — ${check.remedy}` : ''}`,
    byTotal: [...rows].sort((a, b) => b.total_ms - a.total_ms).slice(0, top),
    byMean: [...rows].sort((a, b) => b.mean_ms - a.mean_ms).slice(0, top),
    trend: {
      runs: refs(withStatements),
      // Masked again: runs recorded before the doctor masked passwords (oneLine in doctor/format.ts) hold them.
      series: seriesOver(withStatements, (r) => r.statements, (s) => maskedSqlText(s.query), (s) => s.total_ms, Math.min(top, 5)),
    },
  };
}

async function collectSchema(handle: DbHandle): Promise<SchemaSection> {
  const { loadScript } = await import('../migrate/script.js');
  const { getStatus } = await import('../migrate/status.js');
  const { metaNames } = await import('../migrate/version-store.js');
  const log = await readLog(handle, metaNames(handle.config).log);
  let script;
  try {
    script = await loadScript(handle.config);
  } catch (err) {
    const { getCurrentHeads } = await import('../migrate/status.js');
    const current = await getCurrentHeads(handle);
    return { revisions: [], heads: [], current, changed: [], log: log.map((l) => ({ ...l, message: '' })), note: `the revision files could not be read: ${(err as Error).message.split('\n')[0]}` };
  }
  const status = await getStatus(handle, script);
  const { graph } = script;
  const applied = graph.appliedSet(status.current.filter((r) => graph.has(r)));
  const messages = new Map(script.revisions.map((r) => [r.revision, r.message]));
  return {
    revisions: graph.ordered.map((r) => ({
      revision: r.revision,
      message: r.message,
      parents: r.downRevisions,
      applied: applied.has(r.revision),
      current: status.current.includes(r.revision),
      head: graph.heads.includes(r.revision),
      merge: graph.isMerge(r.revision),
      branchPoint: graph.childrenOf(r.revision).length > 1,
      labels: r.branchLabels,
      file: r.fileName,
    })),
    heads: graph.heads,
    current: status.current,
    changed: status.changed.map((c) => c.revision),
    log: log.map((l) => ({ ...l, message: messages.get(l.revision) ?? '' })),
    note: status.unknown.length ? `the version table names revisions no file declares: ${status.unknown.join(', ')}` : '',
  };
}

async function readLog(handle: DbHandle, table: string): Promise<Omit<SchemaSection['log'][number], 'message'>[]> {
  const [exists] = await handle.sql<{ t: string | null }[]>`SELECT to_regclass(${table})::text AS t`;
  if (!exists?.t) return [];
  const rows = await handle.sql.unsafe<{ revision: string; operation: string; applied_at: Date; applied_by: string; duration_ms: number | null; file: string | null }[]>(
    `SELECT revision, operation, applied_at, applied_by, duration_ms, file FROM ${table} ORDER BY applied_at, id`,
  );
  return rows.map((r) => ({
    revision: r.revision,
    operation: r.operation,
    appliedAt: new Date(r.applied_at).toISOString(),
    appliedBy: r.applied_by,
    durationMs: r.duration_ms,
    file: r.file,
  }));
}

/** No group or other permission bits on the file, or on the folder and each file in it; null when it is gone. */
function ownerOnly(target: string): boolean | null {
  try {
    const st = statSync(target);
    if ((st.mode & 0o077) !== 0) return false;
    if (!st.isDirectory()) return true;
    return readdirSync(target).every((f) => (statSync(path.join(target, f)).mode & 0o077) === 0);
  } catch {
    return null;
  }
}

/**
 * This database's backups and their restore drills. "This database" is the rule of `backup list`
 * (sameDatabase in src/backup/store.ts): a same-named database of another server sharing the folder
 * is not counted. Drill records name no identity: they count through the backup they drilled.
 */
async function collectBackups(handle: DbHandle, dir: string | undefined, now: Date): Promise<BackupsSection> {
  const { listBackups, listDrills, resolveBackupDir } = await import('../backup/store.js');
  const { identityOfOpen } = await import('../backup/dump.js');
  const folder = resolveBackupDir(dir);
  const all = listBackups(folder, await identityOfOpen(handle.config, handle));
  const names = new Set(all.map((b) => b.name));
  const backups = all.map((b) => ({
    name: b.name,
    createdAt: b.createdAt,
    sizeBytes: b.sizeBytes,
    format: b.format,
    contents: b.contents,
    encrypted: b.encrypted,
    verified: b.verified?.status ?? 'unverified',
    verifiedAt: b.verified?.at ?? null,
    restoreTested: Boolean(b.verified?.restoreTested),
    revision: b.revision ?? [],
    ownerOnly: ownerOnly(b.path),
  }));
  const drills = listDrills(folder)
    .filter((d) => names.has(d.backup.name))
    .map((d) => ({
      backup: d.backup.name,
      startedAt: d.startedAt,
      finishedAt: d.finishedAt,
      durationMs: d.durationMs,
      result: d.result,
      tables: d.restored?.tables ?? null,
      operator: d.operator,
    }));
  const { newestInPast } = await import('../backup/retention.js');
  const verified = newestInPast(backups.filter((b) => b.verified === 'verified'), now, (b) => b.createdAt);
  return {
    dir: folder,
    backups,
    drills,
    newestVerified: verified
      ? { name: verified.name, createdAt: verified.createdAt, ageHours: Math.round(((now.getTime() - new Date(verified.createdAt).getTime()) / 3_600_000) * 10) / 10 }
      : null,
  };
}

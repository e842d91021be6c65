/**
 * The report's data: one JSON document (`cmmc-db report --json`) and the only input of the HTML
 * page. Sizes in bytes, times in milliseconds, instants as ISO-8601 strings (UTC).
 */
import type { CheckResult, CheckStatus } from '../doctor/types.js';

export const SECTIONS = ['health', 'growth', 'queries', 'schema', 'backups', 'evidence'] as const;
export type SectionName = (typeof SECTIONS)[number];

export interface ReportData {
  /** Version of this shape; bumped when a field changes meaning. */
  reportVersion: 1;
  generatedAt: string;
  database: string;
  /** The target in words, password masked. */
  target: string;
  embedded: boolean;
  /** What needs a PostgreSQL server and is therefore missing or partial on the embedded database. */
  needsServer: { section: SectionName; what: string }[];
  health: HealthSection;
  growth: GrowthSection;
  queries: QueriesSection;
  schema: SchemaSection;
  backups: BackupsSection;
  evidence: EvidenceSection;
}

export interface HealthSection {
  /** The doctor run made for this report (now). */
  at: string;
  status: CheckStatus;
  counts: Record<string, number>;
  checks: Pick<CheckResult, 'id' | 'title' | 'status' | 'figure' | 'remedy'>[];
  limited: string | null;
  /** Client connections by state over the recorded runs (server only), and max_connections at the latest. */
  connections: { runs: RunRef[]; series: Series[]; max: number | null };
  /** Replication at the latest recorded run, when the server has any. */
  replication: { at: string; role: string; standbys: number; slots: number; lag: Record<string, unknown>[] } | null;
}

export interface RunRef {
  id: number;
  at: string;
  status: CheckStatus;
}

/** A series over the recorded runs: `values[i]` belongs to `runs[i]` (null: not in that run). */
export interface Series {
  name: string;
  values: (number | null)[];
}

export interface GrowthSection {
  /** Recorded runs (doctor --record) the charts draw, oldest first: all of them, or at most 500 spread over the window (`runsNote` says so). */
  runs: RunRef[];
  /** How many runs are recorded in the window, first and last. */
  recorded: { runs: number; first: string | null; last: string | null };
  /** Total size per table over the runs, largest (latest) first. */
  tables: Series[];
  /** Index size per index over the runs, largest (latest) first. */
  indexes: Series[];
  /** The latest sizes per table (from the latest run, or now when nothing was recorded). */
  /** rows: the planner's estimate; null before the table's first ANALYZE. */
  latest: { table: string; rows: number | null; table_bytes: number; index_bytes: number; toast_bytes: number; total_bytes: number }[];
  withoutEmbeddings: { column: string; rows: number; without: number }[];
  unusedIndexes: { index: string; table: string; bytes: number | null; size: string }[];
  duplicateIndexes: { index: string; coveredBy: string; table: string; kind: string; bytes: number | null; size: string; keptByDesign: boolean }[];
  /** Set when the recorded runs could not be read (permission), saying how to fix it, or when the charts draw some of them. */
  runsNote: string;
  /** Why unused indexes are not judged (statistics too young, embedded database), when so. */
  unusedNote: string;
}

export interface StatementRow {
  query: string;
  calls: number;
  total_ms: number;
  mean_ms: number;
}

export interface QueriesSection {
  available: boolean;
  /** Why not, and how to enable it, when not available. */
  note: string;
  byTotal: StatementRow[];
  byMean: StatementRow[];
  /** Cumulative total time (ms) of the top statements over the recorded runs. */
  trend: { runs: RunRef[]; series: Series[] };
}

export interface SchemaRevision {
  revision: string;
  message: string;
  parents: string[];
  applied: boolean;
  current: boolean;
  head: boolean;
  merge: boolean;
  branchPoint: boolean;
  labels: string[];
  file: string;
}

export interface RevisionLogRow {
  revision: string;
  message: string;
  operation: string;
  appliedAt: string;
  appliedBy: string;
  durationMs: number | null;
  file: string | null;
}

export interface SchemaSection {
  revisions: SchemaRevision[];
  heads: string[];
  current: string[];
  /** Revisions whose files changed after they were applied. */
  changed: string[];
  log: RevisionLogRow[];
  /** Set when the revision files could not be read (the graph is then empty). */
  note: string;
}

export interface BackupRow {
  name: string;
  createdAt: string;
  sizeBytes: number;
  format: string;
  contents: string;
  encrypted: boolean;
  verified: 'verified' | 'unverified' | 'failed';
  verifiedAt: string | null;
  restoreTested: boolean;
  revision: string[];
  /** The data file (or folder and its files) readable and writable by its owner only (no group or other bits); null when missing. */
  ownerOnly: boolean | null;
}

export interface DrillRow {
  backup: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  result: 'pass' | 'fail';
  tables: number | null;
  operator: string;
}

export interface BackupsSection {
  /** The backup folder read. */
  dir: string;
  backups: BackupRow[];
  drills: DrillRow[];
  newestVerified: { name: string; createdAt: string; ageHours: number } | null;
}

/** One fact behind an evidence claim: a figure and where it was read. */
export interface EvidenceFigure {
  label: string;
  value: string | number | boolean | null;
}

export interface EvidenceItem {
  /** CMMC Level 2 practice ids (NIST SP 800-171 r2 numbering), or the platform procedure. */
  practices: string[];
  /** What the facts are about, in one line (no verdict). */
  topic: string;
  /** The facts, as sentences read from the data. */
  facts: string[];
  figures: EvidenceFigure[];
  /** The period the facts cover (null when it has none, e.g. a catalog setting read now). */
  from: string | null;
  to: string | null;
  source: string;
}

export interface EvidenceSection {
  /** States that these are facts, not a compliance determination. */
  notice: string;
  items: EvidenceItem[];
}

/** cmmc-db doctor as a library: the checks, the runner, kill-idle and materialized-view refresh. */
export { runDoctor, selectChecks, overallStatus, readAccess, FAMILIES, ALL_CHECKS, DOCTOR_OPEN_OPTIONS, EXIT_CODES } from './run.js';
export type { DoctorReport, RunOptions } from './run.js';
export { killIdle, TIMEOUT_SUGGESTION } from './kill-idle.js';
export type { KillIdleOptions, KillIdleResult, IdleSession, IdleState } from './kill-idle.js';
export { refreshMaterializedViews, listMaterializedViews } from './refresh.js';
export type { MaterializedView, RefreshResult } from './refresh.js';
export { resolveThresholds, DEFAULT_THRESHOLDS, THRESHOLD_NAMES } from './thresholds.js';
export type { Thresholds } from './thresholds.js';
export type { CheckResult, CheckStatus, Check, CheckFamily, DoctorContext, Finding, Access } from './types.js';
export { recordRun, readRuns, countRuns, checkDays, checkRetentionDays, DEFAULT_RETENTION_DAYS, MAX_DAYS } from './record.js';
export type { RecordedRun, RecordResult, ReadRunsOptions, RunCount, RecordOptions, TableSize, IndexSize, StatementFigure, ConnectionFigures, ReplicationFigures } from './record.js';

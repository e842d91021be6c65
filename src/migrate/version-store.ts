/**
 * The SQL of the engine's own tables, shared by online runs and offline scripts so that both leave
 * the same schema: the version table (Alembic's alembic_version: the current heads) and the
 * revision log in the meta schema.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import type { CmmcConfig } from '../config/config.js';
import { ident, literal } from '../sql/lexer.js';

export type MetaConfig = Pick<CmmcConfig, 'versionSchema' | 'versionTable' | 'metaSchema'>;

export interface MetaNames {
  /** Qualified, quoted version table. */
  version: string;
  /** Qualified, quoted revision log. */
  log: string;
  metaSchema: string;
  versionSchema: string;
  versionTable: string;
}

export function metaNames(config: MetaConfig): MetaNames {
  return {
    version: `${ident(config.versionSchema)}.${ident(config.versionTable)}`,
    log: `${ident(config.metaSchema)}.revision_log`,
    metaSchema: config.metaSchema,
    versionSchema: config.versionSchema,
    versionTable: config.versionTable,
  };
}

/** Statements that create the version table and the revision log when missing (idempotent). */
export function bootstrapStatements(config: MetaConfig): string[] {
  const n = metaNames(config);
  const out: string[] = [];
  if (config.versionSchema !== 'public') out.push(`CREATE SCHEMA IF NOT EXISTS ${ident(config.versionSchema)}`);
  out.push(`CREATE SCHEMA IF NOT EXISTS ${ident(config.metaSchema)}`);
  out.push(`CREATE TABLE IF NOT EXISTS ${n.version} (\n    version_num varchar(64) NOT NULL PRIMARY KEY\n)`);
  out.push(
    `CREATE TABLE IF NOT EXISTS ${n.log} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    revision varchar(64) NOT NULL,
    operation text NOT NULL CHECK (operation IN ('upgrade', 'downgrade', 'stamp')),
    checksum char(64),
    file text,
    applied_at timestamptz NOT NULL DEFAULT now(),
    duration_ms integer,
    applied_by text NOT NULL DEFAULT current_user
)`,
  );
  return out;
}

/** The revision-log row of one step. `appliedBy` is an SQL expression. */
export function logInsert(
  config: MetaConfig,
  entry: { revision: string; operation: 'upgrade' | 'downgrade' | 'stamp'; checksum: string | null; file: string | null; durationMs: number | null | { sql: string } },
  appliedBy: string,
): string {
  const duration = entry.durationMs !== null && typeof entry.durationMs === 'object' ? entry.durationMs.sql : literal(entry.durationMs);
  return `INSERT INTO ${metaNames(config).log} (revision, operation, checksum, file, duration_ms, applied_by) VALUES (${literal(entry.revision)}, ${literal(entry.operation)}, ${literal(entry.checksum)}, ${literal(entry.file)}, ${duration}, ${appliedBy})`;
}

/** `current_user` plus the operating-system user, as an SQL expression. */
export function appliedByExpression(extra?: string): string {
  let osUser = process.env.USER || process.env.USERNAME || 'unknown';
  try {
    osUser = os.userInfo().username;
  } catch {
    // No passwd entry (some containers): keep the environment's name.
  }
  return `current_user || ${literal(` (os: ${osUser}${extra ? `, ${extra}` : ''})`)}`;
}

/** The advisory-lock key: a fixed 64-bit number derived from the version table's qualified name. */
export function lockKey(config: MetaConfig): bigint {
  const digest = createHash('sha256').update(`cmmc-db:${config.versionSchema}.${config.versionTable}`).digest();
  return digest.readBigInt64BE(0);
}

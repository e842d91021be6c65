/**
 * The platform's own TypeScript revisions, shipped as the SQL they execute.
 *
 * An upgrade of the platform spent more time loading Kysely (about 150 ms of CPU) than running its
 * DDL. The platform's revisions only execute statements (none reads an answer of the database or
 * the environment), so the build records each one's up and down once, with the offline recorder
 * (scripts/record-platform-revisions.mjs, run by `npm run build`), into
 * dist/migrate/platform-revisions.json, keyed by the sha256 of the file's text (the revision's
 * checksum). A revision whose file is byte for byte the recorded one runs the recorded statements;
 * any other file, a changed platform revision included, is imported and run as before. The recorded
 * statements run as a plain-SQL revision's do (src/migrate/engine.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_DIR } from '../config/config.js';
import type { SqlStatement } from '../sql/lexer.js';
import type { SqlRevisionBody } from './script.js';

/** Where the build writes the recorded revisions (beside the compiled engine). */
export const RECORDED_FILE = path.join(PACKAGE_DIR, 'dist', 'migrate', 'platform-revisions.json');

/** The file's shape: version 1. */
export interface RecordedRevisions {
  format: 1;
  /** Keyed by the revision file's checksum (sha256 of its normalised text, hex). */
  revisions: Record<string, { revision: string; file: string; up: string[]; down: string[] }>;
}

let recorded: RecordedRevisions['revisions'] | undefined;

function entries(): RecordedRevisions['revisions'] {
  if (recorded) return recorded;
  try {
    const parsed = JSON.parse(readFileSync(RECORDED_FILE, 'utf8')) as Partial<RecordedRevisions>;
    recorded = parsed.format === 1 && parsed.revisions && typeof parsed.revisions === 'object' ? parsed.revisions : {};
  } catch {
    // Not built (running from the sources) or unreadable: every revision is imported.
    recorded = {};
  }
  return recorded;
}

function statements(texts: string[]): SqlStatement[] {
  return texts.map((text, i) => ({ text, line: 0, index: i + 1 }));
}

/**
 * The recorded up and down of the revision whose file has this checksum and declares this id, or
 * undefined when there is none (a project's own revision, or a platform revision changed since the
 * build).
 */
export function recordedBody(revision: string, checksum: string): SqlRevisionBody | undefined {
  const entry = entries()[checksum];
  if (!entry || entry.revision !== revision || !Array.isArray(entry.up) || !Array.isArray(entry.down)) return undefined;
  return { upSql: statements(entry.up), downSql: statements(entry.down) };
}

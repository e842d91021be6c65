/**
 * schema.sql: the platform schema at the migrations' head as plain, readable, deterministic SQL.
 * It is pg_dump --schema-only of a scratch database built to head, without the version table and
 * the engine's bookkeeping schema, and without the lines that change from one pg_dump run or
 * version to the next (version comments, SET lines, \restrict tokens), so that it is byte-stable.
 */
import path from 'node:path';
import type { CmmcConfig } from '../config/config.js';
import { CmmcError } from '../errors.js';
import { runPgClient } from '../db/pg-tools.js';
import { withHeadDatabase } from './head.js';
import { serverUrl } from './scratch.js';
import { readRegularFile } from '../fs-private.js';

export const SCHEMA_FILE = 'schema.sql';

export const SCHEMA_HEADER = `-- The CMMC platform schema at the migrations' head, written by \`cmmc-db schema dump\`.
--
-- CI fails when this file differs from what the migrations build (\`cmmc-db schema dump --check\`).
-- To change the schema: edit this file, run \`cmmc-db revision --autogenerate -m "what changed"\`,
-- review the revision it writes in migrations/, then run \`cmmc-db schema dump\` again.
`;

/** The default location of schema.sql: the project folder, beside migrations/. */
export function schemaFilePath(config: CmmcConfig, file?: string): string {
  return path.resolve(file ?? path.join(config.projectDir, SCHEMA_FILE));
}

/** pg_dump --schema-only of `url`, normalized. */
export async function dumpSchema(url: string, config: Pick<CmmcConfig, 'versionSchema' | 'versionTable' | 'metaSchema'>): Promise<string> {
  const r = await runPgClient('pg_dump', url, [
    '--schema-only',
    '--no-owner',
    '--no-privileges',
    '--no-tablespaces',
    `--exclude-table=${config.versionSchema}.${config.versionTable}`,
    `--exclude-schema=${config.metaSchema}`,
  ]);
  if (r.exitCode !== 0) {
    throw new CmmcError('schema.dump', `pg_dump failed: ${firstLine(r.stderr)}`, { hint: 'check that pg_dump is at least as new as the server' });
  }
  return normalizeDump(r.stdout);
}

/** Removes the volatile lines of a pg_dump script and adds the project's header. */
export function normalizeDump(text: string): string {
  const kept = text
    .replace(/\r\n/g, '\n')
    .split('\n')
    .filter(
      (line) =>
        !/^-- Dumped (from database|by pg_dump) version/.test(line) &&
        !/^SET [a-z_]+ = /.test(line) &&
        !/^SELECT pg_catalog\.set_config\('search_path'/.test(line) &&
        !/^\\(un)?restrict\b/.test(line) &&
        !/^-- PostgreSQL database dump( complete)?$/.test(line),
    )
    .join('\n');
  // Removing "PostgreSQL database dump" leaves an empty "--\n--" comment at the top and bottom.
  const body = kept
    .replace(/(^|\n)--\n--(?=\n\n|\n?$)/g, '$1')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return `${SCHEMA_HEADER}\n${body}\n`;
}

/** schema.sql as the migrations' head would write it (built in a scratch database, then dropped). */
export async function dumpHeadSchema(config: CmmcConfig): Promise<string> {
  serverUrl(config, 'schema dump');
  return withHeadDatabase(config, 'dump', (scratch) => dumpSchema(scratch.url, config));
}

export interface DumpCheck {
  file: string;
  upToDate: boolean;
  /** First differing line number (1-based) when out of date. */
  firstDifference?: { line: number; expected: string; actual: string };
}

/** Compares a schema.sql file with the expected text. */
export function compareSchemaFile(file: string, expected: string): DumpCheck {
  let actual: string;
  try {
    actual = readRegularFile(file).toString('utf8');
  } catch (err) {
    // A FIFO in its place would block the read for ever (readRegularFile refuses it).
    const code = (err as NodeJS.ErrnoException).code;
    const found = code === 'ENOENT' ? '(file missing)' : code === 'EISDIR' ? '(a folder, not a file)' : code === 'ENOTREG' ? '(not a regular file)' : `(unreadable: ${code ?? 'error'})`;
    return { file, upToDate: false, firstDifference: { line: 1, expected: expected.split('\n')[0] ?? '', actual: found } };
  }
  if (actual === expected) return { file, upToDate: true };
  const a = actual.split('\n');
  const e = expected.split('\n');
  let i = 0;
  while (i < Math.max(a.length, e.length) && a[i] === e[i]) i++;
  return { file, upToDate: false, firstDifference: { line: i + 1, expected: e[i] ?? '(end of file)', actual: a[i] ?? '(end of file)' } };
}

export function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.trim() !== '') ?? '').trim();
}

/**
 * Applies a SQL file (schema.sql) to a scratch database with psql, stopping at the first error.
 * An error becomes one line naming the file and the line.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CmmcError } from '../errors.js';
import { runPgClient } from '../db/pg-tools.js';

/** Runs `file` in the database at `url` (never the user's: callers pass a scratch database). */
export async function applySqlFile(url: string, file: string): Promise<void> {
  const shown = path.relative(process.cwd(), file) || file;
  if (!existsSync(file)) {
    throw new CmmcError('schema.file', `${shown} does not exist`, { hint: 'run "cmmc-db schema dump" to write it from the migrations\' head' });
  }
  const r = await runPgClient('psql', url, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', file], {
    // pg_dump's output relies on these; schema.sql has its SET lines removed.
    env: { PGOPTIONS: '-c check_function_bodies=off -c client_min_messages=warning' },
  });
  if (r.exitCode === 0) return;
  throw psqlError(r.stderr, file, shown);
}

/** "psql:/x/schema.sql:12: ERROR:  syntax error at or near "FOO"" → "schema.sql line 12: syntax error ..." */
export function psqlError(stderr: string, file: string, shown: string): CmmcError {
  const lines = stderr.split('\n');
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  for (const line of lines) {
    const m = new RegExp(`^psql:${escaped}:(\\d+):\\s*(?:ERROR|FATAL):\\s*(.*)$`).exec(line);
    if (m) {
      return new CmmcError('schema.sql', `${shown} line ${m[1]}: ${m[2].trim()}`, {
        hint: `fix the statement at ${shown}:${m[1]} (or rewrite the file with "cmmc-db schema dump")`,
      });
    }
  }
  const first = lines.find((l) => l.trim()) ?? 'psql failed';
  return new CmmcError('schema.sql', `${shown}: ${first.replace(/^psql:[^:]*:(\d+:)?\s*/, '')}`, { hint: `fix ${shown}` });
}

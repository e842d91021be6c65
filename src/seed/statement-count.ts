/**
 * The number of statements of a seed file that is skipped (unchanged, or demo data not asked for),
 * kept by content so that skipping a large file does not split it again on every run. The entry is
 * named by the sha256 of the file's text and of the lexer's own code, so a changed file or a changed
 * lexer is split again; a file the lexer refuses is never kept, so its error is raised as before.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../cache-dir.js';
import { makeDirs, readRegularFile } from '../fs-private.js';

let lexerHash: string | undefined;
function lexerVersion(): string {
  // dist/sql/lexer.js when built; src/sql/lexer.ts when run from the sources (the tests).
  const built = fileURLToPath(new URL('../sql/lexer.js', import.meta.url));
  lexerHash ??= createHash('sha256')
    .update(readFileSync(existsSync(built) ? built : built.replace(/\.js$/, '.ts')))
    .digest('hex');
  return lexerHash;
}

/**
 * `split(text).length`, from the cache when this text was split before by this lexer. `textSha256`,
 * the sha256 (hex) of `text` when the caller has it already (a seed file's checksum), spares hashing
 * the whole text again; the entry's name is the same either way.
 */
export function statementCount(text: string, split: () => number, dir: string = cacheDir('seed-statements'), textSha256?: string): number {
  let file: string | undefined;
  try {
    const content = textSha256 ?? createHash('sha256').update(text).digest('hex');
    file = path.join(dir, createHash('sha256').update(lexerVersion()).update('\n').update(content).digest('hex'));
    if (existsSync(file)) {
      const n = Number(readRegularFile(file).toString('utf8'));
      if (Number.isInteger(n) && n >= 0) return n;
    }
  } catch {
    file = undefined; // no cache here: split as before
  }
  const n = split();
  if (file) {
    try {
      makeDirs(dir, 0o700);
      writeFileSync(`${file}.${process.pid}`, String(n));
      renameSync(`${file}.${process.pid}`, file);
    } catch {
      // A read-only cache only costs time.
    }
  }
  return n;
}

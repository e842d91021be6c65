/**
 * The dump/reload rule, in one place. PostgreSQL stores expressions as trees and prints them back
 * (deparses) on demand; a schema that went through pg_dump and back is printed differently from the
 * one the migrations made, though it means the same: `col IN ('a', 'b')` on a varchar column is
 * `((col)::text = ANY ((ARRAY['a'::character varying, ...])::text[]))` as created and
 * `((col)::text = ANY (ARRAY[('a'::character varying)::text, ...]))` once reloaded, in CHECK
 * constraints, views, index predicates and defaults alike. Comparisons that must not report that as
 * a change (autogenerate against schema.sql; drift against a restored database) put the schema they
 * build through the same round trip, with this function.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CmmcConfig } from '../config/config.js';
import { makeTempDir } from '../leftovers.js';
import { applySqlFile } from './apply-sql.js';
import { dumpSchema } from './dump.js';
import { resetScratchDatabase, type ScratchDatabase } from './scratch.js';

/**
 * Copies the schema of the database at `fromUrl` into the server scratch database `into` through
 * pg_dump --schema-only → psql, as a backup and restore would (version table and the engine's
 * bookkeeping schema left out, as `schema dump` leaves them out). With `reset`, `into` is emptied
 * first (after the dump, so `fromUrl` may be `into` itself: it is then reloaded in place).
 * Throws the CmmcError of pg_dump or psql when either fails.
 */
export async function reloadThroughDump(
  fromUrl: string,
  into: ScratchDatabase,
  config: Pick<CmmcConfig, 'versionSchema' | 'versionTable' | 'metaSchema'>,
  options: { reset?: boolean } = {},
): Promise<void> {
  const tmp = makeTempDir('reload');
  try {
    const file = path.join(tmp, 'schema.sql');
    writeFileSync(file, await dumpSchema(fromUrl, config));
    if (options.reset) await resetScratchDatabase(into);
    await applySqlFile(into.url, file);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

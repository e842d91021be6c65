/**
 * `cmmc-db init` on a fresh embedded folder through the template at head (src/embedded/template.ts):
 * the template is named by the revision and seed files' checksums, built by a normal init of a
 * scratch folder when missing or damaged, and copied. The copy reports what the init that built it
 * did, and its revision and seed log rows are dated by this run.
 */
import { freshDataDir } from '../embedded/instance.js';
import path from 'node:path';
import type { CmmcConfig } from '../config/config.js';
import { openDatabase } from '../db/connection.js';
import type { InitOptions, InitReport } from './init.js';
import { listSeedFiles } from './loader.js';

/**
 * The init of a fresh embedded folder made from the template, or undefined when the template does
 * not apply (a server, --sample, a folder that has a database already, files that cannot be read:
 * the caller then runs init as usual and reports any problem itself).
 */
export async function initFromTemplate(
  config: CmmcConfig,
  options: InitOptions,
  runInit: (config: CmmcConfig, options: InitOptions) => Promise<InitReport>,
): Promise<InitReport | undefined> {
  if (config.kind !== 'embedded' || options.sample || options.template === false) return undefined;
  // A folder with anything in it (a database, or a damaged one) is opened as usual, never replaced.
  if (!freshDataDir(path.join(config.embeddedDir, 'pgdata'))) return undefined;
  const [{ loadScript }, { templateKey, createFromTemplate }] = await Promise.all([import('../migrate/script.js'), import('../embedded/template.js')]);
  let key: string;
  try {
    key = templateKey(config, (await loadScript(config)).revisions, listSeedFiles(config.seedsDir));
  } catch {
    return undefined;
  }
  const made = await createFromTemplate(config, key, (scratch) => runInit(scratch, { ...options, onStep: undefined, template: false }));
  if (!made) return undefined;
  const handle = await openDatabase(config, { pool: { max: 1, min: 0 }, kysely: false, applicationName: 'cmmc-db:init' });
  try {
    for (const table of ['revision_log', 'seed_log']) {
      const name = `"${config.metaSchema}".${table}`;
      const [row] = await handle.sql<{ ok: boolean }[]>`SELECT to_regclass(${name}) IS NOT NULL AS ok`;
      if (row.ok) await handle.sql.unsafe(`UPDATE ${name} SET applied_at = now()`);
    }
  } finally {
    await handle.close();
  }
  for (const step of made.report.steps) options.onStep?.(step);
  return { ...made.report, template: made.template };
}

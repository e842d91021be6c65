#!/usr/bin/env node
/**
 * The embedded database (PGlite) against PGlite on its own (bench/pglite-floor.mjs), as ratios of
 * paired runs: `cmmc-db init` on a fresh folder against PGlite's create plus the same DDL, and
 * `cmmc-db current` on an existing folder against PGlite's open plus one query; peak RSS of each.
 *
 *   npm run build && node bench/embedded.mjs [--runs 3] [--quick] [--json]
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Report, RUNS, ROOT, cleanup, cli, fmtMiB, fmtMs, paired, platformRevisionsSql, run, tempDir } from './lib.mjs';

const runs = Math.min(RUNS, 3);
const report = new Report(`embedded database (PGlite), median of ${runs} paired runs`);
const floor = path.join(ROOT, 'bench', 'pglite-floor.mjs');
try {
  const revisions = await platformRevisionsSql(path.join(ROOT, 'migrations'));
  const ddl = path.join(tempDir(), 'platform.sql');
  writeFileSync(ddl, revisions.flatMap((r) => r.up.map((s) => (s.trim().endsWith(';') ? s : `${s};`))).join('\n') + '\n');
  const env = (dir) => ({ CMMC_DB_DIR: dir, CMMC_MIGRATIONS_DIR: path.join(ROOT, 'migrations'), CMMC_SEEDS_DIR: path.join(ROOT, 'seeds') });

  // The first init of a machine (or after a revision or seed file changed) builds the template at
  // head; later ones copy it. Both are shown: the build once, in an empty cache of its own.
  const firstInit = cli(['init'], { ...env(path.join(tempDir(), 'db')), XDG_CACHE_HOME: tempDir() });
  report.note('init, first on this machine (builds the template)', `${fmtMs(firstInit.ms)}, peak RSS ${fmtMiB(firstInit.rssKb)}`);
  cli(['init'], env(path.join(tempDir(), 'db'))); // the template in the user's cache is there from here on
  const init = await paired(
    () => cli(['init'], env(path.join(tempDir(), 'db'))),
    () => run(process.execPath, [floor, 'create', path.join(tempDir(), 'pgdata'), ddl]),
    runs,
  );
  report.pair('init (fresh folder, template at head ready)', 'PGlite create + the same DDL', init, 0.5);
  report.note('init peak RSS', `${fmtMiB(init.subjectRssKb)} (target < 600 MiB: ${init.subjectRssKb < 600 * 1024 ? 'met' : 'NOT met'}; PGlite create + DDL ${fmtMiB(init.floorRssKb)})`);

  const folder = path.join(tempDir(), 'db');
  cli(['init'], env(folder));
  const pgdata = path.join(tempDir(), 'pgdata');
  run(process.execPath, [floor, 'create', pgdata, ddl]);
  report.pair('current (existing folder at head)', 'PGlite open + one query', await paired(() => cli(['current'], env(folder)), () => run(process.execPath, [floor, 'query', pgdata]), runs), 1.2);
} finally {
  await cleanup();
}
report.print();

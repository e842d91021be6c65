#!/usr/bin/env node
/**
 * `upgrade head` from an empty database, net of creating and dropping it (untimed), as ratios of
 * paired runs: against `psql -X -1 -f` of the same DDL (the floor: the statements the platform's
 * revisions run, recorded by the offline recorder), against `alembic upgrade head` applying that
 * DDL revision by revision, and on a generated chain of plain-SQL revisions (500; quick mode 20)
 * against Alembic on the same chain. Peak RSS of `upgrade head` is shown beside each.
 *
 *   npm run build && node bench/upgrade.mjs [--runs 5] [--chain 500] [--quick] [--json]
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { QUICK, Report, RUNS, ROOT, alembic, alembicProject, alembicPython, cleanup, cli, createDb, dropDb, flag, paired, platformRevisionsSql, run, sqlRevision, tempDir } from './lib.mjs';

const CHAIN = QUICK ? 20 : Number(flag('chain', 500));
const report = new Report(`upgrade head from an empty database, median of ${RUNS} paired runs`);
const migrationsDir = path.join(ROOT, 'migrations');

/** Times `fn(url)` on a fresh database, created and dropped outside the timing. */
async function onFreshDb(fn) {
  const db = await createDb();
  try {
    return fn(db.url);
  } finally {
    await dropDb(db.name);
  }
}

try {
  const revisions = await platformRevisionsSql(migrationsDir);
  const ddl = path.join(tempDir(), 'platform.sql');
  writeFileSync(ddl, revisions.flatMap((r) => r.up.map((s) => (s.trim().endsWith(';') ? s : `${s};`))).join('\n') + '\n');
  const upgrade = (dir) => () => onFreshDb((url) => cli(['upgrade', 'head'], { DATABASE_URL: url, CMMC_MIGRATIONS_DIR: dir }));
  const psql = (file) => () => onFreshDb((url) => run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-1', '-f', file, url]));

  report.pair(`upgrade head (platform, ${revisions.length} revisions)`, 'psql -X -1 -f (same DDL)', await paired(upgrade(migrationsDir), psql(ddl)), 1.3);

  // The same DDL as plain-SQL revisions: the engine without TypeScript and Kysely.
  const sqlDir = tempDir();
  for (const r of revisions) sqlRevision(sqlDir, r);
  report.pair('upgrade head (same DDL as .sql revisions)', 'psql -X -1 -f (same DDL)', await paired(upgrade(sqlDir), psql(ddl)));

  const py = alembicPython();
  const alembicUp = (ini) => () =>
    onFreshDb((url) => {
      // The project's ini names its database: rewrite it for each fresh one.
      const text = `[alembic]\nscript_location = ${path.dirname(ini)}\nsqlalchemy.url = ${url.replace(/^postgres(ql)?:/, 'postgresql+psycopg2:')}\n`;
      writeFileSync(ini, text);
      return alembic(py, ini, ['upgrade', 'head']);
    });
  if (py) {
    const ini = alembicProject(tempDir('cmmc-bench-alembic-'), 'postgres://unused', revisions);
    report.pair('upgrade head (platform)', 'alembic upgrade head', await paired(upgrade(migrationsDir), alembicUp(ini)), 1);
  } else report.note('alembic upgrade head', 'skipped: python3-alembic is not installed');

  // Growth: a chain of CHAIN revisions, each creating a small table.
  const chain = Array.from({ length: CHAIN }, (_, i) => ({
    id: `r${String(i).padStart(5, '0')}`,
    down: i === 0 ? null : `r${String(i - 1).padStart(5, '0')}`,
    message: `table ${i}`,
    up: [`CREATE TABLE t${i} (id int PRIMARY KEY, note text)`],
  }));
  const chainDir = tempDir();
  for (const r of chain) sqlRevision(chainDir, r);
  const chainRuns = QUICK ? 1 : Math.min(RUNS, 3);
  if (py) {
    const ini = alembicProject(tempDir('cmmc-bench-alembic-'), 'postgres://unused', chain);
    const r = await paired(upgrade(chainDir), alembicUp(ini), chainRuns);
    report.pair(`${CHAIN}-revision chain, upgrade head`, 'alembic upgrade head', r, 1);
    report.note(`${CHAIN}-revision chain, per revision`, `${(r.subjectMs / CHAIN).toFixed(1)} ms (alembic ${(r.floorMs / CHAIN).toFixed(1)} ms)`);
  } else {
    const chainSql = path.join(tempDir(), 'chain.sql');
    writeFileSync(chainSql, chain.map((r) => `${r.up[0]};`).join('\n'));
    report.pair(`${CHAIN}-revision chain, upgrade head`, 'psql -X -1 -f (same DDL)', await paired(upgrade(chainDir), psql(chainSql), chainRuns));
  }
} finally {
  await cleanup();
}
report.print();

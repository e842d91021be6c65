#!/usr/bin/env node
/**
 * Start-up and read commands, as ratios of paired runs: `cmmc-db --version` and `current` against
 * `node -e 0` (the floor: Node itself), `current` and `history` against Alembic's on the same
 * revisions (when python3-alembic is installed). The database is at head in both cases.
 *
 *   npm run build && node bench/cold-start.mjs [--runs 9] [--quick] [--json]
 *
 * Needs the server at 127.0.0.1:5432 (CMMC_BENCH_ADMIN_URL to change it).
 */
import path from 'node:path';
import { Report, RUNS, ROOT, alembic, alembicProject, alembicPython, cleanEnv, cleanup, cli, createDb, paired, platformRevisionsSql, run, tempDir } from './lib.mjs';

const report = new Report(`cold start and read commands, median of ${RUNS} paired runs`);
const migrationsDir = path.join(ROOT, 'migrations');
try {
  const db = await createDb();
  const env = { DATABASE_URL: db.url, CMMC_MIGRATIONS_DIR: migrationsDir };
  cli(['upgrade', 'head'], env);
  const node = () => run(process.execPath, ['-e', '0']);
  cli(['current'], env); // warms the file cache
  report.pair('cmmc-db --version', 'node -e 0', await paired(() => cli(['--version'], env), node, Math.max(RUNS, 3)), 1.2);
  report.pair('cmmc-db current (at head)', 'node -e 0', await paired(() => cli(['current'], env), node, Math.max(RUNS, 3)), 1.5);
  if (process.env.NODE_EXTRA_CA_CERTS) {
    // node -e 0 parses NODE_EXTRA_CA_CERTS as it starts and cmmc-db defers it (bin/cmmc-db): the
    // same pairs with the variable unset on both sides show cmmc-db's own cost beside Node's bare start.
    const bare = { NODE_EXTRA_CA_CERTS: undefined };
    const bareNode = () => run(process.execPath, ['-e', '0'], { env: cleanEnv(bare) });
    report.pair('cmmc-db --version, no NODE_EXTRA_CA_CERTS', 'node -e 0, none', await paired(() => cli(['--version'], { ...env, ...bare }), bareNode, Math.max(RUNS, 3)), 1.2);
    report.pair('cmmc-db current, no NODE_EXTRA_CA_CERTS', 'node -e 0, none', await paired(() => cli(['current'], { ...env, ...bare }), bareNode, Math.max(RUNS, 3)), 1.5);
  }

  const py = alembicPython();
  if (py) {
    const adb = await createDb();
    const ini = alembicProject(tempDir('cmmc-bench-alembic-'), adb.url, await platformRevisionsSql(migrationsDir));
    alembic(py, ini, ['upgrade', 'head']);
    report.pair('cmmc-db current', 'alembic current', await paired(() => cli(['current'], env), () => alembic(py, ini, ['current'])), 0.5);
    report.pair('cmmc-db history', 'alembic history', await paired(() => cli(['history'], env), () => alembic(py, ini, ['history'])), 0.5);
  } else report.note('alembic current / history', 'skipped: python3-alembic is not installed');
} finally {
  await cleanup();
}
report.print();

import { defineConfig } from 'vitest/config';

/**
 * Two projects (`npm test` runs both; `npm run test:unit` or `test:e2e` runs one):
 * - unit: pure modules (graph, retention, cron, config, splitters, rendering). No server, no
 *   build: they must pass on a machine without PostgreSQL, in seconds.
 * - e2e: everything that talks to the real server, the embedded database or the built CLI; each
 *   test makes its own database and drops it.
 * A new pure test goes in test/unit/; the older pure files are listed by name.
 */
const UNIT = [
  'test/unit/**/*.test.ts',
  'test/revision-graph.test.ts',
  'test/seed-split.test.ts',
  'test/engine-sql-text.test.ts',
  'test/backup-retention.test.ts',
  'test/config.test.ts',
  'test/doctor-units.test.ts',
];

export default defineConfig({
  test: {
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: UNIT,
          testTimeout: 10_000,
          // Projects with different maxWorkers must run in separate groups: the pure tests first.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          exclude: UNIT,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          pool: 'forks',
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
          globalSetup: ['test/helpers/global-setup.ts'],
        },
      },
    ],
  },
});

/**
 * Slow statements need pg_stat_statements preloaded, which the shared server is not (and must not
 * be restarted to be): the firing case runs on a throwaway cluster of this test's own, the "how to
 * enable it" case on the shared server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { runCliJson } from './helpers/cli.js';
import { createTestDatabase } from './helpers/server.js';
import { startTempCluster, type TempCluster } from './helpers/temp-cluster.js';

function check(data: any, id: string): any {
  return data.checks.find((c: any) => c.id === id);
}

describe('doctor slow-queries without pg_stat_statements', () => {
  it('is skipped (exit 0, not 3: a stock server is not a fault) and says exactly how to enable it', async () => {
    const tdb = await createTestDatabase('doctor_nopss');
    try {
      const r = await runCliJson(['doctor', 'slow-queries'], { url: tdb.url });
      expect(r.exitCode).toBe(0);
      const s = check(r.data, 'slow-queries.top');
      expect(s.status).toBe('skipped');
      expect(s.figure).toContain('not in shared_preload_libraries');
      expect(s.remedy).toContain("shared_preload_libraries = 'pg_stat_statements'");
      expect(s.remedy).toContain('restart PostgreSQL');
      expect(s.remedy).toContain('CREATE EXTENSION pg_stat_statements');
    } finally {
      await tdb.drop();
    }
  });
});

describe('doctor slow-queries on a cluster that preloads pg_stat_statements', () => {
  let cluster: TempCluster;
  beforeAll(async () => {
    cluster = await startTempCluster({ shared_preload_libraries: 'pg_stat_statements' });
    const admin = postgres(cluster.url(), { max: 1, onnotice: () => {} });
    await admin`CREATE DATABASE app`;
    await admin`CREATE DATABASE bare`;
    await admin.end();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('preloaded but not installed in the database: says to CREATE EXTENSION', async () => {
    const r = await runCliJson(['doctor', 'slow-queries.top'], { url: cluster.url('bare') });
    expect(r.exitCode).toBe(0);
    const s = check(r.data, 'slow-queries.top');
    expect(s.status).toBe('skipped');
    expect(s.figure).toContain('preloaded but not installed');
    expect(s.remedy).toContain('CREATE EXTENSION pg_stat_statements');
  });

  it('statements over the mean-time threshold with enough calls warn, slowest first, with calls', async () => {
    const app = postgres(cluster.url('app'), { max: 1, onnotice: () => {} });
    try {
      await app`CREATE EXTENSION pg_stat_statements`;
      await app`SELECT pg_stat_statements_reset()`;
      for (let i = 0; i < 3; i++) await app`SELECT pg_sleep(0.05)`;
      for (let i = 0; i < 5; i++) await app`SELECT 1 + ${i}::int AS quick`;
    } finally {
      await app.end();
    }
    const dflt = await runCliJson(['doctor', 'slow-queries'], { url: cluster.url('app') });
    // PgHero's default: 20 ms mean over 100+ calls; three calls are not enough.
    expect(check(dflt.data, 'slow-queries.top').status).toBe('ok');
    expect(dflt.exitCode).toBe(0);

    const r = await runCliJson(['doctor', 'slow-queries', '--threshold', 'slow-query-ms=20', '--threshold', 'slow-query-calls=3'], { url: cluster.url('app') });
    expect(r.exitCode).toBe(1);
    const s = check(r.data, 'slow-queries.top');
    expect(s.status).toBe('warn');
    const slow = s.rows.filter((x: any) => x.slow);
    expect(slow).toHaveLength(1);
    expect(slow[0].query).toContain('pg_sleep');
    expect(slow[0].calls).toBe(3);
    expect(slow[0].mean_ms).toBeGreaterThanOrEqual(50);
    expect(s.figure).toContain('pg_sleep');
    // The doctor's own catalogue queries are not in the list.
    expect(s.rows.some((x: any) => x.query.includes('pg_stat_activity') || x.query.includes('pg_index'))).toBe(false);
  });
});

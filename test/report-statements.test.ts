/**
 * doctor --record with pg_stat_statements (a throwaway cluster that preloads it): each run keeps
 * the top statements, and the report's queries section ranks them by total and mean time and
 * draws their trend over the runs. Also: connection counts are recorded, replication is not (a
 * single server).
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliJson } from './helpers/cli.js';
import { startTempCluster, type TempCluster } from './helpers/temp-cluster.js';

describe('report queries from recorded pg_stat_statements figures', () => {
  let cluster: TempCluster;
  beforeAll(async () => {
    cluster = await startTempCluster({ shared_preload_libraries: 'pg_stat_statements' });
    const admin = postgres(cluster.url(), { max: 1, onnotice: () => {} });
    await admin`CREATE DATABASE app`;
    await admin.end();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('records the top statements per run and charts their total time over the runs', async () => {
    const url = cluster.url('app');
    const app = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await app`CREATE EXTENSION pg_stat_statements`;
      await app`CREATE TABLE t (id int)`;
      await app`SELECT pg_stat_statements_reset()`;
      for (const calls of [20, 40]) {
        for (let i = 0; i < calls; i++) await app.unsafe('SELECT count(*) FROM generate_series(1, 20000) g WHERE g % 7 = 0');
        const r = await runCliJson(['doctor', 'slow-queries', '--record'], { url });
        expect(r.data.recorded.id, r.stderr).toBeGreaterThan(0);
      }
      const [run] = await app<{ statements: any[]; connections: any; replication: any }[]>`
        SELECT statements, connections, replication FROM cmmc_db.doctor_runs ORDER BY id DESC LIMIT 1`;
      const mine = run.statements.find((s) => s.query.includes('generate_series'));
      expect(mine.calls).toBe(60);
      const [{ max }] = await app<{ max: number }[]>`SELECT current_setting('max_connections')::int AS max`;
      expect(run.connections.max).toBe(max);
      expect(run.connections.total).toBeGreaterThanOrEqual(1);
      expect(run.replication).toBeNull();

      const report = await runCliJson(['report'], { url });
      expect(report.exitCode, report.stderr).toBe(0);
      const q = report.data.queries;
      expect(q.available).toBe(true);
      expect(q.byTotal.length).toBeGreaterThan(0);
      expect(q.byTotal.map((s: any) => s.total_ms)).toEqual([...q.byTotal.map((s: any) => s.total_ms)].sort((a: number, b: number) => b - a));
      expect(q.byMean.map((s: any) => s.mean_ms)).toEqual([...q.byMean.map((s: any) => s.mean_ms)].sort((a: number, b: number) => b - a));
      expect(q.trend.runs).toHaveLength(2);
      const series = q.trend.series.find((s: any) => s.name === mine.query);
      expect(series.values).toHaveLength(2);
      expect(series.values[0]).toBeLessThanOrEqual(series.values[1]);
    } finally {
      await app.end();
    }
  }, 180_000);
});

/**
 * doctor --record with pg_stat_statements (a throwaway cluster that preloads it): each run keeps
 * the top statements, and the report's queries section ranks them by total and mean time and
 * draws their trend over the runs. Also: connection counts are recorded, replication is not (a
 * single server).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { startTempCluster, type TempCluster } from './helpers/temp-cluster.js';

describe('report queries from recorded pg_stat_statements figures', () => {
  let cluster: TempCluster;
  beforeAll(async () => {
    // checkpoint_completion_target 0: pg_basebackup's spread checkpoint (for the standby) does not wait minutes.
    cluster = await startTempCluster({ shared_preload_libraries: 'pg_stat_statements', checkpoint_completion_target: '0' });
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
        // Before the second run the server gets a replication slot: replication figures appear.
        if (calls === 40) await app`SELECT pg_create_physical_replication_slot('report_test_slot', true)`;
        for (let i = 0; i < calls; i++) await app.unsafe('SELECT count(*) FROM generate_series(1, 20000) g WHERE g % 7 = 0');
        const r = await runCliJson(['doctor', 'slow-queries', '--record'], { url });
        expect(r.data.recorded.id, r.stderr).toBeGreaterThan(0);
      }
      const [first, run] = await app<{ statements: any[]; connections: any; replication: any }[]>`
        SELECT statements, connections, replication FROM cmmc_db.doctor_runs ORDER BY id`;
      const mine = run.statements.find((s) => s.query.includes('generate_series'));
      expect(mine.calls).toBe(60);
      const [{ max }] = await app<{ max: number }[]>`SELECT current_setting('max_connections')::int AS max`;
      expect(run.connections.max).toBe(max);
      expect(run.connections.total).toBeGreaterThanOrEqual(1);
      expect(first.replication).toBeNull();
      expect(run.replication).toMatchObject({ role: 'primary', standbys: [], slots: [{ slot: 'report_test_slot', active: false }] });

      const report = await runCliJson(['report'], { url });
      expect(report.exitCode, report.stderr).toBe(0);
      expect(report.data.health.replication).toMatchObject({ role: 'primary', standbys: 0, slots: 1 });
      expect(report.data.health.connections.runs).toHaveLength(2);
      expect(report.data.health.connections.max).toBe(max);
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

  it('records a streaming standby: the run on the primary names it; on the read-only standby recording is refused in one line', async () => {
    const standby = await startTempCluster({ hot_standby: 'on' }, { standbyOf: cluster });
    const admin = postgres(cluster.url(), { max: 1, onnotice: () => {} });
    try {
      await expect
        .poll(async () => (await admin<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'`)[0].n, { timeout: 60_000, interval: 500 })
        .toBe(1);
      const onPrimary = await runCliJson(['doctor', 'replication', '--record'], { url: cluster.url('app') });
      expect(onPrimary.data.recorded.id, onPrimary.stderr).toBeGreaterThan(0);
      const report = await runCliJson(['report'], { url: cluster.url('app') });
      expect(report.data.health.replication).toMatchObject({ role: 'primary', standbys: 1 });
      expect(report.data.health.replication.lag).toHaveLength(1);

      // The standby is read-only: its run cannot be stored there, and it says so in one line.
      const onStandby = await runCli(['doctor', 'replication', '--record'], { url: standby.url('app') });
      expect(onStandby.exitCode).toBe(1);
      expect(onStandby.stderr).toMatch(/^error: cannot record on a read-only server \(a standby\): .* — record on the primary; its runs replicate to the standbys$/m);
      // The run itself is still shown.
      expect(onStandby.stdout).toMatch(/replication\.role\s.*is a standby/);
      expect(onStandby.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await admin.end();
      await standby.stop();
    }
  }, 180_000);

  it('keeps passwords out: a role created with one is masked in doctor, its recorded run and the page, also from a run recorded before', async () => {
    const admin = postgres(cluster.url(), { max: 1, onnotice: () => {} });
    await admin`CREATE DATABASE secrets`;
    await admin.end();
    const url = cluster.url('secrets');
    const app = postgres(url, { max: 1, onnotice: () => {} });
    const work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-report-secrets-'));
    try {
      await app`CREATE EXTENSION pg_stat_statements`;
      // pg_stat_statements keeps a utility statement's literals: these were listed verbatim.
      await app.unsafe(`CREATE ROLE report_webapp LOGIN PASSWORD 'Hunter2-create'`);
      await app.unsafe(`ALTER ROLE report_webapp PASSWORD 'Hunter2-alter'`);
      const [{ n }] = await app<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_statements WHERE query LIKE '%Hunter2-%'`;
      expect(n).toBe(2);

      const doctor = await runCli(['doctor', 'slow-queries', '--record', '--verbose'], { url });
      expect(doctor.stdout + doctor.stderr).toContain('PASSWORD');
      expect(doctor.stdout + doctor.stderr).not.toContain('Hunter2');
      const [recorded] = await app<{ text: string }[]>`SELECT (checks::text || statements::text) AS text FROM cmmc_db.doctor_runs`;
      expect(recorded.text).toContain("PASSWORD '****'");
      expect(recorded.text).not.toContain('Hunter2');
      // A run recorded before the doctor masked them holds them: the page masks it too.
      await app`INSERT INTO cmmc_db.doctor_runs (database, role, status, checks, tables, indexes, statements)
                VALUES ('secrets', 'postgres', 'ok', '[]', '[]', '[]',
                        ${JSON.stringify([{ query: "ALTER ROLE report_webapp PASSWORD 'Hunter2-old'", calls: 1, mean_ms: 99, total_ms: 99, rows: 0 }])}::text::jsonb)`;

      const file = path.join(work, 'report.html');
      const report = await runCliJson(['report', '--html', file], { url });
      expect(report.exitCode, report.stderr).toBe(0);
      expect(JSON.stringify(report.data)).toContain("PASSWORD '****'");
      expect(JSON.stringify(report.data)).not.toContain('Hunter2');
      expect(readFileSync(file, 'utf8')).not.toContain('Hunter2');
    } finally {
      await app.end();
      rmSync(work, { recursive: true, force: true });
    }
  }, 120_000);
});

/**
 * The report as operators and assessors met it on data of their own: a doctor history of
 * thousands of runs (every 15 minutes from cron for the 90 days kept), a viewer in another time
 * zone, a screen reader or a keyboard instead of a mouse. The page is opened in real chromium; its
 * figures are compared with SQL written here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';
import { openPage } from './helpers/browser.js';
import { bytes } from '../src/doctor/format.js';

const GROWN = 'public.audit_logs';

describe('report on a long doctor history', () => {
  let db: TestDatabase;
  let work: string;
  const env = () => ({ DATABASE_URL: db.url });
  /** Runs recorded every 15 minutes: 1,200 is 12.5 days of them (8,640 in the 90 days kept by default). */
  const RUNS = 1200;

  beforeAll(async () => {
    db = await createTestDatabase('cmmc_report_history');
    work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-report-history-'));
    const up = await runCli(['upgrade', 'head'], { env: env() });
    expect(up.exitCode, up.stderr).toBe(0);
    await query(db.url, `INSERT INTO organizations (name, organization_type) VALUES ('Acme', 'SMB')`);
    const r = await runCliJson(['doctor', '--record'], { env: env() });
    expect(r.data.recorded.id, r.stderr).toBeGreaterThan(0);
    // Copies of the real run going back in time, the grown table smaller the older the run.
    await query(
      db.url,
      `INSERT INTO cmmc_db.doctor_runs (recorded_at, database, role, status, embedded, checks, tables, indexes, statements, connections, replication)
       SELECT r.recorded_at - make_interval(mins => 15 * g), database, role, status, embedded, checks,
              (SELECT jsonb_agg(CASE WHEN t->>'table' = $2 THEN jsonb_set(t, '{total_bytes}', to_jsonb(1000000 - g)) ELSE t END) FROM jsonb_array_elements(tables) t),
              indexes, statements, connections, replication
         FROM cmmc_db.doctor_runs r, generate_series(1, $1::int - 1) g`,
      [RUNS, GROWN],
    );
  }, 180_000);

  /** `report --html` into the work folder: the file and the --json data. */
  async function writeReport(name: string): Promise<{ file: string; data: any; stderr: string }> {
    const file = path.join(work, name);
    const r = await runCliJson(['report', '--html', file], { env: env() });
    expect(r.exitCode, r.stderr).toBe(0);
    return { file, data: r.data, stderr: r.stderr };
  }

  afterAll(async () => {
    await db?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('charts at most 500 of them, first and latest among them, and counts every one as evidence', async () => {
    // Every run with its checks was read: 8,640 runs outlasted the doctor's 10 s statement timeout (exit 1).
    const r = await writeReport('report.html');
    const { file } = r;
    expect(r.stderr).toContain(`${RUNS} recorded run(s)`);
    const g = r.data.growth;
    const all = await query<{ id: string; at: Date }>(db.url, 'SELECT id, recorded_at AS at FROM cmmc_db.doctor_runs ORDER BY recorded_at, id');
    expect(all).toHaveLength(RUNS);
    expect(g.runs.length).toBeLessThanOrEqual(500);
    expect(g.runs.length).toBeGreaterThan(400);
    expect(g.recorded).toEqual({ runs: RUNS, first: all[0].at.toISOString(), last: all.at(-1)!.at.toISOString() });
    expect(g.runs[0].id).toBe(Number(all[0].id));
    expect(g.runs.at(-1).id).toBe(Number(all.at(-1)!.id));
    expect(g.runsNote).toMatch(new RegExp(`^the charts draw ${g.runs.length} of the ${RUNS} recorded runs`));
    const ca = r.data.evidence.items.find((i: any) => i.practices.includes('CA.L2-3.12.3'));
    expect(ca.figures).toEqual([{ label: 'recorded runs', value: RUNS }]);
    expect([ca.from, ca.to]).toEqual([all[0].at.toISOString(), all.at(-1)!.at.toISOString()]);

    // The chart's points are the database's figures of the runs it draws.
    const stored = await query<{ id: string; bytes: number }>(
      db.url,
      `SELECT id, (SELECT (t->>'total_bytes')::float8 FROM jsonb_array_elements(tables) t WHERE t->>'table' = $1) AS bytes
         FROM cmmc_db.doctor_runs WHERE id = ANY($2::bigint[])`,
      [GROWN, g.runs.map((x: any) => x.id)],
    );
    const byId = new Map(stored.map((s) => [Number(s.id), s.bytes]));
    const opened = await openPage(pathToFileURL(file).href);
    try {
      expect(opened.errors).toEqual([]);
      expect(opened.requests).toEqual([]);
      const drawn = await opened.page.evaluate((name) => {
        const chart = (window as any).cmmcCharts.tables;
        const i = chart.series.findIndex((s: any) => s.label === name);
        return { xs: chart.data[0] as number[], ys: chart.data[i] as number[] };
      }, GROWN);
      expect(drawn.ys).toEqual(g.runs.map((x: any) => byId.get(x.id)));
      expect(drawn.xs).toEqual(g.runs.map((x: any) => Date.parse(x.at) / 1000));
      expect(await opened.page.locator('#growth').textContent()).toContain(`${RUNS} recorded run(s) from ${all[0].at.toISOString()}`);
    } finally {
      await opened.close();
    }
  }, 120_000);

  it('charts read in UTC wherever the page is opened, like every other instant on it', async () => {
    // The charts were drawn in the viewer's zone: in New York "2:49pm" beside runs listed as 19:49Z.
    const { file, data } = await writeReport('zones.html');
    const last = data.growth.runs.at(-1).at as string;
    for (const timezoneId of ['America/New_York', 'Asia/Kolkata']) {
      const opened = await openPage(pathToFileURL(file).href, { timezoneId });
      try {
        const legend = await opened.page.evaluate(() => {
          const chart = (window as any).cmmcCharts.tables;
          const xs = chart.data[0] as number[];
          chart.setCursor({ left: chart.valToPos(xs[xs.length - 1], 'x'), top: 10 });
          return chart.root.querySelector('.u-legend .u-series .u-value').textContent;
        });
        expect(legend, timezoneId).toBe(last.slice(0, 19).replace('T', ' '));
      } finally {
        await opened.close();
      }
    }
  }, 120_000);

  it('each chart is an image with a name and its figures are a table, reached with the keyboard', async () => {
    const r = await writeReport('a11y.html');
    const { file } = r;
    const g = r.data.growth;
    const opened = await openPage(pathToFileURL(file).href);
    try {
      const { page } = opened;
      for (const id of ['chart-tables', 'chart-indexes', 'chart-connections']) {
        // The canvas said nothing to a screen reader; the legend was read out as names with empty values.
        const chart = page.locator(`#${id}`);
        expect(await chart.getAttribute('role'), id).toBe('img');
        expect(await chart.getAttribute('aria-label'), id).toMatch(/^Chart of .+ over \d+ recorded run\(s\) from .+: .+\. The figures are in the table that follows\.$/);
        expect(await chart.ariaSnapshot(), id).not.toContain('--');
        expect(await page.locator(`details.chart-data[data-chart=${id}] table`).count(), id).toBe(1);
      }
      // With Tab alone, the table of the size chart opens and holds one row per charted run,
      // the grown table's sizes as the database recorded them.
      let focused = '';
      for (let i = 0; i < 60 && focused !== 'chart-tables'; i++) {
        await page.keyboard.press('Tab');
        focused = await page.evaluate(() => document.activeElement?.closest('details.chart-data')?.getAttribute('data-chart') ?? '');
      }
      expect(focused).toBe('chart-tables');
      await page.keyboard.press('Enter');
      const data = page.locator('details.chart-data[data-chart=chart-tables]');
      expect(await data.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(true);
      const head = await data.locator('thead th').allTextContents();
      expect(head[0]).toBe('recorded at (UTC)');
      const column = head.indexOf(GROWN);
      const rows = await data.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
      expect(rows).toHaveLength(g.runs.length);
      const stored = await query<{ at: Date; bytes: number }>(
        db.url,
        `SELECT recorded_at AS at, (SELECT (t->>'total_bytes')::float8 FROM jsonb_array_elements(tables) t WHERE t->>'table' = $1) AS bytes
           FROM cmmc_db.doctor_runs WHERE id = ANY($2::bigint[]) ORDER BY recorded_at, id`,
        [GROWN, g.runs.map((x: any) => x.id)],
      );
      expect(rows.map((cells) => [cells[0], cells[column]])).toEqual(stored.map((s) => [s.at.toISOString(), bytes(s.bytes)]));

      // The revision graph was read out as "revision graph" and nothing more; now its revisions are a table too.
      const history = await runCliJson(['history'], { env: env() });
      expect(await page.locator('svg.graph').getAttribute('aria-label')).toBe(
        `Revision graph: ${history.data.length} revision(s), head(s) ${r.data.schema.heads.join(', ')}, current ${r.data.schema.current.join(', ')}. The revisions are in the table that follows.`,
      );
      const revisions = await page
        .locator('details.chart-data[data-chart=revision-graph] tbody tr')
        .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
      expect(revisions.map((c) => [c[0], c[2]]).sort()).toEqual(history.data.map((h: any) => [h.revision, h.downRevisions.join(', ')]).sort());
    } finally {
      await opened.close();
    }
  }, 120_000);
});

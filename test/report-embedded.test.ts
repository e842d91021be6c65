/**
 * doctor --record and report on the embedded database (PGlite), with a revision folder that
 * branches and merges: what it records there (sizes, revisions) is in the page, the sections that
 * need a server say so, and the graph draws the branch, the merge and the pending head.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { embeddedBackend } from './helpers/backends.js';
import { openPage } from './helpers/browser.js';

describe('report on the embedded database', () => {
  it('records runs, draws branches and merges, and names what needs a server', async () => {
    const target = await embeddedBackend.create();
    const work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-report-embedded-'));
    const migrations = path.join(work, 'migrations');
    mkdirSync(migrations);
    const env = { ...target.env, CMMC_MIGRATIONS_DIR: migrations };
    const cli = async (args: string[]) => {
      const r = await runCli(args, { env, cwd: work });
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r;
    };
    try {
      // a ─┬─ b ─┬─ d ─ e   (d is a merge; the database stops at d, e is pending). The revisions
      // themselves grow a table between the two recorded runs.
      const write = (id: string, message: string, down: string[], up = '') =>
        writeFileSync(
          path.join(migrations, `${id}_${message}.sql`),
          `-- revision: ${id}\n-- down_revision: ${down.join(', ')}\n-- message: ${message}\n-- branch_labels: \n-- depends_on: \n-- transactional: true\n\n-- migrate:up\n${up}\n-- migrate:down\n`,
        );
      const fill = (from: number, to: number) => `INSERT INTO public.notes SELECT g, repeat('x', 300) FROM generate_series(${from}, ${to}) g;\n`;
      write('a00000000001', 'base', [], 'CREATE TABLE public.notes (id int PRIMARY KEY, body text);\n' + fill(1, 200));
      write('b00000000002', 'left', ['a00000000001']);
      write('c00000000003', 'right', ['a00000000001'], fill(201, 2000));
      write('d00000000004', 'join', ['b00000000002', 'c00000000003']);
      write('e00000000005', 'after', ['d00000000004']);
      for (const step of ['b00000000002', 'd00000000004']) {
        await cli(['upgrade', step]);
        const r = await runCliJson(['doctor', '--record'], { env, cwd: work });
        expect(r.data.recorded.id, r.stderr).toBeGreaterThan(0);
      }

      // One run gives both: the page and, with --json, its data.
      const file = path.join(work, 'report.html');
      const r = await runCliJson(['report', '--html', file], { env, cwd: work });
      expect(r.exitCode, r.stderr).toBe(0);
      const data = r.data;
      expect(data.embedded).toBe(true);
      expect(data.needsServer.map((n: any) => n.section)).toEqual(['health', 'growth', 'queries']);
      expect(data.queries.available).toBe(false);
      const notes = data.growth.tables.find((s: any) => s.name === 'public.notes');
      expect(notes.values).toHaveLength(2);
      expect(notes.values[0]).toBeLessThan(notes.values[1]);
      const byId = Object.fromEntries(data.schema.revisions.map((x: any) => [x.revision, x]));
      expect(byId.a00000000001).toMatchObject({ branchPoint: true, applied: true });
      expect(byId.d00000000004).toMatchObject({ merge: true, current: true, applied: true, parents: ['b00000000002', 'c00000000003'] });
      expect(byId.e00000000005).toMatchObject({ head: true, applied: false });
      expect(data.schema.log.map((l: any) => l.revision)).toEqual(['a00000000001', 'b00000000002', 'c00000000003', 'd00000000004']);
      expect(data.growth.runs).toHaveLength(2);
      expect(data.evidence.items.find((i: any) => i.practices.includes('CA.L2-3.12.3')).figures[0].value).toBe(2);

      const opened = await openPage(pathToFileURL(file).href);
      try {
        const { page } = opened;
        expect(opened.errors).toEqual([]);
        expect(opened.requests).toEqual([]);
        expect(await page.locator('svg.graph g.revision').count()).toBe(5);
        expect(await page.locator('svg.graph g.revision[data-merge=true][data-state=current]').getAttribute('data-revision')).toBe('d00000000004');
        expect(await page.locator('svg.graph g.revision[data-state=pending]').getAttribute('data-revision')).toBe('e00000000005');
        // The branch is drawn in a second lane.
        const xs = await page.locator('svg.graph circle.node').evaluateAll((cs) => cs.map((c) => c.getAttribute('cx')));
        expect(new Set(xs).size).toBe(2);
        expect(await page.locator('#queries .note.server').textContent()).toMatch(/needs a PostgreSQL server — top statements \(pg_stat_statements\)/);
        const points = await page.evaluate(() => {
          const chart = (window as any).cmmcCharts.tables;
          const i = chart.series.findIndex((s: any) => s.label === 'public.notes');
          return (chart.data[i] as (number | null)[]).filter((v) => v !== null).length;
        });
        expect(points).toBe(2);
      } finally {
        await opened.close();
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
      await target.drop();
    }
  }, 180_000);
});

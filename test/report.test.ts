/**
 * doctor --record and cmmc-db report against the real server, the page opened in real headless
 * chromium: three recorded runs with data growing between them, a verified backup and a restore
 * drill; the page loads with no console error and no request, shows every section, charts three
 * points for the grown table, draws every revision and the backup and drill; the evidence figures
 * equal what the database says. A screenshot goes to test-artifacts/ (not committed).
 */
import { chmodSync, existsSync, mkdirSync, statSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';
import { openPage } from './helpers/browser.js';

const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const GROWN = 'public.audit_logs';

describe('report on the server', () => {
  let db: TestDatabase;
  let work: string;
  let backups: string;
  const env = () => ({ DATABASE_URL: db.url });

  async function grow(rows: number): Promise<void> {
    await query(
      db.url,
      `INSERT INTO audit_logs (organization_id, action, entity_type, entity_id, changes, created_at)
       SELECT (SELECT id FROM organizations LIMIT 1), 'VIEW', 'document', g::text, jsonb_build_object('n', g, 'pad', repeat('x', 200)),
              now() - make_interval(mins => g)
         FROM generate_series(1, $1::int) g`,
      [rows],
    );
  }

  beforeAll(async () => {
    db = await createTestDatabase('cmmc_report');
    work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-report-'));
    backups = path.join(work, 'backups');
    const up = await runCli(['upgrade', 'head'], { env: env() });
    expect(up.exitCode, up.stderr).toBe(0);
    await query(db.url, `INSERT INTO organizations (name, organization_type) VALUES ('Acme', 'SMB'), ('Beta', 'Enterprise')`);
    for (const rows of [500, 1500, 3000]) {
      await grow(rows);
      const r = await runCliJson(['doctor', '--record'], { env: env() });
      expect(r.data.recorded.id, r.stderr).toBeGreaterThan(0);
    }
    const b = await runCli(['backup', 'create', '--dir', backups, '--verify'], { env: env() });
    expect(b.exitCode, b.stderr).toBe(0);
    const v = await runCli(['backup', 'verify', '--dir', backups, '--restore-test'], { env: env() });
    expect(v.exitCode, v.stderr).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await db?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('doctor --record stores each run with its checks and table sizes; the size of the grown table rises', async () => {
    const runs = await query<{ id: string; status: string; n_checks: number; bytes: number }>(
      db.url,
      `SELECT id, status, jsonb_array_length(checks) AS n_checks,
              (SELECT (t->>'total_bytes')::float8 FROM jsonb_array_elements(tables) t WHERE t->>'table' = $1) AS bytes
         FROM cmmc_db.doctor_runs ORDER BY id`,
      [GROWN],
    );
    expect(runs).toHaveLength(3);
    const listed = await runCliJson(['doctor', '--list']);
    for (const r of runs) expect(r.n_checks).toBe(listed.data.length);
    expect(runs[0].bytes).toBeLessThan(runs[1].bytes);
    expect(runs[1].bytes).toBeLessThan(runs[2].bytes);
  });

  it('renders one self-contained page that chromium shows with no error and no request, every section, the charts and pictures', async () => {
    const file = path.join(work, 'report.html');
    const r = await runCli(['report', '--html', file, '--dir', backups], { env: env() });
    expect(r.exitCode, r.stderr).toBe(0);
    // Every role's statements and every tenant's sizes: readable by its owner only, as the runs table is
    // kept from roles that read one tenant (it was written 0644, readable by every user of the machine).
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const html = readFileSync(file, 'utf8');
    // Self-contained: no external script, style, image or font.
    expect(html).not.toMatch(/<(script|link|img|iframe)[^>]+(src|href)=/i);

    const opened = await openPage(pathToFileURL(file).href);
    try {
      const { page } = opened;
      expect(opened.errors).toEqual([]);
      expect(opened.requests).toEqual([]);
      for (const id of ['health', 'growth', 'queries', 'schema', 'backups', 'evidence']) {
        expect(await page.locator(`section#${id}[data-section=${id}]`).count(), id).toBe(1);
      }
      // Health: every check of the doctor, with its status.
      const listed = await runCliJson(['doctor', '--list']);
      expect(await page.locator('tr.check').count()).toBe(listed.data.length);

      // Growth: the size chart has three points for the grown table, rising.
      const points = await page.evaluate((name) => {
        const chart = (window as any).cmmcCharts.tables;
        const i = chart.series.findIndex((s: any) => s.label === name);
        return i < 0 ? null : (chart.data[i] as (number | null)[]).filter((v) => v !== null);
      }, GROWN);
      expect(points).toHaveLength(3);
      expect(points![0]).toBeLessThan(points![2]);
      expect(await page.locator('#chart-tables canvas').count()).toBeGreaterThan(0);
      // Connections: one point per recorded run.
      expect(await page.evaluate(() => (window as any).cmmcCharts.connections.data[0].length)).toBe(3);

      // Schema: every revision file is a node of the graph; the head is marked current.
      const history = await runCliJson(['history']);
      const drawn = await page.locator('svg.graph g.revision').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-revision')));
      expect(drawn.sort()).toEqual(history.data.map((h: any) => h.revision).sort());
      expect(await page.locator('svg.graph g.revision[data-state=current][data-head=true]').count()).toBe(1);
      const edges = await page.locator('svg.graph path.edge').count();
      expect(edges).toBe(history.data.reduce((a: number, h: any) => a + h.downRevisions.length, 0));

      // Health reads the same backup folder as the backups section.
      expect(await page.locator('tr.check[data-check="backups.recent"]').getAttribute('data-status')).toBe('ok');

      // Backups: a verified backup and a passed drill on the timeline.
      expect(await page.locator('svg.timeline g[data-kind=backup][data-verified=verified]').count()).toBe(1);
      expect(await page.locator('svg.timeline g[data-kind=drill][data-result=pass]').count()).toBe(1);

      // Evidence: the figures on the page are the database's.
      const [audit] = await query<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM audit_logs');
      const figure = (practice: string, label: string) =>
        page.locator(`article.evidence[data-practices~="${practice}"] tr[data-figure="${label}"] td`).first().textContent();
      expect(await figure('AU.L2-3.3.1', 'audit records')).toBe(String(audit.n));
      const [log] = await query<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM cmmc_db.revision_log');
      expect(await figure('CM.L2-3.4.3', 'recorded changes')).toBe(String(log.n));
      const [orgs] = await query<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM organizations');
      expect(await figure('AC.L2-3.1.1', 'organizations')).toBe(String(orgs.n));
      expect(await figure('CA.L2-3.12.3', 'recorded runs')).toBe('3');
      expect(await figure('MP.L2-3.8.9', 'backups')).toBe('1');
      expect(await page.locator('#evidence').textContent()).not.toMatch(/\b(compliant|non-compliant|passes the practice|MET|NOT MET)\b/);

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'report.png'), fullPage: true });
    } finally {
      await opened.close();
    }
  }, 120_000);

  it('fits a phone\'s width and a printed page: no sideways scrolling of the page, every chart inside its section', async () => {
    const file = path.join(work, 'narrow.html');
    const r = await runCli(['report', '--html', file, '--dir', backups], { env: env() });
    expect(r.exitCode, r.stderr).toBe(0);
    /** What sticks out: the page wider than the window, or a chart, picture or table past its section's right edge. */
    const overflow = () =>
      (window as any).eval(`(() => {
        const out = [];
        const root = document.documentElement;
        if (root.scrollWidth > root.clientWidth) out.push('page ' + root.scrollWidth + ' > ' + root.clientWidth);
        for (const el of document.querySelectorAll('.chart canvas, .chart .u-legend, svg.graph, svg.timeline, section table')) {
          const section = el.closest('section').getBoundingClientRect();
          // A picture or a table in its own scroll box (on a screen) may be wider: the box is not.
          const box = el.closest('.graph-wrap, .timeline-wrap, .table-wrap');
          const right = (box && getComputedStyle(box).overflowX !== 'visible' ? box : el).getBoundingClientRect().right;
          if (right > section.right + 1) out.push(el.tagName + ' in #' + el.closest('section').id + ': ' + Math.round(right) + ' > ' + Math.round(section.right));
        }
        return out;
      })()`) as string[];
    // A phone (375 CSS pixels): the checks table and the charts were 770 and 480+ pixels wide.
    const phone = await openPage(pathToFileURL(file).href, { width: 375 });
    try {
      expect(phone.errors).toEqual([]);
      expect(await phone.page.locator('#chart-tables canvas').count()).toBeGreaterThan(0);
      expect(await phone.page.evaluate(overflow)).toEqual([]);
      // Words stay whole: squeezed into 375 pixels, the tables broke them anywhere ("sch / em / a.m / igra / tion",
      // headers "ap / pl / ie / d at"). A check id, a revision id and a column heading each fit on one line
      // (one with a hyphen may wrap after it, as text does).
      const broken = await phone.page.evaluate(() =>
        [...document.querySelectorAll('tr.check td:first-child, table.log td:nth-child(3), section th')]
          .filter((cell) => /^[^\s-]+$/.test(cell.textContent!.trim()) && !cell.closest('details:not([open]), .u-legend'))
          .filter((cell) => {
            const range = document.createRange();
            range.selectNodeContents(cell);
            return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1;
          })
          .map((cell) => cell.textContent),
      );
      expect(broken).toEqual([]);
    } finally {
      await phone.close();
    }
    // Printed on A4 (about 718 CSS pixels between the margins) from a wide window: the charts kept
    // the 1100 pixels of the screen and the pictures their own width, cut off at the paper's edge.
    const wide = await openPage(pathToFileURL(file).href, { width: 1280 });
    try {
      await wide.page.emulateMedia({ media: 'print' });
      await wide.page.setViewportSize({ width: 718, height: 1000 });
      expect(await wide.page.evaluate(overflow)).toEqual([]);
    } finally {
      await wide.close();
    }
  }, 120_000);

  it('--json gives the same data, and its evidence dates are the database\'s', async () => {
    const r = await runCliJson(['report', '--dir', backups], { env: env() });
    expect(r.exitCode, r.stderr).toBe(0);
    const data = r.data;
    expect(data.growth.runs).toHaveLength(3);
    const grown = data.growth.tables.find((s: any) => s.name === GROWN);
    expect(grown.values.every((v: number | null) => v !== null)).toBe(true);

    const [audit] = await query<{ first: Date; last: Date; n: number }>(db.url, 'SELECT min(created_at) AS first, max(created_at) AS last, count(*)::int AS n FROM audit_logs');
    const item = data.evidence.items.find((i: any) => i.practices.includes('AU.L2-3.3.8'));
    expect(item.from).toBe(audit.first.toISOString());
    expect(item.to).toBe(audit.last.toISOString());
    expect(item.figures.find((f: any) => f.label === 'audit records').value).toBe(audit.n);

    const log = await query<{ applied_at: Date }>(db.url, 'SELECT applied_at FROM cmmc_db.revision_log ORDER BY applied_at, id');
    const cm = data.evidence.items.find((i: any) => i.practices.includes('CM.L2-3.4.3'));
    expect(cm.from).toBe(log[0].applied_at.toISOString());
    expect(cm.to).toBe(log.at(-1)!.applied_at.toISOString());
    expect(data.schema.log).toHaveLength(log.length);

    const tenant = await query<{ n: number; rls: number }>(
      db.url,
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE c.relrowsecurity)::int AS rls
         FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
        WHERE s.nspname = 'public' AND c.relkind = 'r'
          AND (c.relname = 'organizations' OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped))`,
    );
    const ac = data.evidence.items.find((i: any) => i.practices.includes('AC.L2-3.1.3'));
    expect(ac.figures.find((f: any) => f.label === 'tenant tables').value).toBe(tenant[0].n);
    expect(ac.figures.find((f: any) => f.label === 'RLS enabled').value).toBe(tenant[0].rls);
    // The doctor's tenant check is quoted as a fact, as the health section shows it.
    const check = data.health.checks.find((c: any) => c.id === 'tenant.isolation');
    expect(ac.facts).toContain(`doctor tenant.isolation at ${data.generatedAt}: ${check.status} — ${check.figure}`);

    const manifest = JSON.parse(readFileSync(path.join(backups, data.backups.backups[0].name + '.manifest.json'), 'utf8'));
    expect(data.backups.newestVerified.name).toBe(manifest.name);
    expect(data.backups.drills).toHaveLength(1);
    expect(data.backups.drills[0]).toMatchObject({ backup: manifest.name, result: 'pass' });

    // Protected at rest: read from the file's mode, not assumed.
    const mp = (d: any) => d.evidence.items.find((i: any) => i.practices.length === 1 && i.practices[0] === 'MP.L2-3.8.9');
    const dataFile = path.join(backups, manifest.file);
    expect(statSync(dataFile).mode & 0o077).toBe(0);
    expect(mp(data).figures.find((f: any) => f.label === 'owner-only files').value).toBe(1);
    chmodSync(dataFile, 0o644);
    try {
      const loose = await runCliJson(['report', '--dir', backups], { env: env() });
      expect(mp(loose.data).figures.find((f: any) => f.label === 'owner-only files').value).toBe(0);
      expect(mp(loose.data).facts).toContain('0 of 1 backup file(s) readable by their owner only (no group or other permissions).');
    } finally {
      chmodSync(dataFile, 0o600);
    }
  });

  it('--open hands the page to $BROWSER (here chromium itself, headless, dumping what it rendered)', async () => {
    const file = path.join(work, 'opened.html');
    const dumped = path.join(work, 'dumped.html');
    const browser = path.join(work, 'browser.sh');
    writeFileSync(
      browser,
      `#!/bin/sh\nexec /usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-background-networking --dump-dom "$1" > '${dumped}' 2>/dev/null\n`,
      { mode: 0o755 },
    );
    const r = await runCli(['report', '--html', file, '--dir', backups, '--open'], { env: { ...env(), BROWSER: browser } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain(`opened with ${browser}`);
    await expect.poll(() => (existsSync(dumped) ? readFileSync(dumped, 'utf8') : ''), { timeout: 60_000, interval: 500 }).toContain('id="evidence"');
    // The dumped DOM is after the page's script ran: the charts were drawn.
    expect(readFileSync(dumped, 'utf8')).toContain('class="uplot');

    const none = await runCli(['report', '--html', file, '--dir', backups, '--open'], { env: { ...env(), BROWSER: undefined, DISPLAY: undefined, WAYLAND_DISPLAY: undefined } });
    expect(none.exitCode, none.stderr).toBe(0);
    expect(none.stderr).toContain(`not opened: no browser here (no $BROWSER and no display); open ${file} yourself`);
  }, 120_000);

  it('retention: runs older than --retention-days are deleted when a run is recorded', async () => {
    await query(db.url, `UPDATE cmmc_db.doctor_runs SET recorded_at = now() - interval '40 days' WHERE id = (SELECT min(id) FROM cmmc_db.doctor_runs)`);
    // report --days 30 leaves the old run out of the charts.
    const recent = await runCliJson(['report', '--days', '30', '--dir', backups], { env: env() });
    const all = await query<{ id: string }>(db.url, `SELECT id FROM cmmc_db.doctor_runs WHERE recorded_at >= now() - interval '30 days' ORDER BY recorded_at, id`);
    expect(recent.data.growth.runs.map((r: any) => String(r.id))).toEqual(all.map((r) => String(r.id)));
    expect(all).toHaveLength(2);
    const kept = await runCliJson(['doctor', 'sizes', '--record'], { env: env() });
    expect(kept.data.recorded).toMatchObject({ pruned: 0, retentionDays: 90 });
    const r = await runCliJson(['doctor', 'sizes', '--record', '--retention-days', '30'], { env: env() });
    expect(r.data.recorded).toMatchObject({ pruned: 1, retentionDays: 30 });
    const [n] = await query<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM cmmc_db.doctor_runs');
    expect(n.n).toBe(4);
    // A run of some checks still records the figures the report charts.
    const [last] = await query<{ tables: number; statuses: string[] }>(
      db.url,
      `SELECT jsonb_array_length(tables) AS tables FROM cmmc_db.doctor_runs ORDER BY id DESC LIMIT 1`,
    );
    expect(last.tables).toBeGreaterThan(0);
  });

  it('a table never analysed has no row estimate (null, "not analysed yet"), not 0 rows', async () => {
    // reltuples is -1 until the first ANALYZE (PostgreSQL 14+): shown as 0, the report said a table
    // of 200 rows (or cmmc_controls of 110 after init) was empty. Autovacuum off: it would analyse it.
    await query(db.url, `CREATE TABLE never_analysed (id int) WITH (autovacuum_enabled = false); INSERT INTO never_analysed SELECT generate_series(1, 200)`);
    try {
      const doctor = await runCliJson(['doctor', 'sizes.tables'], { env: env() });
      const row = doctor.data.checks[0].rows.find((r: any) => r.table === 'public.never_analysed');
      expect(row.rows).toBeNull();
      // Recorded, and in the report's latest sizes (read from the newest recorded run).
      expect((await runCliJson(['doctor', 'sizes', '--record'], { env: env() })).data.recorded.id).toBeGreaterThan(0);
      const file = path.join(work, 'never-analysed.html');
      const r = await runCliJson(['report', '--html', file, '--dir', backups], { env: env() });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.data.growth.latest.find((t: any) => t.table === 'public.never_analysed')).toMatchObject({ rows: null });
      expect(readFileSync(file, 'utf8')).toContain('<tr><td>public.never_analysed</td><td>not analysed yet</td>');
      await query(db.url, 'ANALYZE never_analysed');
      const analysed = await runCliJson(['doctor', 'sizes.tables'], { env: env() });
      expect(analysed.data.checks[0].rows.find((r: any) => r.table === 'public.never_analysed').rows).toBe(200);
    } finally {
      await query(db.url, 'DROP TABLE never_analysed');
    }
  });
});

describe('report and doctor --record: bad input', () => {
  it('says what is wrong in one line, exits 2, writes nothing', async () => {
    const bad = await runCli(['doctor', '--record', '--retention-days', 'soon'], { url: 'postgres://postgres@127.0.0.1:5432/postgres' });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.trim().split('\n').filter((l) => l.startsWith('error:'))).toEqual([
      'error: --retention-days "soon" is not a whole number of days — use a whole number of at least 1, for example --retention-days 90',
    ]);
    expect(bad.stderr).not.toMatch(/\n\s+at /);

    const none = await runCli(['report'], { url: 'postgres://postgres@127.0.0.1:5432/postgres' });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toMatch(/^error: say where the report goes: --html FILE, or --json for the data/m);

    const days = await runCli(['report', '--json', '--days', 'a week'], { url: 'postgres://postgres@127.0.0.1:5432/postgres' });
    expect(days.exitCode).toBe(2);
    expect(days.stderr).toMatch(/^error: --days "a week" is not a whole number of days — use a whole number of at least 1, for example --days 30/m);
    // Past 2^31 days PostgreSQL answered "out of range for type integer" (exit 1), and far before that
    // "timestamp out of range"; the nightly cron line of --doctor-retention-days failed every night.
    for (const args of [
      ['report', '--json', '--days', '99999999999'],
      ['report', '--json', '--days', '999999999'],
      ['doctor', '--record', '--retention-days', '999999999'],
      ['backup', 'schedule', 'install', '--print', '--doctor-at', '45 2 * * *', '--doctor-retention-days', '99999999999'],
    ]) {
      const big = await runCli(args, { url: 'postgres://postgres@127.0.0.1:5432/postgres' });
      expect(big.exitCode, args.join(' ') + big.stderr).toBe(2);
      expect(big.stderr.split('\n').filter((l) => l.startsWith('error:')), args.join(' ')).toEqual([
        expect.stringMatching(/^error: --[a-z-]+ "9+" is more than 36500 days \(100 years\) — use a whole number from 1 to 36500/),
      ]);
    }
    const open = await runCli(['report', '--json', '--open'], { url: 'postgres://postgres@127.0.0.1:5432/postgres' });
    expect(open.exitCode).toBe(2);
    expect(open.stderr).toMatch(/^error: --open needs --html FILE/m);

    const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-report-bad-'));
    try {
      const keep = path.join(dir, 'notes.html');
      writeFileSync(keep, '<p>my notes</p>');
      const r = await runCli(['report', '--html', keep], { url: 'postgres://postgres@127.0.0.1:5432/postgres' });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/notes\.html exists and is not a cmmc-db report: replace it: refusing without confirmation — run it again with --yes to confirm$/m);
      // report has no --dry-run: the hint named one ("unknown option '--dry-run'").
      expect(r.stderr).not.toContain('--dry-run');
      expect(readFileSync(keep, 'utf8')).toBe('<p>my notes</p>');

      // A folder was offered to be replaced; with --yes the whole report was collected, then "EISDIR".
      mkdirSync(path.join(dir, 'reports'));
      for (const given of [path.join(dir, 'reports'), path.join(dir, 'reports') + '/']) {
        const folder = await runCli(['report', '--html', given, '--yes'], { url: 'postgres://postgres@127.0.0.1:5432/postgres' });
        expect(folder.exitCode, folder.stderr).toBe(2);
        expect(folder.stderr.split('\n').filter((l) => l.startsWith('error:'))).toEqual([
          `error: ${given} is a folder — name a file in it, for example --html ${path.join(given, 'report.html')}`,
        ]);
        expect(folder.stderr).not.toMatch(/^database:/m);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('backup schedule can install doctor --record beside the nightly backup', async () => {
    const r = await runCliJson(['backup', 'schedule', 'install', '--print', '--doctor-at', '45 2 * * *', '--doctor-retention-days', '120', '--dir', '/var/backups/cmmc']);
    expect(r.exitCode).toBe(0);
    const doctor = r.data.lines.filter((l: string) => l.includes(' doctor --record'));
    expect(doctor).toHaveLength(1);
    expect(doctor[0]).toMatch(/^45 2 \* \* \* .* doctor --record --retention-days 120 >> '\/var\/backups\/cmmc\/cron\.log' 2>&1$/);
  });
});

describe('the browser check itself', () => {
  it('sees a request and a console error when a page makes one (so the report test can fail)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-report-probe-'));
    try {
      const file = path.join(dir, 'probe.html');
      writeFileSync(file, '<!doctype html><img src="http://127.0.0.1:9/x.png"><script>console.error("boom")</script>');
      const opened = await openPage(pathToFileURL(file).href);
      try {
        expect(opened.requests).toEqual(['http://127.0.0.1:9/x.png']);
        expect(opened.errors).toContain('boom');
      } finally {
        await opened.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

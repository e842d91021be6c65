/**
 * The report as ONE self-contained HTML file: styles, the charting library (uPlot, read from
 * node_modules) and the data are inlined; a Content-Security-Policy forbids every network fetch,
 * so the page looks the same on an air-gapped laptop. The tables and the two SVG pictures are
 * rendered here; the browser only draws the charts from the embedded JSON.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { bytes } from '../doctor/format.js';
import { backupsTimelineSvg, esc, revisionGraphSvg } from './svg.js';
import type { ReportData, RunRef, Series, StatementRow } from './types.js';

export interface ReportAssets {
  /** uPlot's IIFE build (defines the global `uPlot`). */
  chartJs: string;
  chartCss: string;
  /** "uPlot 1.6.32", shown in the footer. */
  chartName: string;
}

/** Reads uPlot from this package's node_modules (it is a runtime dependency). */
export function loadAssets(): ReportAssets {
  const require = createRequire(import.meta.url);
  const pkgFile = require.resolve('uplot/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { version: string };
  const dist = pkgFile.replace(/package\.json$/, 'dist/');
  return {
    chartJs: readFileSync(dist + 'uPlot.iife.min.js', 'utf8'),
    chartCss: readFileSync(dist + 'uPlot.min.css', 'utf8'),
    chartName: `uPlot ${pkg.version}`,
  };
}

/** Human bytes (1024-based), as the doctor prints them; '' for none. */
function size(n: number | null): string {
  return n === null || !Number.isFinite(n) ? '' : bytes(n);
}

function table(head: string[], rows: (string | number | null)[][], cls = ''): string {
  if (rows.length === 0) return '<p class="note">None.</p>';
  return `<div class="table-wrap"><table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c ?? '')}</td>`).join('')}</tr>`).join('\n')}
</tbody></table></div>`;
}

const JSON_SAFE = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

function needsServerNote(data: ReportData, section: string): string {
  const hit = data.needsServer.filter((n) => n.section === section);
  return hit.length ? `<p class="note server">Embedded database: needs a PostgreSQL server — ${hit.map((h) => esc(h.what)).join('; ')}.</p>` : '';
}

function statementsTable(rows: StatementRow[]): string {
  return table(
    ['statement', 'calls', 'total ms', 'mean ms'],
    rows.map((r) => [r.query, r.calls, Math.round(r.total_ms), r.mean_ms]),
  );
}

/**
 * A chart: the canvas uPlot draws into (an image with a name, for a screen reader), and the same
 * figures as a table under it: the way to them without a mouse or sight, and without the script.
 */
function chart(id: string, what: string, runs: RunRef[], series: Series[], format: (n: number) => string): string {
  const span = `${runs.length} recorded run(s) from ${runs[0].at} to ${runs.at(-1)!.at}`;
  const label = `Chart of ${what} over ${span}: ${series.map((x) => x.name).join(', ')}. The figures are in the table that follows.`;
  const rows = runs.map((r, i) => [r.at, ...series.map((x) => (x.values[i] === null ? '' : format(x.values[i]!)))]);
  return `<div class="chart" id="${id}" role="img" aria-label="${esc(label)}"></div>
<details class="chart-data" data-chart="${id}"><summary>${esc(what)}: the figures as a table</summary>${table(['recorded at (UTC)', ...series.map((x) => x.name)], rows)}</details>`;
}

/** Renders the page. Pure apart from the assets passed in. */
export function renderHtml(data: ReportData, assets: ReportAssets): string {
  const now = new Date(data.generatedAt);
  const h = data.health;
  const g = data.growth;
  const q = data.queries;
  const s = data.schema;
  const b = data.backups;
  const e = data.evidence;
  const noRuns = '<p class="note">No recorded doctor runs yet: run <code>cmmc-db doctor --record</code> (or schedule it with <code>cmmc-db backup schedule install --doctor-at "45 2 * * *"</code>).</p>';

  const health = `<section id="health" data-section="health"><h2>Health</h2>
<p>Doctor run at ${esc(h.at)}: <span class="status ${esc(h.status)}">${esc(h.status)}</span> — ${Object.entries(h.counts).map(([k, v]) => `${v} ${esc(k)}`).join(', ')}.</p>
${h.limited ? `<p class="note">${esc(h.limited)}</p>` : ''}${needsServerNote(data, 'health')}
<div class="table-wrap"><table class="checks"><thead><tr><th>check</th><th>status</th><th>figure</th><th>remedy</th></tr></thead><tbody>
${h.checks.map((c) => `<tr class="check" data-check="${esc(c.id)}" data-status="${esc(c.status)}"><td title="${esc(c.title)}">${esc(c.id)}</td><td><span class="status ${esc(c.status)}">${esc(c.status)}</span></td><td>${esc(c.figure)}</td><td>${esc(c.remedy)}</td></tr>`).join('\n')}
</tbody></table></div>
<h3>Connections over the recorded runs</h3>
${h.connections.runs.length ? `<p>max_connections ${esc(h.connections.max)}.</p>${chart('chart-connections', 'client connections by state', h.connections.runs, h.connections.series, String)}` : '<p class="note">No recorded run has connection counts (they need a server and doctor --record).</p>'}
${h.replication ? `<h3>Replication (run of ${esc(h.replication.at)})</h3><p>This server is a ${esc(h.replication.role)} with ${h.replication.standbys} standby(s) and ${h.replication.slots} replication slot(s).</p>${table(['standby', 'state', 'replay lag (bytes)', 'replay lag (s)'], h.replication.lag.map((l) => [String(l.standby ?? ''), String(l.state ?? ''), Number(l.replay_lag_bytes ?? 0), Number(l.replay_lag_seconds ?? 0)]))}` : ''}
</section>`;

  const growth = `<section id="growth" data-section="growth"><h2>Growth</h2>
<p>${g.recorded.runs} recorded run(s)${g.recorded.runs ? ` from ${esc(g.recorded.first)} to ${esc(g.recorded.last)}` : ''}.</p>
${g.runsNote ? `<p class="note">${esc(g.runsNote)}</p>` : ''}${g.runs.length ? `<h3>Table size (table + indexes + TOAST) over time</h3>${chart('chart-tables', 'table size (table + indexes + TOAST)', g.runs, g.tables, size)}<h3>Index size over time</h3>${chart('chart-indexes', 'index size', g.runs, g.indexes, size)}` : noRuns}
<h3>Tables, largest first</h3>
${table(['table', 'rows (estimate)', 'table', 'indexes', 'TOAST', 'total'], g.latest.map((t) => [t.table, t.rows ?? 'not analysed yet', size(t.table_bytes), size(t.index_bytes), size(t.toast_bytes), size(t.total_bytes)]))}
<h3>Rows without an embedding</h3>
${table(['column', 'rows', 'without an embedding'], g.withoutEmbeddings.map((r) => [r.column, r.rows, r.without]))}
<h3>Unused indexes</h3>${needsServerNote(data, 'growth')}${g.unusedNote ? `<p class="note">${esc(g.unusedNote)}</p>` : ''}
${(() => {
  const t = table(['index', 'table', 'size'], g.unusedIndexes.map((r) => [r.index, r.table, r.bytes !== null ? size(r.bytes) : r.size]));
  return g.unusedNote && g.unusedIndexes.length ? `<details><summary>${g.unusedIndexes.length} index(es) not scanned so far</summary>${t}</details>` : t;
})()}
<h3>Duplicate and overlapping indexes</h3>
${table(['index', 'covered by', 'table', 'kind', 'size', 'kept by design'], g.duplicateIndexes.map((r) => [r.index, r.coveredBy, r.table, r.kind, r.bytes !== null ? size(r.bytes) : r.size, r.keptByDesign ? 'yes' : 'no']))}
</section>`;

  const queries = `<section id="queries" data-section="queries"><h2>Queries</h2>${needsServerNote(data, 'queries')}
${q.available ? '' : `<p class="note">${esc(q.note)}</p>`}
<h3>Top statements by total time</h3>${statementsTable(q.byTotal)}
<h3>Top statements by mean time</h3>${statementsTable(q.byMean)}
<h3>Trend: total time of the top statements over the recorded runs</h3>
${q.trend.runs.length ? chart('chart-queries', 'total time of the top statements', q.trend.runs, q.trend.series, (n) => `${Math.round(n)} ms`) : '<p class="note">No recorded run has statement figures (they need pg_stat_statements).</p>'}
</section>`;

  const schema = `<section id="schema" data-section="schema"><h2>Schema</h2>
<p>${s.revisions.length} revision(s); heads: ${esc(s.heads.join(', ') || 'none')}; current: ${esc(s.current.join(', ') || 'none')}.${s.changed.length ? ` Changed after applying: ${esc(s.changed.join(', '))}.` : ''}</p>
${s.note ? `<p class="note">${esc(s.note)}</p>` : ''}
<p class="legend"><span class="key current"></span> current <span class="key applied"></span> applied <span class="key pending"></span> pending; a diamond is a merge.</p>
<div class="graph-wrap">${revisionGraphSvg(s.revisions)}</div>
${s.revisions.length ? `<details class="chart-data" data-chart="revision-graph"><summary>revision graph: the revisions as a table</summary>${table(
    ['revision', 'message', 'revises', 'state', 'marks'],
    [...s.revisions].reverse().map((r) => [r.revision, r.message, r.parents.join(', '), r.current ? 'current' : r.applied ? 'applied' : 'pending', [r.head ? 'head' : '', r.merge ? 'merge' : '', r.branchPoint ? 'branch point' : '', ...r.labels.map((l) => `@${l}`)].filter(Boolean).join(', ')]),
  )}</details>` : ''}
<h3>Change log (cmmc_db.revision_log)</h3>
${table(['applied at', 'operation', 'revision', 'message', 'by', 'took'], s.log.map((l) => [l.appliedAt, l.operation, l.revision, l.message, l.appliedBy, l.durationMs === null ? '' : `${l.durationMs} ms`]), 'log')}
</section>`;

  const backups = `<section id="backups" data-section="backups"><h2>Backups</h2>
<p>Folder ${esc(b.dir)}: ${b.backups.length} backup(s) of ${esc(data.database)}, ${b.drills.length} restore drill(s). ${
    b.newestVerified
      ? `Newest verified backup: <strong>${esc(b.newestVerified.name)}</strong>, ${esc(b.newestVerified.ageHours)} h old.`
      : '<strong>No verified backup.</strong>'
  }</p>
<p class="legend"><span class="key verified"></span> verified <span class="key unverified"></span> unverified <span class="key failed"></span> failed; diamonds: restore drills (green pass, red fail).</p>
<div class="timeline-wrap">${backupsTimelineSvg(b, now)}</div>
<h3>Backups</h3>
${table(['made', 'name', 'format', 'size', 'encrypted', 'verified', 'restore-tested'], b.backups.map((x) => [x.createdAt, x.name, `${x.format} (${x.contents})`, size(x.sizeBytes), x.encrypted ? 'yes' : 'no', x.verified + (x.verifiedAt ? ` ${x.verifiedAt}` : ''), x.restoreTested ? 'yes' : 'no']))}
<h3>Restore drills</h3>
${table(['finished', 'backup', 'result', 'took', 'tables restored', 'by'], b.drills.map((d) => [d.finishedAt, d.backup, d.result, `${d.durationMs} ms`, d.tables, d.operator]))}
</section>`;

  const evidence = `<section id="evidence" data-section="evidence"><h2>Evidence</h2>
<p class="notice">${esc(e.notice)}</p>
${e.items
  .map(
    (i) => `<article class="evidence" data-practices="${esc(i.practices.join(' '))}">
<h3>${i.practices.map((p) => `<span class="practice">${esc(p)}</span>`).join(' ')} ${esc(i.topic)}</h3>
<p class="period">Period: ${esc(i.from ?? '—')} to ${esc(i.to ?? '—')}. Source: ${esc(i.source)}.</p>
<ul>${i.facts.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>
<table class="figures"><tbody>${i.figures.map((f) => `<tr data-figure="${esc(f.label)}"><th>${esc(f.label)}</th><td>${esc(f.value === null ? '—' : typeof f.value === 'boolean' ? (f.value ? 'yes' : 'no') : f.value)}</td></tr>`).join('')}</tbody></table>
</article>`,
  )
  .join('\n')}
</section>`;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="cmmc-db report">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cmmc-db report: ${esc(data.database)} ${esc(data.generatedAt.slice(0, 10))}</title>
<style>${assets.chartCss}</style>
<style>${PAGE_CSS}</style>
</head>
<body>
<header><h1>cmmc-db report: ${esc(data.database)}</h1>
<p>${esc(data.target)} · generated ${esc(data.generatedAt)}${data.embedded ? ' · embedded database' : ''}</p>
<nav>${['health', 'growth', 'queries', 'schema', 'backups', 'evidence'].map((n) => `<a href="#${n}">${n}</a>`).join(' ')}</nav></header>
<main>
${health}
${growth}
${queries}
${schema}
${backups}
${evidence}
</main>
<footer>Charts drawn with ${esc(assets.chartName)} (MIT), inlined; no network access is made by this page.</footer>
<script type="application/json" id="report-data">${JSON_SAFE(data)}</script>
<script>${assets.chartJs}</script>
<script>${PAGE_JS}</script>
</body>
</html>
`;
}

const PAGE_CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2430;background:#f6f7f9;overflow-wrap:anywhere}
header{background:#1d2430;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}header p{margin:4px 0;color:#c8cfda}
nav a{color:#9cc7ff;margin-right:12px;text-decoration:none}
main{padding:8px 24px;max-width:1200px}
section{background:#fff;border:1px solid #dde2ea;border-radius:6px;padding:8px 18px 16px;margin:16px 0}
h2{font-size:18px;margin:8px 0}h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef0f4;vertical-align:top}
th{background:#f1f3f7}
.status{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:12px;color:#fff}
.status.ok{background:#2f9e44}.status.warn{background:#e8a100}.status.fail{background:#d9480f}.status.unknown{background:#7048e8}.status.skipped{background:#868e96}
tr.check[data-status=fail]{background:#fff4f0}tr.check[data-status=warn]{background:#fffaeb}
.note{color:#5c6675;font-style:italic}.notice{background:#eef5ff;border-left:4px solid #4d8ff0;padding:6px 10px}
.chart{margin:6px 0 4px}details.chart-data{margin:0 0 12px}
/* A table keeps its words whole and scrolls sideways in its own box when the window is narrower:
   broken anywhere, a phone showed check ids as "sch / em / a.m / igra / tion". */
.table-wrap{overflow-x:auto}th,td{overflow-wrap:break-word}
.graph-wrap,.timeline-wrap{overflow-x:auto}
svg .edge{fill:none;stroke:#8a94a6;stroke-width:2}
svg .node{stroke:#1d2430;stroke-width:1.5}svg .node.current{fill:#1971c2}svg .node.applied{fill:#2f9e44}svg .node.pending{fill:#fff}
svg .ring{fill:none;stroke:#1971c2;stroke-width:2}
svg text{font:13px system-ui,sans-serif;fill:#1d2430}svg .rev-id{font-family:ui-monospace,monospace;font-weight:600}
svg .tag{fill:#7048e8;font-size:12px}svg .tag-current{fill:#1971c2}svg .tag-head{fill:#d9480f}
svg .axis{stroke:#5c6675;stroke-width:1.5}svg .tick line{stroke:#5c6675}svg .tick text,svg .lane-label{font-size:11px;fill:#5c6675}
svg .stem{stroke:#adb5bd}svg .now{stroke:#d9480f;stroke-dasharray:4 3}svg .now-label{fill:#d9480f;font-size:11px}
svg .dot{stroke:#1d2430}svg .dot.verified{fill:#2f9e44}svg .dot.unverified{fill:#ced4da}svg .dot.failed{fill:#e03131}
svg .diamond{stroke:#1d2430}svg .diamond.pass{fill:#2f9e44}svg .diamond.fail{fill:#e03131}svg .lock{font-size:10px;fill:#1971c2}
.legend .key{display:inline-block;width:11px;height:11px;border-radius:6px;border:1px solid #1d2430;margin:0 3px 0 10px;vertical-align:middle}
.key.current{background:#1971c2}.key.applied,.key.verified{background:#2f9e44}.key.pending{background:#fff}.key.unverified{background:#ced4da}.key.failed{background:#e03131}
article.evidence{border-top:1px solid #eef0f4;padding-top:4px}.practice{background:#1d2430;color:#fff;border-radius:4px;padding:1px 6px;font-size:12px;margin-right:2px}
.period{color:#5c6675;margin:2px 0}table.figures{width:auto}table.figures th{font-weight:500}
footer{color:#5c6675;padding:8px 24px 24px;font-size:12px}
.uplot{max-width:100%}
@media (max-width:600px){header,main{padding-left:8px;padding-right:8px}section{padding:6px 8px 10px}th,td{padding:3px 4px}
table.checks td:nth-child(n+3),table.log td:nth-child(4){width:14em}}
@media print{
body{background:#fff}nav{display:none}main{padding:0;max-width:none}section{border:0;padding:0;margin:10px 0}
.uplot,.u-wrap{width:100%!important;height:auto!important}.uplot canvas{position:static;width:100%!important;height:auto!important}.u-wrap>:not(canvas){display:none}
.graph-wrap,.timeline-wrap{overflow:visible}svg.graph,svg.timeline{max-width:100%;height:auto}
tr,article.evidence{break-inside:avoid}.table-wrap{overflow:visible}th,td{overflow-wrap:anywhere}
}
`;

/** Draws the charts from the embedded data; each chart is kept on window.cmmcCharts for inspection. */
const PAGE_JS = `
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var palette = ['#1971c2', '#2f9e44', '#e8590c', '#7048e8', '#c2255c', '#0c8599', '#5c940d', '#862e9c'];
  function bytes(n) {
    if (n == null) return '';
    var u = ['B', 'kB', 'MB', 'GB', 'TB'], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + ' ' + u[i];
  }
  function ms(n) { return n == null ? '' : Math.round(n) + ' ms'; }
  // The width of the chart's box (at most 1100): a fixed minimum made a phone scroll sideways.
  function chartWidth(el) { return Math.max(120, Math.min(1100, el.clientWidth || 900)); }
  function draw(id, runs, series, fmt, counts) {
    var el = document.getElementById(id);
    if (!el || !runs.length || !series.length) return null;
    var xs = runs.map(function (r) { return Date.parse(r.at) / 1000; });
    // One run: an hour either side, rather than uPlot's default of years.
    var x = xs.length > 1 ? { time: true } : { time: true, range: [xs[0] - 3600, xs[0] + 3600] };
    var y = counts ? { range: function (u, min, max) { return [0, Math.max(2, Math.ceil((max || 0) * 1.2))]; } } : {};
    var opts = {
      width: chartWidth(el),
      height: 300,
      // Instants in UTC, as everywhere else on the page: uPlot's default is the viewer's zone.
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'); },
      scales: { x: x, y: y },
      series: [{ label: 'recorded at (UTC)', value: '{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}' }].concat(series.map(function (s, i) {
        return { label: s.name, stroke: palette[i % palette.length], width: 2, points: { show: true, size: 7 }, value: function (u, v) { return fmt(v); } };
      })),
      axes: [{ label: 'recorded at (UTC)', labelSize: 20, labelFont: '12px system-ui, sans-serif' }, counts ? { size: 70, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], values: function (u, vals) { return vals.map(fmt); } } : { size: 70, values: function (u, vals) { return vals.map(fmt); } }],
      legend: { live: true }
    };
    var chart = new uPlot(opts, [xs].concat(series.map(function (s) { return s.values; })), el);
    // The box is an image with a name; its figures are in the table after it, not in a legend read aloud empty.
    chart.root.setAttribute('aria-hidden', 'true');
    return chart;
  }
  window.cmmcCharts = {
    tables: draw('chart-tables', data.growth.runs, data.growth.tables, bytes),
    indexes: draw('chart-indexes', data.growth.runs, data.growth.indexes, bytes),
    queries: draw('chart-queries', data.queries.trend.runs, data.queries.trend.series, ms),
    connections: draw('chart-connections', data.health.connections.runs, data.health.connections.series, function (n) { return n == null ? '' : String(Math.round(n)); }, true)
  };
  // A window made narrower or wider redraws the charts at its width. On paper the print styles
  // scale them to the page instead (a print run need not resize the window).
  window.addEventListener('resize', function () {
    if (window.matchMedia('print').matches) return;
    Object.keys(window.cmmcCharts).forEach(function (k) {
      var chart = window.cmmcCharts[k];
      if (chart) chart.setSize({ width: chartWidth(chart.root.parentNode), height: 300 });
    });
  });
})();
`;

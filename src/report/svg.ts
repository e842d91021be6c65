/**
 * The report's two hand-drawn pictures, as SVG text (pure: data in, markup out): the revision
 * graph (newest at the top, one lane per open branch, merges and branch points drawn, heads and
 * the database's current revisions marked) and the backups timeline (each backup a dot on a time
 * axis, coloured by its verification; restore drills on a second row).
 */
import type { BackupsSection, SchemaRevision } from './types.js';

/** Escapes text for HTML and SVG content and attribute values. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface GraphLayout {
  nodes: { revision: string; lane: number; row: number }[];
  /** `lane`: the lane the edge runs down between the two rows. */
  edges: { from: string; to: string; lane: number }[];
  lanes: number;
}

/**
 * Pure: rows newest first; a revision keeps the lane of the child that reached it first, a merge's
 * further parents open lanes to the right, and lanes free up when branches meet.
 */
export function layoutGraph(revisions: Pick<SchemaRevision, 'revision' | 'parents'>[]): GraphLayout {
  const known = new Set(revisions.map((r) => r.revision));
  const order = [...revisions].reverse();
  const lanes: (string | null)[] = [];
  const nodes: GraphLayout['nodes'] = [];
  const edges: GraphLayout['edges'] = [];
  const place = (id: string): number => {
    const free = lanes.indexOf(null);
    if (free >= 0) {
      lanes[free] = id;
      return free;
    }
    lanes.push(id);
    return lanes.length - 1;
  };
  order.forEach((rev, row) => {
    let lane = lanes.indexOf(rev.revision);
    if (lane < 0) lane = place(rev.revision);
    for (let i = 0; i < lanes.length; i++) if (i !== lane && lanes[i] === rev.revision) lanes[i] = null;
    nodes.push({ revision: rev.revision, lane, row });
    const parents = rev.parents.filter((p) => known.has(p));
    lanes[lane] = parents[0] ?? null;
    if (parents.length) edges.push({ from: rev.revision, to: parents[0], lane });
    for (const p of parents.slice(1)) {
      const waiting = lanes.indexOf(p);
      edges.push({ from: rev.revision, to: p, lane: waiting >= 0 ? waiting : place(p) });
    }
  });
  return { nodes, edges, lanes: Math.max(1, ...nodes.map((n) => n.lane + 1)) };
}

const ROW = 34;
const LANE = 22;

/** The revision graph as an SVG element. */
export function revisionGraphSvg(revisions: SchemaRevision[]): string {
  if (revisions.length === 0) return '<p class="note">No revision files.</p>';
  const layout = layoutGraph(revisions);
  const byId = new Map(revisions.map((r) => [r.revision, r]));
  const pos = new Map(layout.nodes.map((n) => [n.revision, { x: 16 + n.lane * LANE, y: 18 + n.row * ROW }]));
  const textX = 16 + layout.lanes * LANE + 10;
  const width = textX + 720;
  const height = 18 + revisions.length * ROW;
  // An edge leaves its child, runs down its lane, and bends only in the row next to either end.
  const bend = (x1: number, y1: number, x2: number, y2: number) => (x1 === x2 ? `L${x2},${y2}` : `C${x1},${(y1 + y2) / 2} ${x2},${(y1 + y2) / 2} ${x2},${y2}`);
  const paths = layout.edges.map((e) => {
    const a = pos.get(e.from)!;
    const b = pos.get(e.to)!;
    const lx = 16 + e.lane * LANE;
    const d =
      b.y - a.y <= ROW
        ? `M${a.x},${a.y} ${bend(a.x, a.y, b.x, b.y)}`
        : `M${a.x},${a.y} ${bend(a.x, a.y, lx, a.y + ROW)} L${lx},${b.y - ROW} ${bend(lx, b.y - ROW, b.x, b.y)}`;
    return `<path class="edge" data-from="${esc(e.from)}" data-to="${esc(e.to)}" d="${d}"/>`;
  });
  const nodes = layout.nodes.map((n) => {
    const r = byId.get(n.revision)!;
    const p = pos.get(n.revision)!;
    const state = r.current ? 'current' : r.applied ? 'applied' : 'pending';
    const tags = [r.current ? 'current' : '', r.head ? 'head' : '', r.merge ? 'merge' : '', r.branchPoint ? 'branch point' : '', ...r.labels.map((l) => `@${l}`)].filter(Boolean);
    const shape = r.merge
      ? `<rect class="node ${state}" x="${p.x - 7}" y="${p.y - 7}" width="14" height="14" transform="rotate(45 ${p.x} ${p.y})"/>`
      : `<circle class="node ${state}" cx="${p.x}" cy="${p.y}" r="7"/>`;
    return `<g class="revision" data-revision="${esc(r.revision)}" data-state="${state}"${r.head ? ' data-head="true"' : ''}${r.merge ? ' data-merge="true"' : ''}>
  <title>${esc(`${r.revision} ${r.message} (${r.file}) — ${state}`)}</title>
  ${shape}${r.current ? `<circle class="ring" cx="${p.x}" cy="${p.y}" r="10.5"/>` : ''}
  <text x="${textX}" y="${p.y + 4}"><tspan class="rev-id">${esc(r.revision)}</tspan> ${esc(r.message)}${tags.map((t) => ` <tspan class="tag tag-${esc(t.replace(/[^a-z]/g, ''))}">[${esc(t)}]</tspan>`).join('')}</text>
</g>`;
  });
  const heads = revisions.filter((r) => r.head).map((r) => r.revision);
  const current = revisions.filter((r) => r.current).map((r) => r.revision);
  const label = `Revision graph: ${revisions.length} revision(s), head(s) ${heads.join(', ') || 'none'}, current ${current.join(', ') || 'none'}. The revisions are in the table that follows.`;
  return `<svg class="graph" role="img" aria-label="${esc(label)}" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
${paths.join('\n')}
${nodes.join('\n')}
</svg>`;
}

/** The backups timeline as an SVG element: backups above the axis, restore drills below. */
export function backupsTimelineSvg(section: BackupsSection, now: Date): string {
  const times = [...section.backups.map((b) => Date.parse(b.createdAt)), ...section.drills.map((d) => Date.parse(d.finishedAt))];
  if (times.length === 0) return '<p class="note">No backups of this database in the backup folder.</p>';
  const width = 960;
  const height = 150;
  const left = 70;
  const right = width - 20;
  const first = Math.min(...times);
  const last = Math.max(now.getTime(), ...times);
  // A margin of 5 % each side, and at least a minute in all, so that no mark sits on an edge.
  const pad = Math.max((last - first) * 0.05, 30_000);
  const start = first - pad;
  const span = last + pad - start;
  const x = (t: number) => Math.round((left + ((t - start) / span) * (right - left)) * 10) / 10;
  const axisY = 80;
  const label = (t: number) => new Date(t).toISOString().slice(0, span < 3 * 3_600_000 ? 19 : 16).replace('T', ' ');
  const ticks = Array.from({ length: 5 }, (_, i) => start + (span * i) / 4).map(
    (t, i) =>
      `<g class="tick"><line x1="${x(t)}" y1="${axisY - 4}" x2="${x(t)}" y2="${axisY + 4}"/><text x="${x(t)}" y="${height - 6}" text-anchor="${i === 0 ? 'start' : i === 4 ? 'end' : 'middle'}">${esc(label(t))}</text></g>`,
  );
  const backups = [...section.backups].reverse().map((b) => {
    const cx = x(Date.parse(b.createdAt));
    return `<g class="backup" data-kind="backup" data-name="${esc(b.name)}" data-verified="${esc(b.verified)}" data-encrypted="${b.encrypted}">
  <title>${esc(`${b.name}: ${b.verified}${b.verifiedAt ? ` at ${b.verifiedAt}` : ''}, ${b.encrypted ? 'encrypted' : 'not encrypted'}, ${b.format}, ${b.sizeBytes} bytes`)}</title>
  <line class="stem" x1="${cx}" y1="${axisY}" x2="${cx}" y2="${axisY - 30}"/>
  <circle class="dot ${esc(b.verified)}" cx="${cx}" cy="${axisY - 36}" r="7"/>${b.encrypted ? `<text class="lock" x="${cx}" y="${axisY - 50}" text-anchor="middle">enc</text>` : ''}
</g>`;
  });
  const drills = section.drills.map((d) => {
    const cx = x(Date.parse(d.finishedAt));
    const y = axisY + 26;
    return `<g class="drill" data-kind="drill" data-backup="${esc(d.backup)}" data-result="${esc(d.result)}">
  <title>${esc(`restore drill of ${d.backup}: ${d.result}, ${d.finishedAt}, ${d.durationMs} ms${d.tables !== null ? `, ${d.tables} tables restored` : ''}`)}</title>
  <line class="stem" x1="${cx}" y1="${axisY}" x2="${cx}" y2="${y - 7}"/>
  <path class="diamond ${esc(d.result)}" d="M${cx},${y - 7} L${cx + 7},${y} L${cx},${y + 7} L${cx - 7},${y} Z"/>
</g>`;
  });
  const nowX = x(now.getTime());
  const name = `Backups timeline: ${section.backups.length} backup(s) and ${section.drills.length} restore drill(s); each is listed in the tables that follow.`;
  return `<svg class="timeline" role="img" aria-label="${esc(name)}" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<text class="lane-label" x="2" y="${axisY - 32}">backups</text><text class="lane-label" x="2" y="${axisY + 30}">drills</text>
<line class="axis" x1="${left}" y1="${axisY}" x2="${right}" y2="${axisY}"/>
<line class="now" x1="${nowX}" y1="${axisY - 60}" x2="${nowX}" y2="${axisY + 40}"/><text class="now-label" x="${nowX}" y="12" text-anchor="end">now</text>
${ticks.join('\n')}
${backups.join('\n')}
${drills.join('\n')}
</svg>`;
}

/**
 * The report's pure parts: the revision graph's layout and SVG, the backups timeline, series over
 * recorded runs, and the evidence mapping (facts and figures, never a verdict).
 */
import { describe, expect, it } from 'vitest';
import { backupsTimelineSvg, layoutGraph, revisionGraphSvg, esc } from '../../src/report/svg.js';
import { seriesOver } from '../../src/report/collect.js';
import { buildEvidence } from '../../src/report/evidence.js';
import type { RecordedRun } from '../../src/doctor/record.js';
import type { BackupsSection, SchemaRevision, SchemaSection } from '../../src/report/types.js';

const rev = (revision: string, parents: string[], extra: Partial<SchemaRevision> = {}): SchemaRevision => ({
  revision,
  message: `m ${revision}`,
  parents,
  applied: true,
  current: false,
  head: false,
  merge: parents.length > 1,
  branchPoint: false,
  labels: [],
  file: `${revision}.sql`,
  ...extra,
});

describe('revision graph layout', () => {
  it('keeps a straight history in one lane, newest at the top', () => {
    const layout = layoutGraph([rev('a', []), rev('b', ['a']), rev('c', ['b'])]);
    expect(layout.lanes).toBe(1);
    expect(layout.nodes.map((n) => [n.revision, n.lane, n.row])).toEqual([
      ['c', 0, 0],
      ['b', 0, 1],
      ['a', 0, 2],
    ]);
    expect(layout.edges).toEqual([
      { from: 'c', to: 'b', lane: 0 },
      { from: 'b', to: 'a', lane: 0 },
    ]);
  });

  it('opens a lane for a merge\'s second parent and closes it at the branch point', () => {
    // a ─┬─ b ─┬─ d ─ e
    //    └─ c ─┘
    const layout = layoutGraph([rev('a', []), rev('b', ['a']), rev('c', ['a']), rev('d', ['b', 'c']), rev('e', ['d'])]);
    const lane = Object.fromEntries(layout.nodes.map((n) => [n.revision, n.lane]));
    expect(lane).toEqual({ e: 0, d: 0, c: 1, b: 0, a: 0 });
    expect(layout.lanes).toBe(2);
    expect(layout.edges).toContainEqual({ from: 'd', to: 'c', lane: 1 });
    expect(layout.edges).toContainEqual({ from: 'c', to: 'a', lane: 1 });
    expect(layout.edges).toHaveLength(5);
  });

  it('draws two heads side by side', () => {
    const layout = layoutGraph([rev('a', []), rev('b', ['a']), rev('c', ['a'])]);
    expect(new Set(layout.nodes.filter((n) => n.revision !== 'a').map((n) => n.lane)).size).toBe(2);
  });

  it('marks current, heads and merges in the SVG, and escapes messages', () => {
    const svg = revisionGraphSvg([rev('a', []), rev('b', ['a']), rev('c', ['a']), rev('d', ['b', 'c'], { current: true, head: true, message: '<script>x</script>' })]);
    expect(svg.match(/<g class="revision"/g)).toHaveLength(4);
    expect(svg).toContain('data-revision="d" data-state="current" data-head="true" data-merge="true"');
    expect(svg.match(/<path class="edge"/g)).toHaveLength(4);
    expect(svg).not.toContain('<script>');
    expect(esc(`<&>"'`)).toBe('&lt;&amp;&gt;&quot;&#39;');
  });
});

describe('backups timeline', () => {
  const section: BackupsSection = {
    dir: '/b',
    backups: [
      { name: 'db-2', createdAt: '2026-11-02T02:00:00.000Z', sizeBytes: 10, format: 'custom', contents: 'full', encrypted: true, verified: 'verified', verifiedAt: null, restoreTested: true, revision: [], ownerOnly: true },
      { name: 'db-1', createdAt: '2026-11-01T02:00:00.000Z', sizeBytes: 10, format: 'custom', contents: 'full', encrypted: false, verified: 'unverified', verifiedAt: null, restoreTested: false, revision: [], ownerOnly: true },
    ],
    drills: [{ backup: 'db-2', startedAt: '2026-11-02T03:00:00.000Z', finishedAt: '2026-11-02T03:01:00.000Z', durationMs: 60000, result: 'fail', tables: null, operator: 'ops' }],
    newestVerified: null,
  };

  it('puts each backup and drill on the axis, older to the left', () => {
    const svg = backupsTimelineSvg(section, new Date('2026-11-03T00:00:00Z'));
    expect(svg.match(/data-kind="backup"/g)).toHaveLength(2);
    expect(svg).toContain('data-kind="drill" data-backup="db-2" data-result="fail"');
    const x = (name: string) => Number(new RegExp(`data-name="${name}"[\\s\\S]*?cx="([\\d.]+)"`).exec(svg)![1]);
    expect(x('db-1')).toBeLessThan(x('db-2'));
  });

  it('says so when there is nothing', () => {
    expect(backupsTimelineSvg({ ...section, backups: [], drills: [] }, new Date())).toContain('No backups');
  });
});

describe('series over recorded runs', () => {
  const run = (id: number, tables: [string, number][]): RecordedRun =>
    ({ id, recordedAt: `2026-11-0${id}T00:00:00.000Z`, tables: tables.map(([table, total_bytes]) => ({ table, total_bytes })) }) as unknown as RecordedRun;

  it('ranks by the latest value and leaves gaps where a run lacks the item', () => {
    const runs = [run(1, [['a', 10], ['b', 50]]), run(2, [['a', 20]]), run(3, [['a', 90], ['b', 60], ['c', 1]])];
    const series = seriesOver(runs, (r) => r.tables, (t) => t.table, (t) => t.total_bytes, 2);
    expect(series).toEqual([
      { name: 'a', values: [10, 20, 90] },
      { name: 'b', values: [50, null, 60] },
    ]);
  });
});

describe('evidence', () => {
  const schema: SchemaSection = {
    revisions: [rev('a', [], { current: true, head: true })],
    heads: ['a'],
    current: ['a'],
    changed: [],
    log: [{ revision: 'a', message: 'm', operation: 'upgrade', appliedAt: '2026-10-01T00:00:00.000Z', appliedBy: 'postgres (os: ops)', durationMs: 5, file: 'a.sql' }],
    note: '',
  };
  const data = {
    generatedAt: '2026-11-03T00:00:00.000Z',
    tenant: { tenantTables: [{ table: 'users', rls: true, forced: true, policies: 1, owner: 'owner', rows: 3 }], applicationRoles: [{ role: 'app', owns: 0, bypassRls: false, superuser: false, canLogin: true }], organizations: 2, countsSeenBy: { role: 'owner', wholeDatabase: true } },
    audit: { exists: true, rows: 7, first: '2026-10-02T00:00:00.000Z', last: '2026-11-02T00:00:00.000Z', rls: true, forced: true, policyCommands: ['INSERT', 'SELECT'], rolesThatMayChange: [], changeTriggers: [], owner: 'owner' },
    schema,
    backups: { dir: '/b', backups: [], drills: [], newestVerified: null },
    records: { doctorRuns: 0, firstRun: null, lastRun: null },
  };

  it('maps facts to practices with their period and figures', () => {
    const e = buildEvidence(data);
    const au = e.items.find((i) => i.practices.includes('AU.L2-3.3.8'))!;
    expect(au.from).toBe('2026-10-02T00:00:00.000Z');
    expect(au.figures).toContainEqual({ label: 'audit records', value: 7 });
    expect(au.figures).toContainEqual({ label: 'UPDATE/DELETE policies', value: 0 });
    const ac = e.items.find((i) => i.practices.includes('AC.L2-3.1.3'))!;
    expect(ac.figures).toContainEqual({ label: 'application roles without ownership', value: 1 });
    expect(ac.figures).toContainEqual({ label: 'RLS forced', value: 1 });
    const cm = e.items.find((i) => i.practices.includes('CM.L2-3.4.3'))!;
    expect(cm.figures).toContainEqual({ label: 'recorded changes', value: 1 });
    expect(e.items.find((i) => i.practices.includes('MP.L2-3.8.9'))!.facts.join(' ')).toContain('0 backup(s)');
  });

  it('states facts, never a verdict', () => {
    const text = JSON.stringify(buildEvidence(data));
    expect(text).not.toMatch(/\b(compliant|compliance is|satisf(y|ies|ied)|\bmet\b|not met|passes|fails the)\b/i);
    expect(buildEvidence(data).notice).toMatch(/not a compliance determination/);
  });
});

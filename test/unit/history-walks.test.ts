/**
 * What the reading commands take from the revision map, held to what Alembic 1.8.1 prints on the
 * same graphs (the differential test compares the commands themselves): history's walk
 * (walk_revisions), current (get_all_current), heads (effective heads, --resolve-dependencies),
 * show -N, and the branch labels every revision of a labelled branch carries.
 */
import { describe, expect, it } from 'vitest';
import { RevisionGraph, RangeNotAncestorError, type RevisionNode } from '../../src/revision/index.js';
import { currentViaDependsOn, historyLines, summarize } from '../../src/migrate/report.js';
import type { Revision, Script } from '../../src/migrate/script.js';

/** `id: down... [labels] (depends_on)` separated by `;`, in file order (the brief's notation). */
function revs(spec: string): Revision[] {
  return spec.split(';').map((part) => {
    const [id, rest = ''] = part.trim().split(':');
    const labels = /\[([^\]]*)\]/.exec(rest)?.[1].split(/\s+/).filter(Boolean) ?? [];
    const deps = /\(([^)]*)\)/.exec(rest)?.[1].split(/\s+/).filter(Boolean) ?? [];
    const down = rest.replace(/\[[^\]]*\]|\([^)]*\)/g, '').split(/\s+/).filter(Boolean);
    const node: RevisionNode = { revision: id.trim(), downRevisions: down, dependsOn: deps, branchLabels: labels, message: `m ${id.trim()}` };
    return { ...node, file: `${node.revision}.sql`, fileName: `${node.revision}.sql`, kind: 'sql', transactional: true, checksum: '0', acceptedChecksums: new Set() } as unknown as Revision;
  });
}

const scriptOf = (spec: string) => {
  const graph = new RevisionGraph(revs(spec));
  return { graph, script: { dir: '/x', dirs: ['/x'], revisions: graph.ordered, graph } as unknown as Script };
};

const G2 = 'aaaa1; bbbb1: aaaa1; cccc1: bbbb1; xxxx1: [xl]; yyyy1: xxxx1 (bbbb1); zzzz1: aaaa1 [zl]';
const G3 = 'aaaa1; bbbb1: (aaaa1); cccc1: aaaa1 [cee]; dddd1: (cee)';

describe('history -r: Alembic walk_revisions', () => {
  const { graph } = scriptOf(G2);
  const walk = (base: string | string[], head: string | string[]) => graph.map.walkRevisions(base, head).map((r) => r.revision);

  it('a relative end counts from the start (bbbb1:+1)', () => {
    expect(walk('bbbb1', '+1')).toEqual(['cccc1', 'bbbb1']);
  });

  it('a label on the lower bound keeps the walk to the heads of that branch', () => {
    expect(walk('zl@base', 'heads')).toEqual(['zzzz1', 'aaaa1']);
    // yyyy1 carries xl: its ancestors, through its depends_on too, are listed (as Alembic lists them)
    expect(walk('xl@base', 'heads')).toEqual(['yyyy1', 'xxxx1', 'bbbb1', 'aaaa1']);
  });

  it('from a revision: only what is above it by down revision, not what depends on it', () => {
    expect(walk('bbbb1', 'heads')).toEqual(['cccc1', 'bbbb1']);
  });

  it('bounds on different branches are refused', () => {
    expect(() => walk('cccc1', 'yyyy1')).toThrow(RangeNotAncestorError);
    expect(() => walk('cccc1', 'yyyy1')).toThrow('the range cccc1:yyyy1 does not refer to ancestor/descendant revisions along the same branch');
  });

  it('the whole graph, and current: / :current with the version rows', () => {
    expect(walk('base', 'heads')).toEqual(['cccc1', 'yyyy1', 'xxxx1', 'bbbb1', 'zzzz1', 'aaaa1']);
    expect(walk(['yyyy1'], 'heads')).toEqual(['yyyy1']);
    expect(walk('base', ['yyyy1'])).toEqual(['yyyy1', 'xxxx1', 'bbbb1', 'aaaa1']);
  });
});

describe('current: revisions current through depends_on (Alembic get_all_current)', () => {
  it('a branch tip a row depends on is current, with the row that needs it', () => {
    expect(currentViaDependsOn(scriptOf(G2).graph, ['yyyy1'])).toEqual([{ revision: 'bbbb1', via: ['yyyy1'] }]);
    expect(currentViaDependsOn(scriptOf(G3).graph, ['bbbb1'])).toEqual([{ revision: 'aaaa1', via: ['bbbb1'] }]);
  });

  it('nothing more when the rows are the tips, and rows no file declares are left out', () => {
    expect(currentViaDependsOn(scriptOf(G2).graph, ['cccc1', 'yyyy1'])).toEqual([]);
    expect(currentViaDependsOn(scriptOf(G2).graph, ['ffff9'])).toEqual([]);
  });
});

describe('heads: effective heads', () => {
  it('a head another revision depends on is an effective head; --resolve-dependencies leaves it out', () => {
    const { graph, script } = scriptOf(G3);
    expect(graph.heads).toEqual(['bbbb1', 'cccc1', 'dddd1']);
    expect(graph.map.realHeads).toEqual(['bbbb1', 'dddd1']);
    const s = graph.heads.map((h) => summarize(script, graph.get(h)));
    expect(s.map((x) => [x.revision, x.head, x.effectiveHead])).toEqual([
      ['bbbb1', true, false],
      ['cccc1', true, true],
      ['dddd1', true, false],
    ]);
  });

  it('after merging the heads `merge heads` names, one is left to join', () => {
    const { graph } = scriptOf(`${G3}; eeee1: bbbb1 dddd1`);
    expect(graph.heads).toEqual(['cccc1', 'eeee1']);
    expect(graph.map.realHeads).toEqual(['eeee1']);
    expect(graph.resolveRevisions('heads')).toEqual(['eeee1']);
  });
});

describe('branch labels: every revision of a labelled branch carries them', () => {
  it('inherited labels, the root-most first', () => {
    const { graph, script } = scriptOf('xxxx1: [xray]; yyyy1: xxxx1 [yank]; zzzz1: yyyy1');
    for (const id of ['xxxx1', 'yyyy1', 'zzzz1']) expect(summarize(script, graph.get(id)).allBranchLabels).toEqual(['xray', 'yank']);
    expect(summarize(script, graph.get('zzzz1')).branchLabels).toEqual([]);
  });
});

describe('history lines show the parents as Alembic does', () => {
  it('down revisions and depends_on before the arrow, <base> for a base', () => {
    const { graph, script } = scriptOf(G2);
    const summaries = new Map(graph.ordered.map((r) => [r.revision, summarize(script, r)]));
    const lines = historyLines(script, graph.ordered as Revision[], summaries, false);
    expect(lines.some((l) => l.includes('xxxx1 (bbbb1) -> yyyy1 (head) [xl] m yyyy1'))).toBe(true);
    expect(lines.some((l) => l.includes('<base> -> aaaa1 (branchpoint) m aaaa1'))).toBe(true);
    expect(lines.some((l) => l.includes('aaaa1 -> zzzz1 (head) [zl] m zzzz1'))).toBe(true);
  });
});

describe('show: -N steps down from the heads (Alembic), and cmmc-db own relative forms', () => {
  const { graph } = scriptOf('aaaa1; bbbb1: aaaa1; cccc1: bbbb1; dddd1: cccc1');
  const show = (ref: string) => graph.map.revisionsToShow(ref).map((r) => r.revision);

  it('-1 and -2', () => {
    expect(show('-1')).toEqual(['cccc1']);
    expect(show('-2')).toEqual(['bbbb1']);
  });

  it('head-1, base+2, bbbb1+1, an id', () => {
    expect(show('head-1')).toEqual(['cccc1']);
    expect(show('base+2')).toEqual(['bbbb1']);
    expect(show('bbbb1+1')).toEqual(['cccc1']);
    expect(show('dddd1')).toEqual(['dddd1']);
  });

  it('label@-1 steps down from that branch head only', () => {
    const { graph: g } = scriptOf(G2);
    expect(g.map.revisionsToShow('zl@-1').map((r) => r.revision)).toEqual(['aaaa1']);
    expect(g.map.revisionsToShow('-1').map((r) => r.revision)).toEqual(['bbbb1', 'xxxx1', 'aaaa1']);
  });

  it('a head whose walk ends below its base is refused, named (Alembic 1.8 fails with an AttributeError)', () => {
    expect(() => show('-4')).toThrow('cannot use "-4": the walk down from dddd1 goes below base');
    const { graph: g } = scriptOf(G2);
    expect(() => g.map.revisionsToShow('-2')).toThrow(/the walk down from yyyy1, zzzz1 goes below base/);
  });
});

import { describe, expect, it } from 'vitest';
import {
  AmbiguousRevisionError,
  CycleError,
  DuplicateLabelError,
  DuplicateRevisionError,
  InvalidTargetError,
  MultipleHeadsError,
  RevisionGraph,
  UnknownParentError,
  UnknownRevisionError,
  drawGraph,
  type RevisionNode,
} from '../src/revision/index.js';

function rev(revision: string, down: string[] = [], extra: Partial<RevisionNode> = {}): RevisionNode {
  return { revision, downRevisions: down, dependsOn: [], branchLabels: [], message: `m ${revision}`, ...extra };
}

/*
 *  a1 ── a2 ──┬── b1 [billing] ── b2 ──┐
 *             └── c1 [audit] ─── c2 ───┴── m1 ── m2
 *  x1 [extra] (separate base, depends on a1) ── x2
 */
const history = () =>
  new RevisionGraph([
    rev('aaaa00000001'),
    rev('aaaa00000002', ['aaaa00000001']),
    rev('bbbb00000001', ['aaaa00000002'], { branchLabels: ['billing'] }),
    rev('bbbb00000002', ['bbbb00000001']),
    rev('cccc00000001', ['aaaa00000002'], { branchLabels: ['audit'] }),
    rev('cccc00000002', ['cccc00000001']),
    rev('eeee00000001', ['bbbb00000002', 'cccc00000002']),
    rev('eeee00000002', ['eeee00000001']),
    rev('ffff00000001', [], { branchLabels: ['extra'], dependsOn: ['aaaa00000001'] }),
    rev('ffff00000002', ['ffff00000001']),
  ]);

const ids = (list: { revision: string }[]) => list.map((r) => r.revision);

describe('revision graph structure', () => {
  it('finds heads, bases, branch points and merges', () => {
    const g = history();
    expect(g.heads).toEqual(['eeee00000002', 'ffff00000002']);
    expect(g.bases).toEqual(['aaaa00000001', 'ffff00000001']);
    expect(g.branchPoints).toEqual(['aaaa00000002']);
    expect(g.isMerge('eeee00000001')).toBe(true);
    expect(g.childrenOf('aaaa00000002').sort()).toEqual(['bbbb00000001', 'cccc00000001']);
  });

  it('orders parents (and dependencies) before children', () => {
    const g = history();
    const order = ids(g.ordered);
    for (const r of g.ordered) for (const p of g.parentsOf(r.revision)) expect(order.indexOf(p)).toBeLessThan(order.indexOf(r.revision));
  });

  it('branch labels cover the labelled revision, its descendants and its straight line back to the branch point', () => {
    const g = history();
    expect([...g.branchMembers('bbbb00000001')].sort()).toEqual(['bbbb00000001', 'bbbb00000002', 'eeee00000001', 'eeee00000002']);
    expect(g.labelsOf('bbbb00000002')).toEqual(['billing']);
  });

  it('dependencies pull in the other branch when upgrading', () => {
    const g = history();
    expect(ids(g.upgradePlan([], 'extra@head'))).toEqual(['aaaa00000001', 'ffff00000001', 'ffff00000002']);
    // and a downgrade of what they depend on takes the dependant down first
    expect(ids(g.downgradePlan(['aaaa00000001', 'ffff00000001'], 'base'))).toEqual(['ffff00000001', 'aaaa00000001']);
  });
});

describe('target resolution', () => {
  const g = history();
  it('head needs a single head; heads gives all; base gives none', () => {
    expect(() => g.resolveTarget('head')).toThrow(MultipleHeadsError);
    expect(g.resolveTarget('heads')).toEqual(['eeee00000002', 'ffff00000002']);
    expect(g.resolveTarget('base')).toEqual([]);
    const single = new RevisionGraph([rev('aaaa00000001'), rev('aaaa00000002', ['aaaa00000001'])]);
    expect(single.resolveTarget('head')).toEqual(['aaaa00000002']);
  });

  it('full ids, unique prefixes and labels', () => {
    expect(g.resolveTarget('bbbb00000002')).toEqual(['bbbb00000002']);
    expect(g.resolveTarget('ffff00000002')).toEqual(['ffff00000002']);
    const short = new RevisionGraph([rev('1234abcd0000'), rev('9876abcd0000', ['1234abcd0000'])]);
    expect(short.resolveTarget('98')).toEqual(['9876abcd0000']);
    expect(g.resolveTarget('audit')).toEqual(['cccc00000001']);
  });

  it('an ambiguous prefix lists the candidates', () => {
    expect(() => g.resolveTarget('bbbb')).toThrow('"bbbb" matches more than one revision: bbbb00000001, bbbb00000002');
    expect(() => g.resolveRevision('bbbb')).toThrow(AmbiguousRevisionError);
  });

  it('unknown ids are named', () => {
    expect(() => g.resolveTarget('dddd')).toThrow(UnknownRevisionError);
    expect(() => g.resolveTarget('nolabel@head')).toThrow(UnknownRevisionError);
  });

  it('+N from the current revision; -N is not an upgrade target (Alembic)', () => {
    expect(() => g.resolveTarget('+1', [])).toThrow(/ambiguous walk/); // two bases
    expect(g.resolveTarget('+1', ['aaaa00000001'])).toEqual(['aaaa00000002']);
    expect(() => g.resolveTarget('+1', ['aaaa00000002'])).toThrow(/ambiguous walk/);
    expect(() => g.resolveTarget('-1', ['bbbb00000002'])).toThrow("relative revision -1 didn't produce 1 migrations");
    expect(() => g.upgradePlan(['bbbb00000002'], '-2')).toThrow(InvalidTargetError);
  });

  it('ID+N and ID-N', () => {
    expect(g.resolveTarget('bbbb00000001+1')).toEqual(['bbbb00000002']);
    expect(g.resolveTarget('bbbb00000001+2')).toEqual(['eeee00000001']);
    expect(g.resolveTarget('cccc00000002-2')).toEqual(['aaaa00000002']);
    expect(g.resolveTarget('aaaa00000001-1')).toEqual([]);
    expect(() => g.resolveTarget('eeee00000002+1')).toThrow(/past the end/);
    expect(() => g.resolveTarget('base+2')).toThrow(/ambiguous walk/); // two bases
    expect(new RevisionGraph([rev('aaaa00000001'), rev('aaaa00000002', ['aaaa00000001'])]).resolveTarget('base+2')).toEqual(['aaaa00000002']);
    expect(g.resolveTarget('billing@base+3')).toEqual(['bbbb00000001']);
    expect(g.resolveTarget('billing@head-1')).toEqual(['eeee00000001']);
    expect(g.resolveTarget('audit@heads')).toEqual(['eeee00000002']);
    expect(g.resolveTarget('bbbb00000001@head')).toEqual(['eeee00000002']);
  });

  it('label@head, label@ID, label@+N', () => {
    expect(g.resolveTarget('billing@head')).toEqual(['eeee00000002']);
    expect(g.resolveTarget('extra@head')).toEqual(['ffff00000002']);
    expect(g.resolveTarget('audit@cccc00000002')).toEqual(['cccc00000002']);
    expect(g.resolveTarget('audit@aaaa00000002')).toEqual(['aaaa00000002']);
    expect(() => g.resolveTarget('audit@cccc')).toThrow(AmbiguousRevisionError);
    expect(() => g.resolveTarget('audit@bbbb00000001')).toThrow('revision bbbb00000001 is not a member of branch "audit"');
    expect(g.resolveTarget('audit@+1', ['cccc00000001', 'bbbb00000002'])).toEqual(['cccc00000002']);
    expect(g.resolveTarget('billing@+1', ['aaaa00000002'])).toEqual(['bbbb00000001']);
  });
});

describe('upgrade and downgrade plans', () => {
  const g = history();
  it('upgrade heads applies everything in dependency order', () => {
    const plan = ids(g.upgradePlan([], 'heads'));
    expect(plan).toHaveLength(10);
    expect(plan.indexOf('eeee00000001')).toBeGreaterThan(plan.indexOf('bbbb00000002'));
    expect(plan.indexOf('eeee00000001')).toBeGreaterThan(plan.indexOf('cccc00000002'));
  });

  it('upgrading one branch leaves the other alone', () => {
    // audit@head is the merge's head, so it needs billing too
    expect(ids(g.upgradePlan(['aaaa00000002'], 'audit@head'))).toHaveLength(6);
    expect(ids(g.upgradePlan(['aaaa00000002'], 'cccc00000002'))).toEqual(['cccc00000001', 'cccc00000002']);
  });

  it('an already applied target is a no-op', () => {
    expect(g.upgradePlan(['eeee00000002'], 'bbbb00000001')).toEqual([]);
  });

  it('downgrade to an id removes what is above it, children first', () => {
    expect(ids(g.downgradePlan(['eeee00000002'], 'aaaa00000002'))).toEqual([
      'eeee00000002',
      'eeee00000001',
      'bbbb00000002',
      'bbbb00000001',
      'cccc00000002',
      'cccc00000001',
    ]);
  });

  it('a refused relative target is named whole, as it was typed (the walk alone knows only the step count)', () => {
    const ambiguous = 'ambiguous walk: the way branches; name the revision or use label@';
    expect(() => g.resolveTarget('+1', [])).toThrow(`cannot use "+1": ${ambiguous}`);
    expect(() => g.upgradePlan([], 'base+2')).toThrow(`cannot use "base+2": ${ambiguous}`);
    expect(() => g.upgradePlan(['aaaa00000001'], 'aaaa00000002+1')).toThrow(`cannot use "aaaa00000002+1": ${ambiguous}`);
    expect(() => g.upgradePlan(['eeee00000002', 'ffff00000002'], '+1')).toThrow('cannot use "+1": ambiguous upgrade from multiple current revisions');
    expect(() => g.upgradePlan(['eeee00000002'], '+1')).toThrow(`cannot use "+1": relative revision +1 didn't produce 1 migrations`);
    expect(() => g.downgradePlan(['eeee00000002'], 'eeee00000001-1')).toThrow(`cannot use "eeee00000001-1": ${ambiguous}`);
    expect(() => g.downgradePlan(['eeee00000002'], 'billing@-2')).toThrow(`cannot use "billing@-2": ${ambiguous}`);
    expect(() => g.resolveRevisions('audit@-2')).toThrow(`cannot use "audit@-2": ${ambiguous}`);
  });

  it('downgrade -1 of a merge is an ambiguous walk; label@branchpoint takes one branch back to its fork (Alembic)', () => {
    expect(() => g.downgradePlan(['eeee00000001'], '-1')).toThrow(/ambiguous walk/);
    expect(ids(g.downgradePlan(['eeee00000001'], 'cccc00000002'))).toEqual(['eeee00000001']);
    expect(ids(g.downgradePlan(['bbbb00000002', 'cccc00000002'], 'audit@aaaa00000002'))).toEqual(['cccc00000002', 'cccc00000001']);
    // label@base is the base of the label's whole lineage: here the shared base, so everything goes.
    expect(ids(g.downgradePlan(['bbbb00000002', 'cccc00000002'], 'audit@base'))).toHaveLength(6);
  });

  it('downgrade label@-N steps back within that branch only', () => {
    expect(ids(g.downgradePlan(['bbbb00000002', 'cccc00000002'], 'audit@-1'))).toEqual(['cccc00000002']);
    expect(ids(g.downgradePlan(['bbbb00000002', 'cccc00000002'], 'billing@-2'))).toEqual(['bbbb00000002', 'bbbb00000001']);
  });

  it('downgrade past a base and to base', () => {
    // ffff00000001 depends on aaaa00000001, so its version row alone stands for both.
    expect(ids(g.downgradePlan(['ffff00000001'], 'ffff00000001-1'))).toEqual(['ffff00000001', 'aaaa00000001']);
    expect(g.downgradePlan(['eeee00000002'], 'base')).toHaveLength(8);
  });

  it('REV@PARENT reverts exactly REV: a merge, a revision beside applied siblings, a second base (test-migrations uses it)', () => {
    const applied = ['eeee00000001'];
    expect(ids(g.downgradePlan(applied, 'eeee00000001@bbbb00000002'))).toEqual(['eeee00000001']);
    expect(ids(g.downgradePlan(['bbbb00000001', 'cccc00000002'], 'cccc00000002@cccc00000001'))).toEqual(['cccc00000002']);
    expect(ids(g.downgradePlan(['bbbb00000001', 'cccc00000001'], 'cccc00000001@aaaa00000002'))).toEqual(['cccc00000001']);
    expect(ids(g.downgradePlan(['ffff00000001'], 'ffff00000001@base'))).toEqual(['ffff00000001']);
  });

  it('downgrade to a revision that is not applied is refused', () => {
    expect(() => g.downgradePlan(['bbbb00000002'], 'cccc00000001')).toThrow('destination cccc00000001 is not a valid downgrade target from current head(s)');
  });
});

describe('graph errors', () => {
  it('duplicate ids name both files', () => {
    expect(() => new RevisionGraph([rev('a', [], { file: 'a_one.ts' }), rev('a', [], { file: 'a_two.sql' })])).toThrow(
      new DuplicateRevisionError('a', ['a_one.ts', 'a_two.sql']),
    );
  });

  it('unknown parents and dependencies', () => {
    expect(() => new RevisionGraph([rev('a', ['zzz'])])).toThrow(UnknownParentError);
    expect(() => new RevisionGraph([rev('a', [], { dependsOn: ['zzz'] })])).toThrow(/depends_on zzz/);
  });

  it('cycles', () => {
    expect(() => new RevisionGraph([rev('a', ['c']), rev('b', ['a']), rev('c', ['b'])])).toThrow(CycleError);
    expect(() => new RevisionGraph([rev('a', []), rev('b', ['a'], { dependsOn: ['c'] }), rev('c', ['b'])])).toThrow(/cycle/);
  });

  it('a label declared twice', () => {
    expect(() => new RevisionGraph([rev('a', [], { branchLabels: ['x'] }), rev('b', ['a'], { branchLabels: ['x'] })])).toThrow(DuplicateLabelError);
  });

  it('several heads where one is needed', () => {
    const g = new RevisionGraph([rev('a'), rev('b', ['a']), rev('c', ['a'])]);
    expect(() => g.singleHead()).toThrow(MultipleHeadsError);
    expect(() => g.upgradePlan([], 'head')).toThrow(/2 heads \(b, c\)/);
  });
});

describe('drawing the history', () => {
  it('shows a branch and its merge as lanes', () => {
    const g = new RevisionGraph([rev('a'), rev('b', ['a']), rev('c', ['a']), rev('m', ['b', 'c'])]);
    const lines = drawGraph(g, g.ordered, (id) => (id === 'a' ? '*' : 'o'));
    expect(lines.map((l) => `${l.graph} ${l.revision ?? ''}`.trimEnd())).toEqual(['o m', '|\\', '| o c', 'o | b', '|/', '* a']);
  });

  it('sets independent bases apart: a lane that starts under a base that ended is not drawn as its continuation', () => {
    const g = new RevisionGraph([rev('a1'), rev('a2', ['a1']), rev('r0'), rev('z1')]);
    const lines = drawGraph(g, g.ordered, () => 'o').map((l) => `${l.graph} ${l.revision ?? ''}`.trimEnd());
    expect(lines.filter((l) => l.startsWith('o')).length).toBe(4);
    // a2 and a1 are adjacent (one line); between the others and them, a line without a node.
    const at = (id: string) => lines.indexOf(`o ${id}`);
    expect(at('a1') - at('a2')).toBe(1);
    for (const [upper, lower] of [['z1', 'r0'], ['r0', 'a2']].filter(([u, l]) => at(u) < at(l))) expect(at(lower) - at(upper), lines.join('\n')).toBe(2);
    // With a lane still open, the new one starts beside it and needs no break.
    const fork = new RevisionGraph([rev('a'), rev('b', ['a']), rev('c', ['a'])]);
    expect(drawGraph(fork, fork.ordered, () => 'o').map((l) => `${l.graph} ${l.revision ?? ''}`.trimEnd())).toEqual(['o c', '| o b', '|/', 'o a']);
  });
});

describe('stamp targets', () => {
  it('a relative step is refused, as by Alembic 1.8, naming the whole target and what stamp takes (Alembic names only "-1")', () => {
    const g = history();
    const current = ['eeee00000002', 'ffff00000002'];
    for (const target of ['-1', 'billing@-1']) {
      expect(() => g.stampPlan(current, [target]), target).toThrow(
        `cannot use "${target}": stamp takes revisions, branch labels, heads or base; a step down from the heads (-1, label@-1) is taken only on an empty version table (as in Alembic)`,
      );
    }
    for (const target of ['extra@head-1', 'eeee00000002-1', '+1', 'audit@+2']) {
      expect(() => g.stampPlan(current, [target]), target).toThrow(InvalidTargetError);
      expect(() => g.stampPlan(current, [target]), target).toThrow(`cannot use "${target}": stamp takes revisions, branch labels, heads or base, not a relative step (as in Alembic)`);
      // Alembic never resolves these, whatever the rows.
      expect(() => g.stampPlan([], [target]), target).toThrow(InvalidTargetError);
    }
    // On an empty version table Alembic resolves it (it never looks at the rows): so does cmmc-db.
    expect(g.stampPlan([], ['billing@-1']).rows).toEqual(['eeee00000001']);
    // Revisions, labels, heads and base are stamped as before.
    expect(g.stampPlan(current, ['extra@ffff00000001']).rows).toEqual(['eeee00000002', 'ffff00000001']);
    expect(g.stampPlan(current, ['billing']).rows).toEqual(['bbbb00000001', 'ffff00000002']);
  });
});

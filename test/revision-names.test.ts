import { describe, expect, it } from 'vitest';
import { AmbiguousNameError, InvalidTargetError, RevisionGraph, type RevisionNode } from '../src/revision/index.js';

function rev(revision: string, down: string[] = [], extra: Partial<RevisionNode> = {}): RevisionNode {
  return { revision, downRevisions: down, dependsOn: [], branchLabels: [], message: `m ${revision}`, ...extra };
}

describe('names a target could not tell apart are refused when the graph loads', () => {
  it('a branch label that is another revision\'s id (Alembic: "Branch name ... already used by revision ..."), whichever file comes first', () => {
    // Before: the label shadowed the revision, so `upgrade bbbb1` ran only aaaa1 and `upgrade cccc1` skipped bbbb1.
    const files = [rev('aaaa1', [], { branchLabels: ['bbbb1'] }), rev('bbbb1', ['aaaa1']), rev('cccc1', ['bbbb1'])];
    expect(() => new RevisionGraph(files)).toThrow('branch label "bbbb1" of revision aaaa1 is also the id of revision bbbb1');
    expect(() => new RevisionGraph([...files].reverse())).toThrow('branch label "bbbb1" of revision aaaa1 is also the id of revision bbbb1');
    // The error says which file to change.
    expect(() => new RevisionGraph(files)).toThrow(expect.objectContaining({ fix: 'rename the label in the file of revision aaaa1' }));
  });

  it('a branch label that is its own revision\'s id (Alembic refuses it too)', () => {
    expect(() => new RevisionGraph([rev('aaaa1', [], { branchLabels: ['aaaa1'] })])).toThrow('branch label "aaaa1" of revision aaaa1 is also the id of revision aaaa1');
  });

  it('target keywords as revision ids or labels', () => {
    for (const id of ['base', 'head', 'heads', 'current']) {
      expect(() => new RevisionGraph([rev(id)]), id).toThrow(`revision id "${id}" is a target keyword`);
      expect(() => new RevisionGraph([rev('aaaa1', [], { branchLabels: [id] })]), id).toThrow(`branch label "${id}" of revision aaaa1 is a target keyword`);
    }
  });

  it('labels holding what targets read as syntax', () => {
    for (const label of ['x@y', 'from:to', 'a,b', 'two words', '', '+1', '-1', 'v+2']) {
      expect(() => new RevisionGraph([rev('aaaa1', [], { branchLabels: [label] })]), label).toThrow(AmbiguousNameError);
    }
    // Ordinary labels still load, and `-` inside a label is fine.
    const g = new RevisionGraph([rev('aaaa1', [], { branchLabels: ['billing-v2', 'audit_2'] }), rev('bbbb1', ['aaaa1'])]);
    expect(g.resolveTarget('billing-v2@head', []).length).toBe(1);
  });
});

describe('stamp with one revision named twice', () => {
  it('is refused before any row is written, naming the revision (Alembic fails an assertion after writing the first)', () => {
    const g = new RevisionGraph([rev('aaaa1', [], { branchLabels: ['core'] }), rev('bbbb1', ['aaaa1'])]);
    for (const targets of [['bbbb1', 'bbbb1'], ['aaaa1', 'core'], ['heads', 'bbbb1']]) {
      expect(() => g.stampPlan([], targets), targets.join(' ')).toThrow(InvalidTargetError);
      expect(() => g.stampPlan([], targets), targets.join(' ')).toThrow(/names revision (aaaa1|bbbb1) more than once; name each revision once/);
    }
    expect(g.stampPlan([], ['bbbb1']).rows).toEqual(['bbbb1']);
  });
});

describe('an empty target', () => {
  it('is named as empty, not as a prefix of every revision', () => {
    const g = new RevisionGraph([rev('aaaa1'), rev('bbbb1', ['aaaa1'])]);
    for (const target of ['', ' ']) {
      expect(() => g.upgradePlan([], target), JSON.stringify(target)).toThrow(/the target is empty: name a revision/);
      expect(() => g.downgradeSteps(['bbbb1'], target), JSON.stringify(target)).toThrow(/the target is empty/);
      expect(() => g.stampPlan([], [target]), JSON.stringify(target)).toThrow(/the target is empty/);
    }
  });
});

describe('stamp base beside other targets', () => {
  it('takes the rows of its lineage that no other target moves to base, as Alembic (base was dropped: stamp base y1 kept every other row)', () => {
    const g = new RevisionGraph([rev('aaaa1', [], { branchLabels: ['core'] }), rev('bbbb1', ['aaaa1']), rev('yyyy1'), rev('yyyy2', ['yyyy1'])]);
    expect(g.stampPlan(['bbbb1', 'yyyy2'], ['base', 'yyyy1']).rows).toEqual(['yyyy1']);
    expect(g.stampPlan(['bbbb1', 'yyyy2'], ['base', 'bbbb1']).rows).toEqual(['bbbb1']);
    expect(g.stampPlan(['bbbb1', 'yyyy2'], ['base']).rows).toEqual([]);
    expect(g.stampPlan(['bbbb1', 'yyyy1'], ['core@base', 'yyyy1']).rows).toEqual(['yyyy1']);
    // Without base, rows of other lineages stay (the documented stamp-keeps-unrelated-heads).
    expect(g.stampPlan(['bbbb1', 'yyyy2'], ['yyyy1']).rows).toEqual(['bbbb1', 'yyyy1']);
  });
});

describe('stamp targets that cannot move together', () => {
  it("are named, not a row of the plan's own (it said d1 was not in the version table, which it was)", () => {
    const g = new RevisionGraph([
      rev('aaaa1'), rev('aaaa2', ['aaaa1']), rev('aaaa3', ['aaaa2']), rev('bbbb1', ['aaaa3']), rev('cccc1', ['aaaa3']), rev('mmmm1', ['bbbb1', 'cccc1']),
      rev('xxxx1'), rev('xxxx2', ['xxxx1']), rev('mmmm2', ['mmmm1', 'xxxx2']), rev('dddd1', ['aaaa2'], { dependsOn: ['xxxx1'] }),
      rev('yyyy1'), rev('yyyy2', ['yyyy1']), rev('yyyy3', ['yyyy2']),
    ]);
    expect(() => g.stampPlan(['dddd1', 'mmmm2', 'yyyy3'], ['aaaa2', 'xxxx1'])).toThrow(
      'cannot use "aaaa2 xxxx1": these targets cannot be stamped together from the rows dddd1, mmmm2, yyyy3: one moves a row another needs; stamp them one at a time',
    );
  });
});

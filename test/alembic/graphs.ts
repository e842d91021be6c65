/**
 * Revision graphs and operation sequences for the differential test against Alembic: seeded random
 * graphs (branches, merges, several bases, branch labels, depends_on) and scenarios ported from
 * Alembic's own tests (tests/test_revision.py, tests/test_version_traversal.py: the graphs and the
 * walks they check, not their code).
 */

export interface GraphRev {
  id: string;
  down: string[];
  labels: string[];
  deps: string[];
}

export type Op = { op: 'upgrade' | 'downgrade' | 'stamp'; target: string; purge?: boolean };

export interface Sequence {
  name: string;
  revisions: GraphRev[];
  ops: Op[];
}

/** mulberry32: a small seeded PRNG, so a failing sequence can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rnd: () => number, xs: T[]): T => xs[Math.floor(rnd() * xs.length)];

/** Ancestors through down revisions and dependencies. */
function ancestors(revs: GraphRev[], id: string): Set<string> {
  const byId = new Map(revs.map((r) => [r.id, r]));
  const labelOf = new Map(revs.flatMap((r) => r.labels.map((l) => [l, r.id] as const)));
  const out = new Set<string>();
  const todo = [id];
  while (todo.length) {
    const x = todo.pop()!;
    if (out.has(x)) continue;
    out.add(x);
    const r = byId.get(x)!;
    todo.push(...r.down, ...r.deps.map((d) => labelOf.get(d) ?? d));
  }
  return out;
}

/** A random graph of 3 to 9 revisions. Ids are fixed-width (`r7c03`), so none is a prefix of another. */
export function randomGraph(rnd: () => number, tag: string): GraphRev[] {
  const n = 3 + Math.floor(rnd() * 7);
  const revs: GraphRev[] = [];
  let labels = 0;
  for (let i = 0; i < n; i++) {
    const id = `r${tag}${String(i).padStart(2, '0')}`;
    const heads = revs.filter((r) => !revs.some((c) => c.down.includes(r.id))).map((r) => r.id);
    const roll = rnd();
    let down: string[];
    if (i === 0 || roll < 0.15) down = [];
    else if (roll < 0.3 && heads.length >= 2) {
      const a = pick(rnd, heads);
      const b = pick(rnd, heads.filter((h) => h !== a));
      down = [a, b];
    } else if (roll < 0.55) down = [pick(rnd, revs).id];
    else down = [pick(rnd, heads)];
    const rev: GraphRev = { id, down, labels: [], deps: [] };
    if (rnd() < 0.25) rev.labels.push(`l${tag}${labels++}`);
    if (i > 0 && rnd() < 0.2) {
      const mine = new Set(down.flatMap((d) => [...ancestors(revs, d)]));
      const candidates = revs.filter((r) => !mine.has(r.id));
      if (candidates.length) {
        const dep = pick(rnd, candidates);
        rev.deps.push(dep.labels.length && rnd() < 0.3 ? dep.labels[0] : dep.id);
      }
    }
    revs.push(rev);
  }
  return revs;
}

/** Targets worth trying on a graph: symbols, ids, relative steps and every label form. */
export function targetsFor(revs: GraphRev[], rnd: () => number): string[] {
  const ids = revs.map((r) => r.id);
  const labels = revs.flatMap((r) => r.labels);
  const some = ids[Math.floor(rnd() * ids.length)];
  const out = ['head', 'heads', 'base', '+1', '+2', '-1', '-2', '-20', 'base+1', 'base+2', ...ids, `${some}+1`, `${some}-1`, `${some}@head`, `${some}@base`];
  for (const l of labels) {
    out.push(l, `${l}@head`, `${l}@heads`, `${l}@base`, `${l}@+1`, `${l}@-1`, `${l}@base+1`, `${l}@head-1`, `${l}@${pick(rnd, ids)}`);
  }
  return out;
}

/** A random sequence of 3 to 7 operations, mostly upgrades, with downgrades and stamps. */
export function randomOps(revs: GraphRev[], rnd: () => number): Op[] {
  const targets = targetsFor(revs, rnd);
  const n = 3 + Math.floor(rnd() * 5);
  const ops: Op[] = [];
  for (let i = 0; i < n; i++) {
    const roll = rnd();
    const op: Op['op'] = roll < 0.5 ? 'upgrade' : roll < 0.82 ? 'downgrade' : 'stamp';
    const target = op === 'upgrade' && i === 0 && rnd() < 0.5 ? pick(rnd, ['heads', ...revs.map((r) => r.id)]) : pick(rnd, targets);
    ops.push({ op, target, ...(op === 'stamp' && rnd() < 0.1 ? { purge: true } : {}) });
  }
  return ops;
}

/** `count` sequences, each from its own seed (seed, seed + 1, ...), named `KIND seed N` so that one can be replayed. */
function seededSequences(kind: string, count: number, seed: number, tagLength: number, make: (rnd: () => number, tag: string) => Omit<Sequence, 'name'>): Sequence[] {
  const out: Sequence[] = [];
  for (let k = 0; k < count; k++) {
    const tag = (seed + k).toString(36).slice(-tagLength).padStart(tagLength, '0');
    out.push({ name: `${kind} seed ${seed + k}`, ...make(prng(seed + k), tag) });
  }
  return out;
}

export function randomSequences(count: number, seed: number): Sequence[] {
  return seededSequences('random', count, seed, 3, (rnd, tag) => {
    const revisions = randomGraph(rnd, tag);
    return { revisions, ops: randomOps(revisions, rnd) };
  });
}

const r = (id: string, down: string[] = [], extra: Partial<GraphRev> = {}): GraphRev => ({ id, down, labels: [], deps: [], ...extra });
const up = (target: string): Op => ({ op: 'upgrade', target });
const down = (target: string): Op => ({ op: 'downgrade', target });
const stamp = (target: string, purge = false): Op => ({ op: 'stamp', target, ...(purge ? { purge } : {}) });

/**
 * Scenarios from Alembic's tests, plus the findings of issue 15, each a graph and a walk over it.
 * Ids are those tests' letters, made four characters long (Alembic matches prefixes only of longer ids).
 */
export const SCENARIOS: Sequence[] = [
  // test_version_traversal.py RevisionPathTest: a -> b -> c -> d -> e.
  {
    name: 'straight line: up, relative steps, down',
    revisions: [r('aaaa'), r('bbbb', ['aaaa']), r('cccc', ['bbbb']), r('dddd', ['cccc']), r('eeee', ['dddd'])],
    ops: [up('+2'), up('cccc'), up('+1'), down('-2'), down('bbbb'), up('head'), down('-20'), down('base'), up('base+3'), up('-1'), down('+1')],
  },
  // BranchedPathTest: a -> b, b -> c1 -> d1, b -> c2 -> d2.
  {
    name: 'branched path: upgrade one branch, the other, downgrade to the branch point',
    revisions: [r('aaaa'), r('bbbb', ['aaaa']), r('cc1x', ['bbbb']), r('cc2x', ['bbbb']), r('dd1x', ['cc1x']), r('dd2x', ['cc2x'])],
    ops: [up('dd1x'), up('dd2x'), down('cc1x'), down('bbbb'), up('heads'), down('-1'), down('dd1x@-1'), stamp('bbbb'), up('heads'), down('base')],
  },
  // BranchFromMergepointTest / MergedPathTest: a -> b -> (c1, c2) -> d (merge) -> e.
  {
    name: 'merge point: up to the merge, down through it',
    revisions: [r('aaaa'), r('bbbb', ['aaaa']), r('cc1x', ['bbbb']), r('cc2x', ['bbbb']), r('dddd', ['cc1x', 'cc2x']), r('eeee', ['dddd'])],
    ops: [up('cc1x'), up('dddd'), down('cc2x'), down('cc1x'), up('head'), down('-2'), down('-1'), stamp('cc1x'), stamp('head'), down('bbbb')],
  },
  // MultipleBaseTest with labels: two bases, each a labelled branch.
  {
    name: 'two labelled bases: label@head, label@base, label@-1, stamp one branch',
    revisions: [r('aaaa', [], { labels: ['left'] }), r('bbbb', ['aaaa']), r('cccc', ['bbbb']), r('xxxx', [], { labels: ['right'] }), r('yyyy', ['xxxx'])],
    ops: [up('left@head'), up('right@+1'), up('heads'), down('left@-1'), down('right@base'), stamp('left@head'), up('right@head'), stamp('right@base'), down('left@base')],
  },
  // DependsOnBranchTestOne-style: a depends_on across bases.
  {
    name: 'depends_on across bases',
    revisions: [r('a1xx'), r('a2xx', ['a1xx']), r('b1xx', [], { deps: ['a1xx'] }), r('b2xx', ['b1xx'])],
    ops: [up('b2xx'), down('a1xx'), down('b1xx'), up('heads'), down('base')],
  },
  // Issue 15, finding 1: downgrade X reverts only what descends from X by down_revision and depends_on applied above.
  {
    name: 'finding 1a: a1; b1 base depends_on a1; m: a1 b1 — downgrade a1 from m',
    revisions: [r('a1xx'), r('b1xx', [], { deps: ['a1xx'] }), r('mmmm', ['a1xx', 'b1xx'])],
    ops: [up('mmmm'), down('a1xx'), up('head'), down('b1xx')],
  },
  {
    name: 'finding 1b: c1; d1: c1; c2: (c1) at d1, c2 — downgrade c1',
    revisions: [r('c1xx'), r('d1xx', ['c1xx']), r('c2xx', [], { deps: ['c1xx'] })],
    ops: [up('d1xx'), up('c2xx'), down('c1xx')],
  },
  {
    name: 'finding 1c: a3; b4: (a3) at b4 — downgrade a3 is refused',
    revisions: [r('a3xx'), r('b4xx', [], { deps: ['a3xx'] })],
    ops: [up('b4xx'), down('a3xx'), down('base')],
  },
  // Finding 2: stamp moves only heads sharing lineage with the target.
  {
    name: 'finding 2: stamp keeps other bases and branches',
    revisions: [r('l2xx'), r('r1xx')],
    ops: [up('l2xx'), stamp('r1xx'), up('heads'), stamp('base'), stamp('heads'), stamp('l2xx', true)],
  },
  {
    name: 'finding 2b: two labelled branches, stamp one@head',
    revisions: [r('o1xx', [], { labels: ['one'] }), r('o2xx', ['o1xx']), r('t1xx', [], { labels: ['two'] }), r('t2xx', ['t1xx'])],
    ops: [up('one@+1'), up('two@head'), stamp('one@head'), up('heads'), stamp('two@base'), up('heads')],
  },
  // Trial finding (session 7): `stamp heads` with rows a1, r0, where r0 is a separate base and itself a
  // head, kept r0 only with cmmc-db (Alembic deletes it: divergence stamp-keeps-unrelated-heads).
  {
    name: 'stamp heads with a current row on a separate base that is a head',
    revisions: [r('a1xx'), r('a2xx', ['a1xx']), r('r0xx'), r('z1xx')],
    ops: [up('a1xx'), up('r0xx'), stamp('heads'), up('heads')],
  },
  // Stamp targets on two branches of one branch point, from the heads of both: Alembic 1.8 moves every
  // head sharing lineage with any target into the first target's step, then fails (KeyError) on the
  // second (divergence stamp-targets-on-separate-branches); from base, or from one branch, it stamps both.
  {
    name: 'stamp y1 x1 with targets on two branches of one branch point',
    revisions: [r('aaaa'), r('bbbb', ['aaaa']), r('x1xx', ['bbbb']), r('x2xx', ['x1xx']), r('y1xx', ['bbbb']), r('y2xx', ['y1xx'])],
    ops: [stamp('base'), stamp('y1xx x1xx'), stamp('y2xx'), stamp('y1xx x2xx'), up('heads'), stamp('y1xx x1xx'), up('heads')],
  },
  // Finding 3: -N with fewer revisions below is refused; upgrade -2 too.
  {
    name: 'finding 3: downgrade -N past base and upgrade -N',
    revisions: [r('aaaa'), r('bbbb', ['aaaa']), r('cccc', ['bbbb'])],
    ops: [up('head'), down('-20'), down('-4'), down('-3'), up('-2'), up('head'), up('+1')],
  },
  // Target forms: rev@head, label@REV on the lineage below the label, base+2, label@base+N, label@head-1, label@heads, l2@root.
  {
    name: 'target forms on a forked labelled graph',
    revisions: [r('root'), r('mid1', ['root']), r('lft1', ['mid1'], { labels: ['left'] }), r('lft2', ['lft1']), r('rgt1', ['mid1'], { labels: ['right'] }), r('rgt2', ['rgt1'])],
    ops: [up('lft1@head'), up('right@head'), down('left@mid1'), down('left@root'), up('left@base+2'), up('left@head-1'), up('right@heads'), up('base+2'), down('rgt1@head'), down('right@root'), up('heads')],
  },
  // Relative stamps: Alembic resolves them only on an empty version table (no row shares lineage to
  // check first); with rows it refuses them. cmmc-db does both the same, with a fuller message.
  {
    name: 'relative stamps on an empty and a filled version table',
    revisions: [r('aaaa', [], { labels: ['left'] }), r('bbbb', ['aaaa']), r('cccc', ['bbbb']), r('xxxx', [], { labels: ['right'] }), r('yyyy', ['xxxx'])],
    ops: [stamp('left@-1'), stamp('base'), stamp('-1'), up('heads'), stamp('left@-1'), stamp('-1'), stamp('cccc-1'), stamp('base'), stamp('right@-5')],
  },
  // Session 9 (graphs grown as a team grows them). Two developers branch from aaaa; xxxx depends_on
  // bbbb, the other's revision: downgrading xxxx gave back both aaaa and bbbb (rows that overlap; the
  // next `downgrade base` was refused): now bbbb alone (divergence unmerge-keeps-tips-only).
  {
    name: 'team: a branch that depends_on its sibling, downgraded',
    revisions: [r('aaaa'), r('bbbb', ['aaaa']), r('xxxx', ['aaaa'], { deps: ['bbbb'] })],
    ops: [up('heads'), down('-1'), up('heads'), down('base')],
  },
  // A revision already current named twice (`stamp heads lab@head` at heads) is nothing to do, as in
  // Alembic (it was refused as named twice).
  {
    name: 'team: stamp naming a current revision twice',
    revisions: [r('aaaa', [], { labels: ['lab'] }), r('bbbb', ['aaaa']), r('cccc', [], { labels: ['other'] })],
    ops: [up('heads'), stamp('heads lab@head'), stamp('bbbb bbbb'), stamp('bbbb other@head'), down('lab@base')],
  },
  // Targets one below another: Alembic writes both rows (they overlap) and its downgrade base works
  // from them, while cmmc-db refused every walk from them; the stamp is refused now
  // (divergence stamp-refuses-overlapping-rows).
  {
    name: 'team: stamp two targets on one line',
    revisions: [r('aaaa'), r('bbbb', ['aaaa']), r('cccc', ['bbbb'])],
    ops: [stamp('aaaa cccc'), down('base')],
  },
  // A merge of three heads whose parents are at different depths, reached one branch at a time.
  {
    name: 'team: a merge of three heads at different depths',
    revisions: [r('root'), r('aaa1', ['root']), r('aaa2', ['aaa1']), r('aaa3', ['aaa2']), r('bbb1', ['root'], { labels: ['feat'] }), r('ccc1', ['root']), r('ccc2', ['ccc1'], { deps: ['aaa1'] }), r('mrg1', ['aaa3', 'bbb1', 'ccc2']), r('top1', ['mrg1'])],
    ops: [up('bbb1'), up('aaa2'), up('ccc2'), up('mrg1'), down('-1'), down('ccc2-1'), up('heads'), down('mrg1'), down('feat@base'), up('top1'), down('aaa1'), up('base+2'), down('base')],
  },
  // Empty folder: nothing to do.
  { name: 'empty migrations folder', revisions: [], ops: [up('head'), up('heads'), down('base'), stamp('head')] },
];

/**
 * Graphs for the reading commands (current, heads, history -r, show, branches): the trial's findings
 * of session 8, each with the upgrade it was found after.
 */
export const READING_SCENARIOS: Sequence[] = [
  {
    name: 'reading 2/4: a branch current only through depends_on; ranges with labels, relative ends, unrelated bounds',
    revisions: [r('aaaa1'), r('bbbb1', ['aaaa1']), r('cccc1', ['bbbb1']), r('xxxx1', [], { labels: ['xl'] }), r('yyyy1', ['xxxx1'], { deps: ['bbbb1'] }), r('zzzz1', ['aaaa1'], { labels: ['zl'] })],
    ops: [up('yyyy1'), up('zzzz1'), down('aaaa1'), up('heads')],
  },
  {
    name: 'reading 2/3: effective heads, a dependency on a label',
    revisions: [r('aaaa1'), r('bbbb1', [], { deps: ['aaaa1'] }), r('cccc1', ['aaaa1'], { labels: ['cee'] }), r('dddd1', [], { deps: ['cee'] })],
    ops: [up('bbbb1'), up('dddd1'), up('heads')],
  },
  {
    name: 'reading 3: after merging the real heads, an effective head is left',
    revisions: [r('aaaa1'), r('bbbb1', [], { deps: ['aaaa1'] }), r('cccc1', ['aaaa1'], { labels: ['cee'] }), r('dddd1', [], { deps: ['cee'] }), r('eeee1', ['bbbb1', 'dddd1'])],
    ops: [up('heads')],
  },
  {
    name: 'reading 8: show -N on a straight line; inherited labels',
    revisions: [r('aaaa1', [], { labels: ['xray'] }), r('bbbb1', ['aaaa1'], { labels: ['yank'] }), r('cccc1', ['bbbb1']), r('dddd1', ['cccc1'])],
    ops: [up('bbbb1'), up('head')],
  },
  {
    name: 'history -r order: a merge point, two more bases, a second branch from the first base',
    revisions: [r('ha01'), r('ha02', ['ha01']), r('ha03', ['ha02'], { labels: ['hlc'] }), r('ha04', ['ha02']), r('ha05', ['ha03', 'ha04']), r('ha06', ['ha05']), r('ha07', [], { labels: ['hlz'] }), r('ha08', ['ha01']), r('ha09', ['ha07']), r('ha10')],
    ops: [up('heads')],
  },
  {
    name: 'reading 5: crossing branches and merges',
    revisions: [r('xxxx1'), r('xxxx2', ['xxxx1']), r('cccc1'), r('dddd1', ['cccc1', 'xxxx2']), r('yyyy1', ['xxxx1'])],
    ops: [up('dddd1'), up('yyyy1')],
  },
];

/**
 * A graph grown the way a team grows one: developers branch from a head (often two from the same
 * one), merges join two or three heads (parents at different depths), a revision depends_on another
 * branch, labels sit on branch points, and some ids are prefixes of others (`c0de`, `c0de7`,
 * `c0de7a`), so partial ids are unique or ambiguous.
 */
export function teamGraph(rnd: () => number, tag: string): GraphRev[] {
  const n = 4 + Math.floor(rnd() * 9);
  const revs: GraphRev[] = [];
  const ids = new Set<string>();
  const freshId = (): string => {
    // A prefix-extension of an existing id now and then, else a new stem.
    const existing = [...ids].filter((x) => x.length < 8);
    if (existing.length && rnd() < 0.35) {
      const stem = pick(rnd, existing);
      for (const c of 'abcdef0123456789') {
        const id = stem + c;
        if (!ids.has(id)) return id;
      }
    }
    for (;;) {
      const id = `${tag}${Math.floor(rnd() * 36 ** 2).toString(36).padStart(2, '0')}`;
      if (!ids.has(id)) return id;
    }
  };
  let labels = 0;
  for (let i = 0; i < n; i++) {
    const id = freshId();
    ids.add(id);
    const heads = revs.filter((r) => !revs.some((c) => c.down.includes(r.id))).map((r) => r.id);
    const roll = rnd();
    let down: string[];
    if (i === 0 || (roll < 0.08 && i > 2)) down = [];
    else if (roll < 0.3 && heads.length >= 2) {
      const k = heads.length >= 3 && rnd() < 0.4 ? 3 : 2;
      const chosen: string[] = [];
      while (chosen.length < k) {
        const h = pick(rnd, heads.filter((x) => !chosen.includes(x)));
        chosen.push(h);
      }
      // A merge whose parents are ancestors of one another is no merge a tool writes.
      down = chosen.filter((c) => !chosen.some((o) => o !== c && ancestors(revs, o).has(c)));
    } else if (roll < 0.5) {
      // Branch from a revision that already has a child (a second developer from the same head).
      const parents = revs.filter((r) => revs.some((c) => c.down.includes(r.id)));
      down = [parents.length ? pick(rnd, parents).id : pick(rnd, revs).id];
    } else down = [pick(rnd, heads)];
    const rev: GraphRev = { id, down, labels: [], deps: [] };
    revs.push(rev);
    if (i > 1 && rnd() < 0.2) {
      const mine = ancestors(revs, id);
      const candidates = revs.filter((r) => !mine.has(r.id) && !ancestors(revs, r.id).has(id));
      if (candidates.length) {
        const dep = pick(rnd, candidates);
        rev.deps.push(dep.labels.length && rnd() < 0.4 ? dep.labels[0] : dep.id);
      }
    }
  }
  // Labels, mostly on branch points and on the first revision of a branch.
  for (const r of revs) {
    const isPoint = revs.filter((c) => c.down.includes(r.id)).length > 1;
    const firstOfBranch = r.down.length === 1 && revs.filter((c) => c.down.includes(r.down[0])).length > 1;
    if (rnd() < (isPoint ? 0.5 : firstOfBranch ? 0.35 : 0.08)) r.labels.push(`lb${tag}${labels++}`);
  }
  return revs;
}

/** Targets a team types: those of targetsFor, partial ids (unique or not), head-1, steps of three. */
export function teamTargetsFor(revs: GraphRev[], rnd: () => number): string[] {
  const out = targetsFor(revs, rnd);
  const ids = revs.map((r) => r.id);
  for (const id of ids) if (id.length > 4) out.push(id.slice(0, 4), id.slice(0, id.length - 1));
  const some = pick(rnd, ids);
  out.push('head-1', '+3', '-3', 'base+3', `${some}+2`, `${some}-2`, `${some}@heads`, `${pick(rnd, ids).slice(0, 4)}@head`);
  for (const l of revs.flatMap((r) => r.labels)) out.push(`${l}@base+2`, `${l}@${pick(rnd, ids)}+1`, `${l}@head-2`);
  return out;
}

export function teamSequences(count: number, seed: number): Sequence[] {
  return seededSequences('team', count, seed, 2, (rnd, tag) => {
    const revisions = teamGraph(rnd, tag);
    const targets = teamTargetsFor(revisions, rnd);
    const ops: Op[] = [];
    const steps = 4 + Math.floor(rnd() * 6);
    for (let i = 0; i < steps; i++) {
      const roll = rnd();
      const op: Op['op'] = roll < 0.5 ? 'upgrade' : roll < 0.82 ? 'downgrade' : 'stamp';
      // Stamps name two targets now and then (`stamp heads billing@head`).
      const target = op === 'stamp' && rnd() < 0.25 ? `${pick(rnd, targets)} ${pick(rnd, targets)}` : pick(rnd, targets);
      ops.push({ op, target, ...(op === 'stamp' && rnd() < 0.15 ? { purge: true } : {}) });
    }
    return { revisions, ops };
  });
}

/**
 * Alembic 1.8's revision map, ported: target resolution (`head`, `heads`, `base`, ids and prefixes,
 * branch labels, `label@REV`, `+N`/`-N`, `REV+N`, `label@+N`, `label@base+N`...), the upgrade and
 * downgrade walks (`_collect_upgrade_revisions`, `_collect_downgrade_revisions`, `_topological_sort`),
 * stamp (`ScriptDirectory._stamp_revs`) and how each step changes the version table
 * (`HeadMaintainer`). Ported method by method from alembic/script/revision.py,
 * alembic/script/base.py and alembic/runtime/migration.py so that the engine makes the same walk as
 * Alembic on any graph; the differential test (test/alembic-differential.test.ts) holds it to that.
 * Where this project refuses what Alembic does, the refusal lives in graph.ts and is listed in
 * src/revision/divergences.ts (docs/migrations.md explains them).
 *
 * Pure: no I/O. Errors are the typed errors of errors.ts.
 */
import { AmbiguousRevisionError, InvalidTargetError, MultipleHeadsError, RangeNotAncestorError, UnknownRevisionError } from './errors.js';

/** A revision as the map sees it (Alembic's `Revision`). */
export interface MapRev {
  revision: string;
  /** `down_revision`, as a list ([] = a base). */
  down: string[];
  /** `depends_on` as written (ids, prefixes-free ids or branch labels). */
  dependencies: string[];
  /** Labels declared by the file. */
  origLabels: string[];
  /** Labels declared plus those inherited along the branch (Alembic's `_add_branches`). */
  branchLabels: Set<string>;
  /** Children by down_revision. */
  nextrev: Set<string>;
  /** Children by down_revision or depends_on. */
  allNextrev: Set<string>;
  resolvedDeps: string[];
  normalizedDeps: string[];
}

/** `'base'` is Alembic's string marker returned by a walk that steps below a base. */
type Walked = MapRev | null | 'base';

/** One planned step: a revision to run up or down. */
export interface MapStep {
  rev: MapRev;
  isUpgrade: boolean;
}

/** A stamp movement (Alembic's StampStep). */
export interface StampMove {
  from: string[];
  to: string[];
  isUpgrade: boolean;
  branchMove: boolean;
}

/** One change of the version table, in the order Alembic issues them. */
export type VersionOp = { op: 'insert'; version: string } | { op: 'delete'; version: string } | { op: 'update'; from: string; to: string };

const RELATIVE = /^(?:(.+?)@)?(\w+)?([+-]\d+)/;

const dedupe = (xs: string[]) => [...new Set(xs)];

export class RevisionMap {
  /** Revisions and branch labels (labels map to the revision declaring them). */
  private readonly map = new Map<string, MapRev>();
  /** Revision ids in insertion (file) order. */
  readonly order: string[] = [];
  readonly heads: string[];
  readonly realHeads: string[];
  readonly bases: string[];
  readonly realBases: string[];

  constructor(input: { revision: string; downRevisions: string[]; dependsOn: string[]; branchLabels: string[] }[]) {
    const revs: MapRev[] = input.map((r) => ({
      revision: r.revision,
      down: [...r.downRevisions],
      dependencies: [...r.dependsOn],
      origLabels: [...r.branchLabels],
      branchLabels: new Set(r.branchLabels),
      nextrev: new Set(),
      allNextrev: new Set(),
      resolvedDeps: [],
      normalizedDeps: [],
    }));
    for (const r of revs) {
      this.map.set(r.revision, r);
      this.order.push(r.revision);
    }
    const heads = new Set(revs);
    const realHeads = new Set(revs);
    for (const r of revs) for (const label of r.origLabels) this.map.set(label, r);
    for (const r of revs) r.resolvedDeps = r.dependencies.map((d) => this.map.get(d)).filter((d): d is MapRev => !!d).map((d) => d.revision);
    for (const r of revs) {
      for (const downId of allDown(r)) {
        const d = this.map.get(downId);
        if (!d) continue;
        d.allNextrev.add(r.revision);
        if (r.down.includes(d.revision)) {
          d.nextrev.add(r.revision);
          heads.delete(d);
        }
        realHeads.delete(d);
      }
    }
    for (const r of revs) {
      if (!r.resolvedDeps.length) continue;
      const normalized = new Set(r.resolvedDeps);
      for (const a of this.ancestorNodes([r], false)) {
        if (a !== r) for (const d of a.resolvedDeps) normalized.delete(d);
      }
      r.normalizedDeps = [...normalized];
    }
    this.heads = [...heads].map((r) => r.revision);
    this.realHeads = [...realHeads].map((r) => r.revision);
    this.bases = revs.filter((r) => r.down.length === 0).map((r) => r.revision);
    this.realBases = revs.filter((r) => r.down.length === 0 && r.dependencies.length === 0).map((r) => r.revision);
    this.addBranches(revs.filter((r) => r.origLabels.length));
  }

  private addBranches(labelled: MapRev[]): void {
    for (const rev of labelled) {
      let node: MapRev = rev;
      for (const n of this.descendantNodes([rev], { includeDependencies: false })) {
        for (const l of rev.branchLabels) n.branchLabels.add(l);
        node = n;
      }
      // As Alembic does: walk down from the last descendant visited until a branch point or merge.
      let parent: MapRev | undefined = node;
      while (parent && !(parent.allNextrev.size > 1) && !(parent.down.length > 1)) {
        for (const l of rev.branchLabels) parent.branchLabels.add(l);
        parent = parent.down.length ? this.map.get(parent.down[0]) : undefined;
      }
    }
  }

  /** The revision with this exact id or label, if any. */
  lookup(key: string): MapRev | undefined {
    return this.map.get(key);
  }

  rev(id: string): MapRev {
    const r = this.map.get(id);
    if (!r) throw new UnknownRevisionError(id);
    return r;
  }

  // ---- traversal -------------------------------------------------------------------------------

  /** Alembic's `_iterate_related_revisions` (depth-first, LIFO, each once). */
  private *related(fn: (r: MapRev) => Iterable<string>, targets: Iterable<MapRev>, check = false): Generator<MapRev> {
    const seen = new Set<MapRev>();
    const targetList = [...targets];
    for (const target of targetList) {
      const todo: MapRev[] = [target];
      const perTarget = new Set<MapRev>();
      while (todo.length) {
        const rev = todo.pop()!;
        if (check) perTarget.add(rev);
        if (seen.has(rev)) continue;
        seen.add(rev);
        for (const id of fn(rev)) todo.push(this.rev(id));
        yield rev;
      }
      if (check) {
        const overlaps = [...perTarget].filter((r) => r !== target && targetList.includes(r));
        if (overlaps.length) {
          throw new InvalidTargetError(target.revision, `requested revision ${target.revision} overlaps with other requested revisions ${overlaps.map((r) => r.revision).join(', ')}`);
        }
      }
    }
  }

  descendantNodes(targets: Iterable<MapRev>, o: { includeDependencies?: boolean; check?: boolean } = {}): Generator<MapRev> {
    const withDeps = o.includeDependencies ?? true;
    return this.related((r) => (withDeps ? r.allNextrev : r.nextrev), targets, o.check);
  }

  ancestorNodes(targets: Iterable<MapRev>, includeDependencies = true, check = false): Generator<MapRev> {
    return this.related((r) => (includeDependencies ? normalizedDown(r) : r.down), targets, check);
  }

  // ---- resolution ------------------------------------------------------------------------------

  /** `get_current_head`: the single head (of a branch), or null when there is none. */
  currentHead(branchLabel?: string): string | null {
    let heads = this.heads;
    if (branchLabel) heads = this.filterForLineage(heads, branchLabel);
    if (heads.length > 1) throw new MultipleHeadsError(heads, branchLabel ? `${branchLabel}@head` : 'head');
    return heads[0] ?? null;
  }

  /** `_resolve_revision_number`: ids named by `id` and the branch label, if any. */
  resolveNumber(id: string | null): { ids: string[]; branch: string | null } {
    let branch: string | null = null;
    if (id !== null && id.includes('@')) {
      const at = id.indexOf('@');
      branch = id.slice(0, at);
      id = id.slice(at + 1);
    }
    if (id === 'heads') return { ids: branch ? this.filterForLineage(this.heads, branch) : [...this.realHeads], branch };
    if (id === 'head') {
      const h = this.currentHead(branch ?? undefined);
      return { ids: h ? [h] : [], branch };
    }
    if (id === 'base' || id === null) return { ids: [], branch };
    return { ids: [id], branch };
  }

  /** `get_revisions` for one identifier. */
  getRevisions(id: string | null): Walked[] {
    const { ids, branch } = this.resolveNumber(id);
    if (ids.length === 1 && /^[+-]?\d+$/.test(ids[0].trim()) && Number(ids[0]) < 0) {
      let selectHeads = this.getRevisions('heads') as MapRev[];
      if (branch !== null) selectHeads = selectHeads.filter((h) => h.branchLabels.has(branch));
      return selectHeads.map((h) => this.walk(h, Number(ids[0]), null, true, id!));
    }
    return ids.map((r) => this.revisionForIdent(r, branch));
  }

  getRevisionsOf(ids: Iterable<string>): Walked[] {
    return [...ids].flatMap((id) => this.getRevisions(id));
  }

  /** `get_revision`: one revision (null = base); MultipleHeadsError when the identifier names several. */
  getRevision(id: string | null): MapRev | null {
    const { ids, branch } = this.resolveNumber(id);
    if (ids.length > 1) throw new MultipleHeadsError(ids, id ?? 'head');
    return ids.length ? this.revisionForIdent(ids[0], branch) : branch ? (this.resolveBranch(branch), null) : null;
  }

  private resolveBranch(label: string): MapRev {
    const r = this.map.get(label);
    if (r) return r;
    try {
      return this.revisionForIdent(label, null);
    } catch (err) {
      if (err instanceof UnknownRevisionError) throw new UnknownRevisionError(`${label} (no such branch)`);
      throw err;
    }
  }

  /** `_revision_for_ident`: exact id or label, else a unique prefix (of ids longer than 3 characters). */
  revisionForIdent(id: string, checkBranch: string | null): MapRev {
    const branchRev = checkBranch ? this.resolveBranch(checkBranch) : null;
    let revision = this.map.get(id);
    // An empty or blank target (`downgrade ""`) is a prefix of every id: said as what it is.
    if (!revision && !id.trim()) throw new InvalidTargetError(id, 'the target is empty: name a revision (cmmc-db history lists them), head, heads, base or a step such as -1');
    if (!revision) {
      let candidates = [...this.map.keys()].filter((k) => k.length > 3 && k.startsWith(id));
      if (branchRev) candidates = this.filterForLineage(candidates, checkBranch!);
      if (candidates.length === 0) throw new UnknownRevisionError(id);
      if (candidates.length > 1) throw new AmbiguousRevisionError(id, candidates.sort());
      revision = this.map.get(candidates[0])!;
    }
    if (branchRev && !this.sharesLineage(revision, [branchRev.revision])) {
      throw new InvalidTargetError(`${checkBranch}@${id}`, `revision ${revision.revision} is not a member of branch "${checkBranch}"`);
    }
    return revision;
  }

  /** `filter_for_lineage`: the targets that are ancestors or descendants of what `checkAgainst` names. */
  filterForLineage<T extends string | MapRev>(targets: T[], checkAgainst: string, includeDependencies = false): T[] {
    const { ids, branch } = this.resolveNumber(checkAgainst);
    const shares = [...(branch ? [branch] : []), ...ids];
    return targets.filter((t) => this.sharesLineage(t, shares, includeDependencies));
  }

  sharesLineage(target: string | MapRev, against: (string | MapRev)[], includeDependencies = false): boolean {
    if (!against.length) return true;
    const t = typeof target === 'string' ? this.revisionForIdent(target, null) : target;
    const tests = new Set(against.map((a) => (typeof a === 'string' ? this.revisionForIdent(a, null) : a)));
    for (const r of this.descendantNodes([t], { includeDependencies })) if (tests.has(r)) return true;
    for (const r of this.ancestorNodes([t], includeDependencies)) if (tests.has(r)) return true;
    return false;
  }

  /**
   * `_walk`: `steps` up (> 0) or down (< 0); null when the walk runs past the end. `target`: the
   * target as the user typed it (`base+1`, `label@-2`), which a refused walk names; Alembic's own
   * message shows only the step count, which does not say which of several targets was refused.
   */
  walk(start: MapRev | null | string, steps: number, branchLabel: string | null = null, noOverwalk = true, target = String(steps)): Walked {
    let initial: Walked = typeof start === 'string' ? this.getRevision(start) : start;
    for (let i = 0; i < Math.abs(steps); i++) {
      let children: Walked[];
      if (steps > 0) {
        if (initial === 'base') throw new InvalidTargetError(target, 'cannot walk up from below base');
        const up = initial === null ? this.getRevisionsOf(this.bases) : this.getRevisionsOf(initial.nextrev);
        children = branchLabel ? this.filterForLineage(up as MapRev[], branchLabel) : up;
      } else if (initial === 'base') children = [];
      else {
        children = initial === null ? this.getRevisionsOf(this.heads) : this.getRevisionsOf(initial.down);
        if (!children.length) children = ['base'];
      }
      if (!children.length) return noOverwalk ? null : initial;
      if (children.length > 1) throw new InvalidTargetError(target, 'ambiguous walk: the way branches; name the revision or use label@');
      initial = children[0];
    }
    return initial;
  }

  // ---- targets ---------------------------------------------------------------------------------

  /** `_parse_downgrade_target`: the branch label and the target revision (null = base). */
  parseDowngradeTarget(current: string[], target: string, assertRelativeLength: boolean): { branch: string | null; rev: Walked } {
    const m = RELATIVE.exec(target);
    if (m) {
      let [, branch = null, symbol = null] = m as unknown as [string, string | null, string | null];
      const relative = m[3];
      const n = Number(relative);
      if (n >= 0) {
        if (symbol === null) throw new InvalidTargetError(target, `relative revision ${relative} didn't produce ${Math.abs(n)} migrations`);
        const rev = this.walk(symbol, n, branch, assertRelativeLength, target);
        if (rev === null) throw new InvalidTargetError(target, 'walked too far');
        return { branch, rev };
      }
      const relativeToCurrent = symbol === null;
      if (relativeToCurrent) {
        if (branch) {
          let symbols: string[] = this.filterForLineage(current, branch);
          if (!symbols.length) {
            const all = this.allCurrent(current);
            symbols = this.filterForLineage([...all].filter((r): r is MapRev => r !== null), branch).map((r) => r.revision);
          }
          if (symbols.length !== 1) throw new InvalidTargetError(target, `no single current revision on branch ${branch}`);
          symbol = symbols[0];
        } else {
          if (!current.length) throw new InvalidTargetError(target, `relative revision ${relative} didn't produce ${Math.abs(n)} migrations`);
          symbol = current[0];
          branch = symbol;
        }
      }
      const rev = this.walk(branch === null ? this.getRevision(symbol) : this.getRevision(`${branch}@${symbol}`), n, null, assertRelativeLength, target);
      if (rev === null) throw new InvalidTargetError(target, relativeToCurrent ? `relative revision ${relative} didn't produce ${Math.abs(n)} migrations` : 'walked too far');
      return { branch, rev };
    }
    const at = target.lastIndexOf('@');
    const branch = at === -1 ? null : target.slice(0, at) || null;
    return { branch, rev: this.getRevision(target.slice(at + 1)) };
  }

  /** `_parse_upgrade_target`: the revisions to upgrade to. */
  parseUpgradeTarget(current: string[], target: string, assertRelativeLength: boolean): Walked[] {
    const m = RELATIVE.exec(target);
    if (!m) return this.getRevisions(target);
    const branch = m[1] ?? null;
    const symbol = m[2] ?? null;
    const relative = Number(m[3]);
    if (relative > 0) {
      if (symbol === null) {
        let startRevs: (string | MapRev | null)[] = current.length ? [...current] : [null];
        if (branch) {
          const resolved = startRevs.flatMap((c) => (c === null ? [] : this.getRevisions(c as string))) as MapRev[];
          startRevs = this.filterForLineage(resolved, branch);
          if (!startRevs.length) {
            const active = this.filterForLineage([...this.ancestorNodes(resolved)], branch);
            const downs = new Set(active.flatMap((r) => normalizedDown(r)));
            startRevs = [...new Set(active.map((r) => r.revision))].filter((id) => !downs.has(id));
            if (!startRevs.length) startRevs = [null];
          }
        }
        if (startRevs.length > 1) throw new InvalidTargetError(target, 'ambiguous upgrade from multiple current revisions');
        const s = startRevs[0];
        const rev = this.walk(typeof s === 'string' ? this.getRevision(s) : s, relative, branch, assertRelativeLength, target);
        if (rev === null) throw new InvalidTargetError(target, `relative revision ${m[3]} didn't produce ${Math.abs(relative)} migrations`);
        return [rev];
      }
      return [this.walk(this.getRevision(symbol), relative, branch, assertRelativeLength, target)];
    }
    if (symbol === null) throw new InvalidTargetError(target, `relative revision ${m[3]} didn't produce ${Math.abs(relative)} migrations`);
    return [this.walk(branch === null ? this.getRevision(symbol) : this.getRevision(`${branch}@${symbol}`), relative, null, assertRelativeLength, target)];
  }

  private allCurrent(ids: string[]): Set<MapRev | null> {
    const top = new Set<MapRev | null>(this.getRevisionsOf(ids).map(asRevOrNull));
    for (const a of this.ancestorNodes([...top].filter((r): r is MapRev => r !== null))) top.add(a);
    return this.filterIntoBranchHeads(top);
  }

  private filterIntoBranchHeads(targets: Set<MapRev | null>): Set<MapRev | null> {
    const out = new Set(targets);
    for (const rev of [...out]) {
      if (rev === null) continue;
      for (const d of this.descendantNodes([rev], { includeDependencies: false })) {
        if (d !== rev && out.has(d)) {
          out.delete(rev);
          break;
        }
      }
    }
    return out;
  }

  // ---- walks -----------------------------------------------------------------------------------

  /** `_collect_downgrade_revisions` with inclusive=false, implicit_base=false. */
  private collectDowngrade(upper: string[], target: string, assertRelativeLength: boolean): { revisions: Set<MapRev>; heads: MapRev[] } {
    const parsed = this.parseDowngradeTarget(upper, target, assertRelativeLength);
    const targetRev = parsed.rev === 'base' ? null : parsed.rev;
    let roots: MapRev[];
    if (targetRev === null) {
      // Alembic scans its map's values, where a labelled base appears once more under each label.
      const bases = this.order.map((id) => this.map.get(id)!).filter((r) => r.down.length === 0);
      roots = [...bases, ...bases.flatMap((r) => r.origLabels.map(() => r))];
    }
    else roots = this.getRevisionsOf(targetRev.nextrev).map(asRev);
    if (parsed.branch && roots.length > 1) {
      const ancestors = new Set([...this.ancestorNodes([this.resolveBranch(parsed.branch)], false)]);
      roots = roots.filter((r) => ancestors.has(r));
      if (!roots.length) throw new InvalidTargetError(target, 'not a valid downgrade target from current heads');
    }
    const heads = this.getRevisionsOf(upper).map(asRev);
    const downgrade = new Set(this.descendantNodes(roots, { includeDependencies: true }));
    const active = new Set(this.ancestorNodes(heads, true));
    for (const r of [...downgrade]) if (!active.has(r)) downgrade.delete(r);
    if (targetRev !== null && downgrade.size === 0 && !heads.includes(targetRev)) {
      throw new InvalidTargetError(target, `destination ${target} is not a valid downgrade target from current head(s)`);
    }
    return { revisions: downgrade, heads };
  }

  /**
   * `_collect_upgrade_revisions`: the revisions needed to reach `upper` from `lower`, and the targets.
   * `lower` is the version rows (a list) or, for a range, what was typed (`base`, `label@base`, an id,
   * `-1`). `inclusive` adds `lower` itself; without `implicitBase` only revisions that descend from
   * `lower` by down revision count, and a `lower` that is not below `upper` is refused
   * (RangeNotAncestorError). An upgrade is inclusive=false, implicitBase=true; history's walk the reverse.
   */
  private collectUpgrade(
    upper: string | string[],
    lower: string | string[],
    assertRelativeLength: boolean,
    o: { inclusive?: boolean; implicitBase?: boolean } = {},
  ): { revisions: Set<MapRev>; heads: MapRev[] } {
    const inclusive = o.inclusive ?? false;
    const implicitBase = o.implicitBase ?? true;
    const lowerList = typeof lower === 'string' ? [lower] : lower;
    const upperName = typeof upper === 'string' ? upper : upper.join(',');
    const parsed = typeof upper === 'string' ? this.parseUpgradeTarget(lowerList, upper, assertRelativeLength) : this.getRevisionsOf(upper);
    let targets = parsed.map((t) => {
      if (t === null || t === 'base' || typeof t !== 'object') throw new InvalidTargetError(upperName, 'that walk leaves the revision graph (below base or above head)');
      return t;
    });
    // A named lower bound (`label@base`, `label@REV`) keeps only the targets on that branch.
    if (typeof lower === 'string' && lower.includes('@')) {
      let branch = lower.slice(0, lower.indexOf('@'));
      const branchRev = this.getRevision(branch);
      if (branchRev && branchRev.revision === branch) {
        // A revision used as a label stands for its branch: it must carry exactly one.
        if (branchRev.branchLabels.size !== 1) {
          throw new InvalidTargetError(lower, `${branch} is a revision on ${branchRev.branchLabels.size} labelled branches, not one: name a branch label`);
        }
        branch = [...branchRev.branchLabels][0];
      }
      targets = targets.filter((t) => t.branchLabels.has(branch));
    }
    const required = new Set([...this.ancestorNodes(targets, true, true), ...targets]);
    let current = typeof lower === 'string' ? this.getRevisions(lower) : this.getRevisionsOf(lower);
    let lowerIdent: string | string[] | null = lower;
    if (!implicitBase && current.some((r) => r !== null && !(typeof r === 'object' && required.has(r)))) {
      throw new RangeNotAncestorError(typeof lower === 'string' ? lower : lower.join(','), upperName);
    }
    // A relative lower bound (`-1`) that get_revisions cannot place: walked down from `upper`.
    if (current.length && current[0] === null && typeof lower === 'string') {
      const { rev } = this.parseDowngradeTarget(typeof upper === 'string' ? [upper] : upper, lower, assertRelativeLength);
      if (rev === 'base' || rev === null) {
        current = [];
        lowerIdent = null;
      } else {
        current = [rev];
        lowerIdent = rev.revision;
      }
    }
    const currentRevs = current.map(asRev);
    const currentSet = new Set([...this.ancestorNodes(currentRevs, true, true), ...currentRevs]);
    const needs = new Set([...required].filter((r) => !currentSet.has(r)));
    if (inclusive && lowerIdent !== null) {
      for (const r of typeof lowerIdent === 'string' ? this.getRevisions(lowerIdent) : this.getRevisionsOf(lowerIdent)) needs.add(asRev(r));
    }
    if (currentRevs.length && !implicitBase) {
      const above = new Set(this.descendantNodes(currentRevs, { check: true, includeDependencies: false }));
      for (const r of [...needs]) if (!above.has(r)) needs.delete(r);
    }
    return { revisions: needs, heads: targets };
  }

  /**
   * `ScriptDirectory.walk_revisions`: the revisions from `base` up to `head` inclusive, newest first,
   * as `history -r BASE:HEAD` lists them. `head` may be relative to `base` (`bbbb1:+1`); a label on
   * `base` (`billing@base`) keeps the walk on that branch; `base` not below `head` throws
   * RangeNotAncestorError; only revisions above `base` by down revision are listed (not those that
   * merely depend on it). Either side may be a list of ids (the version rows, for `current`).
   *
   * @example
   * ```ts
   * map.walkRevisions('bbbb1', '+1').map((r) => r.revision); // ['cccc1', 'bbbb1']
   * ```
   */
  walkRevisions(base: string | string[] = 'base', head: string | string[] = 'heads'): MapRev[] {
    const { revisions, heads } = this.collectUpgrade(head, base, false, { inclusive: true, implicitBase: false });
    return this.topologicalSort(revisions, heads, typeof head === 'string' ? head : head.join(',')).map((id) => this.rev(id));
  }

  /**
   * Alembic's `_get_all_current`: the version rows with every revision they need, reduced to the tips
   * of branches. Besides the rows, the revisions that are current only through a row's depends_on
   * (the row needs them, nothing applied on their branch is above them).
   */
  getAllCurrent(ids: string[]): MapRev[] {
    return [...this.allCurrent(ids)].filter((r): r is MapRev => r !== null);
  }

  /**
   * The revisions `show REV` names: `-N` and `label@-N` step down from each head, as Alembic's
   * get_revisions (refused when a head's walk ends below its base); any other form as an upgrade target reads it
   * (cmmc-db also takes `head-1`, `base+2`, `REV+1`, which Alembic's `show` refuses).
   */
  revisionsToShow(ref: string): MapRev[] {
    // `label@+N` / `REV@+N` count up from the version rows (upgrade's meaning), which show does not
    // read: Alembic cannot resolve them here either. Answering from base named a revision the
    // database may never have been at.
    if (/^[^@]+@\+\d+$/.test(ref)) {
      throw new InvalidTargetError(ref, `${ref.slice(ref.indexOf('@'))} counts from the version rows, which show does not read: name the revision, or count from base (${ref.slice(0, ref.indexOf('@'))}@base${ref.slice(ref.indexOf('@') + 1)})`);
    }
    if (/^(?:[^@]*@)?-\d+$/.test(ref)) {
      const branch = ref.includes('@') ? ref.slice(0, ref.indexOf('@')) : null;
      const heads = (this.getRevisions('heads') as MapRev[]).filter((h) => branch === null || h.branchLabels.has(branch));
      const walked = this.getRevisions(ref);
      // Alembic 1.8 fails (AttributeError) when a head's walk ends below its base: refused here, naming the head.
      const below = heads.filter((_, i) => walked[i] === null || walked[i] === 'base');
      if (below.length) {
        const from = below.map((h) => h.revision).join(', ');
        throw new InvalidTargetError(
          ref,
          branch === null
            ? `the walk down from ${from} goes below base: name the revision, or label@${ref} for one branch`
            : `the walk down from ${from} (branch ${branch}) goes below base: name the revision (cmmc-db history -r ${branch}@base: lists the branch)`,
        );
      }
      return walked as MapRev[];
    }
    return this.parseUpgradeTarget([], ref, true).flatMap((w) => {
      if (w === null) throw new InvalidTargetError(ref, 'that walk runs past the end of the graph');
      return w === 'base' ? [] : [w];
    });
  }

  /** A head (no revision names it as down revision) that another revision depends on: Alembic's "effective head". */
  isEffectiveHead(id: string): boolean {
    const r = this.rev(id);
    return r.nextrev.size === 0 && r.allNextrev.size > 0;
  }

  /** `_topological_sort`: heads first, each revision after everything above it. `target`: the walk's destination, named when it fails. */
  private topologicalSort(revisions: Set<MapRev>, heads: MapRev[], target: string): string[] {
    const ancestorsOf = (id: string) => new Set([...this.ancestorNodes([this.rev(id)])].map((r) => r.revision));
    const todo = new Set([...revisions].map((r) => r.revision));
    const idx = (id: string) => this.order.indexOf(id);
    const currentHeads = [...new Set(heads.filter((h) => todo.has(h.revision)).map((h) => h.revision))].sort((a, b) => idx(a) - idx(b));
    const ancestorsByIdx = currentHeads.map(ancestorsOf);
    const out: string[] = [];
    let ci = 0;
    let guard = 0;
    while (currentHeads.length) {
      if (++guard > 1_000_000) throw new InvalidTargetError(target, 'the revision walk did not finish');
      const candidate = currentHeads[ci];
      const blocker = ancestorsByIdx.findIndex((anc, k) => k !== ci && anc.has(candidate));
      if (blocker !== -1) {
        ci = blocker;
        continue;
      }
      if (todo.has(candidate)) {
        out.push(candidate);
        todo.delete(candidate);
      }
      const rev = this.rev(candidate);
      const toAdd = normalizedDown(rev).filter((r) => todo.has(r) && !currentHeads.includes(r));
      if (!toAdd.length) {
        currentHeads.splice(ci, 1);
        ancestorsByIdx.splice(ci, 1);
        ci = Math.max(ci - 1, 0);
      } else if (!rev.normalizedDeps.length && rev.down.length === 1) {
        currentHeads[ci] = toAdd[0];
        ancestorsByIdx[ci].delete(candidate);
      } else {
        currentHeads[ci] = toAdd[0];
        currentHeads.push(...toAdd.slice(1));
        ancestorsByIdx[ci] = ancestorsOf(toAdd[0]);
        ancestorsByIdx.push(...toAdd.slice(1).map(ancestorsOf));
      }
    }
    if (todo.size) throw new InvalidTargetError(target, `revisions ${[...todo].join(', ')} cannot be ordered from the current heads`);
    return out;
  }

  /** `ScriptDirectory._upgrade_revs`: the revisions to upgrade, in order. */
  upgradeSteps(destination: string, currentHeads: string[]): MapStep[] {
    const { revisions, heads } = this.collectUpgrade(destination, currentHeads, true);
    return this.topologicalSort(revisions, heads, destination)
      .reverse()
      .map((id) => ({ rev: this.rev(id), isUpgrade: true }));
  }

  /** `ScriptDirectory._downgrade_revs`: the revisions to downgrade, in order. */
  downgradeSteps(destination: string, currentHeads: string[]): MapStep[] {
    const { revisions, heads } = this.collectDowngrade(currentHeads, destination, true);
    return this.topologicalSort(revisions, heads, destination).map((id) => ({ rev: this.rev(id), isUpgrade: false }));
  }

  /**
   * `ScriptDirectory._stamp_revs`: the stamp movements for destinations `revisions` from `heads`.
   * One deliberate difference (divergence `stamp-keeps-unrelated-heads`): Alembic 1.8 moves every
   * current head that shares lineage with *any* destination into each destination's step, so with
   * rows a1, r0 (r0 a separate base and itself a head) `stamp heads` deletes r0. Here each
   * destination moves only the heads in its own lineage; the others stay.
   */
  stampMoves(revisions: string[], currentHeads: string[]): StampMove[] {
    try {
      return this.stampMovesOf(revisions, currentHeads);
    } catch (err) {
      // Alembic 1.8 resolves a relative step (-1, label@-1) only when no row shares lineage with it
      // (an empty version table): otherwise it refuses with "Can't locate revision identified by
      // '-1'". The same outcome here, named whole and with what stamp takes.
      const relative = revisions.find((d) => /(^|@)[0-9a-zA-Z_]*[+-]\d+$/.test(d) && !this.map.has(d));
      if (err instanceof UnknownRevisionError && relative) {
        const onEmptyOnly = /^([0-9a-zA-Z_]+@)?-\d+$/.test(relative);
        throw new InvalidTargetError(
          relative,
          `stamp takes revisions, branch labels, heads or base${onEmptyOnly ? '; a step down from the heads (-1, label@-1) is taken only on an empty version table' : ', not a relative step'} (as in Alembic): name the revision`,
        );
      }
      throw err;
    }
  }

  private stampMovesOf(revisions: string[], currentHeads: string[]): StampMove[] {
    const headRevs = this.getRevisionsOf(currentHeads).map(asRev);
    const dests = revisions.length ? revisions : ['base'];
    const filtered: MapRev[] = [];
    for (const r of dests) {
      for (const h of this.filterForLineage(headRevs, r, true)) if (!filtered.includes(h)) filtered.push(h);
    }
    const resolved = this.getRevisionsOf(dests);
    // Two destinations naming one revision (`stamp bbbb1 bbbb1`, or an id and its label): Alembic
    // fails an assertion after writing the first row; here nothing is written and the cause is named.
    // Named twice but already a current row: nothing to do for it, as in Alembic.
    const twice = resolved.find((r, i) => r !== null && r !== 'base' && resolved.indexOf(r) !== i && !filtered.includes(r));
    if (twice && typeof twice === 'object') throw new InvalidTargetError(dests.join(' '), `names revision ${twice.revision} more than once; name each revision once`);
    const moves: StampMove[] = [];
    for (const dest of resolved.length ? resolved : [null]) {
      // A relative destination that walks below a base: Alembic fails an assertion here.
      if (dest === 'base') throw new InvalidTargetError(dests.join(' '), 'that walk goes below base; stamp base, or name the revision');
      if (dest === null) {
        for (const h of filtered) moves.push({ from: [h.revision], to: [], isUpgrade: false, branchMove: true });
        continue;
      }
      if (filtered.includes(dest)) continue;
      const descendants = new Set(this.descendantNodes([dest]));
      const ancestors = new Set(this.ancestorNodes([dest]));
      const mine = filtered.filter((h) => this.sharesLineage(h, [dest], true));
      const ids = mine.map((h) => h.revision);
      if (mine.some((h) => descendants.has(h))) moves.push({ from: ids, to: [dest.revision], isUpgrade: false, branchMove: false });
      else if (mine.some((h) => ancestors.has(h))) moves.push({ from: ids, to: [dest.revision], isUpgrade: true, branchMove: false });
      else moves.push({ from: [], to: [dest.revision], isUpgrade: true, branchMove: true });
    }
    // `base` (or `label@base`) beside other destinations: the rows of its lineage that no other
    // destination moves go to base, i.e. are deleted (`stamp base y1` leaves y1 alone, as Alembic's,
    // whose base takes every row into the other destinations' step). Before, base was dropped here.
    if (resolved.length) {
      const moved = new Set(moves.flatMap((m) => m.from));
      const kept = new Set(resolved.filter((r): r is MapRev => typeof r === 'object' && r !== null).map((r) => r.revision));
      for (const d of dests) {
        if (this.getRevisions(d).length) continue;
        for (const h of this.filterForLineage(headRevs, d, true)) {
          if (moved.has(h.revision) || kept.has(h.revision)) continue;
          moved.add(h.revision);
          moves.unshift({ from: [h.revision], to: [], isUpgrade: false, branchMove: true });
        }
      }
    }
    return moves;
  }

  // ---- the version table (HeadMaintainer) --------------------------------------------------------

  /** The version-table changes of one revision step from `heads` (which is updated in place). */
  revisionStepOps(step: MapStep, heads: Set<string>): VersionOp[] {
    const rev = step.rev;
    const downrevs = normalizedDown(rev);
    const from = step.isUpgrade ? downrevs : [rev.revision];
    const to = step.isUpgrade ? [rev.revision] : downrevs;
    const unmergeTo = (): string[] => {
      const others = [...heads].filter((h) => h !== rev.revision);
      const anc = new Set(others.length ? [...this.ancestorNodes(this.getRevisionsOf(others).map(asRev))].map((r) => r.revision) : []);
      // One deliberate difference (divergence unmerge-keeps-tips-only): a revision whose down
      // revision is below its dependency by down revision (X: A, depends_on B, B: A) gives Alembic
      // both A and B back, rows that overlap and from which no walk starts (even Alembic's
      // `upgrade heads` refuses them). Only B goes back here, the row the upgrade of X replaced.
      const kept = to.filter((t) => !anc.has(t));
      const below = new Set(kept.flatMap((t) => [...this.ancestorNodes([this.rev(t)], false)].filter((a) => a.revision !== t).map((a) => a.revision)));
      return kept.filter((t) => !below.has(t));
    };
    const ops = new HeadOps(heads);
    if (!step.isUpgrade && heads.has(rev.revision) && (!downrevs.length || !unmergeTo().length)) {
      ops.del(rev.revision);
    } else if (step.isUpgrade && (!downrevs.length || !downrevs.some((d) => heads.has(d)))) {
      ops.ins(rev.revision);
    } else if (step.isUpgrade && downrevs.length > 1 && downrevs.filter((d) => heads.has(d)).length > 1) {
      const others = [...heads].filter((h) => !from.includes(h));
      let fromRevs = from;
      if (others.length) {
        const anc = new Set([...this.ancestorNodes(this.getRevisionsOf(others).map(asRev))].map((r) => r.revision));
        fromRevs = from.filter((f) => !anc.has(f));
      }
      for (const d of fromRevs.slice(0, -1)) ops.del(d);
      ops.upd(fromRevs[fromRevs.length - 1], to[0]);
    } else if (!step.isUpgrade && heads.has(rev.revision) && downrevs.length > 1) {
      const t = unmergeTo();
      for (const i of t.slice(0, -1)) ops.ins(i);
      ops.upd(from[0], t[t.length - 1]);
    } else {
      let down: string;
      if (downrevs.length !== 1) {
        const present = downrevs.filter((d) => heads.has(d));
        if (present.length !== 1) throw new InvalidTargetError(rev.revision, "can't update the version table because the down revision is ambiguous");
        down = present[0];
      } else down = downrevs[0];
      if (step.isUpgrade) ops.upd(down, rev.revision);
      else ops.upd(rev.revision, down);
    }
    return ops.done;
  }

  /** The version-table changes of one stamp movement (`heads` is updated in place). */
  stampMoveOps(move: StampMove, heads: Set<string>): VersionOp[] {
    const ops = new HeadOps(heads);
    if (!move.isUpgrade && move.branchMove) ops.del(move.from[0]);
    else if (move.isUpgrade && (move.branchMove || move.from.some((f) => !heads.has(f))) && move.to.some((t) => !heads.has(t))) ops.ins(move.to[0]);
    else if (move.from.length > 1) {
      for (const d of move.from.slice(0, -1)) ops.del(d);
      ops.upd(move.from[move.from.length - 1], move.to[0]);
    } else if (move.to.length > 1) {
      for (const i of move.to.slice(0, -1)) ops.ins(i);
      ops.upd(move.from[0], move.to[move.to.length - 1]);
    } else ops.upd(move.from[0], move.to[0]);
    return ops.done;
  }
}

/** Applies version-table changes to a set of heads, refusing what Alembic's asserts refuse. */
class HeadOps {
  readonly done: VersionOp[] = [];
  constructor(private readonly heads: Set<string>) {}
  ins(v: string) {
    if (this.heads.has(v)) throw new InvalidTargetError(v, `${v} is already in the version table`);
    this.heads.add(v);
    this.done.push({ op: 'insert', version: v });
  }
  del(v: string) {
    if (!this.heads.has(v)) throw new InvalidTargetError(v, `${v} is not in the version table`);
    this.heads.delete(v);
    this.done.push({ op: 'delete', version: v });
  }
  upd(from: string | undefined, to: string | undefined) {
    if (from === undefined || to === undefined || !this.heads.has(from) || this.heads.has(to)) {
      throw new InvalidTargetError(to ?? from ?? 'stamp', `cannot move the version row ${from ?? '?'} to ${to ?? '?'}`);
    }
    this.heads.delete(from);
    this.heads.add(to);
    this.done.push({ op: 'update', from, to });
  }
}

function allDown(r: MapRev): string[] {
  return dedupe([...r.down, ...r.resolvedDeps]);
}

export function normalizedDown(r: MapRev): string[] {
  return dedupe([...r.down, ...r.normalizedDeps]);
}

function asRev(w: Walked): MapRev {
  if (w === null || w === 'base') throw new InvalidTargetError('base', 'that names no revision');
  return w;
}

function asRevOrNull(w: Walked): MapRev | null {
  return w === 'base' ? null : w;
}

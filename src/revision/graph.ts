/**
 * The revision graph: pure data built from a list of revisions. It answers heads, bases, branch
 * labels, ancestors and descendants, resolves targets the way Alembic does, and plans the walk of an
 * upgrade or a downgrade. No I/O; errors are typed (src/revision/errors.ts).
 *
 * Two relations: `downRevisions` shape the branches (heads, bases, merges, the version table rows);
 * `downRevisions` plus `dependsOn` decide what must be applied before what.
 *
 * @example
 * ```ts
 * const graph = new RevisionGraph([{ revision: 'aaaaaaaaaaaa', downRevisions: [], dependsOn: [], branchLabels: [], message: 'first' }]);
 * graph.upgradePlan([], 'head').map((r) => r.revision); // ['aaaaaaaaaaaa']
 * ```
 */
import {
  AmbiguousRevisionError,
  CycleError,
  AmbiguousNameError,
  DuplicateLabelError,
  DuplicateRevisionError,
  InvalidTargetError,
  MultipleHeadsError,
  RevisionError,
  UnknownParentError,
  UnknownRevisionError,
} from './errors.js';
import { RevisionMap, type MapStep, type StampMove, type VersionOp } from './revision-map.js';

export interface RevisionNode {
  revision: string;
  downRevisions: string[];
  dependsOn: string[];
  branchLabels: string[];
  message: string;
  /** The file that declares it, for messages. */
  file?: string;
}

/** One step of a plan: the revision and the map's step (for the version-table change). */
export interface PlannedStep<T> {
  revision: T;
  step: MapStep;
}

/** Words a target means by itself (Alembic's `base`, `head`, `heads`, and `current` of history ranges); no revision or label may be one. */
const TARGET_KEYWORDS = new Set(['base', 'head', 'heads', 'current']);

/**
 * Why a branch label could not be told apart from something else in a target, or null. The rules:
 * Alembic's (a label may not be any revision's id, its own included) and the target syntax's
 * (`label@head`, `from:to` ranges, lists of targets).
 */
function labelClash(label: string, revisions: Map<string, unknown>): string | null {
  if (revisions.has(label)) return `is also the id of revision ${label}`;
  if (TARGET_KEYWORDS.has(label)) return 'is a target keyword';
  if (label === '' || /[@:,\s]/.test(label)) return 'is empty or holds "@", ":", "," or a blank, which targets read otherwise';
  if (label.includes('+') || label.startsWith('-')) return 'holds "+" or starts with "-", which targets read as a relative step';
  return null;
}

export class RevisionGraph<T extends RevisionNode = RevisionNode> {
  private readonly nodes = new Map<string, T>();
  /** down-children: revisions naming this one as a down revision. */
  private readonly children = new Map<string, string[]>();
  /** every dependant: down-children and revisions that depend on this one. */
  private readonly dependants = new Map<string, string[]>();
  private readonly labels = new Map<string, string>();
  /** Every revision, parents before children (stable: files' order breaks ties). */
  readonly ordered: T[];
  /** Alembic's revision map over the same revisions (file order), for targets and walks. */
  readonly map: RevisionMap;

  constructor(revisions: T[]) {
    for (const rev of revisions) {
      const seen = this.nodes.get(rev.revision);
      if (seen) throw new DuplicateRevisionError(rev.revision, [baseName(seen.file) ?? seen.revision, baseName(rev.file) ?? rev.revision]);
      if (TARGET_KEYWORDS.has(rev.revision)) throw new AmbiguousNameError(rev.revision, rev.revision, 'revision', 'is a target keyword', 'give the revision another id in its file (cmmc-db revision makes fresh ids)');
      this.nodes.set(rev.revision, rev);
      this.children.set(rev.revision, []);
      this.dependants.set(rev.revision, []);
    }
    for (const rev of revisions) {
      for (const parent of rev.downRevisions) {
        if (!this.nodes.has(parent)) throw new UnknownParentError(rev.revision, parent, 'down_revision');
        this.children.get(parent)!.push(rev.revision);
        this.dependants.get(parent)!.push(rev.revision);
      }
      for (const dep of rev.dependsOn) {
        const resolved = this.nodes.has(dep) ? dep : this.labelOrNull(dep, revisions);
        if (!resolved) throw new UnknownParentError(rev.revision, dep, 'depends_on');
        this.dependants.get(resolved)!.push(rev.revision);
      }
      for (const label of rev.branchLabels) {
        const clash = labelClash(label, this.nodes);
        if (clash) throw new AmbiguousNameError(rev.revision, label, 'label', clash, `rename the label in the file of revision ${rev.revision}`);
        const other = this.labels.get(label);
        if (other) throw new DuplicateLabelError(label, [other, rev.revision]);
        this.labels.set(label, rev.revision);
      }
    }
    this.ordered = this.topologicalOrder(revisions);
    this.map = new RevisionMap(revisions);
  }

  private labelOrNull(name: string, revisions: T[]): string | null {
    return revisions.find((r) => r.branchLabels.includes(name))?.revision ?? null;
  }

  /** Every parent: down revisions and dependencies (dependencies may name a branch label). */
  parentsOf(id: string): string[] {
    const rev = this.get(id);
    const deps = rev.dependsOn.map((d) => (this.nodes.has(d) ? d : this.labels.get(d)!));
    return [...rev.downRevisions, ...deps];
  }

  private topologicalOrder(revisions: T[]): T[] {
    const state = new Map<string, 'visiting' | 'done'>();
    const out: T[] = [];
    const stack: string[] = [];
    const visit = (id: string) => {
      const s = state.get(id);
      if (s === 'done') return;
      if (s === 'visiting') {
        const from = stack.indexOf(id);
        throw new CycleError([...stack.slice(from), id]);
      }
      state.set(id, 'visiting');
      stack.push(id);
      for (const parent of this.parentsOf(id)) visit(parent);
      stack.pop();
      state.set(id, 'done');
      out.push(this.nodes.get(id)!);
    };
    for (const rev of revisions) visit(rev.revision);
    return out;
  }

  get size(): number {
    return this.nodes.size;
  }

  has(id: string): boolean {
    return this.nodes.has(id);
  }

  get(id: string): T {
    const rev = this.nodes.get(id);
    if (!rev) throw new UnknownRevisionError(id);
    return rev;
  }

  childrenOf(id: string): string[] {
    return this.children.get(id) ?? [];
  }

  /** Revisions that no other revision names as its down revision. */
  get heads(): string[] {
    return this.ordered.filter((r) => this.childrenOf(r.revision).length === 0).map((r) => r.revision);
  }

  /** Revisions with no down revision. */
  get bases(): string[] {
    return this.ordered.filter((r) => r.downRevisions.length === 0).map((r) => r.revision);
  }

  /** Revisions with more than one down-child. */
  get branchPoints(): string[] {
    return this.ordered.filter((r) => this.childrenOf(r.revision).length > 1).map((r) => r.revision);
  }

  isMerge(id: string): boolean {
    return this.get(id).downRevisions.length > 1;
  }

  /** Branch labels and the revision that declares each. */
  get branchLabels(): Map<string, string> {
    return new Map(this.labels);
  }

  /** Labels that apply to a revision: its own and those of the labelled revisions it descends from on a straight line. */
  labelsOf(id: string): string[] {
    return [...this.map.rev(id).branchLabels];
  }

  /** The single head; MultipleHeadsError when there are several. */
  singleHead(target = 'head'): string {
    const heads = this.heads;
    if (heads.length > 1) throw new MultipleHeadsError(heads, target);
    if (heads.length === 0) throw new UnknownRevisionError(target);
    return heads[0];
  }

  /** `ids` and everything they need (down revisions and dependencies), transitively. */
  ancestors(ids: Iterable<string>, inclusive = true): Set<string> {
    const out = new Set<string>();
    const stack = [...ids].flatMap((id) => (inclusive ? [id] : this.parentsOf(id)));
    while (stack.length) {
      const id = stack.pop()!;
      if (out.has(id)) continue;
      this.get(id);
      out.add(id);
      stack.push(...this.parentsOf(id));
    }
    return out;
  }

  /** `ids` and everything that needs them, transitively. */
  descendants(ids: Iterable<string>, inclusive = true): Set<string> {
    const out = new Set<string>();
    const stack = [...ids].flatMap((id) => (inclusive ? [id] : this.dependants.get(id) ?? []));
    while (stack.length) {
      const id = stack.pop()!;
      if (out.has(id)) continue;
      this.get(id);
      out.add(id);
      stack.push(...(this.dependants.get(id) ?? []));
    }
    return out;
  }

  /** The revisions applied when the version table holds `rows`. */
  appliedSet(rows: string[]): Set<string> {
    return this.ancestors(rows);
  }

  /**
   * The rows (of those the graph knows) below another of `rows` by down revision. Alembic's version
   * table never holds both (a row moves up as its descendants are applied), so these are left by
   * hand or by a copy, and a walk from them is refused as overlapping. A row that another row only
   * depends on is legitimate (Alembic keeps it: `downgrade` of the dependency's branch leaves both).
   */
  overlappingRows(rows: string[]): string[] {
    const known = [...new Set(rows.filter((r) => this.has(r)))];
    return known.filter((r) => known.some((o) => this.isBelow(r, o)));
  }

  /** The revisions an identifier names, as Alembic's get_revisions: an id, prefix, label, `heads`, `label@head`, `REV@head`... */
  resolveRevisions(ref: string): string[] {
    return this.run(() =>
      this.map.getRevisions(ref.trim()).map((w) => {
        if (w === null || w === 'base') throw new InvalidTargetError(ref, 'names no revision');
        return w.revision;
      }),
    );
  }

  /** A revision by full id, unique prefix or branch label. */
  resolveRevision(ref: string): string {
    if (this.nodes.has(ref)) return ref;
    const labelled = this.labels.get(ref);
    if (labelled) return labelled;
    if (!/^[0-9a-zA-Z_]+$/.test(ref)) throw new UnknownRevisionError(ref);
    const matches = [...this.nodes.keys()].filter((id) => id.startsWith(ref));
    if (matches.length > 1) throw new AmbiguousRevisionError(ref, matches.sort());
    if (matches.length === 0) throw new UnknownRevisionError(ref);
    return matches[0];
  }

  /** Every revision carrying one of the labels that `labelled` declares (Alembic's label propagation). */
  branchMembers(labelled: string): Set<string> {
    const labels = this.map.rev(labelled).origLabels;
    return new Set(this.ordered.filter((r) => labels.some((l) => this.map.rev(r.revision).branchLabels.has(l))).map((r) => r.revision));
  }

  /**
   * Resolves a target to the revisions it names ([] = base), as `upgrade` reads it.
   * Forms: head, heads, base, a full id, a prefix, a branch label, +N, -N, REV+N, REV-N, base+N,
   * label@head, label@heads, label@base, label@REV, label@+N, label@base+N, label@head-1, REV@head...
   * `current` is the version table's rows (for relative forms).
   */
  resolveTarget(target: string, current: string[] = []): string[] {
    return this.run(() =>
      this.map.parseUpgradeTarget(current, target.trim(), true).map((w) => {
        if (w === null) throw new InvalidTargetError(target, 'that walk runs past the end of the graph');
        return w === 'base' ? [] : [w.revision];
      }).flat(),
    );
  }

  /** A label's or revision's lineage check, as Alembic's filter_for_lineage. */
  filterForLineage(ids: string[], against: string, includeDependencies = false): string[] {
    return this.run(() => this.map.filterForLineage(ids, against, includeDependencies));
  }

  /**
   * The revisions to apply, in order, to go from `current` (version rows) to `target`: Alembic's
   * `_upgrade_revs` (every target form; `heads` follows depends_on as Alembic's real heads do).
   */
  upgradePlan(current: string[], target: string): T[] {
    return this.upgradeSteps(current, target).map((s) => s.revision);
  }

  upgradeSteps(current: string[], target: string): PlannedStep<T>[] {
    return this.run(() => this.map.upgradeSteps(target.trim(), current)).map((s) => ({ revision: this.get(s.rev.revision), step: s }));
  }

  /**
   * The revisions to un-apply, in order (children first), to go from `current` down to `target`:
   * Alembic's `_downgrade_revs`: only revisions that descend from the target, through down
   * revisions or depends_on, and are applied. Refuses `-N` from several current heads, which
   * Alembic resolves by whichever version row the database returns first (listed in src/revision/divergences.ts).
   */
  downgradePlan(current: string[], target: string): T[] {
    return this.downgradeSteps(current, target).map((s) => s.revision);
  }

  downgradeSteps(current: string[], target: string): PlannedStep<T>[] {
    const t = target.trim();
    if (/^-\d+/.test(t) && new Set(current).size > 1) {
      throw new InvalidTargetError(t, `more than one current head (${current.join(', ')}): say which branch, as label@${t} or REV${t}`);
    }
    return this.run(() => this.map.downgradeSteps(t, current)).map((s) => ({ revision: this.get(s.rev.revision), step: s }));
  }

  /** Alembic's `_stamp_revs`: how the version rows move for `stamp TARGETS` from `current`. */
  stampMoves(current: string[], targets: string[]): StampMove[] {
    return this.run(() => this.map.stampMoves(targets.map((t) => t.trim()), current));
  }

  /** The version-table changes of one planned step; `heads` (the rows) is updated in place. */
  versionOps(step: PlannedStep<T>, heads: Set<string>): VersionOp[] {
    return this.run(() => this.map.revisionStepOps(step.step, heads));
  }

  /**
   * `stamp TARGETS` from the version rows `current` as a whole: the version-table changes in order and
   * the rows after them (sorted). Throws what `stampMoves` throws (an unknown or invalid target).
   */
  stampPlan(current: string[], targets: string[]): { ops: VersionOp[]; rows: string[] } {
    const heads = new Set(current);
    const moves = this.stampMoves(current, targets);
    // Targets one below another by down revision (`stamp a1 a3`): Alembic writes both rows from an
    // empty table (they overlap, and no walk starts from them), and from rows on that line keeps
    // whichever its moves reach (divergence stamp-refuses-overlapping-rows). Each target moves
    // every row on its own line, so this is the one way a stamp makes rows that overlap.
    const named = this.run(() => this.map.getRevisionsOf(targets.map((t) => t.trim()))).flatMap((w) => (w && w !== 'base' ? [w.revision] : []));
    for (const lo of named) {
      const hi = named.find((h) => this.isBelow(lo, h));
      if (hi) throw new InvalidTargetError(targets.join(' '), `${lo} is below ${hi} (by down revision), and a version row stands for its revision and every one below it: stamp ${hi} alone`);
    }
    try {
      const ops = moves.flatMap((m) => this.stampOps(m, heads));
      return { ops, rows: [...heads].sort() };
    } catch (err) {
      // One target's move took a row another's needs (`stamp a2 x1` with rows d1 m2 y3): the row
      // named in the error is one of the plan's own, not the user's. Alembic fails with a KeyError
      // after writing the first move; here nothing is written and the targets are named.
      if (targets.length > 1 && err instanceof InvalidTargetError) {
        throw new InvalidTargetError(targets.join(' '), `these targets cannot be stamped together from the rows ${current.join(', ') || '(none)'}: one moves a row another needs; stamp them one at a time`);
      }
      throw err;
    }
  }

  /** Whether `lower` is below `upper` by down revision (not through depends_on). */
  isBelow(lower: string, upper: string): boolean {
    if (lower === upper || !this.has(lower) || !this.has(upper)) return false;
    for (const a of this.map.ancestorNodes([this.map.rev(upper)], false)) if (a.revision === lower) return true;
    return false;
  }

  /** The version-table changes of one stamp movement; `heads` is updated in place. */
  stampOps(move: StampMove, heads: Set<string>): VersionOp[] {
    return this.run(() => this.map.stampMoveOps(move, heads));
  }

  /** Runs a map operation; anything that is not one of our typed errors becomes an InvalidTargetError. */
  private run<R>(fn: () => R): R {
    try {
      return fn();
    } catch (err) {
      if (err instanceof RevisionError) throw err;
      throw new InvalidTargetError('target', (err as Error).message);
    }
  }

  /** Revisions between `from` and `to` (inclusive), for `history -r from:to`; undefined = open end. */
  range(from: string[] | undefined, to: string[] | undefined): T[] {
    const lower = from ? (from.length ? this.descendants(from) : null) : null;
    const upper = to ? this.ancestors(to) : null;
    return this.ordered.filter((r) => (!lower || lower.has(r.revision)) && (!upper || upper.has(r.revision)));
  }
}

/** The last part of a path, for messages. */
function baseName(file: string | undefined): string | undefined {
  return file?.split(/[\\/]/).pop();
}

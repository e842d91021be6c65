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
  DuplicateLabelError,
  DuplicateRevisionError,
  InvalidTargetError,
  MultipleHeadsError,
  UnknownParentError,
  UnknownRevisionError,
} from './errors.js';

export interface RevisionNode {
  revision: string;
  downRevisions: string[];
  dependsOn: string[];
  branchLabels: string[];
  message: string;
  /** The file that declares it, for messages. */
  file?: string;
}

/** What a downgrade target means: keep exactly the ancestors of `keep`, or remove everything from `removeFrom` up. */
type DowngradeTarget = { keep: string[]; within?: Set<string> } | { removeFrom: string[] };

export class RevisionGraph<T extends RevisionNode = RevisionNode> {
  private readonly nodes = new Map<string, T>();
  /** down-children: revisions naming this one as a down revision. */
  private readonly children = new Map<string, string[]>();
  /** every dependant: down-children and revisions that depend on this one. */
  private readonly dependants = new Map<string, string[]>();
  private readonly labels = new Map<string, string>();
  /** Every revision, parents before children (stable: files' order breaks ties). */
  readonly ordered: T[];

  constructor(revisions: T[]) {
    for (const rev of revisions) {
      const seen = this.nodes.get(rev.revision);
      if (seen) throw new DuplicateRevisionError(rev.revision, [baseName(seen.file) ?? seen.revision, baseName(rev.file) ?? rev.revision]);
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
        const other = this.labels.get(label);
        if (other) throw new DuplicateLabelError(label, [other, rev.revision]);
        this.labels.set(label, rev.revision);
      }
    }
    this.ordered = this.topologicalOrder(revisions);
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
    const out: string[] = [];
    for (const [label, rev] of this.labels) if (this.branchMembers(rev).has(id)) out.push(label);
    return out;
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

  /** The version table rows for a set of applied revisions: those with no applied down-child. */
  rowsFor(applied: Set<string>): string[] {
    return this.ordered
      .filter((r) => applied.has(r.revision) && !this.childrenOf(r.revision).some((c) => applied.has(c)))
      .map((r) => r.revision);
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

  /** The labelled revision, its down-descendants, and its straight-line ancestors back to the branch point. */
  branchMembers(labelled: string): Set<string> {
    const members = new Set<string>([labelled]);
    const stack = [...this.childrenOf(labelled)];
    while (stack.length) {
      const id = stack.pop()!;
      if (members.has(id)) continue;
      members.add(id);
      stack.push(...this.childrenOf(id));
    }
    let at = labelled;
    for (;;) {
      const down = this.get(at).downRevisions;
      if (down.length !== 1 || this.childrenOf(down[0]).length !== 1) break;
      at = down[0];
      members.add(at);
    }
    return members;
  }

  /** The first revision of a labelled branch (just above its branch point, or a base). */
  private branchRoot(labelled: string): string {
    let at = labelled;
    for (;;) {
      const down = this.get(at).downRevisions;
      if (down.length !== 1 || this.childrenOf(down[0]).length !== 1) return at;
      at = down[0];
    }
  }

  /** N steps up (towards heads) or down (towards base) from `from` ([] = base); [] again means base. */
  private step(from: string[], n: number, target: string, within?: Set<string>): string[] {
    let at = from;
    if (n > 0) {
      for (let i = 0; i < n; i++) {
        const all = at.length === 0 ? this.bases : at.length === 1 ? this.childrenOf(at[0]) : null;
        const next = all && within ? all.filter((id) => within.has(id)) : all;
        if (next === null) throw new InvalidTargetError(target, `more than one current head (${at.join(', ')}); use ID+N or label@+N`);
        if (next.length === 0) throw new InvalidTargetError(target, `only ${i} revision(s) above ${at[0] ?? 'base'}`);
        if (next.length > 1) throw new InvalidTargetError(target, `${at[0] ?? 'base'} branches into ${next.join(', ')}; name one of them`);
        at = [next[0]];
      }
    } else {
      for (let i = 0; i < -n; i++) {
        if (at.length === 0) throw new InvalidTargetError(target, `only ${i} revision(s) below the start`);
        if (at.length > 1) throw new InvalidTargetError(target, `more than one current head (${at.join(', ')}); use ID-N or label@-N`);
        at = this.get(at[0]).downRevisions;
        if (at.length > 1 && i < -n - 1) throw new InvalidTargetError(target, `the merge ${from[0]} has several down revisions; name one of them`);
      }
    }
    return at;
  }

  /**
   * Resolves a target to the revisions it names ([] = base).
   * Forms: head, heads, base, a full id, a unique prefix, a branch label, +N, -N, ID+N, ID-N,
   * label@head, label@base, label@ID, label@+N. `current` is the version table's rows (for relative forms).
   */
  resolveTarget(target: string, current: string[] = []): string[] {
    const t = target.trim();
    if (t === 'head') return [this.singleHead('head')];
    if (t === 'heads') return this.heads;
    if (t === 'base') return [];
    if (this.nodes.has(t)) return [t];
    if (this.labels.has(t)) return [this.labels.get(t)!];
    const relative = /^([+-])(\d+)$/.exec(t);
    if (relative) return this.step(current, Number(relative[2]) * (relative[1] === '+' ? 1 : -1), t);
    const at = /^([^@]+)@(.+)$/.exec(t);
    if (at) {
      const labelled = this.labels.get(at[1]);
      if (!labelled) throw new UnknownRevisionError(`${at[1]} (branch label)`);
      const members = this.branchMembers(labelled);
      const what = at[2];
      if (what === 'head') {
        const heads = this.heads.filter((h) => members.has(h));
        if (heads.length > 1) throw new MultipleHeadsError(heads, t);
        return heads;
      }
      if (what === 'base') return [];
      const rel = /^([+-])(\d+)$/.exec(what);
      if (rel) {
        const here = current.filter((c) => members.has(c));
        const start = here.length ? here : this.get(this.branchRoot(labelled)).downRevisions;
        return this.step(start, Number(rel[2]) * (rel[1] === '+' ? 1 : -1), t, members);
      }
      const id = this.resolveInSet(what, members, t);
      return [id];
    }
    const idRel = /^(.+?)([+-])(\d+)$/.exec(t);
    if (idRel) {
      const id = this.resolveRevision(idRel[1]);
      return this.step([id], Number(idRel[3]) * (idRel[2] === '+' ? 1 : -1), t);
    }
    return [this.resolveRevision(t)];
  }

  private resolveInSet(ref: string, members: Set<string>, target: string): string {
    const matches = [...members].filter((id) => id.startsWith(ref));
    if (matches.length > 1) throw new AmbiguousRevisionError(ref, matches.sort());
    if (matches.length === 0) throw new InvalidTargetError(target, `no revision of that branch starts with "${ref}"`);
    return matches[0];
  }

  /** The revisions to apply, in order, to go from `current` (version rows) to `target`. */
  upgradePlan(current: string[], target: string): T[] {
    const applied = this.appliedSet(current);
    const targets = this.resolveTarget(target, current);
    const needed = this.ancestors(targets);
    return this.ordered.filter((r) => needed.has(r.revision) && !applied.has(r.revision));
  }

  /** The revisions to un-apply, in order (children first), to go from `current` down to `target`. */
  downgradePlan(current: string[], target: string): T[] {
    const applied = this.appliedSet(current);
    const resolved = this.resolveDowngrade(target, current);
    let remove: Set<string>;
    if ('removeFrom' in resolved) {
      remove = this.descendants(resolved.removeFrom);
    } else {
      for (const id of resolved.keep) {
        if (!applied.has(id)) throw new InvalidTargetError(target, `${id} is not applied; downgrade only goes down (use upgrade)`);
      }
      remove = this.descendants(resolved.keep, false);
      // label@-N: only that branch's revisions above the target (and whatever needs them).
      if (resolved.within) remove = this.descendants([...remove].filter((id) => resolved.within!.has(id)));
    }
    return this.ordered.filter((r) => remove.has(r.revision) && applied.has(r.revision)).reverse();
  }

  private resolveDowngrade(target: string, current: string[]): DowngradeTarget {
    const t = target.trim();
    if (t === 'base') return { removeFrom: this.bases };
    const label = /^([^@]+)@base$/.exec(t);
    if (label) {
      const labelled = this.labels.get(label[1]);
      if (!labelled) throw new UnknownRevisionError(`${label[1]} (branch label)`);
      return { removeFrom: [this.branchRoot(labelled)] };
    }
    // -N from a single current head, or ID-N, that walks past a base: remove that branch entirely.
    const rel = /^(?:([^@]+)@|(.+?))?-(\d+)$/.exec(t);
    if (rel) {
      let from: string[];
      let within: Set<string> | undefined;
      if (rel[2]) from = [this.resolveRevision(rel[2])];
      else if (rel[1]) {
        const labelled = this.labels.get(rel[1]);
        if (!labelled) throw new UnknownRevisionError(`${rel[1]} (branch label)`);
        within = this.branchMembers(labelled);
        from = current.filter((c) => within!.has(c));
      } else from = current;
      if (from.length > 1) throw new InvalidTargetError(t, `more than one current head (${from.join(', ')}); use ID-N or label@-N`);
      if (from.length === 0) throw new InvalidTargetError(t, 'nothing is applied');
      let at = from;
      const n = Number(rel[3]);
      for (let i = 0; i < n; i++) {
        if (at.length === 0) throw new InvalidTargetError(t, `only ${i} revision(s) below ${from[0]}`);
        if (at.length > 1) throw new InvalidTargetError(t, `${at.join(', ')} are the down revisions of a merge; name one of them`);
        const down = this.get(at[0]).downRevisions;
        if (down.length === 0) return { removeFrom: at };
        at = down;
      }
      return { keep: at, within };
    }
    return { keep: this.resolveTarget(t, current) };
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

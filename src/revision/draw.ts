/**
 * Draws the revision graph as text, newest first, like `git log --graph`: one lane per open
 * branch, `|\` where a merge opens lanes, `|/` where branches join at their branch point. A lane
 * always joins the lane of the revision it leads to: when other lanes lie between them it runs
 * along the bottom of the line across them (`|_|/`), as git draws it. A lane
 * that starts right under a node of another lane (an unrelated base ended there) is set off by a
 * line without that node, so that two independent graphs never read as one line.
 * Pure: returns lines; the caller colours and prints them.
 */
import type { RevisionGraph, RevisionNode } from './graph.js';

export interface DrawnLine {
  /** The lane art for this line (`o |`, `|/`...). */
  graph: string;
  /** The revision on this line, or undefined for a connector line. */
  revision?: string;
}

/**
 * Lays out `revisions` (a subset of the graph, in the graph's order: parents first).
 * `mark(id)` gives the node character (for example `@` current, `*` applied, `o` pending).
 * `inOrder`: `revisions` are already newest first, each after every shown revision above it (a walk's
 * order, as `history -r` lists Alembic's walk_revisions): drawn in that order, not re-sorted.
 */
export function drawGraph<T extends RevisionNode>(graph: RevisionGraph<T>, revisions: T[], mark: (id: string) => string, { inOrder = false } = {}): DrawnLine[] {
  const shown = new Set(revisions.map((r) => r.revision));
  const order = inOrder ? revisions : newestFirst(graph, revisions);
  const lanes: string[] = [];
  const lines: DrawnLine[] = [];
  const cells = (fn: (i: number) => string) => lanes.map((_, i) => fn(i)).join(' ').trimEnd();

  // A lane that ends at index j: lanes to its right move one to the left.
  const closeLane = (j: number) => {
    if (j < lanes.length - 1) lines.push({ graph: art(lanes.length, (i) => (i < j ? '|' : ''), (i) => (i > j ? '/' : '')) });
    lanes.splice(j, 1);
  };

  for (const rev of order) {
    const id = rev.revision;
    let col = lanes.indexOf(id);
    if (col === -1) {
      col = lanes.length;
      const above = lines[lines.length - 1]?.graph ?? '';
      if ((above[2 * col] ?? ' ') !== ' ') lines.push({ graph: cells(() => '|') });
      lanes.push(id);
    }
    // Branches that meet at this revision (its branch point) join its lane first, each into this
    // lane itself, across any lanes between (lanes to the right of the joining one move left).
    for (let dup = lanes.indexOf(id, col + 1); dup !== -1; dup = lanes.indexOf(id, col + 1)) {
      const joined = art(lanes.length, (i) => (i < dup ? '|' : ''), (i) => (i >= dup ? '/' : '')).split('');
      for (let i = col; i <= dup - 2; i++) joined[2 * i + 1] = '_';
      lines.push({ graph: joined.join('') });
      lanes.splice(dup, 1);
    }
    lines.push({ graph: cells((i) => (i === col ? mark(id) : '|')), revision: id });
    const parents = rev.downRevisions.filter((p) => shown.has(p));
    if (parents.length === 0) {
      closeLane(col);
      continue;
    }
    lanes[col] = parents[0];
    for (let k = 1; k < parents.length; k++) {
      lines.push({ graph: art(lanes.length, (i) => (i <= col + k - 1 ? '|' : ''), (i) => (i >= col + k - 1 ? '\\' : '')) });
      lanes.splice(col + k, 0, parents[k]);
    }
  }
  return lines;
}

/** Children before parents, keeping each branch together (reverse of a depth-first post-order from the heads). */
function newestFirst<T extends RevisionNode>(graph: RevisionGraph<T>, revisions: T[]): T[] {
  const shown = new Map(revisions.map((r) => [r.revision, r]));
  const done = new Set<string>();
  const post: T[] = [];
  const visit = (id: string) => {
    if (done.has(id) || !shown.has(id)) return;
    done.add(id);
    for (const p of graph.parentsOf(id)) visit(p);
    post.push(shown.get(id)!);
  };
  const tops = revisions.filter((r) => !graph.childrenOf(r.revision).some((c) => shown.has(c)));
  for (const r of tops) visit(r.revision);
  for (const r of revisions) visit(r.revision);
  return post.reverse();
}

/**
 * A connector line. Lane i sits at column 2i; `at(i)` is drawn in the lane's column, `after(i)` in
 * the gap to its right (`/` moves a lane left, `\\` opens or moves one right).
 */
function art(count: number, at: (i: number) => string, after: (i: number) => string): string {
  const chars = Array.from({ length: 2 * count + 1 }, () => ' ');
  for (let i = 0; i < count; i++) {
    const a = at(i);
    if (a) chars[2 * i] = a;
  }
  for (let i = 0; i < count; i++) {
    const b = after(i);
    if (b === '/' && i > 0) chars[2 * i - 1] = '/';
    else if (b === '\\') chars[2 * i + 1] = '\\';
  }
  return chars.join('').trimEnd();
}

/**
 * Text the migration commands print, kept out of the command modules so that they stay thin.
 * Pure: returns strings and plain objects; the CLI writes them.
 */
import type { Revision, Script } from './script.js';
import type { StepResult } from './engine.js';
import { drawGraph } from '../revision/draw.js';
import type { RevisionGraph } from '../revision/graph.js';

export interface RevisionSummary {
  revision: string;
  message: string;
  file: string;
  kind: 'ts' | 'sql';
  downRevisions: string[];
  dependsOn: string[];
  /** The labels the file declares. */
  branchLabels: string[];
  /**
   * Every branch label the revision carries: its own and those inherited along its branch (a
   * labelled revision's descendants, and its straight line down to the branch point), as Alembic's
   * `heads` and `history` show them; the root-most branch's label first.
   */
  allBranchLabels: string[];
  transactional: boolean;
  /** No revision names it as its down revision (it is listed by `heads`). */
  head: boolean;
  /** A head that another revision depends on: Alembic's "(effective head)"; `upgrade heads` and `merge heads` reach it through that revision. */
  effectiveHead: boolean;
  base: boolean;
  branchpoint: boolean;
  mergepoint: boolean;
  checksum: string;
  /** Only when the database was read. */
  status?: 'applied' | 'pending';
  current?: boolean;
}

/**
 * The revisions current only through depends_on (Alembic's `get_all_current` less the version rows):
 * each with the rows that need it. Rows no file declares are left out.
 *
 * @example
 * ```ts
 * // y1 depends on b1 (c1 above b1 pending); the table holds y1
 * currentViaDependsOn(graph, ['y1']); // [{ revision: 'b1', via: ['y1'] }]
 * ```
 */
export function currentViaDependsOn(graph: RevisionGraph, rows: string[]): { revision: string; via: string[] }[] {
  const known = rows.filter((r) => graph.has(r));
  const all = graph.map.getAllCurrent(known).map((r) => r.revision);
  const order = (id: string) => graph.ordered.findIndex((r) => r.revision === id);
  return all
    .filter((id) => !known.includes(id))
    .sort((a, b) => order(b) - order(a))
    .map((revision) => ({ revision, via: known.filter((row) => graph.ancestors([row]).has(revision)) }));
}

/** One revision as the commands show it; `db` (the applied set and the version rows) marks its status. */
export function summarize(script: Script, rev: Revision, db?: { applied: Set<string>; current: string[] }): RevisionSummary {
  const { graph } = script;
  const declaredAt = (label: string) => graph.ordered.indexOf(graph.get(graph.branchLabels.get(label)!));
  const out: RevisionSummary = {
    revision: rev.revision,
    message: rev.message,
    file: rev.fileName,
    kind: rev.kind,
    downRevisions: rev.downRevisions,
    dependsOn: rev.dependsOn,
    branchLabels: rev.branchLabels,
    allBranchLabels: [...graph.map.rev(rev.revision).branchLabels].sort((a, b) => declaredAt(a) - declaredAt(b)),
    transactional: rev.transactional,
    head: graph.childrenOf(rev.revision).length === 0,
    effectiveHead: graph.map.isEffectiveHead(rev.revision),
    base: rev.downRevisions.length === 0,
    branchpoint: graph.childrenOf(rev.revision).length > 1,
    mergepoint: rev.downRevisions.length > 1,
    checksum: rev.checksum,
  };
  if (db) {
    out.status = db.applied.has(rev.revision) ? 'applied' : 'pending';
    out.current = db.current.includes(rev.revision);
  }
  return out;
}

/**
 * The next step toward the heads, one that runs: `cmmc-db upgrade head`; `upgrade heads` with
 * several heads (`head` is refused as ambiguous there); with version rows no file declares (every
 * upgrade refuses those), what to do about them instead.
 */
export function nextUpgradeStep(status: { heads: string[]; unknown: string[]; current?: string[]; overlapping?: string[] }): string {
  if (status.overlapping?.length && status.current) {
    // The rows without the ones below others: what the table would hold had the engine written it.
    const kept = status.current.filter((r) => !status.overlapping!.includes(r));
    return `rewrite the version table without ${status.overlapping.join(', ')} (below another row): cmmc-db stamp --purge ${kept.join(' ')} (upgrade refuses overlapping rows)`;
  }
  if (status.unknown.length) {
    const them = status.unknown.length === 1 ? 'it' : 'them';
    return `point --migrations-dir at the folder that declares ${status.unknown.join(', ')}, or restore the file (upgrade refuses until one declares ${them}; cmmc-db stamp --purge REV rewrites the version table)`;
  }
  return `cmmc-db upgrade ${status.heads.length > 1 ? 'heads' : 'head'}`;
}

/**
 * Tags after an id: (head) or (effective head), (current), (branchpoint), (mergepoint), [labels]
 * (every label the revision carries, inherited ones too, as Alembic shows them).
 */
export function tags(s: RevisionSummary): string {
  const t: string[] = [];
  if (s.effectiveHead) t.push('(effective head)');
  else if (s.head) t.push('(head)');
  if (s.current) t.push('(current)');
  if (s.branchpoint) t.push('(branchpoint)');
  if (s.mergepoint) t.push('(mergepoint)');
  const labels = s.allBranchLabels;
  if (labels.length) t.push(`[${labels.join(', ')}]`);
  return t.join(' ');
}

/** `DOWN (DEPENDS_ON) -> REV`, as Alembic's history writes a revision's parents: `<base> -> a1`, `x1 (b1) -> y1`. */
export function parents(s: Pick<RevisionSummary, 'revision' | 'downRevisions' | 'dependsOn'>): string {
  const deps = s.dependsOn.length ? ` (${s.dependsOn.join(', ')})` : '';
  return `${s.downRevisions.join(', ') || '<base>'}${deps} -> ${s.revision}`;
}

/** `a1 -> b2` or `base -> a1`. */
export function arrow(rev: Pick<Revision, 'revision' | 'downRevisions'>, operation: 'upgrade' | 'downgrade' | 'stamp'): string {
  const down = rev.downRevisions.length ? rev.downRevisions.join(', ') : 'base';
  return operation === 'downgrade' ? `${rev.revision} -> ${down}` : `${down} -> ${rev.revision}`;
}

/**
 * What `show REF` says when REF names no revision (stdout stays empty, `--json` `[]`, exit 0: Alembic's
 * show prints nothing there either). `LABEL@-N` counts down from the heads that carry the branch label
 * LABEL; with a revision id or a keyword before the `@` (`y1@-1`, `heads@-1`) no head carries it, so
 * nothing matches: said so, with the form that was likely meant. Otherwise REF is base (`base`,
 * `label@base`).
 *
 * @example
 * ```ts
 * noRevisionNote(graph, 'y1@-1'); // 'no revision: "y1" is not a branch label, ... one below y1: cmmc-db show y1-1'
 * noRevisionNote(graph, 'base');  // 'base: no revision'
 * ```
 */
export function noRevisionNote(graph: RevisionGraph, ref: string): string {
  const relative = /^(.+)@-(\d+)$/.exec(ref.trim());
  if (!relative || graph.branchLabels.has(relative[1])) return 'base: no revision';
  const [, before, n] = relative;
  const meant = graph.has(before) ? `${n === '1' ? 'one' : n} below ${before}: cmmc-db show ${before}-${n}` : `${n === '1' ? 'one' : n} below each head: cmmc-db show -${n}`;
  return `no revision: "${before}" is not a branch label, and REV@-N counts down from the heads that carry the branch label REV (as Alembic's show); ${meant}`;
}

/** Multi-line details of one revision (show, --verbose). */
export function details(s: RevisionSummary, indent = ''): string[] {
  return [
    `${indent}Revision ID: ${s.revision} ${tags(s)}`.trimEnd(),
    `${indent}Revises: ${s.downRevisions.join(', ') || '(base)'}`,
    ...(s.dependsOn.length ? [`${indent}Depends on: ${s.dependsOn.join(', ')}`] : []),
    ...(s.allBranchLabels.length ? [`${indent}Branch labels: ${s.allBranchLabels.join(', ')}`] : []),
    `${indent}File: ${s.file} (${s.kind === 'ts' ? 'TypeScript' : 'SQL'}${s.transactional ? '' : ', non-transactional'})`,
    ...(s.status ? [`${indent}Status: ${s.status}`] : []),
    `${indent}Message: ${s.message}`,
  ];
}

/**
 * The revisions `history -r FROM:TO` lists: Alembic's walk_revisions from FROM (empty: `base`) up to
 * TO (empty: `heads`), inclusive. TO may be relative to FROM (`bbbb1:+1`); a label on FROM
 * (`billing@base:`) keeps to that branch's heads; FROM not below TO throws RangeNotAncestorError.
 * `current` on either side is the version rows `rows`; `:current` with no row lists nothing (Alembic
 * reads the empty list as "no end" and lists every revision).
 *
 * @example
 * ```ts
 * historyRange(graph, 'bbbb1', '+1', []); // ['cccc1', 'bbbb1']
 * ```
 */
export function historyRange(graph: RevisionGraph, from: string, to: string, rows: string[]): string[] {
  [from, to] = [from.trim(), to.trim()];
  if (to === 'current' && rows.length === 0) return [];
  const lower = from === '' ? 'base' : from === 'current' ? (rows.length ? rows : 'base') : from;
  const upper = to === '' ? 'heads' : to === 'current' ? rows : to;
  return graph.map.walkRevisions(lower, upper).map((r) => r.revision);
}

/**
 * The history drawn as a graph, newest first, each revision as `DOWN (DEPENDS_ON) -> REV tags message`. `@` current, `*` applied, `o` pending (or unknown).
 * `inOrder`: `revisions` are a walk's order, newest first (`history -r`, as Alembic lists it), drawn so.
 */
export function historyLines(script: Script, revisions: Revision[], summaries: Map<string, RevisionSummary>, verbose: boolean, { inOrder = false } = {}): string[] {
  const lines = drawGraph(
    script.graph,
    revisions,
    (id) => {
      const s = summaries.get(id)!;
      return s.current ? '@' : s.status === 'applied' ? '*' : 'o';
    },
    { inOrder },
  );
  const width = Math.max(0, ...lines.map((l) => l.graph.length));
  const out: string[] = [];
  for (const line of lines) {
    if (!line.revision) {
      out.push(line.graph);
      continue;
    }
    const s = summaries.get(line.revision)!;
    const pad = line.graph.padEnd(width);
    out.push(`${pad}  ${parents(s)} ${tags(s)}${tags(s) ? ' ' : ''}${s.message}`.trimEnd());
    if (verbose) {
      const cont = line.graph.replace(/[@*o]/, '|').padEnd(width);
      for (const d of details(s).slice(1)) out.push(`${cont}    ${d}`);
    }
  }
  return out;
}

/** One line per applied step. */
export function stepLine(step: StepResult, rev: Pick<Revision, 'revision' | 'downRevisions'>): string {
  return `${step.operation} ${arrow(rev, step.operation)}  ${step.message}  (${step.durationMs} ms)`;
}

/**
 * Text the migration commands print, kept out of the command modules so that they stay thin.
 * Pure: returns strings and plain objects; the CLI writes them.
 */
import type { Revision, Script } from './script.js';
import type { StepResult } from './engine.js';
import { drawGraph } from '../revision/draw.js';

export interface RevisionSummary {
  revision: string;
  message: string;
  file: string;
  kind: 'ts' | 'sql';
  downRevisions: string[];
  dependsOn: string[];
  branchLabels: string[];
  transactional: boolean;
  head: boolean;
  base: boolean;
  branchpoint: boolean;
  mergepoint: boolean;
  checksum: string;
  /** Only when the database was read. */
  status?: 'applied' | 'pending';
  current?: boolean;
}

export function summarize(script: Script, rev: Revision, db?: { applied: Set<string>; current: string[] }): RevisionSummary {
  const { graph } = script;
  const out: RevisionSummary = {
    revision: rev.revision,
    message: rev.message,
    file: rev.fileName,
    kind: rev.kind,
    downRevisions: rev.downRevisions,
    dependsOn: rev.dependsOn,
    branchLabels: rev.branchLabels,
    transactional: rev.transactional,
    head: graph.childrenOf(rev.revision).length === 0,
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

/** Tags after an id: (head) (current) (branchpoint) (mergepoint) [labels]. */
export function tags(s: RevisionSummary): string {
  const t: string[] = [];
  if (s.head) t.push('(head)');
  if (s.current) t.push('(current)');
  if (s.branchpoint) t.push('(branchpoint)');
  if (s.mergepoint) t.push('(mergepoint)');
  if (s.branchLabels.length) t.push(`[${s.branchLabels.join(', ')}]`);
  return t.join(' ');
}

/** `a1 -> b2` or `base -> a1`. */
export function arrow(rev: Pick<Revision, 'revision' | 'downRevisions'>, operation: 'upgrade' | 'downgrade' | 'stamp'): string {
  const down = rev.downRevisions.length ? rev.downRevisions.join(', ') : 'base';
  return operation === 'downgrade' ? `${rev.revision} -> ${down}` : `${down} -> ${rev.revision}`;
}

/** Multi-line details of one revision (show, --verbose). */
export function details(s: RevisionSummary, indent = ''): string[] {
  return [
    `${indent}Revision ID: ${s.revision} ${tags(s)}`.trimEnd(),
    `${indent}Revises: ${s.downRevisions.join(', ') || '(base)'}`,
    ...(s.dependsOn.length ? [`${indent}Depends on: ${s.dependsOn.join(', ')}`] : []),
    ...(s.branchLabels.length ? [`${indent}Branch labels: ${s.branchLabels.join(', ')}`] : []),
    `${indent}File: ${s.file} (${s.kind === 'ts' ? 'TypeScript' : 'SQL'}${s.transactional ? '' : ', non-transactional'})`,
    ...(s.status ? [`${indent}Status: ${s.status}`] : []),
    `${indent}Message: ${s.message}`,
  ];
}

/** The history drawn as a graph, newest first. `@` current, `*` applied, `o` pending (or unknown). */
export function historyLines(script: Script, revisions: Revision[], summaries: Map<string, RevisionSummary>, verbose: boolean): string[] {
  const lines = drawGraph(script.graph, revisions, (id) => {
    const s = summaries.get(id)!;
    return s.current ? '@' : s.status === 'applied' ? '*' : 'o';
  });
  const width = Math.max(0, ...lines.map((l) => l.graph.length));
  const out: string[] = [];
  for (const line of lines) {
    if (!line.revision) {
      out.push(line.graph);
      continue;
    }
    const s = summaries.get(line.revision)!;
    const pad = line.graph.padEnd(width);
    out.push(`${pad}  ${s.revision} ${tags(s)}${tags(s) ? ' ' : ''}${s.message}`.trimEnd());
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

/**
 * Where cmmc-db deliberately does not do what Alembic 1.8 does: the one list, with the reason.
 * docs/migrations.md repeats it for users; the differential test (test/alembic-differential.test.ts)
 * stops a compared sequence at one of these and fails on any other difference.
 */
export interface Divergence {
  id: string;
  alembic: string;
  cmmcDb: string;
  reason: string;
  /** Matches the error (`code: message`) cmmc-db gives in that case. */
  matches?: RegExp;
  /** For a case where both tools succeed with different version rows: true when the step is this case. */
  outcome?: (step: ComparedStep) => boolean;
}

/** One step both tools ran: the operation and the version rows before and after on each side (sorted). */
export interface ComparedStep {
  op: 'upgrade' | 'downgrade' | 'stamp';
  before: string[];
  alembic: string[];
  cmmcDb: string[];
  /** Alembic's error (`Type: message`) when it failed and cmmc-db succeeded. */
  alembicError?: string;
}

export const DIVERGENCES: Divergence[] = [
  {
    id: 'relative-from-several-heads',
    alembic: '`downgrade -N` with several version rows warns and walks down from whichever row the database returned first',
    cmmcDb: 'refuses, and says to name the branch: `label@-N` or `REV-N`',
    reason: 'the row order is arbitrary, so the same command could revert a different branch on each run',
    matches: /more than one current head/,
  },
  {
    id: 'version-table-checked-first',
    alembic:
      'runs the revisions of a walk one by one and stops with an assertion error (or KeyError) at the first whose version-table change it cannot make, after running the ones before it',
    cmmcDb: 'works out every version-table change of the walk before running anything and refuses the whole walk',
    reason: 'a run that is known to stop halfway should not start: the revisions before the stop would stay applied',
    matches: /is already in the version table|is not in the version table|cannot move the version row|down revision is ambiguous/,
  },
  {
    id: 'purge-refused-first',
    alembic: '`stamp --purge TARGET` empties the version table, then fails when TARGET cannot be resolved or stamped, leaving it empty',
    cmmcDb: 'resolves TARGET first and refuses without touching the version table',
    reason: 'a refused command changes nothing; an emptied version table would make the next upgrade re-run every revision',
    matches: /stamp --purge refused before emptying the version table/,
  },
  {
    id: 'stamp-keeps-unrelated-heads',
    alembic:
      '`stamp` moves every current row that shares lineage with any of the targets into each target\'s change, so with rows a1, r0 (r0 a separate base that is itself a head) `stamp heads` deletes r0',
    cmmcDb: 'each target moves only the rows in its own lineage; a row that is already a target, or unrelated to it, stays',
    reason: 'a deleted row makes the next upgrade re-run revisions that are applied (it fails, or worse, runs them twice)',
    outcome: (s) =>
      s.op === 'stamp' &&
      !s.alembicError &&
      s.alembic.every((r) => s.cmmcDb.includes(r)) &&
      s.cmmcDb.some((r) => !s.alembic.includes(r)) &&
      s.cmmcDb.filter((r) => !s.alembic.includes(r)).every((r) => s.before.includes(r)),
  },
  {
    id: 'stamp-targets-on-separate-branches',
    alembic:
      '`stamp y1 x1`, targets on two branches of one branch point, with rows on both (x2, y2): the first target\'s step moves every row that shares lineage with any target (deleting x2 and y2), and the second fails with KeyError: \'y2\' (with a transaction per step the table is left holding y1 alone). From base, or with rows on one branch only, it stamps both',
    cmmcDb: 'stamps both: each target moves the rows of its own lineage (x2 to x1, y2 to y1)',
    reason:
      'the targets are ones Alembic itself stamps from other rows; its KeyError comes from the lumping of divergence stamp-keeps-unrelated-heads, not from a check, and the rows it leaves make the next upgrade re-run x1 and x2',
    outcome: (s) => s.op === 'stamp' && /^KeyError: /.test(s.alembicError ?? ''),
  },
  {
    id: 'history-to-current-with-no-rows',
    alembic: '`history -r :current` with an empty version table lists every revision (the empty list of rows reads as "no end", that is every head)',
    cmmcDb: 'lists none: nothing is applied up to current',
    reason: 'a range that ends at current should not list revisions that are not applied; the reading commands\' differential test skips this case',
  },
];

/** The deliberate divergence an error message belongs to, if any. */
export function deliberateDivergence(error: string): string | undefined {
  return DIVERGENCES.find((d) => d.matches?.test(error))?.id;
}

/** The deliberate divergence a step where both tools succeeded with different rows belongs to, if any. */
export function deliberateOutcome(step: ComparedStep): string | undefined {
  return DIVERGENCES.find((d) => d.outcome?.(step))?.id;
}

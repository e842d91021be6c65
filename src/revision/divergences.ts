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
  /** With `matches`: the case is one where Alembic fails too (after changing something), so an Alembic success is no instance of it. */
  alembicFails?: boolean;
  /** For a case where both tools succeed with different version rows: true when the step is this case. */
  outcome?: (step: ComparedStep) => boolean;
}

/** One step both tools ran: the operation and the version rows before and after on each side (sorted). */
export interface ComparedStep {
  op: 'upgrade' | 'downgrade' | 'stamp';
  /** The targets as typed (stamp takes several). */
  targets: string[];
  before: string[];
  alembic: string[];
  cmmcDb: string[];
  /** The rows of Alembic's result that are below another of them by down revision (they overlap). */
  alembicOverlapping: string[];
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
    cmmcDb:
      'works out every version-table change of the walk (or of the stamp: a target named twice, targets whose moves take each other\'s rows) before running anything and refuses the whole walk',
    reason: 'a run that is known to stop halfway should not start: the revisions before the stop would stay applied',
    matches: /is already in the version table|is not in the version table|cannot move the version row|down revision is ambiguous|more than once; name each revision once|cannot be stamped together/,
    alembicFails: true,
  },
  {
    id: 'purge-refused-first',
    alembic: '`stamp --purge TARGET` empties the version table, then fails when TARGET cannot be resolved or stamped, leaving it empty',
    cmmcDb: 'resolves TARGET first and refuses without touching the version table',
    reason: 'a refused command changes nothing; an emptied version table would make the next upgrade re-run every revision',
    matches: /stamp --purge refused before emptying the version table/,
    alembicFails: true,
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
    id: 'unmerge-keeps-tips-only',
    alembic:
      'downgrading a revision whose down revision is below its dependency by down revision (two developers branch from A, X: A depends_on B, B: A) puts both A and B back in the version table: rows that overlap, from which its own `upgrade heads` then refuses to start ("Requested revision B overlaps with other requested revisions A")',
    cmmcDb: 'puts back B alone, the row the upgrade of X replaced (B stands for A too)',
    reason: 'the downgrade should leave the table as the upgrade found it; overlapping rows stop every later walk',
    outcome: (s) =>
      s.op === 'downgrade' &&
      !s.alembicError &&
      s.alembicOverlapping.length > 0 &&
      s.cmmcDb.length === s.alembic.length - s.alembicOverlapping.length &&
      s.cmmcDb.every((r) => s.alembic.includes(r) && !s.alembicOverlapping.includes(r)),
  },
  {
    id: 'stamp-refuses-overlapping-rows',
    alembic: '`stamp A C` with A below C by down revision writes both rows (they overlap: no walk starts from them afterwards)',
    cmmcDb: 'refuses, naming the two and saying to stamp the upper one alone',
    reason: 'a version row stands for its revision and everything below it; a table holding both is one no later upgrade or downgrade can start from',
    matches: /\(by down revision\), and a version row stands for its revision/,
  },
  {
    id: 'stamp-base-beside-targets',
    alembic:
      '`stamp base Y` (or `label@base Y`): base only widens the rows the other targets\' moves take; a row of its lineage that no other target is above or below stays (rows x2: `stamp base y1` leaves x2 and y1)',
    cmmcDb: 'base takes the rows of its lineage that no other target moves, as `stamp base` alone would (leaves y1)',
    reason: 'each target moves the rows of its own lineage (divergence stamp-keeps-unrelated-heads); `base` beside other targets still means those rows go',
    outcome: (s) =>
      s.op === 'stamp' &&
      !s.alembicError &&
      s.targets.length > 1 &&
      s.targets.some((t) => t === 'base' || t.endsWith('@base')) &&
      s.cmmcDb.every((r) => s.alembic.includes(r)) &&
      s.alembic.filter((r) => !s.cmmcDb.includes(r)).every((r) => s.before.includes(r)),
  },
  {
    id: 'current-shows-overlapping-rows',
    alembic: '`current` with rows that overlap (one below another by down revision, written by Alembic or by hand) shows only the upper one',
    cmmcDb: 'shows every row and says which is below another, with the `stamp --purge` that rewrites the table',
    reason: 'no walk starts from such rows (upgrade refuses them with that hint): hiding one would hide why; the reading commands\' differential test skips this case',
  },
  {
    id: 'history-to-current-with-no-rows',
    alembic: '`history -r :current` with an empty version table lists every revision (the empty list of rows reads as "no end", that is every head)',
    cmmcDb: 'lists none: nothing is applied up to current',
    reason: 'a range that ends at current should not list revisions that are not applied; the reading commands\' differential test skips this case',
  },
];

/** The deliberate divergence an error message belongs to, if any (`alembicFailed`: whether Alembic failed in that step too). */
export function deliberateDivergence(error: string, alembicFailed = true): string | undefined {
  return DIVERGENCES.find((d) => d.matches?.test(error) && (!d.alembicFails || alembicFailed))?.id;
}

/** The deliberate divergence a step where both tools succeeded with different rows belongs to, if any. */
export function deliberateOutcome(step: ComparedStep): string | undefined {
  return DIVERGENCES.find((d) => d.outcome?.(step))?.id;
}

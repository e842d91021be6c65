/**
 * Typed errors of the revision graph. Pure: no I/O, no CLI. `src/migrate/errors.ts` turns them into
 * one-line user messages with what to do next (in one place).
 */
export class RevisionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Two revision files declare the same id. */
export class DuplicateRevisionError extends RevisionError {
  constructor(readonly revision: string, readonly files: string[]) {
    super(`revision ${revision} is declared by more than one file: ${files.join(', ')}`);
  }
}

/** A revision names a down revision or dependency that no file declares. */
export class UnknownParentError extends RevisionError {
  constructor(readonly revision: string, readonly parent: string, readonly kind: 'down_revision' | 'depends_on') {
    super(`revision ${revision} names ${kind} ${parent}, which no revision file declares`);
  }
}

/** The down revisions (or dependencies) loop back on themselves. */
export class CycleError extends RevisionError {
  constructor(readonly revisions: string[]) {
    super(`the revisions ${revisions.join(' -> ')} form a cycle`);
  }
}

/** A single head was needed (`head`, `revision` without --head) but there are several. */
export class MultipleHeadsError extends RevisionError {
  constructor(readonly heads: string[], readonly target: string) {
    super(`"${target}" is ambiguous: there are ${heads.length} heads (${heads.join(', ')})`);
  }
}

/** A prefix matches more than one revision. */
export class AmbiguousRevisionError extends RevisionError {
  constructor(readonly prefix: string, readonly candidates: string[]) {
    super(`"${prefix}" matches more than one revision: ${candidates.join(', ')}`);
  }
}

/** No revision, label or keyword matches. */
export class UnknownRevisionError extends RevisionError {
  constructor(readonly target: string) {
    super(`no revision matches "${target}"`);
  }
}

/** The target cannot be reached the way it was asked (relative step past a branch point, a downgrade above current...). */
export class InvalidTargetError extends RevisionError {
  constructor(readonly target: string, readonly reason: string) {
    super(`cannot use "${target}": ${reason}`);
  }
}

/** A range whose lower end is not below its upper end on one branch (`history -r FROM:TO`). */
export class RangeNotAncestorError extends RevisionError {
  constructor(readonly lower: string, readonly upper: string) {
    super(`the range ${lower}:${upper} does not refer to ancestor/descendant revisions along the same branch`);
  }
}

/** A branch label is declared twice. */
export class DuplicateLabelError extends RevisionError {
  constructor(readonly label: string, readonly revisions: string[]) {
    super(`branch label "${label}" is declared by more than one revision: ${revisions.join(', ')}`);
  }
}

/**
 * A name that targets could not tell apart: a revision id that is a keyword (`base`, `head`, `heads`),
 * or a branch label that is a keyword, a revision's id (Alembic refuses it: "Branch name ... already
 * used by revision ...") or holds a character the target syntax gives a meaning (`@`, `:`, `,`, a
 * blank). Left in, `upgrade bbbb1` ran the revision labelled bbbb1 instead of revision bbbb1.
 * `fix` says what to change, in which file.
 */
export class AmbiguousNameError extends RevisionError {
  constructor(readonly revision: string, readonly subject: string, readonly kind: 'revision' | 'label', readonly reason: string, readonly fix: string) {
    super(kind === 'revision' ? `revision id "${subject}" ${reason}` : `branch label "${subject}" of revision ${revision} ${reason}`);
  }
}

/**
 * The one place where revision-graph errors become user messages: one line, with what to do next
 * (Alembic's `_catch_revision_errors`).
 */
import { CmmcError } from '../errors.js';
import {
  AmbiguousNameError,
  AmbiguousRevisionError,
  CycleError,
  DuplicateLabelError,
  DuplicateRevisionError,
  InvalidTargetError,
  MultipleHeadsError,
  RangeNotAncestorError,
  RevisionError,
  UnknownParentError,
  UnknownRevisionError,
} from '../revision/errors.js';

/** Converts a RevisionError into a CmmcError with a hint; anything else is returned unchanged. */
export function graphErrorToUser(err: unknown): unknown {
  if (!(err instanceof RevisionError)) return err;
  const make = (code: string, hint: string, exitCode = 1) => new CmmcError(`revision.${code}`, err.message, { hint, exitCode, cause: err });
  if (err instanceof DuplicateRevisionError) return make('duplicate', 'give one of the files a new id (cmmc-db revision makes fresh ids)');
  if (err instanceof UnknownParentError) {
    return make('unknown-parent', `fix its ${err.kind === 'down_revision' ? 'down revision' : 'dependency'}, or restore the missing revision file (cmmc-db heads lists what exists)`);
  }
  if (err instanceof CycleError) return make('cycle', 'point one of these revisions at an earlier down revision');
  if (err instanceof AmbiguousNameError) return make('ambiguous-name', err.fix);
  if (err instanceof DuplicateLabelError) return make('duplicate-label', 'rename the label on one of them');
  if (err instanceof MultipleHeadsError) {
    return make('multiple-heads', `name one head (label@head or an id), use "heads" for all of them, or join them with: cmmc-db merge -m "merge" ${err.heads.join(' ')}`, 2);
  }
  if (err instanceof AmbiguousRevisionError) return make('ambiguous', 'give more characters of the id', 2);
  if (err instanceof UnknownRevisionError) return make('unknown', 'check the id with cmmc-db history (or heads, branches)', 2);
  if (err instanceof RangeNotAncestorError) return make('range', `give FROM:TO with FROM below TO on one branch (cmmc-db history shows the branches; ${err.lower}: or :${err.upper} lists one side)`, 2);
  if (err instanceof InvalidTargetError) return make('invalid-target', 'check the target with cmmc-db history --indicate-current', 2);
  return make('graph', 'check the revision files with cmmc-db history');
}

/** Runs `fn`, turning graph errors into user messages. */
export function catchRevisionErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw graphErrorToUser(err);
  }
}

/**
 * Refuses (CmmcError `migrate.unknown-version`, exit 1) version rows `unknown` that no file of
 * `script` declares, unless `purge` rewrites them. Every command that walks from the version rows
 * or names them refuses so (upgrade, downgrade, stamp, current, show current, history -r current:),
 * as Alembic's "Can't locate revision identified by ...": where the files are not the ones the
 * database was migrated with, no answer read from them can be right.
 */
export function refuseUnknown(script: { dir: string; dirs: string[] }, unknown: string[], purge = false): void {
  if (!unknown.length || purge) return;
  const where = script.dirs.length ? script.dirs.join(' or ') : script.dir;
  throw new CmmcError('migrate.unknown-version', `the database is at revision${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}, which no file in ${where} declares`, {
    hint: 'point --migrations-dir at the right folder, or restore the file; to rewrite the version table: cmmc-db stamp --purge REV',
  });
}

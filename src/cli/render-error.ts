/** Renders any error as one line on stderr (a stack trace only with --debug). */
import { CmmcError } from '../errors.js';
import { redactUrl } from '../config/config.js';
import { connectionLostError, sqlStateFix } from '../db/errors.js';
import { fileSystemLine } from '../fs-errors.js';
import type { Output } from './output.js';

/**
 * Renders any error as one line. `command` (for example `backup`) names what was interrupted when
 * the database connection was lost mid-command and nothing more specific said so.
 */
export function renderError(err: unknown, out: Output, debug: boolean, command?: string): void {
  const { message, hint } = describeError(err, command);
  out.error(hint ? `${message} — ${hint}` : message);
  if (debug && err instanceof Error && err.stack) out.info(scrub(err.stack));
}

/**
 * Any error as `{code, message, hint}`: what the one line says, and what a --json document carries.
 * `code` is the CmmcError's code, `connect.lost`, `file.<errno code>` for a file-system error, the
 * error's own code, or `error`.
 */
export function describeError(err: unknown, command?: string): { code: string; message: string; hint?: string } {
  const lost = err instanceof CmmcError ? undefined : connectionLostError(err, command ? `"cmmc-db ${command}"` : 'the command', 'it stopped there; what it had finished stays done, nothing after it ran');
  if (lost) return { code: lost.code, message: lost.message, hint: lost.hint };
  const fsError = fileSystemLine(err);
  if (fsError) return { code: `file.${fsError.code}`, message: fsError.message, hint: fsError.hint };
  if (err instanceof CmmcError) return { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    const e = err as { code: string; message: string };
    const hint = sqlStateFix(e.code);
    return { code: e.code, message: `${scrub(e.message)} [${e.code}]`, ...(hint ? { hint } : {}) };
  }
  return { code: 'error', message: scrub(err instanceof Error ? err.message : String(err)) };
}

/** Masks the password of any URL inside a message. */
function scrub(text: string): string {
  return text.replace(/postgres(?:ql)?:\/\/[^\s"']+/g, (url) => redactUrl(url));
}

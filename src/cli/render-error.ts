/** Renders any error as one line on stderr (a stack trace only with --debug). */
import { CmmcError } from '../errors.js';
import { redactUrl } from '../config/config.js';
import { connectionLostError } from '../db/errors.js';
import type { Output } from './output.js';

/**
 * Renders any error as one line. `command` (for example `backup`) names what was interrupted when
 * the database connection was lost mid-command and nothing more specific said so.
 */
export function renderError(err: unknown, out: Output, debug: boolean, command?: string): void {
  const lost = err instanceof CmmcError ? undefined : connectionLostError(err, command ? `"cmmc-db ${command}"` : 'the command', 'it stopped there; what it had finished stays done, nothing after it ran');
  if (lost) {
    out.error(`${lost.message} — ${lost.hint}`);
  } else if (err instanceof CmmcError) {
    out.error(err.hint ? `${err.message} — ${err.hint}` : err.message);
  } else if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    const e = err as { code: string; message: string };
    out.error(`${scrub(e.message)} [${e.code}]`);
  } else {
    out.error(scrub(err instanceof Error ? err.message : String(err)));
  }
  if (debug && err instanceof Error && err.stack) out.info(scrub(err.stack));
}

/** Masks the password of any URL inside a message. */
function scrub(text: string): string {
  return text.replace(/postgres(?:ql)?:\/\/[^\s"']+/g, (url) => redactUrl(url));
}

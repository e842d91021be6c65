/** Renders any error as one line on stderr (a stack trace only with --debug). */
import { CmmcError } from '../errors.js';
import { redactUrl } from '../config/config.js';
import type { Output } from './output.js';

export function renderError(err: unknown, out: Output, debug: boolean): void {
  if (err instanceof CmmcError) {
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

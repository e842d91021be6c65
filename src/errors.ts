/**
 * Errors that reach a user. Each carries a stable code, a one-line message that says what is
 * wrong, and a hint that says how to fix it. The CLI prints `message` and `hint` on one line and
 * exits with `exitCode`; a stack trace is shown only with `--debug`.
 */
export class CmmcError extends Error {
  readonly code: string;
  readonly hint?: string;
  readonly exitCode: number;

  constructor(code: string, message: string, options: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CmmcError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Exit codes, documented in the README. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
} as const;

/** A usage error (bad flag, bad argument): exit code 2. */
export function usageError(message: string, hint?: string): CmmcError {
  return new CmmcError('usage', message, { hint, exitCode: EXIT.usage });
}

/**
 * What went wrong, as text, for anything thrown: an Error's message, else a code or errno the value
 * carries (Emscripten's file-system errors under PGlite are plain objects: `{ errno: 44 }`), else
 * its text. Never "[object Object]".
 */
export function errorText(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown; errno?: unknown } | null | undefined;
  if (typeof e?.message === 'string' && e.message) return e.message;
  if (typeof e?.code === 'string' && e.code) return e.code;
  if (typeof e?.errno === 'number') return `file-system error (errno ${e.errno})`;
  const text = String(err);
  if (text !== '[object Object]') return text;
  try {
    return JSON.stringify(err).slice(0, 200);
  } catch {
    return 'unknown error';
  }
}

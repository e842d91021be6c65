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

/** WASI's errno numbers (wasi-libc's errno.h, which Emscripten and so PGlite use) for the file-system errors. */
const WASI_ERRNO: Record<number, string> = {
  2: 'EACCES (permission denied)',
  8: 'EBADF (bad file descriptor)',
  20: 'EEXIST (already exists)',
  28: 'EINVAL (invalid argument: a file is not what was expected)',
  29: 'EIO (input/output error)',
  31: 'EISDIR (is a folder)',
  33: 'EMFILE (too many open files)',
  44: 'ENOENT (no such file)',
  51: 'ENOSPC (no space left on the disk)',
  54: 'ENOTDIR (not a folder)',
  55: 'ENOTEMPTY (folder not empty)',
  63: 'EPERM (operation not permitted)',
  69: 'EROFS (read-only file system)',
};

/**
 * What went wrong, as text, for anything thrown: an Error's message, else a code or errno the value
 * carries (Emscripten's file-system errors under PGlite are plain objects: `{ errno: 44 }`), else
 * its text. Never "[object Object]".
 */
export function errorText(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown; errno?: unknown } | null | undefined;
  if (typeof e?.message === 'string' && e.message) return e.message;
  if (typeof e?.code === 'string' && e.code) return e.code;
  if (typeof e?.errno === 'number') {
    // Thrown bare by PGlite's WebAssembly file system, numbered as WASI numbers them (28 is EINVAL
    // there, where Linux's 28 is ENOSPC): named, so that it does not read as a full disk.
    const name = WASI_ERRNO[e.errno];
    return name ? `file-system error ${name} (the embedded database's errno ${e.errno})` : `file-system error (the embedded database's errno ${e.errno})`;
  }
  const text = String(err);
  if (text !== '[object Object]') return text;
  try {
    return JSON.stringify(err).slice(0, 200);
  } catch {
    return 'unknown error';
  }
}

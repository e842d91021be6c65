/** Renders any error as one line on stderr (a stack trace only with --debug). */
import { CmmcError } from '../errors.js';
import { redactUrl } from '../config/config.js';
import { connectionLostError, sqlStateFix } from '../db/errors.js';
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

const FS_WHAT: Record<string, [string, string]> = {
  ENOENT: ['does not exist', 'create it, or fix the path'],
  ENOTDIR: ['is a file, not a folder (or a part of its path is)', 'point the option or variable at a folder, or move the file away'],
  EISDIR: ['is a folder, not a file', 'name a file inside it'],
  // Raised by readRegularFile (src/fs-private.ts) for a FIFO, socket or device where a file was listed.
  ENOTREG: ['is not a regular file (a FIFO, socket or device: reading it would never end)', 'replace it with a file, or move it out of that folder'],
  EEXIST: ['already exists and is not a folder', 'choose another path, or move what is there away'],
  EACCES: ['is not accessible to this user', 'fix its permissions (ls -l), or run as its owner'],
  EPERM: ['is not accessible to this user', 'fix its permissions (ls -l), or run as its owner'],
  ENOSPC: ['cannot be written: the disk is full', 'free space on that disk'],
  EROFS: ['is on a read-only file system', 'choose a writable folder'],
  ELOOP: ['is a loop of symbolic links', 'fix or remove the link'],
  ENXIO: ['is a socket or a device with nothing behind it, not a file', 'move it out of that folder, or fix the path'],
  ENAMETOOLONG: ['has a name too long for the file system', 'choose a shorter path'],
};

/**
 * A raw Node file-system error (`ENOTDIR: not a directory, scandir '/x'`) as one line naming the
 * file and the fix; undefined for anything else.
 */
export function fileSystemError(err: unknown): string | undefined {
  const line = fileSystemLine(err);
  return line && `${line.message} — ${line.hint}`;
}

function fileSystemLine(err: unknown): { code: string; message: string; hint: string } | undefined {
  // `what` and `hint`, when the thrower knew better (src/fs-private.ts: a dangling link, a listed folder).
  const e = err as { code?: string; syscall?: string; path?: string; what?: string; hint?: string } | undefined;
  if (!e || typeof e !== 'object' || !e.path || !e.syscall || !e.code || !FS_WHAT[e.code]) return undefined;
  const what = e.what ?? FS_WHAT[e.code][0];
  const fix = e.hint ?? FS_WHAT[e.code][1];
  const verb = { open: 'open', scandir: 'list', mkdir: 'create the folder', stat: 'read', lstat: 'read', unlink: 'remove', rename: 'rename', rmdir: 'remove', write: 'write', read: 'read', copyfile: 'copy' }[e.syscall] ?? e.syscall;
  return { code: e.code, message: `cannot ${verb} ${e.path}: it ${what} [${e.code}]`, hint: fix };
}

/** Masks the password of any URL inside a message. */
function scrub(text: string): string {
  return text.replace(/postgres(?:ql)?:\/\/[^\s"']+/g, (url) => redactUrl(url));
}

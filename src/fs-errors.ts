/**
 * File-system errors in words: what a Node error code (ENOSPC, EACCES, ENOTDIR, ...) means for the
 * file it names, and how to fix it. The CLI renders any such error with it (src/cli/render-error.ts);
 * a capability that must say more than the bare error (which folder, what was left as it was) builds
 * its one line from the same words.
 */

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

/**
 * A Node file-system error (`code`, `syscall` and `path` set) as the message naming the file and the
 * hint with the fix; undefined for anything else.
 */
export function fileSystemLine(err: unknown): { code: string; message: string; hint: string } | undefined {
  // `what` and `hint`, when the thrower knew better (src/fs-private.ts: a dangling link, a listed folder).
  const e = err as { code?: string; syscall?: string; path?: string; what?: string; hint?: string } | undefined;
  if (!e || typeof e !== 'object' || !e.path || !e.syscall || !e.code || !FS_WHAT[e.code]) return undefined;
  const what = e.what ?? FS_WHAT[e.code][0];
  const fix = e.hint ?? FS_WHAT[e.code][1];
  const verb = { open: 'open', scandir: 'list', mkdir: 'create the folder', stat: 'read', lstat: 'read', unlink: 'remove', rename: 'rename', rmdir: 'remove', write: 'write', read: 'read', copyfile: 'copy' }[e.syscall] ?? e.syscall;
  return { code: e.code, message: `cannot ${verb} ${e.path}: it ${what} [${e.code}]`, hint: fix };
}

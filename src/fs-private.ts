/**
 * Owner-only files: what cmmc-db keeps on disk (backups, the embedded database) is readable by
 * its owner alone, as PostgreSQL keeps its own data directory (folders 0700, files 0600).
 */
import fs from 'node:fs';
import path from 'node:path';

/**
 * Sets 0700 on folders and 0600 on files under `target` (itself included); symbolic links are
 * left alone (their own mode means nothing, and following one could tighten something elsewhere).
 * Returns how many modes it changed.
 */
export function tighten(target: string): number {
  let changed = 0;
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return;
    const want = st.isDirectory() ? 0o700 : 0o600;
    if ((st.mode & 0o777) !== want) {
      fs.chmodSync(p, want);
      changed++;
    }
    if (st.isDirectory()) for (const f of fs.readdirSync(p)) walk(path.join(p, f));
  };
  walk(target);
  return changed;
}

/**
 * `mkdir -p`, bounded: creates `dir` and the folders missing above it, one at a time from the top,
 * each with `mode`, as Node's recursive mkdirSync does with its options. Node 20's own recursive
 * mkdirSync loops for ever where a parent exists but cannot hold new folders (under /proc or /sys:
 * mkdir answers ENOENT, and the parent EEXIST), and a thread stuck in it takes no signal, so not
 * even Ctrl-C ends the command. Here each folder is made once, and the first refusal is thrown after
 * the folders this call made are removed again (a failed command leaves the file system as it was).
 * @returns the folders it made, top first (for `removeMadeDirs` when the command then fails).
 * @throws the first error of mkdir other than EEXIST (ENOENT, EACCES, EROFS, ENOTDIR); EEXIST when
 *   `dir` exists and is not a folder (as Node's recursive mkdir).
 */
export function makeDirs(dir: string, mode?: number): string[] {
  const target = path.resolve(dir);
  const missing: string[] = [];
  for (let p = target; !fs.existsSync(p); p = path.dirname(p)) {
    missing.unshift(p);
    if (path.dirname(p) === p) break;
  }
  const made: string[] = [];
  for (const p of missing) {
    try {
      fs.mkdirSync(p, mode === undefined ? undefined : { mode });
      made.push(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      // Nothing half-made stays: the folders this call made above the refusal are removed again.
      removeMadeDirs(made);
      throw err;
    }
  }
  if (!fs.statSync(target).isDirectory()) {
    throw Object.assign(new Error(`EEXIST: file already exists, mkdir '${target}'`), { code: 'EEXIST', errno: -17, syscall: 'mkdir', path: target });
  }
  return made;
}

/**
 * Removes the folders `makeDirs` made (its answer), deepest first, each only while empty (rmdir):
 * what a failed command made for its output goes, and nothing anyone put in them meanwhile.
 */
export function removeMadeDirs(made: readonly string[]): void {
  for (const m of [...made].reverse()) {
    try {
      fs.rmdirSync(m);
    } catch {
      return;
    }
  }
}

/**
 * Reads a file found by listing a folder (revision files, seed files, manifests, cache entries),
 * which must be a regular file or a link to one. A FIFO would block the read for ever and a device
 * (/dev/zero) never ends, both deaf to Ctrl-C (a blocked read takes no signal); a folder cannot be
 * read. Each is refused with a Node-style error naming it: code ENOTREG (EISDIR for a folder),
 * syscall and path set, which src/cli/render-error.ts renders as one line. Opened non-blocking, so
 * that opening a FIFO with no writer does not block either.
 */
export function readRegularFile(file: string): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (err) {
    // Listed, yet not there: a symbolic link whose target is gone.
    const link = (err as { code?: string }).code === 'ENOENT' ? linkTarget(file) : undefined;
    if (link !== undefined) throw Object.assign(err as Error, { what: `is a symbolic link to ${link}, which does not exist`, hint: 'fix the link, or remove it' });
    throw err;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      const code = st.isDirectory() ? 'EISDIR' : 'ENOTREG';
      // `hint`: a folder listed among the files is not something to name a file inside of.
      throw Object.assign(new Error(`${code}: not a regular file, read '${file}'`), { code, syscall: 'read', path: file, hint: 'replace it with a file, or move it out of that folder' });
    }
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Where the symbolic link `file` points, or undefined when it is not one. */
function linkTarget(file: string): string | undefined {
  try {
    return fs.readlinkSync(file);
  } catch {
    return undefined;
  }
}

/** True when `file` is a regular file or a link to one (not a FIFO, socket, device or folder). */
export function isRegularFile(file: string): boolean {
  return fs.statSync(file, { throwIfNoEntry: false })?.isFile() ?? false;
}

/**
 * The path that writing `file` whole replaces: `file` itself, or for a symbolic link the file it
 * names (renamed over, the link itself would become a regular file and the file it names, say the
 * copy a web server serves, would keep its old text). Throws a Node-style error (code ENOTREG,
 * `path` = `file`) for a device or socket, or a link to one or to nothing: renamed over as root,
 * `--html /dev/null` replaced the system's /dev/null with a regular file.
 */
export function replaceablePath(file: string): string {
  const own = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!own) return file;
  const st = own.isSymbolicLink() ? fs.statSync(file, { throwIfNoEntry: false }) : own;
  const refuse = (what: string, hint: string) =>
    Object.assign(new Error(`ENOTREG: not a regular file, write '${file}'`), { code: 'ENOTREG', syscall: 'write', path: file, what, hint });
  if (!st) throw refuse('is a symbolic link to nothing', 'point the link at a file, or remove it');
  // A FIFO named itself is replaced, as before; reached through a link (/dev/stdout piped) it is a pipe, not a place for a file. A folder is EISDIR at the rename.
  if (st.isCharacterDevice() || st.isBlockDevice() || st.isSocket() || (own.isSymbolicLink() && st.isFIFO())) {
    throw refuse('is a device, a socket or a pipe (or a link to one), not a file: it is left as it is', 'name a regular file');
  }
  return own.isSymbolicLink() && st.isFile() ? fs.realpathSync(file) : file;
}

/**
 * Writes `data` to `file` whole or not at all: into `.<name>.<pid>.partial` beside it, then renamed
 * over it (a reader sees the old file or the new one, and a FIFO in its place is replaced, not
 * written into). A link is followed (the file it names is replaced); a device or a socket is
 * refused (`replaceablePath`). On failure the partial file is removed and the error names `file`,
 * not the partial one (for example EISDIR when `file` is a folder).
 */
export function writeFileAtomically(given: string, data: string | Uint8Array, mode?: number): void {
  const file = replaceablePath(given);
  const partial = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.partial`);
  try {
    fs.writeFileSync(partial, data, mode === undefined ? undefined : { mode });
    if (mode !== undefined) fs.chmodSync(partial, mode); // the umask applied to the create
    fs.renameSync(partial, file);
  } catch (err) {
    fs.rmSync(partial, { force: true });
    const e = err as NodeJS.ErrnoException & { dest?: string };
    // A failed write(2) (ENOSPC, EDQUOT, EIO) names no path at all: it is the file's too.
    if (e.path === partial || e.path === file || (e.code && e.path === undefined)) Object.assign(e, { path: given, syscall: 'write', message: e.message.split(partial).join(given) });
    throw err;
  }
}

/** link(2) errors of a file system without hard links (some network and FAT ones): placeFileNew renames instead. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'EXDEV']);

/**
 * Puts the file `from` at the name `to` only if nothing has that name: link(2), which refuses a
 * taken name, then `from` removed; on a file system without hard links, a rename after a check that
 * the name is free. Two writers never replace each other's file.
 * @throws a Node-style EEXIST error (path `to`) when the name is taken; other errors as the system gives them.
 */
export function placeFileNew(from: string, to: string): void {
  const taken = () => Object.assign(new Error(`EEXIST: file already exists, open '${to}'`), { code: 'EEXIST', syscall: 'open', path: to });
  try {
    fs.linkSync(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') throw taken();
    if (!NO_HARD_LINKS.has(code)) throw err;
    if (fs.lstatSync(to, { throwIfNoEntry: false })) throw taken();
    fs.renameSync(from, to);
    return;
  }
  fs.rmSync(from, { force: true });
}

/**
 * Creates `file` holding `data`, whole or not at all, and only if no file of that name exists
 * (EEXIST otherwise, as `writeFileSync(file, data, { flag: 'wx' })`): written into
 * `.<name>.<pid>.partial` beside it, then placed with `placeFileNew`. A plain write that fails
 * midway (a full disk) left a truncated file under the real name: a revision file cut short is a
 * broken revision in the graph, read by every later command.
 */
export function writeNewFileAtomically(given: string, data: string | Uint8Array): void {
  const partial = path.join(path.dirname(given), `.${path.basename(given)}.${process.pid}.partial`);
  try {
    fs.writeFileSync(partial, data, { flag: 'wx' });
    placeFileNew(partial, given);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { dest?: string };
    // A failed write(2) (ENOSPC, EDQUOT, EIO) names no path at all: it is the file's too.
    if (e.path === partial || (e.code && e.path === undefined)) Object.assign(e, { path: given, syscall: 'write', message: e.message.split(partial).join(given) });
    throw err;
  } finally {
    fs.rmSync(partial, { force: true });
  }
}

/**
 * Reads at most `maxBytes` of a file the user named (a key or a certificate), which may be a pipe
 * (process substitution: `--key-file <(pass show key)`); `more` is true when the file holds more.
 * A device such as /dev/zero never ends: read whole, it took memory until the process died.
 */
export function readBounded(file: string, maxBytes: number): { data: Buffer; more: boolean } {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(maxBytes + 1);
    let n = 0;
    for (;;) {
      const got = fs.readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > maxBytes) return { data: buf.subarray(0, maxBytes), more: true };
    }
    return { data: buf.subarray(0, n), more: false };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The backup folder: names, manifests, checksums, and listing. A backup NAME is
 * `<database>-<YYYYMMDDTHHMMSSZ>`; its data is `NAME.dump` (custom), `NAME.tar`, `NAME.sql[.gz]`
 * (plain) or the folder `NAME/` (directory), with `.enc` added when encrypted, and its manifest is
 * `NAME.manifest.json` beside it. Everything is written under a temporary name (`.NAME…partial`)
 * and renamed when complete; files are 0600 and folders 0700.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readlinkSync, realpathSync, renameSync, statSync, chmodSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { open } from 'node:fs/promises';
import { CmmcError } from '../errors.js';
import { machineOwnerGone, machineOwnerTag } from '../leftovers.js';
import { findProjectRoot } from '../config/project-root.js';
import { makeDirs, placeFileNew, readRegularFile } from '../fs-private.js';
import { shellWord } from '../shell-word.js';
import { fileSystemLine } from '../fs-errors.js';
import { newestInPast } from './retention.js';

export type BackupFormat = 'custom' | 'directory' | 'tar' | 'plain';
export type BackupContents = 'full' | 'schema-only' | 'data-only';
export type VerifiedStatus = 'verified' | 'unverified' | 'failed';

export const MANIFEST_SUFFIX = '.manifest.json';
export const MANIFEST_VERSION = 2;

/** The manifest written beside every backup. */
export interface BackupManifest {
  manifestVersion: number;
  name: string;
  /** The data file (or folder), relative to the backup folder. */
  file: string;
  createdAt: string;
  database: string;
  /**
   * Which database this backup is of (manifest version 2). Backups are listed, pruned, verified
   * and restored per database: see `sameDatabase`.
   */
  identity?: DatabaseIdentity;
  /** host:port of the server, never a password. */
  server: { host: string; version: string; versionNum: number };
  /** Set when the backup was taken from a hot standby (`backup --from-standby`): which, and at which WAL position. */
  source?: import('./standby.js').StandbySource;
  /** The schema revision: the heads in the version table at the time of the backup (empty when none). */
  revision: string[];
  /** Tables in the database when it was dumped (user schemas). */
  tables: number;
  format: BackupFormat;
  contents: BackupContents;
  compress?: string;
  jobs?: number;
  sizeBytes: number;
  sha256: string;
  durationMs: number;
  pgDump: { version: string; path: string };
  encrypted: boolean;
  encryption?: { cipher: 'aes-256-gcm'; kdf: 'scrypt'; version: number };
  verified: { status: VerifiedStatus; at?: string; restoreTested?: boolean; detail?: string };
}

/**
 * The identity of a database. On a server: the cluster's system identifier (pg_control_system(),
 * unique per initdb and kept by physical copies such as a standby) with the database's name; the
 * name of the server (host:port) is a fallback when the identifier cannot be read. The embedded
 * database: its folder (every PGlite starts from the same data directory image, so its system
 * identifier does not tell two folders apart).
 */
export interface DatabaseIdentity {
  database: string;
  host: string;
  systemIdentifier?: string;
  embeddedDir?: string;
}

/** The database a manifest records (older manifests without `identity`: their database and host). */
export function identityOf(manifest: Pick<BackupManifest, 'identity' | 'database' | 'server'>): DatabaseIdentity {
  return manifest.identity ?? { database: manifest.database, host: manifest.server?.host ?? '' };
}

/** Whether two identities are the same database. */
export function sameDatabase(a: DatabaseIdentity, b: DatabaseIdentity): boolean {
  const embeddedA = a.embeddedDir !== undefined || a.host === 'embedded';
  const embeddedB = b.embeddedDir !== undefined || b.host === 'embedded';
  if (embeddedA || embeddedB) {
    if (!(embeddedA && embeddedB)) return false;
    return a.embeddedDir === undefined || b.embeddedDir === undefined || path.resolve(a.embeddedDir) === path.resolve(b.embeddedDir);
  }
  if (a.database !== b.database) return false;
  if (a.systemIdentifier && b.systemIdentifier) return a.systemIdentifier === b.systemIdentifier;
  return a.host === b.host;
}

/** One line naming a database: `database "cmmc" on 127.0.0.1:5432 (system 7312…)`. */
export function describeDatabase(identity: DatabaseIdentity): string {
  if (identity.embeddedDir !== undefined || identity.host === 'embedded') return `the embedded database${identity.embeddedDir ? ` in ${identity.embeddedDir}` : ''}`;
  return `database "${identity.database}" on ${identity.host}${identity.systemIdentifier ? ` (system ${identity.systemIdentifier})` : ''}`;
}

/** A manifest with where it lives. */
export interface BackupRecord extends BackupManifest {
  /** Absolute path of the data file or folder. */
  path: string;
  manifestPath: string;
}

/**
 * The backup folder: `--dir` (relative to the working folder), else CMMC_BACKUP_DIR, else backups/,
 * both relative to the project root (src/config/project-root.ts), so a run from a subfolder finds
 * the same backups.
 */
export function resolveBackupDir(dir: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  if (dir) return path.resolve(cwd, dir);
  return path.resolve(findProjectRoot(cwd, env).root, env.CMMC_BACKUP_DIR || 'backups');
}

/**
 * Creates the backup folder (0700, and the folders missing above it) when missing. A folder that
 * exists keeps its mode: it may be shared (a 1777 folder) or the project's own (`--dir .`), and the
 * files written into it are 0600 whatever the folder's mode.
 * @returns the folders it made (`makeDirs`), and `note`: one line when an existing folder is
 *   readable by its group or by others (who can then see the backups' names, not their contents).
 */
export function ensureBackupDir(dir: string): { made: string[]; note?: string } {
  const made = makeDirs(dir, 0o700);
  // Only what this call made is tightened (the umask applied to mkdir).
  for (const m of made) chmodSync(m, 0o700);
  if (made.length) return { made };
  const mode = statSync(dir).mode & 0o7777;
  if ((mode & 0o044) === 0) return { made };
  return {
    made,
    note: `the backup folder ${dir} is readable by ${mode & 0o004 ? 'other users' : 'its group'} (mode ${mode.toString(8).padStart(4, '0')}): they can see the backups' names, not their contents (the files are 0600); chmod 700 it if that matters`,
  };
}

/** `20261125T074822Z` */
export function stamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The name a restore keeps the database it replaces under: `<db>_pre_restore_<stamp>` (`…_<n>` for
 * the n-th in the same second, n > 1), at most 63 bytes. One place for restore (which makes it) and
 * doctor (which finds them again by it).
 */
export function keptName(database: string, at: Date, n = 1): string {
  const suffix = `_pre_restore_${stamp(at).toLowerCase()}${n > 1 ? `_${n}` : ''}`;
  // 63 bytes, not characters: PostgreSQL would cut a longer name short itself (in mid-character).
  let head = database;
  while (Buffer.byteLength(head + suffix) > 63) head = [...head].slice(0, -1).join('');
  return head + suffix;
}

export function extensionFor(format: BackupFormat, compressed: boolean, encrypted: boolean): string {
  const base = { custom: '.dump', directory: '', tar: '.tar', plain: compressed ? '.sql.gz' : '.sql' }[format];
  return base + (encrypted ? '.enc' : '');
}

/**
 * A file of a backup (its reservation, its archive) could not be written: a file-system error
 * (ENOSPC, EDQUOT, EIO, EROFS) becomes one line naming the backup folder and the cause, as pg_dump's
 * own line does for an unencrypted archive; anything else is returned as it is.
 * @param file the file that was being written (write(2) names none: ENOSPC).
 */
export function backupNotWritten(err: unknown, file: string): unknown {
  const e = err as NodeJS.ErrnoException;
  if (err instanceof CmmcError || !e || typeof e.code !== 'string') return err;
  const line = fileSystemLine({ code: e.code, syscall: 'write', path: file });
  const why = line ? line.message.slice(line.message.indexOf(`${file}: `) + file.length + 2) : `${e.message} [${e.code}]`;
  return new CmmcError('backup.write', `cannot write the backup into ${path.dirname(file)}: ${why}; nothing was kept`, {
    hint: line?.hint ?? 'fix the cause and run the backup again',
  });
}

/** The suffix of a name's reservation (`.NAME.reserved`, holding the owner tag of the run that holds it). */
const RESERVATION_SUFFIX = '.reserved';
const RESERVATION = /^\.(.+)\.reserved$/;

/** A backup name this run holds until `release()` (see `reserveBackupName`). */
export interface NameReservation {
  name: string;
  /** The reservation file, `.NAME.reserved` (removed with the rest when the run fails or is interrupted). */
  path: string;
  /** Gives the name up (once the backup and its manifest are in place, or nothing was kept). */
  release(): void;
}

/**
 * Reserves a name not taken in `dir` — `<db>-<stamp>`, or `<db>-<stamp>-2`, … — for one backup:
 * the reservation `.NAME.reserved` is created with O_EXCL, so two runs started at the same moment
 * never get the same name (looking at the folder alone, both saw it free and the later one's rename
 * replaced the earlier one's backup). It holds this run's owner tag: a run killed outright leaves it
 * to the next run's `sweepPartials`. A name whose backup was completed (and released) between the
 * look and the reservation is given up again.
 */
export function reserveBackupName(dir: string, database: string, date: Date): NameReservation {
  const safe = database.replace(/[^A-Za-z0-9_.-]/g, '_');
  const base = `${safe}-${stamp(date)}`;
  const taken = (name: string, except?: string) =>
    readdirSync(dir).some((f) => f !== except && (f === name || f.startsWith(name + '.') || f.startsWith('.' + name + '.')));
  for (let i = 1; ; i++) {
    const name = i === 1 ? base : `${base}-${i}`;
    if (taken(name)) continue;
    const file = path.join(dir, `.${name}${RESERVATION_SUFFIX}`);
    try {
      writeFileSync(file, machineOwnerTag() + '\n', { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      rmSync(file, { force: true });
      throw backupNotWritten(err, file);
    }
    const release = () => rmSync(file, { force: true });
    if (taken(name, path.basename(file))) {
      release();
      continue;
    }
    return { name, path: file, release };
  }
}

/**
 * Puts the finished file (or folder) `from` in place as `to`, never replacing anything there: a file
 * is hard-linked (link(2) refuses an existing name) and its temporary name removed; a folder is
 * renamed after a look (rename(2) refuses a file or a folder with anything in it). Where the file
 * system has no hard links, the look and a rename.
 * @throws CmmcError `backup.exists` naming `to` when something is there (left as it was).
 */
export function placeNew(from: string, to: string): void {
  const exists = () =>
    new CmmcError('backup.exists', `${to} appeared while this backup was written (another program put it there); it was left as it was, and this backup was not kept`, {
      hint: 'find out what wrote it, then run the backup again',
    });
  const refuse = (err: unknown): never => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTEMPTY' || code === 'ENOTDIR' || code === 'EISDIR') throw exists();
    throw err;
  };
  if (lstatSync(from).isDirectory()) {
    if (lstatSync(to, { throwIfNoEntry: false })) throw exists();
    try {
      renameSync(from, to);
    } catch (err) {
      refuse(err);
    }
    return;
  }
  try {
    placeFileNew(from, to);
  } catch (err) {
    refuse(err);
  }
}

const NAME = /^[A-Za-z0-9_.-]+$/;
/** A plain file name: no separator, no leading dot, no `..`. */
const PLAIN = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * Writes JSON under a temporary name, then puts it in place (0600): renamed over `file` by default;
 * with `replace: false` never over anything there (`placeNew`). On failure the temporary file is
 * removed and the error names `file` (a failed write(2), ENOSPC, names no file of its own).
 */
export function writeJsonAtomic(file: string, value: unknown, options: { replace?: boolean } = {}): void {
  const tmp = partialPath(path.dirname(file), path.basename(file));
  try {
    writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
    if (options.replace === false) placeNew(tmp, file);
    else renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    const e = err as NodeJS.ErrnoException;
    if (!(err instanceof CmmcError) && e.code && (e.path === undefined || e.path === tmp)) Object.assign(e, { path: file, syscall: e.syscall === 'rename' ? 'rename' : 'write', message: e.message.split(tmp).join(file) });
    throw err;
  }
}

/**
 * Writes a backup's manifest (`NAME.manifest.json`). A new backup's (`replace: false`) never
 * replaces a manifest that is there; verify's update of an existing one does.
 */
export function writeManifest(dir: string, manifest: BackupManifest, options: { replace?: boolean } = {}): BackupRecord {
  const manifestPath = path.join(dir, manifest.name + MANIFEST_SUFFIX);
  writeJsonAtomic(manifestPath, manifest, options);
  return { ...manifest, path: path.join(dir, manifest.file), manifestPath };
}

/**
 * Writes a restore-drill record `NAME.restore-drill-STAMP.json` beside the manifest, never over
 * another: two drills finishing in the same second get `…-STAMP-2.json` and so on (`listDrills`
 * reads both). Returns the record's path.
 */
export function writeDrillRecord(dir: string, name: string, finishedAt: Date, record: unknown): string {
  for (let n = 1; ; n++) {
    const file = path.join(dir, `${name}.restore-drill-${stamp(finishedAt)}${n > 1 ? `-${n}` : ''}.json`);
    try {
      writeJsonAtomic(file, record, { replace: false });
      return file;
    } catch (err) {
      if (!(err instanceof CmmcError && err.code === 'backup.exists')) throw err;
    }
  }
}

/** A manifest file that cmmc-db will not act on, and why. */
export interface InvalidManifest extends ManifestProblem {
  manifestPath: string;
}

/**
 * Why a backup is not acted on. `archive`: the manifest is fine and its archive is the problem (a
 * symbolic link), so the line names the archive, and `hint` says what to do about it.
 */
export interface ManifestProblem {
  reason: string;
  archive?: boolean;
  hint?: string;
}

/**
 * Checks a manifest read from `dir/manifestFile`: every path a command deletes or reads through it
 * must be a plain name inside the backup folder. Its `name` is the manifest's own file name
 * without `.manifest.json`; its `file` is that name plus an extension (or the name itself, a
 * directory archive), with no separator and no `..`, and not a symbolic link (nor, for a directory
 * archive, holding one). Returns the reason it is invalid, or undefined.
 */
export function manifestProblem(dir: string, manifestFile: string, manifest: Partial<BackupManifest>): ManifestProblem | undefined {
  const expected = manifestFile.slice(0, -MANIFEST_SUFFIX.length);
  const bad = (reason: string) => ({ reason });
  if (typeof manifest.name !== 'string' || manifest.name !== expected) return bad(`its "name" is ${JSON.stringify(manifest.name)}, not ${JSON.stringify(expected)} (the manifest's own file name)`);
  const file = manifest.file;
  if (typeof file !== 'string' || !PLAIN.test(file) || file.includes('..')) return bad(`its "file" ${JSON.stringify(file)} is not a plain file name inside the backup folder`);
  if (file !== manifest.name && !file.startsWith(manifest.name + '.')) return bad(`its "file" ${JSON.stringify(file)} does not belong to backup ${manifest.name}`);
  if (typeof manifest.createdAt !== 'string' || Number.isNaN(Date.parse(manifest.createdAt))) return bad('it has no valid "createdAt"');
  // What verify and restore read from it: checked here, so that a hand-edited manifest is one line, not a TypeError.
  if (typeof manifest.manifestVersion !== 'number' || manifest.manifestVersion < 1 || manifest.manifestVersion > MANIFEST_VERSION) {
    return bad(`its "manifestVersion" ${JSON.stringify(manifest.manifestVersion)} is not one this version of cmmc-db reads (1 to ${MANIFEST_VERSION})`);
  }
  if (typeof manifest.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(manifest.sha256)) return bad(`its "sha256" ${JSON.stringify(manifest.sha256)} is not a SHA-256 (64 hex digits)`);
  if (!Number.isSafeInteger(manifest.sizeBytes) || (manifest.sizeBytes as number) < 0) return bad(`its "sizeBytes" ${JSON.stringify(manifest.sizeBytes)} is not a size in bytes`);
  if (!['custom', 'directory', 'tar', 'plain'].includes(manifest.format as string)) return bad(`its "format" ${JSON.stringify(manifest.format)} is not custom, directory, tar or plain`);
  const target = path.join(dir, file);
  const st = lstatSync(target, { throwIfNoEntry: false });
  // A link could point anywhere (and a delete through it would reach there): only what is in the folder is read.
  const why = 'backups are read and deleted only as files in the backup folder, never through a link';
  if (st?.isSymbolicLink()) {
    const to = readlinkSync(target);
    const real = path.resolve(dir, to);
    if (!existsSync(real)) return { reason: `its archive ${file} is a symbolic link to ${to}, which does not exist`, archive: true, hint: 'put the archive itself in its place if you have it, or move the backup (its manifest and the link) out of the folder' };
    return { reason: `its archive ${file} is a symbolic link to ${to} (${why})`, archive: true, hint: `put the archive itself in its place (cp --remove-destination ${shellWord(real)} ${shellWord(target)}), or move the backup out of the folder` };
  }
  if (st?.isDirectory()) {
    const link = readdirSync(target).find((f) => lstatSync(path.join(target, f)).isSymbolicLink());
    if (link) return { reason: `its archive folder ${file} holds a symbolic link (${link}) (${why})`, archive: true, hint: `put the file itself in place of ${shellWord(path.join(target, link))}, or move the backup out of the folder` };
  }
  return undefined;
}

/** Every manifest of the folder, newest first, and the ones that are invalid (never acted on). */
export function scanBackups(dir: string): { records: BackupRecord[]; invalid: InvalidManifest[] } {
  const records: BackupRecord[] = [];
  const invalid: InvalidManifest[] = [];
  if (!existsSync(dir)) return { records, invalid };
  for (const f of readdirSync(dir)) {
    if (!f.endsWith(MANIFEST_SUFFIX) || f.startsWith('.')) continue;
    const manifestPath = path.join(dir, f);
    let manifest: BackupManifest;
    try {
      manifest = JSON.parse(readRegularFile(manifestPath).toString('utf8')) as BackupManifest;
    } catch (err) {
      invalid.push({ manifestPath, reason: `it is not readable JSON (${(err as Error).message.split('\n')[0]})` });
      continue;
    }
    const problem = manifest && typeof manifest === 'object' ? manifestProblem(dir, f, manifest) : { reason: 'it is not a JSON object' };
    if (problem) invalid.push({ manifestPath, ...problem });
    else records.push({ ...manifest, path: path.join(dir, manifest.file), manifestPath });
  }
  records.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.name.localeCompare(a.name));
  return { records, invalid };
}

/** Reads every valid manifest of the folder, newest first (see `scanBackups` for the invalid ones). */
export function listBackups(dir: string, identity?: DatabaseIdentity): BackupRecord[] {
  const { records } = scanBackups(dir);
  return identity ? records.filter((r) => sameDatabase(identityOf(r), identity)) : records;
}

/** The error for an invalid manifest: one line naming it, and how to fix it. */
export function invalidManifestError(bad: InvalidManifest, doing: string): CmmcError {
  if (bad.archive) {
    const name = path.basename(bad.manifestPath).slice(0, -MANIFEST_SUFFIX.length);
    return new CmmcError('backup.archive-link', `backup ${name}: ${bad.reason}; ${doing}`, { hint: bad.hint });
  }
  return new CmmcError('backup.manifest-invalid', `${bad.manifestPath} is not a valid manifest: ${bad.reason}; ${doing}`, {
    hint: bad.hint ?? 'move that manifest out of the backup folder (or correct it) and run the command again',
  });
}

/** The one line for a backup the folder's scan set aside (backup list's warning). */
export function invalidBackupLine(bad: InvalidManifest): string {
  if (bad.archive) return `backup ${path.basename(bad.manifestPath).slice(0, -MANIFEST_SUFFIX.length)}: ${bad.reason} (ignored; ${bad.hint})`;
  return `${bad.manifestPath} is not a valid manifest: ${bad.reason} (ignored; move it out of the folder)`;
}

/**
 * The temporary name a file is written under before it is renamed: `.FILE.h<host>-p<pid>-t<start>.partial`
 * (`machineOwnerTag`: the backup folder may be shared by several machines or containers).
 */
export function partialPath(dir: string, file: string): string {
  return path.join(dir, `.${file}.${machineOwnerTag()}.partial`);
}

/** Unfinished backups (temporary names left by an interrupted run). */
export function listPartials(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.startsWith('.') && f.endsWith('.partial'));
}

/** Where the writer's tag is in a partial file's name. */
const PARTIAL_PATTERN = /\.((?:h[0-9a-f]+-)?p[0-9a-z]+-t[0-9a-z]+)\.partial$/;

/** A partial file without a pid in its name (older versions) counts as left over after a day. */
const STALE_PARTIAL_MS = 24 * 3_600_000;

/**
 * The partial files of runs that are gone: their name carries a pid that no longer runs on this
 * machine (or, for names without one, they are older than a day). With `remove` they are deleted,
 * and so are the name reservations of runs that are gone (not in the answer: they hold no data). A
 * partial or a reservation of a run still going is never touched, nor one of another machine or
 * container sharing the folder (`machineOwnerGone`): its own next run sweeps it.
 */
export function sweepPartials(dir: string, options: { remove?: boolean; now?: Date } = {}): string[] {
  const now = (options.now ?? new Date()).getTime();
  const stale = listPartials(dir).filter((f) => {
    const tag = PARTIAL_PATTERN.exec(f)?.[1];
    const gone = tag === undefined ? undefined : machineOwnerGone(tag);
    if (gone !== undefined) return gone;
    try {
      return now - statSync(path.join(dir, f)).mtimeMs > STALE_PARTIAL_MS;
    } catch {
      return false;
    }
  });
  // A dead run's name reservation (`reserveBackupName`) goes with them: it holds no data, so it is not listed.
  const reservations = options.remove !== false ? staleReservations(dir, now) : [];
  if (options.remove !== false) for (const f of [...stale, ...reservations]) rmSync(path.join(dir, f), { recursive: true, force: true });
  return stale;
}

/** The name reservations (`reserveBackupName`) of runs that are gone; unreadable or untagged ones after a day. */
function staleReservations(dir: string, now: number): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => {
    if (!RESERVATION.test(f)) return false;
    const file = path.join(dir, f);
    try {
      const gone = machineOwnerGone(readRegularFile(file).toString('utf8').trim());
      if (gone !== undefined) return gone;
      return now - statSync(file).mtimeMs > STALE_PARTIAL_MS;
    } catch {
      return false;
    }
  });
}

/**
 * Finds a backup by name (also accepts its data file name, or its path when that is in `dir`), whichever database it is of:
 * naming it is the explicit choice. With no name, the newest backup of `identity` (every
 * database's when `identity` is undefined) that is not dated in the future (`newestInPast`; one
 * that is, only when there is no other). An invalid manifest is never returned.
 */
export function findBackup(dir: string, name?: string, identity?: DatabaseIdentity): BackupRecord {
  const { records, invalid } = scanBackups(dir);
  // The listing the hints suggest is of this folder, which may not be the default one.
  const list = (all: string) => `cmmc-db backup list${all} --dir ${shellWord(dir)}`;
  if (!name) {
    const mine = identity ? records.filter((r) => sameDatabase(identityOf(r), identity)) : records;
    if (!mine.length) {
      const others = records.length - mine.length;
      throw new CmmcError('backup.none', `no backups of ${identity ? describeDatabase(identity) : 'any database'} in ${dir}${others ? ` (${others} of other databases)` : ''}`, {
        hint: others ? `name one explicitly to use another database's backup (${list(' --all')})` : 'make one with: cmmc-db backup create',
      });
    }
    // The newest by the one rule (`newestInPast`): one dated in the future by a wrong clock is not it.
    return newestInPast(mine, new Date(), (r) => r.createdAt) ?? mine[0];
  }
  // A path names a file in its own folder: the same name in the backup folder is another file (a
  // copy, or another backup altogether), and using it instead verified or restored what was not named.
  if (name.includes('/') && !sameFolder(path.dirname(path.resolve(name)), dir)) {
    throw new CmmcError('backup.other-folder', `${name} is not in the backup folder ${dir}; nothing was done`, {
      hint: `name the folder it is in: --dir ${shellWord(path.dirname(path.resolve(name)))}`,
      exitCode: 2,
    });
  }
  const base = path.basename(name).replace(MANIFEST_SUFFIX, '');
  const hit = records.find((b) => b.name === base || b.file === base);
  if (hit) return hit;
  const bad = invalid.find((b) => path.basename(b.manifestPath) === base + MANIFEST_SUFFIX);
  if (bad) throw invalidManifestError(bad, 'nothing was done');
  if (!NAME.test(base)) throw new CmmcError('backup.name', `"${name}" is not a backup name`, { hint: `list them with: ${list('')}`, exitCode: 2 });
  throw new CmmcError('backup.not-found', `no backup named ${base} in ${dir}`, { hint: `list them with: ${list(' --all')}` });
}

/** Whether two folders are one (through a symbolic link too). */
function sameFolder(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  return real(a) === real(b);
}

/** sha256 and size of a file, or of a folder (its files in name order, each name then content). */
export async function checksum(target: string): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const st = statSync(target);
  if (st.isDirectory()) {
    for (const f of readdirSync(target).sort()) {
      const file = path.join(target, f);
      if (!statSync(file).isFile()) continue;
      hash.update(`${f}\0`);
      size += await hashFile(file, hash);
    }
  } else {
    size = await hashFile(target, hash);
  }
  return { sha256: hash.digest('hex'), sizeBytes: size };
}

/**
 * Feeds a file into `hash` and returns its size. A second pass over an archive pg_dump has just
 * written (the custom format cannot be hashed while written: pg_dump seeks back to fill in its table
 * of contents), so it must be cheap: one buffer of up to 4 MiB read again and again, no stream machinery.
 */
async function hashFile(file: string, hash: ReturnType<typeof createHash>): Promise<number> {
  const handle = await open(file, 'r');
  try {
    // No bigger than the file (plus one byte, to see its end in one read): a small archive needs no 4 MiB.
    const buffer = Buffer.allocUnsafe(Math.min(4 << 20, (await handle.stat()).size + 1));
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return size;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/** Bytes on disk under a path (a file, or a folder's files); 0 when missing. */
export function bytesAt(target: string): number {
  try {
    const st = statSync(target);
    if (!st.isDirectory()) return st.size;
    let n = 0;
    for (const f of readdirSync(target)) {
      try {
        n += statSync(path.join(target, f)).size;
      } catch {
        // Being written.
      }
    }
    return n;
  } catch {
    return 0;
  }
}

export { tighten } from '../fs-private.js';

/** A restore-drill record (`NAME.restore-drill-STAMP.json`, written by `backup verify --restore-test`). */
export interface DrillRecord {
  kind: 'cmmc-db restore drill';
  backup: { name: string; file: string; createdAt: string; sha256: string; database: string; revision: string[]; format: BackupFormat; encrypted: boolean };
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  scratchDatabase: string;
  scratchDropped: boolean;
  restored?: { tables: number; revision: string[] };
  checks: { id: string; status: string; detail: string }[];
  result: 'pass' | 'fail';
  operator: string;
  host: string;
  /** The record's own file. */
  path: string;
}

/** The restore-drill records of the folder (of one backup when `name` is given), oldest first. Unreadable ones are skipped. */
export function listDrills(dir: string, name?: string): DrillRecord[] {
  if (!existsSync(dir)) return [];
  const drills: DrillRecord[] = [];
  for (const f of readdirSync(dir)) {
    const m = /^(.+)\.restore-drill-[0-9TZ]+(?:-\d+)?\.json$/.exec(f);
    if (!m || f.startsWith('.') || (name && m[1] !== name)) continue;
    try {
      const record = JSON.parse(readRegularFile(path.join(dir, f)).toString('utf8')) as DrillRecord;
      if (record.kind !== 'cmmc-db restore drill' || !record.finishedAt) continue;
      drills.push({ ...record, path: path.join(dir, f) });
    } catch {
      continue;
    }
  }
  return drills.sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
}

/** Removes a backup: data, manifest and restore-drill records. */
export function removeBackup(record: BackupRecord): void {
  const dir = path.dirname(record.manifestPath);
  // Checked again right before deleting: only a plain name inside the backup folder is ever removed.
  const problem = manifestProblem(dir, path.basename(record.manifestPath), record);
  if (problem || path.dirname(record.path) !== dir) throw invalidManifestError({ manifestPath: record.manifestPath, ...(problem ?? { reason: 'its data is outside the backup folder' }) }, 'it was not deleted');
  rmSync(record.path, { recursive: true, force: true });
  for (const f of readdirSync(dir)) {
    if (f.startsWith(`${record.name}.restore-drill-`) && f.endsWith('.json')) rmSync(path.join(dir, f), { force: true });
  }
  rmSync(record.manifestPath, { force: true });
}

/** Human size: 1.2 MB */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** Human age: 5m, 3h, 2d */
export function formatAge(from: Date, now = new Date()): string {
  const s = Math.max(0, Math.round((now.getTime() - from.getTime()) / 1000));
  if (s < 90) return `${s}s`;
  if (s < 90 * 60) return `${Math.round(s / 60)}m`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/**
 * The backup folder: names, manifests, checksums, and listing. A backup NAME is
 * `<database>-<YYYYMMDDTHHMMSSZ>`; its data is `NAME.dump` (custom), `NAME.tar`, `NAME.sql[.gz]`
 * (plain) or the folder `NAME/` (directory), with `.enc` added when encrypted, and its manifest is
 * `NAME.manifest.json` beside it. Everything is written under a temporary name (`.NAME…partial`)
 * and renamed when complete; files are 0600 and folders 0700.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, chmodSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CmmcError } from '../errors.js';
import { findProjectRoot } from '../config/project-root.js';

export type BackupFormat = 'custom' | 'directory' | 'tar' | 'plain';
export type BackupContents = 'full' | 'schema-only' | 'data-only';
export type VerifiedStatus = 'verified' | 'unverified' | 'failed';

export const MANIFEST_SUFFIX = '.manifest.json';
export const MANIFEST_VERSION = 1;

/** The manifest written beside every backup. */
export interface BackupManifest {
  manifestVersion: number;
  name: string;
  /** The data file (or folder), relative to the backup folder. */
  file: string;
  createdAt: string;
  database: string;
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

/** Creates the folder (0700) when missing and tightens it to 0700. */
export function ensureBackupDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** `20261125T074822Z` */
export function stamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

export function extensionFor(format: BackupFormat, compressed: boolean, encrypted: boolean): string {
  const base = { custom: '.dump', directory: '', tar: '.tar', plain: compressed ? '.sql.gz' : '.sql' }[format];
  return base + (encrypted ? '.enc' : '');
}

/** A name not yet taken in `dir`: `<db>-<stamp>`, or `<db>-<stamp>-2`, … */
export function newBackupName(dir: string, database: string, date: Date): string {
  const safe = database.replace(/[^A-Za-z0-9_.-]/g, '_');
  const base = `${safe}-${stamp(date)}`;
  const taken = (name: string) => readdirSync(dir).some((f) => f === name || f.startsWith(name + '.') || f.startsWith('.' + name + '.'));
  if (!taken(base)) return base;
  for (let i = 2; ; i++) if (!taken(`${base}-${i}`)) return `${base}-${i}`;
}

const NAME = /^[A-Za-z0-9_.-]+$/;

/** Writes JSON under a temporary name, then renames it (0600). */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.partial`);
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

export function writeManifest(dir: string, manifest: BackupManifest): BackupRecord {
  const manifestPath = path.join(dir, manifest.name + MANIFEST_SUFFIX);
  writeJsonAtomic(manifestPath, manifest);
  return { ...manifest, path: path.join(dir, manifest.file), manifestPath };
}

/** Reads every manifest of the folder, newest first. Unreadable manifests are skipped. */
export function listBackups(dir: string): BackupRecord[] {
  if (!existsSync(dir)) return [];
  const records: BackupRecord[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith(MANIFEST_SUFFIX) || f.startsWith('.')) continue;
    try {
      const manifest = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as BackupManifest;
      if (!manifest.name || !manifest.file || !manifest.createdAt) continue;
      records.push({ ...manifest, path: path.join(dir, manifest.file), manifestPath: path.join(dir, f) });
    } catch {
      continue;
    }
  }
  return records.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.name.localeCompare(a.name));
}

/** Unfinished backups (temporary names left by an interrupted run). */
export function listPartials(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.startsWith('.') && f.endsWith('.partial'));
}

/**
 * Finds a backup by name (also accepts its data file name or path). With no name, the newest.
 */
export function findBackup(dir: string, name?: string): BackupRecord {
  const all = listBackups(dir);
  if (!name) {
    if (!all.length) throw new CmmcError('backup.none', `no backups in ${dir}`, { hint: 'make one with: cmmc-db backup create' });
    return all[0];
  }
  const base = path.basename(name).replace(MANIFEST_SUFFIX, '');
  const hit = all.find((b) => b.name === base || b.file === base);
  if (hit) return hit;
  if (!NAME.test(base)) throw new CmmcError('backup.name', `"${name}" is not a backup name`, { hint: 'list them with: cmmc-db backup list', exitCode: 2 });
  throw new CmmcError('backup.not-found', `no backup named ${base} in ${dir}`, { hint: 'list them with: cmmc-db backup list' });
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
      size += statSync(file).size;
      await pipeline(createReadStream(file), async function* (source) {
        for await (const chunk of source) hash.update(chunk as Buffer);
      });
    }
  } else {
    size = st.size;
    await pipeline(createReadStream(target), async function* (source) {
      for await (const chunk of source) hash.update(chunk as Buffer);
    });
  }
  return { sha256: hash.digest('hex'), sizeBytes: size };
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

/** Sets 0600 on files and 0700 on folders under `target`. */
export function tighten(target: string): void {
  const st = statSync(target);
  if (st.isDirectory()) {
    chmodSync(target, 0o700);
    for (const f of readdirSync(target)) tighten(path.join(target, f));
  } else {
    chmodSync(target, 0o600);
  }
}

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
      const record = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as DrillRecord;
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
  rmSync(record.path, { recursive: true, force: true });
  const dir = path.dirname(record.manifestPath);
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

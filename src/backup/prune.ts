/** Pruning the backup folder by a retention policy: a plan first, deletion only when asked. */
import { usageError } from '../errors.js';
import { hasRule, keepsNothing, planRetention, type RetentionPolicy } from './retention.js';
import { invalidManifestError, removeBackup, resolveBackupDir, sameDatabase, scanBackups, identityOf, sweepPartials, type DatabaseIdentity } from './store.js';

export interface PruneOptions {
  dir?: string;
  policy: RetentionPolicy;
  /** Delete for real; otherwise only the plan is returned. */
  apply?: boolean;
  /** Only this database's backups are considered (the others are never touched); all when undefined. */
  identity?: DatabaseIdentity;
  now?: Date;
}

export interface PruneEntry {
  name: string;
  createdAt: string;
  sizeBytes: number;
  verified: string;
  action: 'keep' | 'delete';
  reasons: string[];
}

export interface PruneResult {
  dir: string;
  dryRun: boolean;
  entries: PruneEntry[];
  deleted: string[];
  freedBytes: number;
  /** Unfinished files of runs that are gone: removed with the rest (listed in a dry run). */
  stalePartials: string[];
  /** Backups of other databases in the folder: left alone. */
  otherDatabases: number;
}

export function checkPolicy(policy: RetentionPolicy): void {
  if (!hasRule(policy)) {
    throw usageError('prune needs at least one keep rule', 'use --keep-last N, --keep-days N, --keep-daily N, --keep-weekly N or --keep-monthly N');
  }
  const flag = (key: string) => `--${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
  for (const [key, value] of Object.entries(policy)) {
    if (value !== undefined && (!Number.isInteger(value) || value < 0)) throw usageError(`${flag(key)} must be a whole number`);
  }
  if (keepsNothing(policy)) {
    const given = Object.entries(policy).filter(([, v]) => v !== undefined).map(([k, v]) => `${flag(k)} ${v}`);
    throw usageError(
      `${given.join(', ')} keep${given.length === 1 ? 's' : ''} no backup: prune would delete every backup of this database but the newest verified one; nothing was deleted`,
      'keep at least the newest (--keep-last 1); to delete a backup by hand, remove its files (NAME.*) from the backup folder',
    );
  }
}

/** Plans (and with `apply`, carries out) the deletion of the backups no rule keeps. */
export function pruneBackups(options: PruneOptions): PruneResult {
  checkPolicy(options.policy);
  const dir = resolveBackupDir(options.dir);
  const scan = scanBackups(dir);
  // A manifest that names anything but a plain file in this folder stops the whole prune: nothing is deleted.
  if (scan.invalid.length) {
    const [first, ...more] = scan.invalid;
    throw invalidManifestError(first, `nothing was deleted${more.length ? ` (and ${more.length} more invalid manifest${more.length === 1 ? '' : 's'})` : ''}`);
  }
  const records = options.identity ? scan.records.filter((r) => sameDatabase(identityOf(r), options.identity!)) : scan.records;
  const byName = new Map(records.map((r) => [r.name, r]));
  const decisions = planRetention(
    records.map((r) => ({ name: r.name, createdAt: new Date(r.createdAt), verified: r.verified?.status === 'verified' })),
    options.policy,
    options.now ?? new Date(),
  );
  const entries: PruneEntry[] = decisions.map((d) => {
    const r = byName.get(d.name)!;
    return { name: d.name, createdAt: r.createdAt, sizeBytes: r.sizeBytes, verified: r.verified?.status ?? 'unverified', action: d.keep ? 'keep' : 'delete', reasons: d.reasons };
  });
  const deleted: string[] = [];
  let freedBytes = 0;
  if (options.apply) {
    for (const e of entries) {
      if (e.action !== 'delete') continue;
      removeBackup(byName.get(e.name)!);
      deleted.push(e.name);
      freedBytes += e.sizeBytes;
    }
  } else {
    freedBytes = entries.filter((e) => e.action === 'delete').reduce((n, e) => n + e.sizeBytes, 0);
  }
  const stalePartials = sweepPartials(dir, { remove: Boolean(options.apply), now: options.now });
  return { dir, dryRun: !options.apply, entries, deleted, freedBytes, stalePartials, otherDatabases: scan.records.length - records.length };
}

/** Pruning the backup folder by a retention policy: a plan first, deletion only when asked. */
import { usageError } from '../errors.js';
import { hasRule, planRetention, type RetentionPolicy } from './retention.js';
import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { listBackups, listPartials, removeBackup, resolveBackupDir } from './store.js';

/** A partial file older than this is left over from a crashed run (a running backup keeps writing to its own). */
const STALE_PARTIAL_MS = 24 * 3_600_000;

export interface PruneOptions {
  dir?: string;
  policy: RetentionPolicy;
  /** Delete for real; otherwise only the plan is returned. */
  apply?: boolean;
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
  /** Unfinished files of crashed runs, older than a day: removed with the rest (listed in a dry run). */
  stalePartials: string[];
}

export function checkPolicy(policy: RetentionPolicy): void {
  if (!hasRule(policy)) {
    throw usageError('prune needs at least one keep rule', 'use --keep-last N, --keep-days N, --keep-daily N, --keep-weekly N or --keep-monthly N');
  }
  for (const [key, value] of Object.entries(policy)) {
    if (value !== undefined && (!Number.isInteger(value) || value < 0)) throw usageError(`--${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} must be a whole number`);
  }
}

/** Plans (and with `apply`, carries out) the deletion of the backups no rule keeps. */
export function pruneBackups(options: PruneOptions): PruneResult {
  checkPolicy(options.policy);
  const dir = resolveBackupDir(options.dir);
  const records = listBackups(dir);
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
  const now = (options.now ?? new Date()).getTime();
  const stalePartials = listPartials(dir).filter((f) => {
    try {
      return now - statSync(path.join(dir, f)).mtimeMs > STALE_PARTIAL_MS;
    } catch {
      return false;
    }
  });
  if (options.apply) for (const f of stalePartials) rmSync(path.join(dir, f), { recursive: true, force: true });
  return { dir, dryRun: !options.apply, entries, deleted, freedBytes, stalePartials };
}

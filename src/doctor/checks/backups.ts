/**
 * backups.recent: the age of the newest verified backup of this database in the backup folder
 * (CMMC_BACKUP_DIR, or backups/ at the project root; the folder `cmmc-db backup create` writes to).
 * Older than backup-age-warn (26 h) warns, older than backup-age-fail (7 d) fails; a backup that
 * was taken but never verified does not count. No backup of this database in the folder at all
 * means backups are not kept here (another tool, another host): skipped, with how to start.
 * "This database" is the rule of `backup list` (sameDatabase in src/backup/store.ts): the same name
 * on the same server (system identifier), so a same-named database of another server sharing the
 * folder is not counted; manifests without an identity match by name and host.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describeDatabase, formatAge, formatBytes, keptName, listBackups, resolveBackupDir } from '../../backup/store.js';
import { shellWord } from '../../shell-word.js';
import { newestInPast } from '../../backup/retention.js';
import { duration } from '../format.js';
import type { CheckFamily, DoctorContext, Finding } from '../types.js';

async function recentBackup(ctx: DoctorContext): Promise<Finding> {
  const { identityOfOpen } = await import('../../backup/dump.js');
  const identity = await identityOfOpen(ctx.config, ctx.handle);
  const database = describeDatabase(identity);
  const dir = resolveBackupDir(ctx.backupDir);
  const ours = listBackups(dir, identity);
  if (ours.length === 0) {
    return {
      status: 'skipped',
      figure: `no backup of ${database} in ${dir}`,
      remedy: 'cmmc-db backup create && cmmc-db backup verify (and cmmc-db backup schedule install for a nightly one)',
    };
  }
  const verified = ours.filter((b) => b.verified?.status === 'verified').sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  if (!verified.length) {
    return { status: 'warn', figure: `${ours.length} backup(s) of ${database}, none verified`, remedy: 'cmmc-db backup verify' };
  }
  const now = new Date();
  const newest = newestInPast(verified, now, (b) => b.createdAt);
  if (!newest) {
    // Dated next year by a wrong clock, it would count as fresh for a year while no backup is made.
    return {
      status: 'warn',
      figure: `the ${verified.length} verified backup(s) of ${database} are all dated in the future (the newest, ${verified[0].name}, at ${verified[0].createdAt}): a clock is wrong, and their real age is unknown`,
      remedy: "check the clock of this machine and of the one that made them (timedatectl), then cmmc-db backup create && cmmc-db backup verify",
    };
  }
  const ageMs = now.getTime() - new Date(newest.createdAt).getTime();
  const t = ctx.thresholds;
  const figure = `newest verified backup ${newest.name} is ${formatAge(new Date(newest.createdAt))} old`;
  const rows = verified.slice(0, 5).map((b) => ({ name: b.name, created_at: b.createdAt, restore_tested: Boolean(b.verified.restoreTested) }));
  if (ageMs > t.backupAgeFailMs) return { status: 'fail', figure: `${figure} (over ${duration(t.backupAgeFailMs)})`, remedy: 'cmmc-db backup create && cmmc-db backup verify; check the schedule (cmmc-db backup schedule show)', rows };
  if (ageMs > t.backupAgeWarnMs) return { status: 'warn', figure: `${figure} (over ${duration(t.backupAgeWarnMs)})`, remedy: 'cmmc-db backup create && cmmc-db backup verify; check the schedule (cmmc-db backup schedule show)', rows };
  return { status: 'ok', figure, remedy: '', rows };
}

/**
 * The databases a restore of `database` replaced and kept, among `names` (`keptName` in
 * src/backup/store.ts: `<db>_pre_restore_<yyyymmddThhmmssZ>[_n]`, cut to 63 bytes), each with when
 * it was kept (from its name).
 */
export function keptDatabasesOf(database: string, names: string[]): { name: string; keptAt: Date }[] {
  const out: { name: string; keptAt: Date }[] = [];
  for (const name of names) {
    const m = /_pre_restore_(\d{4})(\d{2})(\d{2})t(\d{2})(\d{2})(\d{2})z(?:_(\d+))?$/.exec(name);
    if (!m) continue;
    const keptAt = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
    // Only this database's: exactly the name a restore of it gives (its name cut to 63 bytes, not characters).
    if (Number.isNaN(keptAt.getTime()) || name !== keptName(database, keptAt, m[7] ? Number(m[7]) : 1)) continue;
    out.push({ name, keptAt });
  }
  return out.sort((a, b) => a.keptAt.getTime() - b.keptAt.getTime());
}

/**
 * The databases kept by restores of this one: on a server, databases named by `keptName`; for the
 * embedded database, the data folders a restore replaced, kept beside `pgdata` in its folder
 * (`pgdata_pre_restore_<time>`, src/embedded/backup.ts). Listed with their size; warned about once
 * kept longer than the threshold, since the old data stays in them, outside every backup's retention.
 */
async function keptDatabases(ctx: DoctorContext): Promise<Finding> {
  const embedded = ctx.embedded;
  let current: string;
  let bytes: Map<string, number>;
  let kept: { name: string; keptAt: Date }[];
  if (embedded) {
    const { DATA_SUBDIR } = await import('../../embedded/instance.js');
    const dir = ctx.config.embeddedDir;
    current = `the embedded database in ${dir}`;
    kept = keptDatabasesOf(DATA_SUBDIR, readdirSync(dir));
    bytes = new Map(kept.map((k) => [k.name, folderBytes(path.join(dir, k.name))]));
  } else {
    [{ current }] = await ctx.sql<{ current: string }[]>`SELECT current_database() AS current`;
    // pg_database_size needs CONNECT on the database (or pg_read_all_stats): sizes of others are 0.
    const rows = await ctx.sql<{ name: string; bytes: string }[]>`
      SELECT datname AS name, CASE WHEN has_database_privilege(oid, 'CONNECT') THEN pg_database_size(oid) ELSE 0 END::text AS bytes
        FROM pg_database WHERE datname LIKE '%\_pre\_restore\_%'`;
    bytes = new Map(rows.map((r) => [r.name, Number(r.bytes)]));
    kept = keptDatabasesOf(current, rows.map((r) => r.name));
  }
  const what = embedded ? 'data folder' : 'database';
  if (!kept.length) return { status: 'ok', figure: `no ${what} kept by a restore of ${current}`, remedy: '' };
  const limit = ctx.thresholds.keptDatabaseAgeMs;
  const old = kept.filter((k) => Date.now() - k.keptAt.getTime() > limit);
  const listed = kept.map((k) => ({ name: k.name, kept_at: k.keptAt.toISOString(), size_bytes: bytes.get(k.name) ?? 0 }));
  const total = formatBytes(listed.reduce((n, k) => n + k.size_bytes, 0));
  const figure = `${kept.length} ${what}(s) kept by restores of ${current} (${total}), the oldest ${formatAge(kept[0].keptAt)} old`;
  if (!old.length) return { status: 'ok', figure, remedy: '', rows: listed };
  return {
    status: 'warn',
    figure: `${figure}: ${old.length} older than ${duration(limit)}`,
    // The old data stays in them, outside every backup's retention, until they are dropped.
    remedy: embedded
      ? `once the restored database is checked, remove them: rm -r ${old.map((k) => shellWord(path.join(ctx.config.embeddedDir, k.name))).join(' ')}`
      : `once the restored database is checked, drop them: ${old.map((k) => `DROP DATABASE "${k.name.replace(/"/g, '""')}";`).join(' ')}`,
    rows: listed,
  };
}

/** Bytes of the files under a folder, all the way down. */
function folderBytes(folder: string): number {
  let n = 0;
  for (const entry of readdirSync(folder, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    try {
      n += statSync(path.join(entry.parentPath ?? entry.path, entry.name)).size;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

export const backupsFamily: CheckFamily = {
  name: 'backups',
  checks: [
    { id: 'backups.recent', title: 'age of the newest verified backup of this database', needsServer: false, run: recentBackup },
    { id: 'backups.kept-databases', title: 'databases (embedded: data folders) kept by a restore (the way back), and their age', needsServer: false, run: keptDatabases },
  ],
};

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
import { describeDatabase, formatAge, listBackups, resolveBackupDir } from '../../backup/store.js';
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
  const newest = verified[0];
  if (!newest) {
    return { status: 'warn', figure: `${ours.length} backup(s) of ${database}, none verified`, remedy: 'cmmc-db backup verify' };
  }
  const ageMs = Date.now() - new Date(newest.createdAt).getTime();
  const t = ctx.thresholds;
  const figure = `newest verified backup ${newest.name} is ${formatAge(new Date(newest.createdAt))} old`;
  const rows = verified.slice(0, 5).map((b) => ({ name: b.name, created_at: b.createdAt, restore_tested: Boolean(b.verified.restoreTested) }));
  if (ageMs > t.backupAgeFailMs) return { status: 'fail', figure: `${figure} (over ${duration(t.backupAgeFailMs)})`, remedy: 'cmmc-db backup create && cmmc-db backup verify; check the schedule (cmmc-db backup schedule show)', rows };
  if (ageMs > t.backupAgeWarnMs) return { status: 'warn', figure: `${figure} (over ${duration(t.backupAgeWarnMs)})`, remedy: 'cmmc-db backup create && cmmc-db backup verify; check the schedule (cmmc-db backup schedule show)', rows };
  return { status: 'ok', figure, remedy: '', rows };
}

export const backupsFamily: CheckFamily = {
  name: 'backups',
  checks: [{ id: 'backups.recent', title: 'age of the newest verified backup of this database', needsServer: false, run: recentBackup }],
};

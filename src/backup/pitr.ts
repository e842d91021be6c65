/**
 * Point-in-time recovery needs continuous WAL archiving on the server and a base backup
 * (pg_basebackup); pg_dump archives cannot be rolled forward. This module prints the settings and
 * the recovery recipe, and checks the server's archiving (settings and pg_stat_archiver).
 */
import type { CmmcConfig } from '../config/config.js';
import { maskedSqlText } from '../config/printable.js';
import { openDatabase } from '../db/connection.js';
import { CmmcError } from '../errors.js';

export function pitrNeedsServer(): CmmcError {
  return new CmmcError('backup.pitr-embedded', 'point-in-time recovery needs a PostgreSQL server; the embedded database (PGlite) has no WAL archiving', {
    hint: 'use cmmc-db backup for the embedded database',
  });
}

export interface PitrPlanOptions {
  /** Where WAL segments are archived (a folder the server's user can write). */
  archiveDir?: string;
  /** The moment to recover to, e.g. `2026-11-25 06:00:00+00`. */
  targetTime?: string;
  /** The server's data directory in the recipe. */
  dataDir?: string;
}

export const DEFAULT_ARCHIVE_DIR = '/var/lib/postgresql/wal_archive';

/** The postgresql.conf lines that turn on WAL archiving. */
export function archivingSettings(archiveDir = DEFAULT_ARCHIVE_DIR): string[] {
  const dir = archiveDir.replace(/'/g, "''");
  return [
    'wal_level = replica',
    'archive_mode = on',
    `archive_command = 'test ! -f ${dir}/%f && cp %p ${dir}/%f'`,
    'archive_timeout = 300',
  ];
}

/** The recipe: base backup, then recovery to a target time. */
export function recoveryRecipe(options: PitrPlanOptions = {}): string[] {
  const archive = options.archiveDir ?? DEFAULT_ARCHIVE_DIR;
  const data = options.dataDir ?? '/var/lib/postgresql/15/main';
  const target = options.targetTime ?? '2026-11-25 06:00:00+00';
  return [
    `# 1. Turn archiving on (postgresql.conf, then restart PostgreSQL), and create ${archive} owned by postgres.`,
    '# 2. Take a base backup now and after every major change (pg_dump archives cannot be rolled forward):',
    `     pg_basebackup -D /var/backups/base-$(date -u +%Y%m%dT%H%M%SZ) -Ft -z -P --wal-method=stream`,
    `# 3. To recover to ${target}: stop the server and keep the damaged data folder aside:`,
    `     systemctl stop postgresql && mv ${data} ${data}.broken`,
    '# 4. Unpack the newest base backup taken BEFORE the target time into the data folder:',
    `     mkdir -m 700 ${data} && tar -xzf /var/backups/base-…/base.tar.gz -C ${data} && chown -R postgres:postgres ${data}`,
    '# 5. Point recovery at the archive and the target (postgresql.conf or postgresql.auto.conf):',
    `     restore_command = 'cp ${archive.replace(/'/g, "''")}/%f %p'`,
    `     recovery_target_time = '${target.replace(/'/g, "''")}'`,
    "     recovery_target_action = 'promote'",
    `# 6. Ask for recovery and start: touch ${data}/recovery.signal && systemctl start postgresql`,
    '# 7. Check the data, then remove recovery_target_* from the configuration; take a new base backup.',
  ];
}

export type ArchiveStatus = 'ok' | 'warn' | 'fail' | 'unknown';

export interface PitrCheck {
  id: string;
  status: ArchiveStatus;
  figure: string;
  remedy?: string;
}

export interface PitrReport {
  status: ArchiveStatus;
  archiving: boolean;
  checks: PitrCheck[];
}

/** Reads wal_level, archive_mode, archive_command/archive_library and pg_stat_archiver. */
export async function checkArchiving(config: CmmcConfig): Promise<PitrReport> {
  if (config.kind === 'embedded') throw pitrNeedsServer();
  const handle = await openDatabase(config, { pool: { max: 1, min: 0 }, applicationName: 'cmmc-db:pitr' });
  try {
    const settings = await handle.sql<{ name: string; setting: string | null }[]>`
      SELECT name, setting FROM pg_settings WHERE name IN ('wal_level', 'archive_mode', 'archive_command', 'archive_library', 'archive_timeout')`;
    const s = Object.fromEntries(settings.map((r) => [r.name, r.setting ?? ''])) as Record<string, string>;
    const [arch] = await handle.sql<
      { archived_count: string; last_archived_wal: string | null; last_archived_time: Date | null; failed_count: string; last_failed_wal: string | null; last_failed_time: Date | null }[]
    >`SELECT archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal, last_failed_time FROM pg_stat_archiver`;

    const checks: PitrCheck[] = [];
    const walOk = s.wal_level === 'replica' || s.wal_level === 'logical';
    checks.push({ id: 'wal_level', status: walOk ? 'ok' : 'fail', figure: s.wal_level || '(unknown)', ...(walOk ? {} : { remedy: 'set wal_level = replica and restart' }) });
    const modeOk = s.archive_mode === 'on' || s.archive_mode === 'always';
    checks.push({ id: 'archive_mode', status: modeOk ? 'ok' : 'fail', figure: s.archive_mode || '(unknown)', ...(modeOk ? {} : { remedy: 'set archive_mode = on and restart' }) });
    const command = s.archive_command ?? '';
    const library = s.archive_library ?? '';
    const hidden = command === '' && !('archive_command' in s);
    const commandOk = (command !== '' && command !== '(disabled)') || library !== '';
    checks.push({
      id: 'archive_command',
      status: hidden ? 'unknown' : commandOk ? 'ok' : 'fail',
      // An archive_command may carry a credential (PGPASSWORD=…, a URL's): shown masked.
      figure: library ? `archive_library = ${library}` : maskedSqlText(command) || '(empty)',
      ...(commandOk ? {} : { remedy: "set archive_command, e.g. 'test ! -f /wal_archive/%f && cp %p /wal_archive/%f'" }),
    });
    const archived = Number(arch?.archived_count ?? 0);
    const failed = Number(arch?.failed_count ?? 0);
    const lastOk = arch?.last_archived_time ? new Date(arch.last_archived_time) : undefined;
    const lastFail = arch?.last_failed_time ? new Date(arch.last_failed_time) : undefined;
    const failing = Boolean(lastFail && (!lastOk || lastFail > lastOk));
    let archiverStatus: ArchiveStatus = 'ok';
    if (failing) archiverStatus = 'fail';
    else if (modeOk && archived === 0) archiverStatus = 'warn';
    else if (!modeOk) archiverStatus = archived === 0 ? 'fail' : 'warn';
    checks.push({
      id: 'pg_stat_archiver',
      status: archiverStatus,
      figure: `${archived} archived${lastOk ? `, last ${arch!.last_archived_wal} at ${lastOk.toISOString()}` : ''}; ${failed} failed${lastFail ? `, last at ${lastFail.toISOString()}` : ''}`,
      ...(failing ? { remedy: 'the archive_command is failing: read the server log and fix the archive folder' } : archiverStatus === 'ok' ? {} : { remedy: 'no WAL segment has been archived yet' }),
    });
    const rank: Record<ArchiveStatus, number> = { ok: 0, warn: 1, unknown: 2, fail: 3 };
    const status = checks.reduce<ArchiveStatus>((worst, c) => (rank[c.status] > rank[worst] ? c.status : worst), 'ok');
    return { status, archiving: walOk && modeOk && commandOk, checks };
  } finally {
    await handle.close();
  }
}

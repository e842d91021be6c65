import type { RegisterCommand } from './types.js';
import { noteIfStandby } from '../standby-note.js';

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('status')
    .description('where the database stands: revisions applied (when, by whom, how long) and pending, seeds, the newest verified backup')
    .option('--backup-dir <dir>', 'backup folder to look in (default: CMMC_BACKUP_DIR or backups/ at the project root)')
    .addHelpText('after', '\nExample:\n  $ cmmc-db status\n  $ cmmc-db status --json | jq .backup.newest.ageSeconds')
    .action(
      ctx.action(async (opts: { backupDir?: string }) => {
        const { readStatus } = await import('../../status/index.js');
        const { formatAge } = await import('../../backup/store.js');
        const { nextUpgradeStep } = await import('../../migrate/report.js');
        const handle = await ctx.open({ kysely: false, mustExist: true });
        const report = await readStatus(handle, { backupDir: opts.backupDir });
        await noteIfStandby(ctx, handle);
        if (ctx.out.json) {
          ctx.out.data(report);
          return 0;
        }
        const { revisions: r, seeds, backup } = report;
        const where = r.current.length ? r.current.join(', ') : 'base';
        ctx.out.line(
          r.atHead
            ? `revisions: at head ${where} (${r.applied.length} applied)`
            : `revisions: at ${where}; ${r.pending.length} pending to ${r.heads.join(', ')}${r.unknown.length ? `; unknown to the files: ${r.unknown.join(', ')}` : ''}`,
        );
        const when = (iso: string | null) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');
        ctx.out.table(
          ['revision', 'state', 'message', 'applied at', 'by', 'took'],
          [
            ...[...r.pending].reverse().map((p) => [p.revision, 'pending', p.message, '', '', '']),
            ...r.applied.map((a) => [
              a.revision,
              r.changed.includes(a.revision) ? 'changed' : r.current.includes(a.revision) || r.currentViaDependsOn.includes(a.revision) ? 'current' : 'applied',
              a.message,
              when(a.appliedAt),
              a.appliedBy ?? '',
              a.durationMs === null ? '' : `${a.durationMs} ms`,
            ]),
          ],
          { record: false },
        );
        const count = (s: string) => seeds.files.filter((f) => f.status === s).length;
        ctx.out.line(
          seeds.status === 'none'
            ? 'seeds: no seed files'
            : `seeds: ${seeds.status} (${count('applied')} applied, ${count('pending')} pending, ${count('changed')} changed of ${seeds.files.length})`,
        );
        ctx.out.line(
          backup.newest
            ? `backup: newest verified ${backup.newest.name}, ${formatAge(new Date(backup.newest.createdAt))} old${backup.newest.restoreTested ? ', restore-tested' : ''}`
            : `backup: no verified backup of ${report.database} in ${backup.dir}`,
        );
        if (!r.atHead) ctx.out.info(ctx.out.c.dim(`next: ${nextUpgradeStep(r)}`));
        else if (seeds.status === 'pending' || seeds.status === 'changed') ctx.out.info(ctx.out.c.dim('next: cmmc-db seed'));
        else if (!backup.newest) ctx.out.info(ctx.out.c.dim('next: cmmc-db backup create && cmmc-db backup verify'));
        return 0;
      }),
    );
};

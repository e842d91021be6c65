import type { RegisterCommand } from './types.js';
import { migrateRun, runFlags, type MigrateRunFlags } from '../migrate-run.js';

export const register: RegisterCommand = (program, ctx) => {
  runFlags(
    program
      .command('upgrade [target]')
      .description('apply revisions up to TARGET (default head; "heads" for every branch; +N, ID, label@head...)'),
  )
    .option('--backup', 'take a verified backup before applying anything (default when NODE_ENV/CMMC_ENV=production)')
    .option('--no-backup', 'no backup first, even in production')
    .option('--backup-dir <dir>', 'folder for that backup (default: CMMC_BACKUP_DIR or ./backups)')
    .addHelpText('after', '\nExamples:\n  $ cmmc-db upgrade head\n  $ cmmc-db upgrade +1\n  $ cmmc-db upgrade head --backup          # verified backup first, named for backup restore\n  $ cmmc-db upgrade base:head --sql > upgrade.sql')
    .action(ctx.action(async (target: string | undefined, flags: MigrateRunFlags) => migrateRun(ctx, 'upgrade', target ?? 'head', flags)));
};

import type { RegisterCommand } from './types.js';
import { migrateRun, runFlags, type MigrateRunFlags } from '../migrate-run.js';

export const register: RegisterCommand = (program, ctx) => {
  runFlags(
    program
      .command('downgrade <target>')
      .description('revert revisions down to TARGET (base, -1, an id, label@base...); shows what goes and asks first'),
  )
    .option('--dry-run', 'show the revisions and tables that would go; change nothing')
    .addHelpText('after', '\nExamples:\n  $ cmmc-db downgrade -1\n  $ cmmc-db downgrade base --dry-run\n  $ cmmc-db downgrade base\n  $ cmmc-db downgrade head:base --sql > downgrade.sql')
    .action(ctx.action(async (target: string, flags: MigrateRunFlags) => migrateRun(ctx, 'downgrade', target, flags)));
};

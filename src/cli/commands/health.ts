import { printHealth } from '../health-report.js';
import type { RegisterCommand } from './types.js';

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('health')
    .description('check that the database answers, and show the connection pool (status, size, in use, free, min, max)')
    .addHelpText('after', '\nExample:\n  $ cmmc-db health --json')
    .action(ctx.action(() => printHealth(ctx)));
};


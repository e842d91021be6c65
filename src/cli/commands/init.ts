import type { RegisterCommand } from './types.js';

interface InitCommandOptions {
  adminUrl?: string;
  sample?: boolean;
  allowProductionSample?: boolean;
  revertRoles?: boolean;
}

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('init')
    .description(
      'create the schema owner, the application role, the database and extensions where missing, move ownership to the owner, grant the application role DML only, upgrade to head and load the controls (idempotent)',
    )
    .option('--admin-url <url>', 'admin connection (default: POSTGRES_USER / POSTGRES_PASSWORD on the target host and port)')
    .option('--sample', 'also load the demo data (demo users with known passwords)')
    .option('--allow-production-sample', 'allow --sample where NODE_ENV/CMMC_ENV=production (never on a real system)')
    .option('--revert-roles', 'undo the two-role model: move every platform object back to the application role and give it CREATE again (asks first, or --yes)')
    .addHelpText(
      'after',
      `
The application role and the database come from DB_USER, DB_PASSWORD, DB_HOST, DB_PORT, DB_NAME
(or DATABASE_URL / --url); the schema owner from DB_OWNER_USER (default <DB_USER>_owner) and
DB_OWNER_PASSWORD. Run again on a database made by an older init to move ownership to the owner.
With none of them set, init prepares the embedded database.

Example:
  $ DB_USER=cmmc_app DB_PASSWORD=s3cret DB_OWNER_USER=cmmc_owner DB_OWNER_PASSWORD=0wner DB_NAME=cmmc_platform POSTGRES_USER=postgres cmmc-db init
  $ cmmc-db init --admin-url postgres://postgres@db.internal:5432/postgres --sample`,
    )
    .action(
      ctx.action(async (opts: InitCommandOptions) => {
        const { runInit, checkSampleGuard } = await import('../../seed/index.js');
        const config = ctx.config();
        checkSampleGuard(config, opts);
        ctx.announce(config);
        if (opts.revertRoles && !(await ctx.out.confirm('move every platform object back to the application role (the single-role model)?', ctx.globals.yes))) return 1;
        const report = await runInit(config, {
          adminUrl: opts.adminUrl,
          sample: opts.sample,
          allowProductionSample: opts.allowProductionSample,
          revertRoles: opts.revertRoles,
          onStep: (s) => {
            const line = `${s.step} ${s.name}: ${s.status === 'present' || s.detail === s.status ? s.detail : `${s.status} (${s.detail})`}`;
            if (s.status === 'present' || s.status === 'skipped') ctx.out.info(`  ${line}`);
            else ctx.out.success(line);
          },
        });
        if (ctx.out.json) {
          ctx.out.data(report);
        } else {
          ctx.out.table(['step', 'name', 'status', 'detail'], report.steps.map((s) => [s.step, s.name, s.status, s.detail]));
        }
        ctx.out.info(
          report.changed
            ? `initialized: ${report.controls} controls; check with "cmmc-db current" and "cmmc-db seed --status"`
            : `nothing to do: already initialized (${report.controls} controls)`,
        );
        // Last, where it is seen: what init could not fix and the user must.
        for (const s of report.steps) if (s.warning) ctx.out.warn(s.warning);
        return 0;
      }),
    );
};

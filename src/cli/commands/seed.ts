import { whileOpening } from '../context.js';
import type { RegisterCommand } from './types.js';

interface SeedCommandOptions {
  status?: boolean;
  force?: boolean;
  sample?: boolean;
  allowProductionSample?: boolean;
  dryRun?: boolean;
}

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('seed')
    .description('load the seed files (controls, provider inheritance; demo data with --sample), each in its own transaction; unchanged files are skipped')
    .argument('[name...]', 'seed files to run (01_cmmc_controls.sql, 01_cmmc_controls or 01); default: all')
    .option('--status', 'list the seed files as applied, changed or pending, and run nothing')
    .option('--force', 'run files again even when unchanged since they were applied')
    .option('--sample', 'also load demo data (files named *sample*: demo users with known passwords)')
    .option('--allow-production-sample', 'allow --sample where NODE_ENV/CMMC_ENV=production (never on a real system)')
    .option('--dry-run', 'print what would run and change nothing')
    .addHelpText(
      'after',
      '\nExamples:\n  $ cmmc-db seed                     load the controls and provider inheritance\n  $ cmmc-db seed --sample            also load the demo organization\n  $ cmmc-db seed --status --json\n  $ cmmc-db seed 01 --force          reload the controls',
    )
    .action(
      ctx.action(async (names: string[], opts: SeedCommandOptions) => {
        ctx.asOwner();
        // The loader alone: seed/index.js also loads init and the SQL lexer's exports.
        const { runSeeds, seedStatus, checkSampleGuard, failureError, listSeedFiles } = await import('../../seed/loader.js');
        if (opts.status) {
          const handle = await ctx.open({ kysely: false, mustExist: true });
          const rows = await seedStatus(handle);
          if (ctx.out.json) ctx.out.data({ files: rows });
          else if (rows.length === 0) ctx.out.info('no seed files');
          else ctx.out.table(['file', 'status', 'applied at', 'sha256'], rows.map((r) => [r.file + (r.sample ? ' (sample)' : ''), r.status, r.appliedAt ?? '', r.checksum.slice(0, 12)]));
          return 0;
        }
        // Refuse before connecting: the guard depends on the configuration only.
        const config = ctx.config();
        checkSampleGuard(config, opts);
        // The files are read and hashed while the session opens.
        // A dry run reads: it creates no embedded database. A run writes: on the primary (src/db/writable.ts).
        const [handle, files] = await whileOpening(() => ctx.open({ kysely: false, mustExist: Boolean(opts.dryRun), writes: !opts.dryRun }), async () => listSeedFiles(config.seedsDir), { server: config.kind === 'server' });
        const spinner = await ctx.out.spinner('seeding');
        const { results, failure } = await runSeeds(handle, {
          files,
          names,
          force: opts.force,
          sample: opts.sample,
          allowProductionSample: opts.allowProductionSample,
          dryRun: opts.dryRun,
          onFile: (file, i, total) => {
            spinner.text = `seeding ${file.name} (${i + 1}/${total})`;
          },
          onLockWait: (heldBy) => spinner.note(`waiting for another seed run to finish${heldBy ? ` (server pid ${heldBy})` : ''}...`),
        });
        spinner.stop();
        if (ctx.out.json) {
          ctx.out.data({ dryRun: Boolean(opts.dryRun), files: results, ...(failure ? { failure } : {}) });
        } else {
          for (const r of results) {
            if (r.outcome === 'applied') ctx.out.success(`${r.file}: applied (${r.statements} statements, ${r.durationMs} ms)`);
            else if (r.outcome === 'would-apply') ctx.out.info(`${r.file}: would apply (${r.reason}, ${r.statements} statements)`);
            else if (r.outcome === 'skipped') ctx.out.info(`${r.file}: skipped (${r.reason === 'sample' ? 'demo data: add --sample' : r.reason === 'unchanged' ? 'unchanged since applied; --force to rerun' : r.reason})`);
          }
          const applied = results.filter((r) => r.outcome === 'applied').length;
          if (!failure) {
            if (opts.dryRun) ctx.out.info('dry run: nothing was changed');
            else if (applied === 0) ctx.out.info('nothing to do: every seed file is up to date');
            else ctx.out.info(`${applied} seed file${applied === 1 ? '' : 's'} applied; see them with "cmmc-db seed --status"`);
          }
        }
        if (failure) {
          if (ctx.out.json) {
            ctx.out.error(failureError(failure).message);
            return 1;
          }
          throw failureError(failure);
        }
        return 0;
      }),
    );
};

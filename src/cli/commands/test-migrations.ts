import type { RegisterCommand } from './types.js';

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('test-migrations')
    .description(
      'test the revisions on a scratch database (dropped afterwards): single head, base → head one by one, the stairway (up, down, up), up/down consistency, schema.sql matches head',
    )
    .option('--schema-file <file>', 'schema.sql to compare with the head (default: schema.sql in the project folder)')
    .option('--no-schema-file', 'skip the schema.sql test')
    .addHelpText('after', '\nExample:\n  $ cmmc-db test-migrations\n  $ cmmc-db test-migrations --json     # in CI')
    .action(
      ctx.action(async (opts: { schemaFile?: string | false }) => {
        const { runMigrationTests } = await import('../../schema-as-code/migration-tests.js');
        const config = ctx.config();
        ctx.announce(config);
        const spinner = await ctx.out.spinner('testing the revisions in a scratch database');
        let report;
        try {
          report = await runMigrationTests(config, {
            schemaFile: opts.schemaFile === false ? null : opts.schemaFile,
            onProgress: (text) => (spinner.text = text),
          });
        } finally {
          spinner.stop();
        }
        if (ctx.out.json) {
          ctx.out.data(report);
        } else {
          ctx.out.table(
            ['test', 'status', 'revision', 'detail'],
            report.tests.map((t) => [t.test, t.status, t.revision ?? '', t.detail]),
          );
          for (const t of report.tests.filter((x) => x.status === 'fail')) {
            ctx.out.error(`${t.test}${t.revision ? ` at revision ${t.revision}` : ''}: ${t.detail}`);
          }
          if (report.status === 'ok') ctx.out.success(`${report.revisions} revision${report.revisions === 1 ? ' passes' : 's pass'} every migration test`);
        }
        return report.status === 'ok' ? 0 : 1;
      }),
    );
};

import type { RegisterCommand } from './types.js';

const collect = (v: string, prev: string[]) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('revision')
    .description('write a new revision file from the template (its down revision is the current single head)')
    .requiredOption('-m, --message <message>', 'what the revision does')
    .option('--head <rev>', 'build on this revision instead of the single head ("base" starts a new branch)')
    .option('--branch-label <label>', 'a branch label for the new revision (repeatable)', collect, [] as string[])
    .option('--depends-on <rev>', 'a revision (or label) that must be applied first (repeatable)', collect, [] as string[])
    .option('--sql', 'write a plain-SQL revision (.sql) instead of TypeScript')
    .option('--rev-id <id>', 'use this revision id instead of a random one')
    .option('--autogenerate', 'write a plain-SQL revision from the difference between the migrations\' head and schema.sql (or --from)')
    .option('--from <url>', 'with --autogenerate: the desired state is this live database (read only) instead of schema.sql')
    .option('--schema-file <file>', 'with --autogenerate: the desired state is this SQL file (default: schema.sql)')
    .addHelpText('after', '\nExamples:\n  $ cmmc-db revision -m "add widget table"\n  $ cmmc-db revision -m "start reporting" --head base --branch-label reporting --sql\n  $ cmmc-db revision --autogenerate -m "add widget table"    # after editing schema.sql')
    .action(
      ctx.action(async (flags: { message: string; head?: string; branchLabel: string[]; dependsOn: string[]; sql?: boolean; revId?: string; autogenerate?: boolean; from?: string; schemaFile?: string }) => {
        if (flags.autogenerate) return (await import('../schema-flows.js')).autogenerateAction(ctx, flags);
        if (flags.from || flags.schemaFile) {
          const { usageError } = await import('../../errors.js');
          throw usageError('--from and --schema-file go with --autogenerate');
        }
        const m = await import('../../migrate/index.js');
        const config = ctx.config();
        const script = await m.loadScript(config);
        const written = m.writeRevision(config, script, {
          message: flags.message,
          head: flags.head,
          branchLabels: flags.branchLabel,
          dependsOn: flags.dependsOn,
          sql: flags.sql,
          revId: flags.revId,
        });
        if (ctx.out.json) ctx.out.data(written);
        else {
          ctx.out.line(written.file);
          ctx.out.success(`revision ${written.revision} written (down revision: ${written.downRevisions.join(', ') || 'base'})`);
          // The new revision replaces the heads it builds on; beside another head, `upgrade head` is refused as ambiguous.
          const heads = script.graph.heads.filter((h) => !written.downRevisions.includes(h)).length + 1;
          const fill = flags.sql ? 'the -- migrate:up and -- migrate:down sections' : 'up() and down()';
          const then = heads > 1 ? `cmmc-db upgrade heads (${heads} heads now; join them with cmmc-db merge -m "merge" heads)` : 'cmmc-db upgrade head';
          ctx.out.info(ctx.out.c.dim(`next: fill in ${fill}, then ${then}`));
        }
        return 0;
      }),
    );
};

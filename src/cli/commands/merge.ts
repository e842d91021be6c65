import type { RegisterCommand } from './types.js';

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('merge <revs...>')
    .description('write a merge revision that joins two or more heads (REVS: ids, prefixes, labels, label@head, or "heads")')
    .requiredOption('-m, --message <message>', 'what the merge joins')
    .option('--branch-label <label>', 'branch label for the merge revision', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--rev-id <id>', 'use this revision id instead of a random one')
    .option('--sql', 'write a plain-SQL revision')
    .addHelpText('after', '\nExamples:\n  $ cmmc-db merge -m "merge billing and audit" heads\n  $ cmmc-db merge -m "merge billing and audit" billing@head audit@head')
    .action(
      ctx.action(async (revs: string[], flags: { message: string; branchLabel: string[]; revId?: string; sql?: boolean }) => {
        const m = await import('../../migrate/index.js');
        const { usageError } = await import('../../errors.js');
        const config = ctx.config();
        const script = await m.loadScript(config);
        const down = revs.flatMap((r) => m.catchRevisionErrors(() => script.graph.resolveRevisions(r)));
        const unique = [...new Set(down)];
        if (unique.length < 2) throw usageError('a merge needs at least two revisions', 'name two heads, or "heads" (cmmc-db heads lists them)');
        for (const a of unique) {
          const above = unique.find((b) => b !== a && script.graph.ancestors([b]).has(a));
          if (above) throw usageError(`${a} is already below ${above}: there is nothing to merge between them`, 'merge heads of different branches (cmmc-db heads lists them)');
        }
        const written = m.writeRevision(config, script, { message: flags.message, downRevisions: unique, branchLabels: flags.branchLabel, revId: flags.revId, sql: flags.sql });
        if (ctx.out.json) ctx.out.data(written);
        else {
          ctx.out.line(written.file);
          ctx.out.success(`merge revision ${written.revision} joins ${unique.join(', ')}`);
          ctx.out.info(ctx.out.c.dim('next: cmmc-db upgrade head'));
        }
        return 0;
      }),
    );
};

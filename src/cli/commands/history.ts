import type { RegisterCommand } from './types.js';

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('history')
    .description('show the revisions as a graph, newest first (branches and merges drawn; applied ones marked with -i)')
    .option('-r, --rev-range <range>', 'only revisions from FROM up to TO, as Alembic walks them: FROM:TO, FROM:, :TO, FROM:+N, label@base:, current:')
    .option('-v, --verbose', 'show each revision in full')
    .option('-i, --indicate-current', 'read the database: @ current, * applied, o pending')
    .addHelpText('after', '\nExamples:\n  $ cmmc-db history --indicate-current\n  $ cmmc-db history -r base:head --verbose\n  $ cmmc-db history -r current: --json\n  $ cmmc-db history -r billing@base:')
    .action(
      ctx.action(async (flags: { revRange?: string; verbose?: boolean; indicateCurrent?: boolean }) => {
        const m = { ...(await import('../../migrate/script.js')), ...(await import('../../migrate/status.js')), ...(await import('../../migrate/errors.js')) };
        const { summarize, historyLines, historyRange } = await import('../../migrate/report.js');
        const { usageError } = await import('../../errors.js');
        const script = await m.loadScript(ctx.config());
        const { graph } = script;
        const rangeReadsCurrent = /(^|:)current(:|$)/.test(flags.revRange ?? '');
        const needsDb = flags.indicateCurrent || rangeReadsCurrent;
        let db: { applied: Set<string>; current: string[] } | undefined;
        if (needsDb) {
          const handle = await ctx.open({ kysely: false, fetchTypes: false, mustExist: true });
          const current = await m.getCurrentHeads(handle);
          db = { current, applied: graph.appliedSet(current.filter((r) => graph.has(r))) };
        }
        let newestFirst: typeof graph.ordered | undefined;
        if (flags.revRange) {
          const i = flags.revRange.indexOf(':');
          if (i === -1) throw usageError(`-r "${flags.revRange}" is not a range`, 'use FROM:TO, for example -r base:head or -r current:');
          // A range from or to current reads the version rows: one no file declares is refused, as by
          // `current` (-i alone marks what it knows, as Alembic's).
          if (db && rangeReadsCurrent) m.refuseUnknown(script, db.current.filter((r) => !graph.has(r)));
          const rows = db ? db.current.filter((r) => graph.has(r)) : [];
          // Alembic's walk_revisions order, newest first, as Alembic's history lists the range (the
          // drawn graph's own order puts independent branches the other way round).
          newestFirst = m.catchRevisionErrors(() => historyRange(graph, flags.revRange!.slice(0, i), flags.revRange!.slice(i + 1), rows)).map((id) => graph.get(id));
        }
        const revisions = newestFirst ?? graph.ordered;
        const summaries = new Map(revisions.map((r) => [r.revision, summarize(script, r, db)]));
        if (ctx.out.json) {
          ctx.out.data((newestFirst ?? [...graph.ordered].reverse()).map((r) => summaries.get(r.revision)));
          return 0;
        }
        if (revisions.length === 0) {
          ctx.out.info('no revisions in that range');
          return 0;
        }
        for (const line of historyLines(script, revisions, summaries, flags.verbose ?? false, { inOrder: Boolean(newestFirst) })) ctx.out.line(line);
        if (db) ctx.out.info(ctx.out.c.dim('@ current   * applied   o pending'));
        return 0;
      }),
    );
};

import type { RegisterCommand } from './types.js';

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('show <rev>')
    .description('show one revision: id, down revisions, labels, file, message (REV: id, prefix, head, label@head, -1 for below the head, current for the version rows...)')
    .addHelpText('after', '\nExample:\n  $ cmmc-db show head\n  $ cmmc-db show current')
    .action(
      ctx.action(async (rev: string) => {
        const { loadScript, catchRevisionErrors } = await import('../../migrate/index.js');
        const { summarize, details, noRevisionNote } = await import('../../migrate/report.js');
        const script = await loadScript(ctx.config());
        const { graph } = script;
        // `show current`, as Alembic's: the revisions of the version rows (reads the database; a row no
        // file declares is refused, as by `current`).
        let ids: string[];
        if (rev.trim() === 'current') {
          const [{ getCurrentHeads }, { refuseUnknown }] = await Promise.all([import('../../migrate/status.js'), import('../../migrate/errors.js')]);
          const handle = await ctx.open({ kysely: false, fetchTypes: false, mustExist: true });
          try {
            ids = (await getCurrentHeads(handle)).sort();
          } finally {
            await handle.close();
          }
          refuseUnknown(script, ids.filter((id) => !graph.has(id)));
        } else ids = catchRevisionErrors(() => graph.map.revisionsToShow(rev.trim()).map((r) => r.revision));
        const shown = ids.map((id) => ({ ...summarize(script, graph.get(id)), children: graph.childrenOf(id), path: graph.get(id).file }));
        if (ctx.out.json) {
          ctx.out.data(shown.length === 1 ? shown[0] : shown);
          return 0;
        }
        if (shown.length === 0) ctx.out.info(rev.trim() === 'current' ? 'base: no revision' : noRevisionNote(graph, rev));
        shown.forEach((s, i) => {
          if (i) ctx.out.line('');
          for (const l of details(s)) ctx.out.line(l);
          ctx.out.line(`Children: ${s.children.join(', ') || '(none: a head)'}`);
          ctx.out.line(`Path: ${s.path}`);
          ctx.out.line(`Checksum: sha256:${s.checksum}`);
        });
        return 0;
      }),
    );
};

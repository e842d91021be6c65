import type { RegisterCommand } from './types.js';

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('heads')
    .description('show the head revisions of the migrations folder (no database needed)')
    .option('-v, --verbose', 'show each head in full')
    .addHelpText('after', '\nExample:\n  $ cmmc-db heads --verbose')
    .action(
      ctx.action(async (flags: { verbose?: boolean }) => {
        const { loadScript } = await import('../../migrate/index.js');
        const { summarize, tags, details } = await import('../../migrate/report.js');
        const script = await loadScript(ctx.config());
        const heads = script.graph.heads.map((h) => summarize(script, script.graph.get(h)));
        if (ctx.out.json) {
          ctx.out.data(heads);
          return 0;
        }
        if (heads.length === 0) ctx.out.info(`no revisions in ${script.dirs.join(' or ') || script.dir} (next: cmmc-db revision -m "first")`);
        for (const h of heads) {
          if (flags.verbose) for (const l of [...details(h), '']) ctx.out.line(l);
          else ctx.out.line(`${h.revision} ${tags(h)} ${h.message}`.trimEnd());
        }
        if (heads.length > 1) ctx.out.info(`${heads.length} heads: join them with cmmc-db merge -m "merge" heads, or upgrade them all with cmmc-db upgrade heads`);
        return 0;
      }),
    );
};

import type { RegisterCommand } from './types.js';

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('heads')
    .description('show the head revisions of the migrations folder (no database needed)')
    .option('-v, --verbose', 'show each head in full')
    .option('--resolve-dependencies', 'leave out heads that another revision depends on (the heads `upgrade heads` and `merge heads` name)')
    .addHelpText('after', '\nExample:\n  $ cmmc-db heads --verbose\n  $ cmmc-db heads --resolve-dependencies')
    .action(
      ctx.action(async (flags: { verbose?: boolean; resolveDependencies?: boolean }) => {
        const { loadScript } = await import('../../migrate/index.js');
        const { summarize, tags, details } = await import('../../migrate/report.js');
        const script = await loadScript(ctx.config());
        const { map } = script.graph;
        const heads = (flags.resolveDependencies ? map.realHeads : script.graph.heads).map((h) => summarize(script, script.graph.get(h)));
        if (ctx.out.json) {
          ctx.out.data(heads);
          return 0;
        }
        if (heads.length === 0) ctx.out.info(`no revisions in ${script.dirs.join(' or ') || script.dir} (next: cmmc-db revision -m "first")`);
        for (const h of heads) {
          if (flags.verbose) for (const l of [...details(h), '']) ctx.out.line(l);
          else ctx.out.line(`${h.revision} ${tags(h)} ${h.message}`.trimEnd());
        }
        // What `merge heads` would join: an effective head is reached through the revision that depends on it.
        const joinable = map.realHeads.length;
        if (joinable > 1) ctx.out.info(`${joinable} heads to join: cmmc-db merge -m "merge" heads, or upgrade them all with cmmc-db upgrade heads`);
        return 0;
      }),
    );
};

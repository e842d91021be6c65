import type { RegisterCommand } from './types.js';

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('branches')
    .description('show the branch points (revisions with more than one child) and branch labels')
    .option('-v, --verbose', 'show each branch point in full')
    .addHelpText('after', '\nExample:\n  $ cmmc-db branches')
    .action(
      ctx.action(async (flags: { verbose?: boolean }) => {
        const { loadScript } = await import('../../migrate/index.js');
        const { summarize, tags, details } = await import('../../migrate/report.js');
        const script = await loadScript(ctx.config());
        const { graph } = script;
        const points = graph.branchPoints.map((id) => ({ ...summarize(script, graph.get(id)), children: graph.childrenOf(id) }));
        const labels = [...graph.branchLabels].map(([label, revision]) => ({ label, revision, heads: graph.heads.filter((h) => graph.branchMembers(revision).has(h)) }));
        if (ctx.out.json) {
          ctx.out.data({ branchpoints: points, labels });
          return 0;
        }
        if (points.length === 0) ctx.out.info('no branch points: no revision has more than one child');
        for (const p of points) {
          if (flags.verbose) for (const l of details(p)) ctx.out.line(l);
          else ctx.out.line(`${p.revision} ${tags(p)} ${p.message}`.trimEnd());
          for (const c of p.children) {
            const child = summarize(script, graph.get(c));
            ctx.out.line(`  -> ${c} ${tags(child)}${tags(child) ? ' ' : ''}${child.message}`.trimEnd());
          }
        }
        for (const l of labels) ctx.out.line(`label ${l.label}: declared on ${l.revision}, head ${l.heads.join(', ') || '-'}`);
        return 0;
      }),
    );
};

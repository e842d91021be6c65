import { whileOpening } from '../context.js';
import { noteIfStandby } from '../standby-note.js';
import type { RegisterCommand } from './types.js';

export const register: RegisterCommand = (program, ctx) => {
  program
    .command('current')
    .description('show the revision(s) the database is at (reads the version table; changes nothing)')
    .option('-v, --verbose', 'show each revision in full')
    .addHelpText('after', '\nExample:\n  $ cmmc-db current --verbose')
    .action(
      ctx.action(async (flags: { verbose?: boolean }) => {
        // script.js and status.js only: `current` should not load Kysely or the offline recorder.
        const { loadScript } = await import('../../migrate/script.js');
        const { readEngineStateAndRecovery, computeStatus } = await import('../../migrate/status.js');
        const { summarize, tags, details, nextUpgradeStep, currentViaDependsOn } = await import('../../migrate/report.js');
        const { refuseUnknown } = await import('../../migrate/errors.js');
        const config = ctx.config();
        // The session is opened, and the engine's state read, while the files are read: the server
        // starts its backend and answers meanwhile (the files give it a turn between them).
        let state: Awaited<ReturnType<typeof readEngineStateAndRecovery>> | undefined;
        let noFolder: string | undefined;
        const [, script] = await whileOpening(
          async () => {
            const handle = await ctx.open({ kysely: false, fetchTypes: false, mustExist: true });
            state = await readEngineStateAndRecovery(handle);
            if (state.standby) await noteIfStandby(ctx, handle);
            return handle;
          },
          // An empty version table can be read without the files: a missing folder is a warning then.
          (turn) =>
            loadScript(config, { turn }).catch(async (err: { code?: string; message?: string }) => {
              if (err.code !== 'migrate.no-folder') throw err;
              noFolder = err.message;
              const { RevisionGraph } = await import('../../revision/graph.js');
              return { dir: config.migrationsDir, dirs: [config.migrationsDir], revisions: [], graph: new RevisionGraph([]) };
            }),
          { server: config.kind === 'server' },
        );
        if (noFolder) ctx.out.warn(state!.current.length ? noFolder : `${noFolder}: showing the version table only`);
        const status = computeStatus(script, state!.current, state!.checksums);
        // A row no file declares: nothing read from these files about the database can be right
        // (Alembic: "Can't locate revision identified by ..."); refused as upgrade refuses it.
        refuseUnknown(script, status.unknown);
        const applied = script.graph.appliedSet(status.current);
        const revisions = status.current.map((id) => summarize(script, script.graph.get(id), { applied, current: status.current }));
        // Alembic's get_all_current: also the revisions current only because a row depends on them.
        const viaDependsOn = currentViaDependsOn(script.graph, status.current).map((c) => ({ ...summarize(script, script.graph.get(c.revision), { applied, current: status.current }), via: c.via }));
        if (ctx.out.json) {
          ctx.out.data({ current: status.current, heads: status.heads, atHead: status.atHead, pending: status.pending, revisions, currentViaDependsOn: viaDependsOn });
          return 0;
        }
        // The next step is one that runs: `upgrade head` refuses with several heads.
        const next = nextUpgradeStep(status);
        if (status.current.length === 0) ctx.out.info(`no revision applied: the database is at base (next: ${next})`);
        for (const r of revisions) {
          if (flags.verbose) for (const l of details(r)) ctx.out.line(l);
          else ctx.out.line(`${r.revision} ${tags(r)} ${r.message}`.replace(/\s+$/, ''));
        }
        for (const r of viaDependsOn) {
          const via = `(current through depends_on: ${r.via.join(', ')})`;
          if (flags.verbose) for (const l of [...details(r), `Current through: depends_on of ${r.via.join(', ')}`]) ctx.out.line(l);
          else ctx.out.line(`${r.revision} ${[tags(r), via].filter(Boolean).join(' ')} ${r.message}`.replace(/\s+$/, ''));
        }
        if (status.overlapping.length) ctx.out.info(`${status.overlapping.join(', ')}: below another row of the version table (next: ${next})`);
        else if (status.current.length && status.pending.length) ctx.out.info(`${status.pending.length} revision(s) pending (next: ${next})`);
        return 0;
      }),
    );
};

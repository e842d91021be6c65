/**
 * What migra does not diff — comments, FORCE ROW LEVEL SECURITY, the storage parameters of tables and
 * views (fillfactor, security_invoker) — and standalone composite types: autogenerate writes them
 * (up and down), drift reports them and its SQL puts them back, test-migrations catches a down that
 * forgets them. Before, autogenerate dropped them silently (a tenant table lost FORCE), drift saw
 * none of them but the forced flag, and its SQL dropped a composite type it had not reported.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { query } from './helpers/server.js';
import { makeWorkspace, scratchLeft, useServerWorkspace } from './fixtures/schema-as-code/workspace.js';

const STATE = `SELECT c.relforcerowsecurity AS forced, c.reloptions::text AS options, obj_description(c.oid, 'pg_class') AS comment,
                      col_description(c.oid, 2) AS name_comment,
                      (SELECT reloptions::text FROM pg_class WHERE relname = 'widget_names') AS view_options,
                      (SELECT obj_description(oid, 'pg_class') FROM pg_class WHERE relname = 'widget_names') AS view_comment
                 FROM pg_class c WHERE c.relname = 'widgets'`;

describe('comments, FORCE ROW LEVEL SECURITY and storage parameters', () => {
  const s = useServerWorkspace();
  const cli = (args: string[]) => runCli(args, { url: s.tdb.url, env: s.ws.env });


  it('autogenerate writes them into the up and takes them out in the down', async () => {
    expect((await cli(['schema', 'dump', '--output', s.ws.schemaFile])).exitCode).toBe(0);
    appendFileSync(
      s.ws.schemaFile,
      [
        '',
        "COMMENT ON TABLE public.widgets IS 'things we sell';",
        "COMMENT ON COLUMN public.widgets.name IS 'the name shown';",
        "COMMENT ON VIEW public.widget_names IS 'names only';",
        'ALTER TABLE public.widgets ENABLE ROW LEVEL SECURITY;',
        'ALTER TABLE public.widgets FORCE ROW LEVEL SECURITY;',
        'ALTER TABLE public.widgets SET (fillfactor = 70);',
        'ALTER VIEW public.widget_names SET (security_invoker = true);',
        '',
      ].join('\n'),
    );
    const r = await runCliJson(['revision', '--autogenerate', '-m', 'comments and force', '--schema-file', s.ws.schemaFile], { url: s.tdb.url, env: s.ws.env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.data.status).toBe('written');
    expect(r.data.check.status).toBe('ok');
    expect(r.data.up).toEqual(
      expect.arrayContaining([
        'ALTER TABLE public.widgets FORCE ROW LEVEL SECURITY;',
        'ALTER TABLE public.widgets SET (fillfactor = 70);',
        'ALTER VIEW public.widget_names SET (security_invoker = true);',
        "COMMENT ON TABLE public.widgets IS 'things we sell';",
        "COMMENT ON COLUMN public.widgets.name IS 'the name shown';",
        "COMMENT ON VIEW public.widget_names IS 'names only';",
      ]),
    );
    expect(r.data.down).toEqual(expect.arrayContaining(['ALTER TABLE public.widgets NO FORCE ROW LEVEL SECURITY;', 'COMMENT ON TABLE public.widgets IS NULL;']));

    expect((await cli(['upgrade', 'head'])).exitCode).toBe(0);
    expect((await query(s.tdb.url, STATE))[0]).toEqual({
      forced: true,
      options: '{fillfactor=70}',
      comment: 'things we sell',
      name_comment: 'the name shown',
      view_options: '{security_invoker=true}',
      view_comment: 'names only',
    });
    // The head is schema.sql now: nothing more to generate, and schema.sql is what schema dump writes.
    const again = await cli(['revision', '--autogenerate', '-m', 'again', '--schema-file', s.ws.schemaFile]);
    expect(again.stderr).toContain('no difference');
    const down = await cli(['downgrade', '-1', '--yes']);
    expect(down.exitCode, down.stderr).toBe(0);
    expect((await query(s.tdb.url, STATE))[0]).toEqual({ forced: false, options: null, comment: null, name_comment: null, view_options: null, view_comment: null });
    expect((await cli(['upgrade', 'head'])).exitCode).toBe(0);
    expect(await scratchLeft(s.ws.tag)).toEqual([]);
  });

  it('a view migra drops and makes again (a column of its table dropped in the down) gets its options and comment back', async () => {
    appendFileSync(s.ws.schemaFile, '\nALTER TABLE public.widgets ADD COLUMN note text;\n');
    const r = await runCliJson(['revision', '--autogenerate', '-m', 'note', '--schema-file', s.ws.schemaFile], { url: s.tdb.url, env: s.ws.env });
    // migra's down drops widget_names to drop the column, and creates it again without them.
    expect(r.data.down).toContain('drop view if exists "public"."widget_names";');
    expect(r.data.down).toEqual(expect.arrayContaining(['ALTER VIEW public.widget_names SET (security_invoker = true);', "COMMENT ON VIEW public.widget_names IS 'names only';"]));
    expect(r.data.check, JSON.stringify(r.data.check)).toMatchObject({ status: 'ok' });
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await cli(['upgrade', 'head'])).exitCode).toBe(0);
    expect((await cli(['downgrade', '-1', '--yes'])).exitCode).toBe(0);
    expect((await query(s.tdb.url, STATE))[0]).toMatchObject({ view_options: '{security_invoker=true}', view_comment: 'names only' });
    expect((await runCliJson(['check'], { url: s.tdb.url, env: s.ws.env })).data.drift.objects).toEqual([]);
    expect((await cli(['upgrade', 'head'])).exitCode).toBe(0);
  });

  it('check reports each one changed by hand, and its SQL puts every one back', async () => {
    await query(
      s.tdb.url,
      `COMMENT ON TABLE widgets IS 'by hand'; COMMENT ON COLUMN widgets.name IS NULL; ALTER TABLE widgets NO FORCE ROW LEVEL SECURITY;
       ALTER TABLE widgets SET (fillfactor = 50); ALTER VIEW widget_names RESET (security_invoker); CREATE TYPE pair AS (a int, b text)`,
    );
    const r = await runCliJson(['check'], { url: s.tdb.url, env: s.ws.env });
    expect(r.exitCode).toBe(1);
    const objects = r.data.drift.objects.map((o: { kind: string; name: string; change: string }) => `${o.kind} ${o.name} ${o.change}`);
    expect(objects).toEqual([
      'type public.pair added',
      'table public.widgets changed',
      'view public.widget_names changed',
      'comment column public.widgets.name removed',
      'comment table public.widgets changed',
    ]);
    const reconcile: string[] = r.data.drift.reconcile;
    expect(reconcile).toEqual(
      expect.arrayContaining([
        'drop type "public"."pair";',
        'ALTER TABLE public.widgets FORCE ROW LEVEL SECURITY;',
        'ALTER TABLE public.widgets SET (fillfactor = 70);',
        'ALTER VIEW public.widget_names SET (security_invoker = true);',
        "COMMENT ON TABLE public.widgets IS 'things we sell';",
        "COMMENT ON COLUMN public.widgets.name IS 'the name shown';",
      ]),
    );
    // Run as it is printed, the SQL leaves no drift.
    for (const statement of reconcile) await query(s.tdb.url, statement);
    const after = await runCliJson(['check'], { url: s.tdb.url, env: s.ws.env });
    expect(after.exitCode, JSON.stringify(after.data.drift)).toBe(0);
    expect(after.data.drift.objects).toEqual([]);
  });

  it('test-migrations fails on a down that forgets a comment, FORCE or a storage parameter, naming the revision', async () => {
    const leaky = makeWorkspace('simple');
    try {
      writeFileSync(
        path.join(leaky.migrationsDir, '0a0000000003_leaky.sql'),
        [
          '-- revision: 0a0000000003',
          '-- down_revision: 0a0000000002',
          '-- message: leaky',
          '-- migrate:up',
          "COMMENT ON TABLE widgets IS 'x';",
          'ALTER TABLE widgets FORCE ROW LEVEL SECURITY;',
          'ALTER TABLE widgets SET (fillfactor = 60);',
          '-- migrate:down',
          'SELECT 1;',
          '',
        ].join('\n'),
      );
      const r = await runCliJson(['test-migrations', '--no-schema-file'], { url: s.tdb.url, env: leaky.env });
      expect(r.exitCode).toBe(1);
      const consistency = r.data.tests.find((t: { test: string }) => t.test === 'up-down-consistency');
      expect(consistency).toMatchObject({ status: 'fail', revision: '0a0000000003' });
      expect(consistency.objects.map((o: { kind: string; name: string; change: string }) => `${o.kind} ${o.name} ${o.change}`)).toEqual([
        'table public.widgets changed',
        'comment table public.widgets added',
      ]);
      expect(consistency.objects[0].after).toBe('table (forced), with (fillfactor=60)');
      expect(await scratchLeft(leaky.tag)).toEqual([]);
    } finally {
      leaky.cleanup();
    }
  });
});

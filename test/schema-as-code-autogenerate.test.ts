import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, query } from './helpers/server.js';
import { scratchLeft, useServerWorkspace } from './fixtures/schema-as-code/workspace.js';

/** Each case adds one object to schema.sql; the revision it gives must apply and revert on a real database. */
const CASES = [
  {
    what: 'a column',
    sql: "ALTER TABLE public.widgets ADD COLUMN colour text DEFAULT 'red';",
    present: `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'widgets' AND column_name = 'colour'`,
  },
  {
    what: 'a table',
    sql: 'CREATE TABLE public.gadgets (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, widget_id integer REFERENCES public.widgets (id), v public.vector(3));',
    present: `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = 'gadgets'`,
  },
  {
    what: 'an index',
    sql: 'CREATE INDEX widgets_embedding_idx ON public.widgets USING hnsw ((embedding::public.halfvec(3)) public.halfvec_cosine_ops);',
    present: `SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 'widgets_embedding_idx'`,
  },
  {
    what: 'a view',
    sql: "CREATE VIEW public.large_widgets AS SELECT id, name FROM public.widgets WHERE kind = 'large';",
    present: `SELECT count(*)::int AS n FROM pg_views WHERE viewname = 'large_widgets'`,
  },
  {
    what: 'a function, a trigger and an RLS policy',
    sql: [
      "CREATE FUNCTION public.widgets_default_name() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := coalesce(NEW.name, 'unnamed'); RETURN NEW; END $$;",
      'CREATE TRIGGER widgets_default_name BEFORE INSERT ON public.widgets FOR EACH ROW EXECUTE FUNCTION public.widgets_default_name();',
      'ALTER TABLE public.widgets ENABLE ROW LEVEL SECURITY;',
      "CREATE POLICY widgets_small_only ON public.widgets AS RESTRICTIVE FOR DELETE USING (kind = 'small');",
    ].join('\n'),
    present: `SELECT (SELECT count(*) FROM pg_trigger WHERE tgname = 'widgets_default_name')::int
                  * (SELECT count(*) FROM pg_policies WHERE policyname = 'widgets_small_only')::int
                  * (SELECT count(*) FROM pg_proc WHERE proname = 'widgets_default_name')::int AS n`,
  },
];

describe('revision --autogenerate', () => {
  const s = useServerWorkspace();
  const cli = (args: string[]) => runCli(args, { url: s.tdb.url, env: s.ws.env });
  const files = () => readdirSync(s.ws.migrationsDir).sort();


  it('no difference: says so and writes nothing', async () => {
    expect((await cli(['schema', 'dump', '--output', s.ws.schemaFile])).exitCode).toBe(0);
    const before = files();
    const r = await cli(['revision', '--autogenerate', '-m', 'nothing', '--schema-file', s.ws.schemaFile]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain('no difference');
    expect(files()).toEqual(before);
  });

  // schema.sql grows case by case: what earlier cases added is in the head by then, through their revisions.
  for (const c of CASES) {
    it(`${c.what} added to schema.sql gives a revision whose upgrade and downgrade round-trip`, async () => {
      appendFileSync(s.ws.schemaFile, `\n${c.sql}\n`);
      const heads = files();
      const r = await runCliJson(['revision', '--autogenerate', '-m', `add ${c.what}`, '--schema-file', s.ws.schemaFile], { url: s.tdb.url, env: s.ws.env });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.data.status).toBe('written');
      expect(r.data.file).toMatch(/[0-9a-f]{12}_add_(a|an)_\w+\.sql$/);
      const text = readFileSync(r.data.file, 'utf8');
      expect(text).toMatch(/^-- revision: [0-9a-f]{12}\n-- down_revision: [0-9a-f]{12}\n/);
      expect(text).toContain('-- migrate:up');
      expect(text).toContain('-- migrate:down');
      // The down drops what the up created: marked for review and named on the terminal.
      expect(text).toContain('-- DESTRUCTIVE: review');
      expect(r.data.destructive.some((d: { direction: string }) => d.direction === 'down')).toBe(true);
      expect(files().length).toBe(heads.length + 1);
      // Autogenerate applied nothing to the configured database.
      expect((await query(s.tdb.url, c.present))[0].n).toBe(0);

      const up = await cli(['upgrade', 'head']);
      expect(up.exitCode, up.stderr).toBe(0);
      expect((await query(s.tdb.url, c.present))[0].n).toBe(1);
      const down = await cli(['downgrade', '-1', '--yes']);
      expect(down.exitCode, down.stderr).toBe(0);
      expect((await query(s.tdb.url, c.present))[0].n).toBe(0);
      expect((await cli(['upgrade', 'head'])).exitCode).toBe(0);
    });
  }

  it('after those revisions the head is the edited schema.sql: autogenerating again finds nothing', async () => {
    const before = files();
    const again = await cli(['revision', '--autogenerate', '-m', 'again', '--schema-file', s.ws.schemaFile]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).toContain('no difference');
    expect(files()).toEqual(before);
  });

  it('the generated revisions pass test-migrations like any other revision', async () => {
    const r = await runCliJson(['test-migrations', '--no-schema-file'], { url: s.tdb.url, env: s.ws.env });
    expect(r.exitCode, JSON.stringify(r.data)).toBe(0);
    expect(r.data.revisions).toBe(2 + CASES.length);
    // ...and offline mode prints them like any other revision.
    const offline = await runCli(['upgrade', 'base:head', '--sql'], { env: s.ws.env });
    expect(offline.exitCode, offline.stderr).toBe(0);
    expect(offline.stdout).toContain('alter table "public"."widgets" add column "colour" text default \'red\'::text;');
  });

  it('a destructive change is marked in the file and named on the terminal', async () => {
    expect((await cli(['schema', 'dump', '--output', s.ws.schemaFile])).exitCode).toBe(0);
    const text = readFileSync(s.ws.schemaFile, 'utf8').replace(/\n    price numeric\(10,2\),/, '');
    expect(text).not.toContain('price numeric');
    writeFileSync(s.ws.schemaFile, text);
    const r = await cli(['revision', '--autogenerate', '-m', 'drop price', '--schema-file', s.ws.schemaFile]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/DESTRUCTIVE \(up\): alter table "public"\."widgets" drop column "price"/);
    const file = r.stdout.trim();
    const [up, down] = readFileSync(file, 'utf8').split('-- migrate:down');
    expect(up).toContain('-- DESTRUCTIVE: review\nalter table "public"."widgets" drop column "price";');
    expect(down).toContain('alter table "public"."widgets" add column "price" numeric(10,2);');
  });

  it('a schema.sql that does not parse: one line naming the file and the line', async () => {
    writeFileSync(s.ws.schemaFile, 'CREATE TABLE public.ok (id int);\nCREATE TABLEE broken;\n');
    const before = files();
    const r = await cli(['revision', '--autogenerate', '-m', 'broken', '--schema-file', s.ws.schemaFile]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/schema\.sql line 2: syntax error at or near "TABLEE"/);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
    expect(files()).toEqual(before);
  });

  it('--from a live database: its hand-made column becomes a revision; an unreachable --from is named with its password masked', async () => {
    const live = await createTestDatabase();
    try {
      expect((await runCli(['upgrade', 'head'], { url: live.url, env: s.ws.env })).exitCode).toBe(0);
      await query(live.url, 'ALTER TABLE widgets ADD COLUMN nickname text');
      const r = await runCliJson(['revision', '--autogenerate', '-m', 'nickname', '--from', live.url], { url: s.tdb.url, env: s.ws.env });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.data.up).toEqual(['alter table "public"."widgets" add column "nickname" text;']);
      expect(r.data.down).toContain('alter table "public"."widgets" drop column "nickname";');

      const bad = await cli(['revision', '--autogenerate', '-m', 'x', '--from', 'postgres://postgres:hunter2@127.0.0.1:5432/no_such_db_sac']);
      expect(bad.exitCode).toBe(1);
      expect(bad.stderr).toContain('--from postgres://postgres:****@127.0.0.1:5432/no_such_db_sac');
      expect(bad.stderr).not.toContain('hunter2');
    } finally {
      await live.drop();
    }
    expect(await scratchLeft(s.ws.tag)).toEqual([]);
  });
});

/**
 * revision --autogenerate tries what it writes: the up on a copy of the head must reach the desired
 * schema, the down after it must give the head back. Before, a revision that could not run (an enum
 * recreated under a view) was written with exit 0 and failed at `upgrade`; labels added to an enum
 * were a rewrite of every table using it; and --from a database restored from a backup wrote every
 * CHECK constraint and view of the schema dropped and made again, besides the one real change.
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, query } from './helpers/server.js';
import { makeWorkspace, scratchLeft, useServerWorkspace } from './fixtures/schema-as-code/workspace.js';
import { runPgClient } from '../src/db/pg-tools.js';

describe('revision --autogenerate tries the revision it writes', () => {
  const s = useServerWorkspace();
  const cli = (args: string[]) => runCli(args, { url: s.tdb.url, env: s.ws.env });

  beforeAll(async () => {
    // An enum, a table column of that type and a view reading it.
    writeFileSync(
      path.join(s.ws.migrationsDir, '0a0000000003_sizes.sql'),
      [
        '-- revision: 0a0000000003',
        '-- down_revision: 0a0000000002',
        '-- message: sizes',
        '-- migrate:up',
        "CREATE TYPE size AS ENUM ('small', 'large');",
        "ALTER TABLE widgets ADD COLUMN size size NOT NULL DEFAULT 'small';",
        "CREATE VIEW large_widgets AS SELECT id, name FROM widgets WHERE size = 'large';",
        '-- migrate:down',
        'DROP VIEW large_widgets;',
        'ALTER TABLE widgets DROP COLUMN size;',
        'DROP TYPE size;',
        '',
      ].join('\n'),
    );
    expect((await cli(['upgrade', 'head'])).exitCode).toBe(0);
  });

  it('a label added to an enum is ALTER TYPE ... ADD VALUE, not a recreation; a down that cannot run is named, exit 1, the file kept', async () => {
    expect((await cli(['schema', 'dump', '--output', s.ws.schemaFile])).exitCode).toBe(0);
    appendFileSync(s.ws.schemaFile, "\nALTER TYPE public.size ADD VALUE 'medium' BEFORE 'large';\n");
    const r = await runCliJson(['revision', '--autogenerate', '-m', 'medium size', '--schema-file', s.ws.schemaFile], { url: s.tdb.url, env: s.ws.env });
    expect(r.data.status).toBe('written');
    expect(r.data.up).toEqual([`ALTER TYPE "public"."size" ADD VALUE 'medium' AFTER 'small';`]);
    expect(r.data.destructive.filter((d: { direction: string }) => d.direction === 'up')).toEqual([]);
    // PostgreSQL cannot take a label out of an enum: the down recreates the type, which the view forbids.
    expect(r.data.check).toMatchObject({ status: 'fail', up: { status: 'ok' }, down: { status: 'failed' } });
    expect(r.data.check.down.error).toContain('cannot alter type of a column used by a view or rule');
    expect(r.exitCode).toBe(1);
    expect(existsSync(r.data.file)).toBe(true);

    // The up applies (the engine runs it in the revision's transaction); the down fails as foretold.
    const up = await cli(['upgrade', 'head']);
    expect(up.exitCode, up.stderr).toBe(0);
    expect((await query(s.tdb.url, `SELECT enum_range(NULL::size)::text AS labels`))[0].labels).toBe('{small,medium,large}');
    const down = await cli(['downgrade', '-1', '--yes']);
    expect(down.exitCode).toBe(1);
    expect(down.stderr).toContain('cannot alter type of a column used by a view or rule');
    // The statement named is the statement, without the file's "-- DESTRUCTIVE: review" mark before it.
    expect(down.stderr).toContain('in statement: alter table "public"."widgets" alter column size type "public"."size"');
    expect(down.stderr).not.toContain('in statement: --');
  });

  it('the text run: the failing section and the statement are named, and the last line says to edit the file', async () => {
    appendFileSync(s.ws.schemaFile, "\nALTER TYPE public.size ADD VALUE 'huge';\nCREATE VIEW public.huge_widgets AS SELECT id FROM public.widgets WHERE size = 'huge';\n");
    const r = await cli(['revision', '--autogenerate', '-m', 'huge', '--schema-file', s.ws.schemaFile]);
    expect(r.exitCode).toBe(1);
    const file = r.stdout.trim();
    expect(existsSync(file)).toBe(true);
    // The new label cannot be used in the transaction that adds it: said now, not at upgrade.
    expect(r.stderr).toMatch(/warning: tried on a copy of the head, its up fails at "create or replace view .*huge_widgets.*": unsafe use of new value "huge"/);
    const last = r.stderr.trim().split('\n').at(-1)!;
    expect(last).toBe(`error: revision ${path.basename(file).slice(0, 12)} was written but does not work as generated: edit ${path.relative(process.cwd(), file)} before applying it (the warnings above say where)`);
    expect(await scratchLeft(s.ws.tag)).toEqual([]);
  });

  it('--from a database restored from a backup gives its one real change, not every CHECK and view made again', async () => {
    const source = await createTestDatabase();
    const restored = await createTestDatabase();
    const clean = makeWorkspace('simple');
    try {
      expect((await runCli(['upgrade', 'head'], { url: source.url, env: clean.env })).exitCode).toBe(0);
      await query(source.url, "ALTER TABLE widgets ADD COLUMN region varchar(10) CHECK (region IN ('us', 'eu'))");
      // A restore: pg_dump → psql, as a team restores a production backup into a development database.
      const dump = await runPgClient('pg_dump', source.url, ['--schema-only', '--no-owner']);
      expect(dump.exitCode).toBe(0);
      const file = path.join(clean.dir, 'restore.sql');
      writeFileSync(file, dump.stdout);
      expect((await runPgClient('psql', restored.url, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', file])).exitCode).toBe(0);

      const r = await runCliJson(['revision', '--autogenerate', '-m', 'region', '--from', restored.url], { url: s.tdb.url, env: clean.env });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.data.check.status).toBe('ok');
      expect(r.data.up).toHaveLength(3);
      expect(r.data.up[0]).toBe('alter table "public"."widgets" add column "region" character varying(10);');
      expect(r.data.up[1]).toMatch(/^alter table "public"\."widgets" add constraint "widgets_region_check" CHECK/);
      expect(r.data.up.join('\n')).not.toContain('widgets_kind_check');

      // Adopted: the source database already has the change, so it is stamped, and check finds no drift
      // (the revision's text is the reloaded form of the hand-made CHECK).
      expect((await runCli(['stamp', 'head'], { url: source.url, env: clean.env })).exitCode).toBe(0);
      const check = await runCliJson(['check'], { url: source.url, env: clean.env });
      expect(check.exitCode, JSON.stringify(check.data.drift)).toBe(0);
      expect(check.data.drift.objects).toEqual([]);
      expect(await scratchLeft(clean.tag)).toEqual([]);
    } finally {
      await source.drop();
      await restored.drop();
      clean.cleanup();
    }
  });
});

/**
 * doctor's schema.tables in a project that extends the platform schema as docs/extending.md shows:
 * the project's revisions (SQL and TypeScript) add tables to public on top of the platform's. Those
 * tables are the schema the revisions make, not strays: the check warned about them on every run
 * ("move tables that are not the platform's out of public"), so doctor exited 1 for ever in a
 * monitoring wrapper. A table no revision makes is still reported.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';

let tdb: TestDatabase;
let dir: string;
beforeAll(async () => {
  tdb = await createTestDatabase();
  dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-project-tables-'));
  writeFileSync(path.join(dir, 'package.json'), '{"name":"widgets-app","private":true}');
  mkdirSync(path.join(dir, 'migrations'));
});
afterAll(async () => {
  await tdb?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a revision with `revision` and replaces the template's body lines with the given up and down. */
async function revision(message: string, sql: boolean, fill: (text: string) => string): Promise<void> {
  const r = await runCli(['revision', '-m', message, ...(sql ? ['--sql'] : [])], { cwd: dir, url: tdb.url });
  expect(r.exitCode, r.stderr).toBe(0);
  const file = readdirSync(path.join(dir, 'migrations')).find((f) => f.includes(message.replaceAll(' ', '_')))!;
  const full = path.join(dir, 'migrations', file);
  writeFileSync(full, fill(readFileSync(full, 'utf8')));
}

describe('doctor schema.tables with the project\'s own revisions', () => {
  it('counts the tables the project\'s SQL and TypeScript revisions make as the schema, and still reports others', async () => {
    await revision('add widgets', true, (t) =>
      t
        .replace('-- migrate:up\n', '-- migrate:up\nCREATE TABLE widgets (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);\nCREATE TABLE IF NOT EXISTS public."Gizmo Parts" (id int);\nCREATE TABLE draft_gadgets (id int);\n')
        .replace('-- migrate:down\n', '-- migrate:down\nDROP TABLE gadgets;\nDROP TABLE "Gizmo Parts";\nDROP TABLE widgets;\n'),
    );
    await revision('gadgets', false, (t) =>
      t
        .replace(/^ {2}\/\/ await db\.schema\.createTable.*\n {2}\/\/ await sql.*$/m, "  await db.schema.createTable('audit_notes').addColumn('id', 'integer').execute();\n  await sql`ALTER TABLE draft_gadgets RENAME TO gadgets`.execute(db);")
        .replace(/^ {2}\/\/ await db\.schema\.dropTable.*$/m, "  await sql`ALTER TABLE gadgets RENAME TO draft_gadgets`.execute(db);\n  await db.schema.dropTable('audit_notes').execute();"),
    );
    const up = await runCli(['upgrade', 'head'], { cwd: dir, url: tdb.url });
    expect(up.exitCode, up.stderr).toBe(0);

    const run = async () => {
      const r = await runCliJson(['doctor', 'schema.tables'], { cwd: dir, url: tdb.url });
      return { exitCode: r.exitCode, check: r.data.checks.find((c: { id: string }) => c.id === 'schema.tables') };
    };
    const clean = await run();
    expect(clean.check, JSON.stringify(clean.check)).toMatchObject({ status: 'ok' });
    expect(clean.check.figure).toBe("all 15 present; 4 tables of the project's revisions: Gizmo Parts, audit_notes, gadgets and 1 more");
    expect(clean.exitCode).toBe(0);

    await query(tdb.url, 'CREATE TABLE public.handmade (x int)');
    const stray = await run();
    expect(stray.check.status).toBe('warn');
    expect(stray.check.figure).toMatch(/4 tables of the project's revisions: .*; 1 other table in public: handmade$/);
    expect(stray.exitCode).toBe(1);
  });
});

/**
 * A column renamed in schema.sql: migra writes a drop (the data lost) and an add. Before, the only
 * sign was the DESTRUCTIVE mark shared with every drop; now autogenerate names the pair as a likely
 * rename, with the RENAME COLUMN that keeps the data.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { useServerWorkspace } from './fixtures/schema-as-code/workspace.js';

describe('revision --autogenerate and a renamed column', () => {
  const s = useServerWorkspace();

  it('names the drop and the add of one definition as a likely rename, with the statement that keeps the data', async () => {
    expect((await runCli(['schema', 'dump', '--output', s.ws.schemaFile], { url: s.tdb.url, env: s.ws.env })).exitCode).toBe(0);
    const text = readFileSync(s.ws.schemaFile, 'utf8');
    expect(text).toContain('    price numeric(10,2),');
    writeFileSync(s.ws.schemaFile, text.replace('    price numeric(10,2),', '    unit_price numeric(10,2),'));
    const text1 = await runCli(['revision', '--autogenerate', '-m', 'rename price', '--schema-file', s.ws.schemaFile], { url: s.tdb.url, env: s.ws.env });
    expect(text1.exitCode, text1.stderr).toBe(0);
    expect(text1.stderr).toContain(
      `warning: public.widgets: column price is dropped and unit_price added, both numeric(10,2): if that is a rename, write ALTER TABLE "public"."widgets" RENAME COLUMN "price" TO "unit_price"; in place of both (the drop loses the column's data), and the reverse in the down`,
    );
    rmSync(text1.stdout.trim());
    const r = await runCliJson(['revision', '--autogenerate', '-m', 'rename price', '--schema-file', s.ws.schemaFile], { url: s.tdb.url, env: s.ws.env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.data.renames).toEqual([
      { table: 'public.widgets', from: 'price', to: 'unit_price', definition: 'numeric(10,2)', statement: 'ALTER TABLE "public"."widgets" RENAME COLUMN "price" TO "unit_price";' },
    ]);
  });
});

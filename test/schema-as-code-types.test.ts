import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli } from './helpers/cli.js';
import { scratchLeft, useServerWorkspace } from './fixtures/schema-as-code/workspace.js';
import { literalsOfCheck } from '../src/schema-as-code/typegen.js';

describe('schema types', () => {
  const s = useServerWorkspace();

  // This is the test that makes CI fail on stale generated types.
  it('the committed src/schema/database.ts is what the migrations\' head generates', async () => {
    const r = await runCli(['schema', 'types', '--check'], { url: s.tdb.url, cwd: ROOT });
    expect(r.exitCode, r.stderr).toBe(0);
  });

  it('generates arrays, CHECK unions, JSONB, numeric, vectors, defaults and views from a schema; --check fails when stale', async () => {
    const file = path.join(s.ws.dir, 'database.ts');
    const r = await runCli(['schema', 'types', '--output', file], { url: s.tdb.url, env: s.ws.env });
    expect(r.exitCode, r.stderr).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain("export type WidgetKind = 'small' | 'large';");
    expect(text).toMatch(/export interface WidgetsTable \{\n  id: Generated<number>;\n  name: string;\n  kind: Generated<WidgetKind>;\n  tags: Generated<string\[\]>;\n  meta: Json \| null;\n  price: Numeric \| null;\n  embedding: Vector \| null;\n  created_at: Generated<Timestamp>;\n\}/);
    expect(text).toContain('export interface WidgetNamesView {');
    expect(text).toMatch(/export interface Database \{\n  widgets: WidgetsTable;\n  widget_names: WidgetNamesView;\n\}/);
    expect(text).toContain("kind: 'varchar not null',");
    expect(text).toContain("embedding: 'vector null',");
    expect(text).not.toContain('cmmc_schema_version');
    expect((await runCli(['schema', 'types', '--output', file, '--check'], { url: s.tdb.url, env: s.ws.env })).exitCode).toBe(0);
    appendFileSync(file, '// edited by hand\n');
    const stale = await runCli(['schema', 'types', '--output', file, '--check'], { url: s.tdb.url, env: s.ws.env });
    expect(stale.exitCode).toBe(1);
    expect(stale.stderr).toContain('differs from the types of the migrations\' head');
    expect(await scratchLeft(s.ws.tag)).toEqual([]);
  });

  it('reads the literals of CHECK (col IN (...)) and nothing else', () => {
    expect(literalsOfCheck(`CHECK (((status)::text = ANY ((ARRAY['Open'::character varying, 'Risk Accepted'::character varying])::text[])))`, 'status')).toEqual(['Open', 'Risk Accepted']);
    expect(literalsOfCheck(`CHECK ((kind = ANY (ARRAY['a'::text, 'it''s'::text])))`, 'kind')).toEqual(['a', "it's"]);
    expect(literalsOfCheck(`CHECK ((level = ANY (ARRAY[1, 2, 3])))`, 'level')).toBeUndefined();
    expect(literalsOfCheck(`CHECK ((scope <@ ARRAY['AC'::text]))`, 'scope')).toBeUndefined();
    expect(literalsOfCheck(`CHECK (((status)::text = ANY ((ARRAY['a'::character varying])::text[])) OR (x > 0))`, 'status')).toBeUndefined();
  });
});

import { readFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli, runCliJson } from './helpers/cli.js';
import { query } from './helpers/server.js';
import { scratchLeft, useServerWorkspace } from './fixtures/schema-as-code/workspace.js';

describe('schema dump', () => {
  const s = useServerWorkspace();

  it('writes deterministic SQL of the head without the version table or the bookkeeping schema, and leaves the target untouched', async () => {
    const env = s.ws.env;
    const first = await runCli(['schema', 'dump', '--output', s.ws.schemaFile], { url: s.tdb.url, env });
    expect(first.exitCode, first.stderr).toBe(0);
    const a = readFileSync(s.ws.schemaFile, 'utf8');
    const second = await runCli(['schema', 'dump', '--output', s.ws.schemaFile], { url: s.tdb.url, env });
    expect(second.exitCode).toBe(0);
    expect(readFileSync(s.ws.schemaFile, 'utf8')).toBe(a);
    expect(a).toContain('CREATE TABLE public.widgets (');
    expect(a).toContain('CREATE VIEW public.widget_names AS');
    expect(a).toContain('CREATE INDEX widgets_name_idx ON public.widgets');
    expect(a).toContain('CREATE EXTENSION IF NOT EXISTS vector');
    expect(a).not.toContain('cmmc_schema_version');
    expect(a).not.toContain('cmmc_db');
    expect(a).not.toMatch(/^SET |^\\restrict|Dumped by pg_dump/m);
    // The configured database itself was never migrated.
    const tables = await query(s.tdb.url, `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`);
    expect(tables[0].n).toBe(0);
    expect(await scratchLeft(s.ws.tag)).toEqual([]);
  });

  it('--check exits 0 when the file is current and 1 (naming the line) when it is stale', async () => {
    const ok = await runCliJson(['schema', 'dump', '--output', s.ws.schemaFile, '--check'], { url: s.tdb.url, env: s.ws.env });
    expect(ok.exitCode).toBe(0);
    expect(ok.data.status).toBe('ok');
    appendFileSync(s.ws.schemaFile, '\nCREATE TABLE public.extra (id int);\n');
    const stale = await runCli(['schema', 'dump', '--output', s.ws.schemaFile, '--check'], { url: s.tdb.url, env: s.ws.env });
    expect(stale.exitCode).toBe(1);
    expect(stale.stderr).toMatch(/schema\.sql differs from the migrations' head at line \d+/);
    expect(stale.stderr).toContain('cmmc-db schema dump');
  });

  it('--stdout with --json is one JSON document holding the text (it was the SQL itself)', async () => {
    const plain = await runCli(['schema', 'dump', '--stdout'], { url: s.tdb.url, env: s.ws.env });
    expect(plain.exitCode).toBe(0);
    expect(plain.stdout).toContain('CREATE TABLE public.widgets (');
    const j = await runCliJson(['schema', 'dump', '--stdout'], { url: s.tdb.url, env: s.ws.env });
    expect(j.exitCode).toBe(0);
    expect(j.data).toMatchObject({ file: null, status: 'printed' });
    // (execa drops the last newline of stdout)
    expect(j.data.text).toBe(`${plain.stdout}\n`);
  });

  it('needs a server: with only the embedded target configured it says so', async () => {
    const r = await runCli(['schema', 'dump', '--stdout'], { env: { ...s.ws.env, CMMC_DB_DIR: path.join(s.ws.dir, 'db') } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('needs a PostgreSQL server');
  });

  // This is the test that makes CI fail on a stale schema.sql.
  it('the committed schema.sql matches the head of the project\'s migrations', async () => {
    const r = await runCli(['schema', 'dump', '--check'], { url: s.tdb.url, cwd: ROOT });
    expect(r.exitCode, r.stderr).toBe(0);
  });
});

import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, cleanEnv, runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';
import { makeWorkspace, scratchLeft } from './fixtures/schema-as-code/workspace.js';

describe('test-migrations', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb.drop();
  });

  it('passes on the project\'s own revisions (single head, upgrade, stairway, up/down consistency, schema.sql)', async () => {
    const tag = 'tm' + Date.now().toString(36);
    const r = await runCliJson(['test-migrations'], { url: tdb.url, cwd: ROOT, env: { CMMC_SCRATCH_TAG: tag } });
    expect(r.exitCode, JSON.stringify(r.data, null, 2)).toBe(0);
    expect(r.data.status).toBe('ok');
    expect(r.data.revisions).toBeGreaterThanOrEqual(8);
    expect(r.data.tests.map((t: { test: string; status: string }) => `${t.test}:${t.status}`)).toEqual([
      'single-head:ok',
      'upgrade:ok',
      'stairway:ok',
      'up-down-consistency:ok',
      'schema-file:ok',
    ]);
    // Everything ran in a scratch database: the configured one is untouched, and the scratch one is gone.
    const rows = await query(tdb.url, `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`);
    expect(rows[0].n).toBe(0);
    expect(await scratchLeft(tag)).toEqual([]);
  });

  it('fails naming the revision and the object when a down forgets what its up created', async () => {
    const ws = makeWorkspace('bad-down');
    try {
      const r = await runCli(['test-migrations', '--no-schema-file'], { url: tdb.url, env: ws.env });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain('up-down-consistency at revision 0a0000000003');
      expect(r.stderr).toContain('column public.widgets.colour (added)');
      const j = await runCliJson(['test-migrations', '--no-schema-file'], { url: tdb.url, env: ws.env });
      expect(j.exitCode).toBe(1);
      const byName = (name: string) => j.data.tests.find((t: { test: string }) => t.test === name);
      const failed = byName('up-down-consistency');
      expect(failed).toMatchObject({ status: 'fail', revision: '0a0000000003' });
      // Upgrading again then fails too (the column is still there): the stairway names the same revision.
      expect(byName('stairway')).toMatchObject({ status: 'fail', revision: '0a0000000003' });
      expect(byName('stairway').detail).toContain('colour');
      expect(byName('upgrade').status).toBe('ok');
      expect(failed.objects).toEqual([expect.objectContaining({ kind: 'column', name: 'public.widgets.colour', change: 'added' })]);
      expect(await scratchLeft(ws.tag)).toEqual([]);
    } finally {
      ws.cleanup();
    }
  });

  it('a down that fails is a failed test naming its revision, not an error about a scratch database', async () => {
    const ws = makeWorkspace('simple');
    try {
      const { writeFileSync } = await import('node:fs');
      const path = await import('node:path');
      writeFileSync(
        path.join(ws.migrationsDir, '0a0000000003_bad_down.sql'),
        '-- revision: 0a0000000003\n-- down_revision: 0a0000000002\n-- message: bad down\n-- migrate:up\nSELECT 1;\n-- migrate:down\nDROP TABLE no_such_table;\n',
      );
      const j = await runCliJson(['test-migrations', '--no-schema-file'], { url: tdb.url, env: ws.env });
      expect(j.exitCode).toBe(1);
      expect(j.data.status).toBe('fail');
      const byName = (name: string) => j.data.tests.find((t: { test: string }) => t.test === name);
      expect(byName('upgrade').status).toBe('ok');
      expect(byName('up-down-consistency')).toMatchObject({ status: 'fail', revision: '0a0000000003' });
      expect(byName('up-down-consistency').detail).toContain('table "no_such_table" does not exist');
      expect(byName('stairway')).toMatchObject({ status: 'skipped' });
      const r = await runCli(['test-migrations', '--no-schema-file'], { url: tdb.url, env: ws.env });
      expect(r.stderr).not.toContain('run downgrade again');
      expect(await scratchLeft(ws.tag)).toEqual([]);
    } finally {
      ws.cleanup();
    }
  });

  it('a down that leaves an object behind is named as such (the object, its revision), not only as its up failing the second time', async () => {
    const ws = makeWorkspace('simple');
    try {
      const { writeFileSync, readFileSync } = await import('node:fs');
      const path = await import('node:path');
      // The leaky revision goes between 0a0000000001 and 0a0000000002.
      const second = path.join(ws.migrationsDir, '0a0000000002_widget_names.sql');
      writeFileSync(second, readFileSync(second, 'utf8').replace('-- down_revision: 0a0000000001', '-- down_revision: 0a0000000009'));
      writeFileSync(
        path.join(ws.migrationsDir, '0a0000000009_pair.sql'),
        '-- revision: 0a0000000009\n-- down_revision: 0a0000000001\n-- message: pair\n-- migrate:up\nCREATE TYPE pair AS (a int, b int);\n-- migrate:down\nSELECT 1;\n',
      );
      const j = await runCliJson(['test-migrations', '--no-schema-file'], { url: tdb.url, env: ws.env });
      expect(j.exitCode).toBe(1);
      const consistency = j.data.tests.find((t: { test: string }) => t.test === 'up-down-consistency');
      expect(consistency).toMatchObject({ status: 'fail', revision: '0a0000000009' });
      expect(consistency.objects).toEqual([expect.objectContaining({ kind: 'type', name: 'public.pair', change: 'added' })]);
    } finally {
      ws.cleanup();
    }
  });

  it('fails when schema.sql is not the head, and names the file', async () => {
    const ws = makeWorkspace('simple');
    try {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(ws.schemaFile, '-- stale\n');
      const r = await runCli(['test-migrations', '--schema-file', ws.schemaFile], { url: tdb.url, env: ws.env });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain('schema-file');
      expect(r.stderr).toContain(ws.schemaFile);
    } finally {
      ws.cleanup();
    }
  });

  it('an interrupted run (SIGINT) still drops its scratch database', async () => {
    const tag = 'sig' + Date.now().toString(36);
    const child = execa('node', [BIN, 'test-migrations', '--no-schema-file'], {
      cwd: ROOT,
      env: cleanEnv({ DATABASE_URL: tdb.url, CMMC_SCRATCH_TAG: tag }),
      extendEnv: false,
      reject: false,
    });
    // Wait until the scratch database exists, then interrupt.
    let seen: string[] = [];
    for (let i = 0; i < 600 && seen.length === 0 && child.exitCode === null; i++) {
      seen = await scratchLeft(tag);
      if (seen.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(seen).toHaveLength(1);
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(await scratchLeft(tag)).toEqual([]);
  });
});

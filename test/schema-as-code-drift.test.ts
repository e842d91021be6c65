import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { query } from './helpers/server.js';
import { scratchLeft, useServerWorkspace } from './fixtures/schema-as-code/workspace.js';

describe('check: drift from the migrations', () => {
  const s = useServerWorkspace();
  beforeAll(async () => {
    const up = await runCli(['upgrade', 'head'], { url: s.tdb.url, env: s.ws.env });
    expect(up.exitCode, up.stderr).toBe(0);
  });

  it('a database built by the migrations has no drift', async () => {
    const r = await runCliJson(['check'], { url: s.tdb.url, env: s.ws.env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.data.drift).toMatchObject({ status: 'ok', objects: [], reconcile: [] });
  });

  it('a hand-made column, a dropped index and a changed default are each named, with the SQL that reconciles them; exit 1', async () => {
    await query(s.tdb.url, `ALTER TABLE widgets ADD COLUMN nickname text; DROP INDEX widgets_name_idx; ALTER TABLE widgets ALTER COLUMN kind SET DEFAULT 'large'`);
    const r = await runCliJson(['check'], { url: s.tdb.url, env: s.ws.env });
    expect(r.exitCode).toBe(1);
    expect(r.data.status).toBe('fail');
    expect(r.data.atHead).toBe(true);
    const objects = r.data.drift.objects.map((o: { kind: string; name: string; change: string }) => `${o.kind} ${o.name} ${o.change}`);
    expect(objects).toEqual(['column public.widgets.kind changed', 'column public.widgets.nickname added', 'index public.widgets_name_idx removed']);
    expect(r.data.drift.reconcile).toContain('alter table "public"."widgets" drop column "nickname";');
    expect(r.data.drift.reconcile).toContain('CREATE INDEX widgets_name_idx ON public.widgets USING btree (name);');

    const text = await runCli(['check'], { url: s.tdb.url, env: s.ws.env });
    expect(text.exitCode).toBe(1);
    expect(text.stderr).toContain('drift: 3 object(s) differ');
    expect(text.stdout).toContain('public.widgets.nickname');
    expect(text.stdout).toContain('added by hand');
    expect(text.stdout).toContain('drop column "nickname"');
    // Only read: the hand-made column is still there.
    expect(await query(s.tdb.url, `SELECT 1 FROM information_schema.columns WHERE table_name = 'widgets' AND column_name = 'nickname'`)).toHaveLength(1);
    expect(await scratchLeft(s.ws.tag)).toEqual([]);
  });

  it('extensions installed outside the migrations, and their objects, are left alone: never drift, never DROP EXTENSION', async () => {
    // hstore and pg_trgm put types, functions and operators in public; pg_stat_statements a view.
    await query(s.tdb.url, 'CREATE EXTENSION hstore; CREATE EXTENSION pg_trgm; CREATE EXTENSION pg_stat_statements');
    try {
      const r = await runCliJson(['check'], { url: s.tdb.url, env: s.ws.env });
      expect(r.data.drift.ignoredExtensions).toEqual(['hstore', 'pg_stat_statements', 'pg_trgm']);
      expect(r.data.drift.objects.filter((o: { kind: string }) => o.kind === 'extension')).toEqual([]);
      // The hand-made changes of the test above are still reported and reconciled, without touching an extension.
      expect(r.data.drift.reconcile.length).toBeGreaterThan(0);
      expect(r.data.drift.reconcile.join('\n')).not.toMatch(/drop extension|hstore|pg_trgm|pg_stat_statements|gtrgm|similarity/i);
      const text = await runCli(['check'], { url: s.tdb.url, env: s.ws.env });
      expect(text.stderr).toContain('left alone: extension(s) installed outside the migrations, with their objects: hstore, pg_stat_statements, pg_trgm');
    } finally {
      await query(s.tdb.url, 'DROP EXTENSION hstore, pg_trgm, pg_stat_statements');
    }
  });

  it('--no-drift skips the comparison', async () => {
    const r = await runCliJson(['check', '--no-drift'], { url: s.tdb.url, env: s.ws.env });
    expect(r.exitCode).toBe(0);
    expect(r.data.drift).toBeUndefined();
  });
});

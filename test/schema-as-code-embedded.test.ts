import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { embeddedBackend } from './helpers/backends.js';
import { runCli, runCliJson } from './helpers/cli.js';
import { makeWorkspace } from './fixtures/schema-as-code/workspace.js';

/** Scratch folders of an embedded run are PGlite folders in the temporary folder (src/leftovers.ts names them). */
const scratchFolders = (tag: string) => readdirSync(os.tmpdir()).filter((f) => f.startsWith(`cmmc-tmp-scratch${tag}`));

describe('schema as code on the embedded database (scratch databases are PGlite folders)', () => {
  it('test-migrations passes on good revisions and names the revision and object of a down that forgets a column', async () => {
    const target = await embeddedBackend.create();
    const good = makeWorkspace('simple');
    const bad = makeWorkspace('bad-down');
    try {
      const ok = await runCliJson(['test-migrations'], { env: { ...target.env, ...good.env } });
      expect(ok.exitCode, JSON.stringify(ok.data)).toBe(0);
      expect(ok.data.tests.map((t: { test: string; status: string }) => `${t.test}:${t.status}`)).toEqual([
        'single-head:ok',
        'upgrade:ok',
        'stairway:ok',
        'up-down-consistency:ok',
        'schema-file:skipped',
      ]);
      const r = await runCli(['test-migrations'], { env: { ...target.env, ...bad.env } });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain('up-down-consistency at revision 0a0000000003');
      expect(r.stderr).toContain('column public.widgets.colour (added)');
      expect(scratchFolders(good.tag)).toEqual([]);
      expect(scratchFolders(bad.tag)).toEqual([]);
    } finally {
      good.cleanup();
      bad.cleanup();
      await target.drop();
    }
  });

  it('check reports a hand-made column in the embedded database by name, with exit 1', async () => {
    const target = await embeddedBackend.create();
    const ws = makeWorkspace('simple');
    const env = { ...target.env, ...ws.env };
    try {
      expect((await runCli(['upgrade', 'head'], { env })).exitCode).toBe(0);
      const clean = await runCliJson(['check'], { env });
      expect(clean.exitCode, clean.stderr).toBe(0);
      expect(clean.data.drift.status).toBe('ok');
      await target.query('ALTER TABLE widgets ADD COLUMN nickname text');
      const r = await runCliJson(['check'], { env });
      expect(r.exitCode).toBe(1);
      expect(r.data.drift.objects).toEqual([expect.objectContaining({ kind: 'column', name: 'public.widgets.nickname', change: 'added' })]);
      expect(r.data.drift.reconcile).toContain('alter table "public"."widgets" drop column "nickname";');
      expect(scratchFolders(ws.tag)).toEqual([]);
    } finally {
      ws.cleanup();
      await target.drop();
    }
  });

  it('upgrade --backup backs the embedded database up, verified, before applying anything', async () => {
    const target = await embeddedBackend.create();
    const ws = makeWorkspace('simple');
    const env = { ...target.env, ...ws.env, CMMC_BACKUP_DIR: path.join(ws.dir, 'backups') };
    try {
      expect((await runCli(['upgrade', '0a0000000001'], { env })).exitCode).toBe(0);
      const r = await runCliJson(['upgrade', 'head', '--backup'], { env });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.data.backup).toMatchObject({ status: 'verified' });
      expect(r.data.to).toEqual(['0a0000000002']);
      const verify = await runCliJson(['backup', 'verify', r.data.backup.name], { env });
      expect(verify.exitCode, verify.stderr).toBe(0);
      expect(verify.data.status).toBe('verified');
    } finally {
      ws.cleanup();
      await target.drop();
    }
  });
});

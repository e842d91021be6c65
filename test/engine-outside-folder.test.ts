import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, runCli } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';

// A migrations folder kept outside any Node project (no node_modules nearby) still loads
// TypeScript revisions that import 'kysely': cmmc-db resolves such imports from its own dependencies.
describe.each([
  { mode: 'CommonJS (no package.json)', packageJson: undefined },
  { mode: 'ESM ("type": "module")', packageJson: '{"type":"module"}' },
])('a migrations folder outside the project, $mode', ({ packageJson }) => {
  let dir: string;
  let tdb: TestDatabase;
  afterEach(async () => {
    rmSync(dir, { recursive: true, force: true });
    await tdb?.drop();
  });

  it('upgrade head applies its TypeScript revisions', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-outside-'));
    cpSync(path.join(ROOT, 'test', 'fixtures', 'engine', 'linear'), dir, { recursive: true });
    if (packageJson) writeFileSync(path.join(dir, 'package.json'), packageJson);
    tdb = await createTestDatabase();
    const r = await runCli(['upgrade', 'head', '--migrations-dir', dir], { url: tdb.url, cwd: os.tmpdir() });
    expect(r.stderr).not.toContain("Cannot find module 'kysely'");
    expect(r.exitCode).toBe(0);
    const [{ n }] = await query<{ n: number }>(tdb.url, `SELECT count(*)::int AS n FROM cmmc_db.revision_log WHERE operation = 'upgrade'`);
    expect(n).toBe(5);
  });
});

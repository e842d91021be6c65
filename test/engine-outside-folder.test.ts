import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, runCli } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';

// A migrations folder kept outside any Node project (no node_modules nearby) still loads
// TypeScript revisions that import 'kysely': cmmc-db resolves such imports from its own dependencies,
// without changing the process's environment (NODE_PATH), which a revision sees as it was given.
const RECORDS_ENV = `import { sql, type Kysely } from 'kysely';

export const revision = '1a0000000006';
export const downRevision = '1a0000000005';
export const message = 'records the NODE_PATH a revision sees';
export const branchLabels: string[] = [];
export const dependsOn: string[] = [];

export async function up(db: Kysely<any>): Promise<void> {
  // A dynamic import: the revision is loaded through tsx, where CommonJS resolves 'kysely' (not the compile cache).
  await import('node:path');
  await sql\`CREATE TABLE app.seen_env (node_path text)\`.execute(db);
  await sql\`INSERT INTO app.seen_env VALUES (\${process.env.NODE_PATH ?? '(unset)'})\`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql\`DROP TABLE app.seen_env\`.execute(db);
}
`;

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
    writeFileSync(path.join(dir, '1a0000000006_records_env.ts'), RECORDS_ENV);
    tdb = await createTestDatabase();
    const nodePath = path.join(dir, 'no-modules-here');
    const r = await runCli(['upgrade', 'head', '--migrations-dir', dir], { url: tdb.url, cwd: os.tmpdir(), env: { NODE_PATH: nodePath } });
    expect(r.stderr).not.toContain("Cannot find module 'kysely'");
    expect(r.exitCode, r.stderr).toBe(0);
    const [{ n }] = await query<{ n: number }>(tdb.url, `SELECT count(*)::int AS n FROM cmmc_db.revision_log WHERE operation = 'upgrade'`);
    expect(n).toBe(6);
    expect(await query(tdb.url, 'SELECT node_path FROM app.seen_env')).toEqual([{ node_path: nodePath }]);
  });
});

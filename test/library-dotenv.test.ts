/**
 * The library reads the project's .env as the CLI does (README: createPool() takes "DATABASE_URL or
 * DB_* (or .env at the project root)"). It ignored it: a program beside a .env naming the server
 * quietly made an embedded database in .cmmc-db/ and wrote there. process.env is left as it was.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, ROOT } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

describe('the library and the project .env', () => {
  let tdb: TestDatabase;
  const project = mkdtempSync(path.join(os.tmpdir(), 'cmmc-lib-dotenv-'));
  beforeAll(async () => {
    tdb = await createTestDatabase('cmmc_lib_dotenv');
  });
  afterAll(async () => {
    await tdb.drop();
    rmSync(project, { recursive: true, force: true });
  });

  it('createPool() with no settings connects where .env says, from ES modules and CommonJS, from a subfolder too, without changing process.env', async () => {
    writeFileSync(path.join(project, 'package.json'), '{}\n');
    writeFileSync(path.join(project, '.env'), `# the platform's database\nDATABASE_URL="${tdb.url}"\n`);
    mkdirSync(path.join(project, 'src'), { recursive: true });
    const esm = `import { createPool, healthCheck } from ${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))};
const pool = await createPool();
const health = await healthCheck(pool);
console.log(JSON.stringify({ database: health.database, kind: pool.config.kind, env: process.env.DATABASE_URL ?? null }));
await pool.close();`;
    const cjs = `const { createPool, healthCheck } = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
(async () => {
  const pool = await createPool();
  const health = await healthCheck(pool);
  console.log(JSON.stringify({ database: health.database, kind: pool.config.kind, env: process.env.DATABASE_URL ?? null }));
  await pool.close();
})();`;
    writeFileSync(path.join(project, 'src', 'app.mjs'), esm);
    writeFileSync(path.join(project, 'src', 'app.cjs'), cjs);
    for (const [script, cwd] of [['src/app.mjs', project], ['app.mjs', path.join(project, 'src')], ['src/app.cjs', project]] as const) {
      const r = await execa('node', [script], { cwd, env: cleanEnv(), extendEnv: false, reject: false });
      expect(r.exitCode, `${script}: ${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout), script).toEqual({ database: tdb.name, kind: 'server', env: null });
    }
    expect(existsSync(path.join(project, '.cmmc-db'))).toBe(false);
    // The environment still wins over the file.
    const r = await execa('node', ['src/app.mjs'], { cwd: project, env: cleanEnv({ DATABASE_URL: tdb.url.replace(/\/[^/?]+(\?|$)/, '/postgres$1') }), extendEnv: false, reject: false });
    expect(JSON.parse(r.stdout).database, r.stderr).toBe('postgres');
  });
});

/**
 * A cmmc-db.config.ts written as docs/extending.md shows it, `import { defineConfig } from 'cmmc-db'`,
 * is read without tsx and without loading the library: through tsx, which compiled every module of
 * the library that import pulls in, each command of such a project took about four seconds longer.
 *
 * The project's node_modules/cmmc-db here is a stand-in that writes a line to a file when it is
 * loaded, and a --require hook writes down every package required: neither may show up. The
 * environment's URL reaching the server shows that the file was read.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

let tdb: TestDatabase;
let dir: string;
beforeAll(async () => {
  tdb = await createTestDatabase();
  dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-config-ts-'));
});
afterAll(async () => {
  await tdb?.drop();
  rmSync(dir, { recursive: true, force: true });
});

function write(file: string, text: string): void {
  mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  writeFileSync(path.join(dir, file), text);
}

describe('cmmc-db.config.ts importing defineConfig from cmmc-db', () => {
  it('is read without tsx and without loading the library', async () => {
    const loadedLibrary = path.join(dir, 'library-loaded');
    const required = path.join(dir, 'required');
    write('package.json', '{"name":"app","private":true}');
    write(
      'node_modules/cmmc-db/package.json',
      JSON.stringify({ name: 'cmmc-db', type: 'module', exports: { '.': { import: './index.js', require: './index.js' } } }),
    );
    write('node_modules/cmmc-db/index.js', `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(loadedLibrary)}, 'loaded\\n');\nexport const defineConfig = (c) => c;\n`);
    write(
      'trace.cjs',
      `const Module = require('node:module'); const fs = require('node:fs'); const load = Module._load;\n` +
        `Module._load = function (request, ...rest) { fs.appendFileSync(${JSON.stringify(required)}, request + '\\n'); return load.call(this, request, ...rest); };\n`,
    );
    write(
      'cmmc-db.config.ts',
      "import { defineConfig } from 'cmmc-db';\n\nexport default defineConfig({\n  environments: { staging: { url: '${STAGING_DATABASE_URL}' } },\n});\n",
    );
    const r = await runCli(['--env', 'staging', 'current'], {
      cwd: dir,
      env: { STAGING_DATABASE_URL: tdb.url, NODE_OPTIONS: `--require ${path.join(dir, 'trace.cjs')}`, XDG_CACHE_HOME: path.join(dir, 'cache') },
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${tdb.name} (from cmmc-db.config.ts (environment staging))`);
    expect(existsSync(loadedLibrary)).toBe(false);
    const packages = readFileSync(required, 'utf8').split('\n');
    expect(packages.filter((p) => /(^|\/)tsx(\/|$)/.test(p))).toEqual([]);

    // A second run reads the compiled file from the cache; a changed file is compiled again.
    write('cmmc-db.config.ts', "import { defineConfig } from 'cmmc-db';\nexport default defineConfig({ environments: { qa: { url: '${STAGING_DATABASE_URL}' } } });\n");
    const again = await runCli(['--env', 'qa', 'current'], { cwd: dir, env: { STAGING_DATABASE_URL: tdb.url, XDG_CACHE_HOME: path.join(dir, 'cache') } });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).toContain('(environment qa)');
  });

  it('a config that imports more of the library than defineConfig gets the project\'s copy, as written', async () => {
    write('cmmc-db.config.ts', "import { defineConfig, other } from 'cmmc-db';\nexport default defineConfig({ environments: { staging: { url: other } } });\n");
    write('node_modules/cmmc-db/index.js', `export const defineConfig = (c) => c;\nexport const other = ${JSON.stringify(tdb.url)};\n`);
    const r = await runCli(['--env', 'staging', 'current'], { cwd: dir, env: { XDG_CACHE_HOME: path.join(dir, 'cache') } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${tdb.name} (from cmmc-db.config.ts (environment staging))`);
  });
});

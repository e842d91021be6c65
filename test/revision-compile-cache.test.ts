/**
 * The compile cache of TypeScript revisions (src/migrate/compile-cache.ts): entries are named by
 * content, so a changed revision file is compiled again and its new code runs; package imports
 * resolve as Node would from the revision's folder; a revision that is not self-contained (a
 * relative import) is left to tsx; and the engine runs revisions from the cache end to end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { importCompiled, resolvePackageImport } from '../src/migrate/compile-cache.js';
import { ROOT, runCli, runCliJson } from './helpers/cli.js';
import { createTestDatabase } from './helpers/server.js';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-compile-cache-'));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

const revisionText = (value: number) => `import { sql } from 'kysely';
export const revision = 'cc0000000001';
export const downRevision = null;
export const value: number = ${value};
export async function up(): Promise<void> { void sql; }
export async function down(): Promise<void> {}
`;

describe('compile cache of TypeScript revisions', () => {
  it('compiles a changed file again and runs its new code; the old entry is not used', async () => {
    const dir = path.join(base, 'changed');
    const cache = path.join(base, 'cache-changed');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'cc0000000001_value.ts');
    fs.writeFileSync(file, revisionText(1));
    expect((await importCompiled(file, cache))?.value).toBe(1);
    const entries = fs.readdirSync(cache).filter((f) => f.endsWith('.js'));
    expect(entries).toHaveLength(1);
    expect((await importCompiled(file, cache))?.value).toBe(1); // from the cache
    expect(fs.readdirSync(cache).filter((f) => f.endsWith('.js'))).toEqual(entries);

    fs.writeFileSync(file, revisionText(2)); // same size, same name: only the content differs
    expect((await importCompiled(file, cache))?.value).toBe(2);
    expect(fs.readdirSync(cache).filter((f) => f.endsWith('.js'))).toHaveLength(2);
  });

  it('resolves package imports as Node does, and leaves relative imports to tsx', async () => {
    expect(resolvePackageImport('kysely', base)).toBe(pathToFileURL(path.join(ROOT, 'node_modules', 'kysely', 'dist', 'esm', 'index.js')).href);
    expect(resolvePackageImport('no-such-package-here', base)).toBeUndefined();
    const dir = path.join(base, 'relative');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'helper.ts'), 'export const x = 1;\n');
    const file = path.join(dir, 'cc0000000002_rel.ts');
    fs.writeFileSync(file, `import { x } from './helper';\nexport const y = x;\n`);
    expect(await importCompiled(file, path.join(base, 'cache-relative'))).toBeUndefined();
  });

  it('runs the engine fixture revisions from the cache: a second upgrade compiles nothing new', async () => {
    const cache = path.join(base, 'xdg');
    const env = { XDG_CACHE_HOME: cache, CMMC_MIGRATIONS_DIR: path.join(ROOT, 'test', 'fixtures', 'engine', 'linear') };
    const entries = () => fs.readdirSync(path.join(cache, 'cmmc-db', 'revisions')).sort();
    const one = await createTestDatabase();
    const two = await createTestDatabase();
    try {
      const first = await runCli(['upgrade', 'heads'], { url: one.url, env });
      expect(first.exitCode, first.stderr).toBe(0);
      const after = entries();
      expect(after.some((f) => f.endsWith('.mjs'))).toBe(true);
      const second = await runCli(['upgrade', 'heads'], { url: two.url, env });
      expect(second.exitCode, second.stderr).toBe(0);
      expect(entries()).toEqual(after);
      const [a, b] = await Promise.all([runCliJson(['current'], { url: one.url, env }), runCliJson(['current'], { url: two.url, env })]);
      expect(b.data.current).toEqual(a.data.current);
      expect(b.data.atHead).toBe(true);
    } finally {
      await one.drop();
      await two.drop();
    }
  });
});

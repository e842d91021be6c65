/**
 * What `import 'cmmc-db'` (and `require`) does to an application before it calls anything: it loads
 * the modules of what the application may call, and nothing else happens. It loaded execa (about
 * 260 files) and cron-parser, which only `backup schedule`'s crontab and the report's "open in a
 * browser" use, into every application that imported the package for a pool. Also: nothing printed,
 * no file written (the working folder and HOME stay empty), no signal or exit listener added.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, ROOT } from './helpers/cli.js';

/** The packages no application asked for by importing the library (each is loaded when its command or function runs). */
const NOT_AT_IMPORT = ['execa', 'cron-parser', 'commander', 'chalk', 'ora', 'tsx', '@electric-sql/pglite', '@electric-sql/pglite-socket', '@pgkit/migra', 'uplot', '@bomb.sh/tab', 'bcryptjs', 'dotenv', 'lilconfig'];

describe('importing the package', () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-lib-import-'));
  const cwd = path.join(work, 'app');
  const home = path.join(work, 'home');
  const hooks = path.join(work, 'hooks');
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  async function load(how: 'import' | 'require'): Promise<{ packages: string[]; stdout: string; stderr: string; listeners: Record<string, number>[] }> {
    for (const dir of [cwd, home, hooks]) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
    }
    const loaded = path.join(hooks, 'loaded.txt');
    writeFileSync(
      path.join(hooks, 'hooks.mjs'),
      `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url);
  if (m) appendFileSync(${JSON.stringify(loaded)}, m[1] + '\\n');
  return r;
}`,
    );
    writeFileSync(path.join(hooks, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(path.join(hooks, 'hooks.mjs')).href)});\n`);
    const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'exit', 'beforeExit', 'uncaughtException', 'unhandledRejection'];
    const count = `Object.fromEntries(${JSON.stringify(events)}.map((e) => [e, process.listenerCount(e)]))`;
    const entry = path.join(ROOT, 'dist', 'index.js');
    const script =
      how === 'import'
        ? `const before = ${count}; await import(${JSON.stringify(pathToFileURL(entry).href)}); require('node:fs').writeFileSync(${JSON.stringify(path.join(hooks, 'listeners.json'))}, JSON.stringify([before, ${count}]));`
        : `const before = ${count}; require(${JSON.stringify(entry)}); require('node:fs').writeFileSync(${JSON.stringify(path.join(hooks, 'listeners.json'))}, JSON.stringify([before, ${count}]));`;
    const file = path.join(hooks, how === 'import' ? 'main.mjs' : 'main.cjs');
    writeFileSync(file, how === 'import' ? `import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n${script}\n` : script + '\n');
    const r = await execa('node', ['--import', path.join(hooks, 'register.mjs'), file], { cwd, env: cleanEnv({ HOME: home, XDG_CACHE_HOME: undefined }), extendEnv: false, reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    // The resolve hook sees what the ES module loader loads (require() of an ES module does not go through it).
    const packages = how === 'import' ? [...new Set(readFileSync(loaded, 'utf8').split('\n').filter(Boolean))].sort() : [];
    const listeners = JSON.parse(readFileSync(path.join(hooks, 'listeners.json'), 'utf8'));
    return { packages, stdout: r.stdout, stderr: r.stderr, listeners };
  }

  for (const how of ['import', 'require'] as const) {
    it(`${how} loads only what the library's functions need up front, prints nothing, writes nothing, listens to nothing`, async () => {
      const { packages, stdout, stderr, listeners } = await load(how);
      if (how === 'import') expect(packages).toContain('kysely');
      expect(packages.filter((p) => NOT_AT_IMPORT.includes(p))).toEqual([]);
      expect(stdout).toBe('');
      expect(stderr).toBe('');
      expect(listeners[1]).toEqual(listeners[0]);
      expect(readdirSync(cwd)).toEqual([]);
      expect(readdirSync(home)).toEqual([]);
    });
  }
});

/**
 * What an application passes to createPool, resolveConfig and openDatabase that names no setting the
 * library knows, from JavaScript (where TypeScript checks nothing): `createPool(process.env.DATABASE_URL)`
 * as pg's and postgres.js's pools take it, `createPool({ connectionString })` as pg's does, or
 * `openDatabase({ url })`. The first two found no URL and opened, creating it, the embedded database
 * in the application's folder (.cmmc-db/), where the application then wrote its data; the third
 * connected and then failed on "the migrations folder  does not exist". Each is now one CmmcError
 * (`config.input`) saying what to pass, and nothing is created.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, ROOT } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

describe('createPool, resolveConfig and openDatabase given what they do not take', () => {
  let tdb: TestDatabase;
  const work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-lib-config-input-'));
  beforeAll(async () => {
    tdb = await createTestDatabase('cmmc_lib_config_input');
  });
  afterAll(async () => {
    await tdb?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  /** Runs `call` (CommonJS, URL in scope) in a fresh application folder: what it printed, and whether .cmmc-db/ appeared. */
  async function inApp(name: string, call: string): Promise<{ out: { code?: string; message?: string; hint?: string; kind?: string }; created: boolean }> {
    const app = path.join(work, name);
    mkdirSync(app);
    writeFileSync(path.join(app, 'package.json'), '{"name":"app","private":true}\n');
    writeFileSync(
      path.join(app, 'main.cjs'),
      `const cmmc = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
const URL = process.env.TARGET;
(async () => {
  try {
    const h = await (${call});
    console.log(JSON.stringify({ kind: h.config.kind }));
    await h.close();
  } catch (e) {
    console.log(JSON.stringify({ code: e.code, message: e.message, hint: e.hint }));
  }
})();`,
    );
    const r = await execa('node', ['main.cjs'], { cwd: app, env: cleanEnv({ TARGET: tdb.url }), extendEnv: false, reject: false, timeout: 60_000 });
    expect(r.stderr).toBe('');
    return { out: JSON.parse(r.stdout), created: existsSync(path.join(app, '.cmmc-db')) };
  }

  it.each([
    ['a URL string to createPool', 'cmmc.createPool(URL)', /createPool takes \{ url/],
    ["pg's { connectionString }", 'cmmc.createPool({ connectionString: URL })', /"connectionString"/],
    ['null', 'cmmc.createPool(null)', /createPool takes \{ url/],
    ['a URL string to resolveConfig', 'cmmc.openDatabase(cmmc.resolveConfig(URL))', /resolveConfig takes \{ url/],
    ['{ url } to openDatabase', 'cmmc.openDatabase({ url: URL })', /openDatabase takes the configuration resolveConfig returns/],
  ])('%s: one CmmcError saying what to pass; no embedded database made', async (name, call, message) => {
    const { out, created } = await inApp(name.replace(/\W+/g, '-'), call);
    expect(out.code).toBe('config.input');
    expect(out.message).toMatch(message);
    expect(out.hint).toMatch(/\{ url/);
    expect(out.message + (out.hint ?? '')).not.toContain(tdb.url);
    expect(created).toBe(false);
  });

  it('{ url } still opens the server', async () => {
    const { out, created } = await inApp('url', 'cmmc.createPool({ url: URL }, { pool: { min: 1 } })');
    expect(out).toEqual({ kind: 'server' });
    expect(created).toBe(false);
  });
});

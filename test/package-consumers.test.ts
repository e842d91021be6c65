/**
 * The package as an application installs it: `npm pack`, then `npm install ./cmmc-db-*.tgz` in a
 * throwaway project, and from there
 * - the README's library examples, as they are: an ES module compiled by tsc with
 *   "module": "nodenext" (and a .cts file that requires the package), and a CommonJS file;
 * - the project's own revisions in ./migrations on top of the platform's (one graph: upgrade,
 *   history, downgrade; `revision` writes into the project, never into node_modules), with the
 *   platform's seeds still loading;
 * - a command run from a subfolder uses the root's .env and the root's embedded folder;
 * - hints name only files the package ships;
 * - the postgres.js patch (scripts/postinstall.mjs) is applied to the application's own, hoisted
 *   postgres, not only in this repository's checkout.
 */
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, ROOT, runCliJson } from './helpers/cli.js';
import { createTestDatabase, query, type TestDatabase } from './helpers/server.js';

let work: string;
let app: string;
let tarball: string;
let shipped: string[];
let platformHead: string;

/** The fenced code block between `<!-- example:NAME -->` and `<!-- /example:NAME -->` in the README (or another doc). */
function readmeExample(name: string, doc = 'README.md'): string {
  const readme = readFileSync(path.join(ROOT, doc), 'utf8');
  const m = new RegExp(`<!-- example:${name} -->\\n\`\`\`\\w*\\n([\\s\\S]*?)\`\`\`\\n<!-- /example:${name} -->`).exec(readme);
  if (!m) throw new Error(`README.md has no example "${name}"`);
  return m[1];
}

async function inApp(file: string, args: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}) {
  const r = await execa('node', [file, ...args], { cwd: options.cwd ?? app, env: cleanEnv(options.env), extendEnv: false, reject: false, timeout: 120_000 });
  return { exitCode: r.exitCode ?? 1, stdout: r.stdout, stderr: r.stderr };
}

const cli = (args: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}) =>
  inApp(path.join(app, 'node_modules', 'cmmc-db', 'bin', 'cmmc-db.js'), args, options);

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-consumers-'));
  const pack = await execa('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT });
  const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  tarball = path.join(work, info.filename);
  shipped = info.files.map((f) => f.path);
  app = path.join(work, 'app');
  mkdirSync(path.join(app, 'src'), { recursive: true });
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }, null, 2));
  await execa('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app });
  platformHead = (await runCliJson<{ revision: string }[]>(['heads'])).data[0].revision;
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships LICENSE, README, docs, the set-up script and a repository field; not the tests or the sources', () => {
    for (const f of ['LICENSE', 'README.md', 'docs/migrations.md', 'docs/extending.md', 'scripts/setup-postgres.sh', 'dist/index.js', 'dist/index.d.ts']) expect(shipped).toContain(f);
    expect(shipped.some((f) => f.startsWith('test/') || f.startsWith('src/'))).toBe(false);
    const pkg = JSON.parse(readFileSync(path.join(app, 'node_modules', 'cmmc-db', 'package.json'), 'utf8'));
    expect(pkg.repository?.url).toMatch(/^git\+https:\/\//);
    // autogenerate's diff library is an optional peer: not installed with the package
    expect(existsSync(path.join(app, 'node_modules', '@pgkit', 'migra'))).toBe(false);
  });

  it('hints name only files the package ships', () => {
    const named = new Set<string>();
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        // Messages and hints are code; comments are left out (they point at the repository).
        else if (e.name.endsWith('.js')) for (const m of readFileSync(p, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '').matchAll(/\b((?:scripts|docs|templates)\/[\w.-]+\.(?:sh|md|ts|sql))\b/g)) named.add(m[1]);
      }
    };
    walk(path.join(app, 'node_modules', 'cmmc-db', 'dist'));
    expect(named.size).toBeGreaterThan(0);
    expect([...named].filter((f) => !shipped.includes(f))).toEqual([]);
  });

  it('autogenerate without @pgkit/migra says in one line how to install it', async () => {
    const r = await cli(['revision', '--autogenerate', '-m', 'x'], { env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('install @pgkit/migra to use autogenerate');
    expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('database:'))).toHaveLength(1);
  });
});

describe("the postgres.js patch in the application's node_modules", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('consumer_patch');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('postgres is hoisted to the application and patched at install, in its ES module and CommonJS builds', () => {
    expect(existsSync(path.join(app, 'node_modules', 'cmmc-db', 'node_modules', 'postgres'))).toBe(false);
    for (const build of ['src', 'cjs/src']) {
      expect(readFileSync(path.join(app, 'node_modules', 'postgres', build, 'connection.js'), 'utf8')).toContain('Patched by cmmc-db (patches/postgres+3.4.9.patch)');
    }
  });

  it("test/driver-patch.test.ts's reproduction, run with the application's postgres, survives", async () => {
    // Copied into the application so that `import 'postgres'` resolves to its node_modules.
    const fixture = path.join(app, 'reserved-terminate.mjs');
    writeFileSync(fixture, readFileSync(path.join(ROOT, 'test', 'fixtures', 'reserved-terminate.mjs')));
    const r = await inApp(fixture, [db.url]);
    expect(r.stderr).not.toContain('TypeError');
    expect(r.stdout).toBe('survived: CONNECTION_CLOSED CONNECTION_CLOSED ok');
    expect(r.exitCode).toBe(0);
  });
});

describe('library consumers (the README examples)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('consumer');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('an ES module compiled with "module": "nodenext" (and a .cts that requires it) type-checks and runs', async () => {
    const dir = path.join(app, 'esm');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'index.mts'), readmeExample('esm'));
    writeFileSync(
      path.join(dir, 'required.cts'),
      "import cmmc = require('cmmc-db');\nexport const open: typeof cmmc.createPool = cmmc.createPool;\n",
    );
    writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, skipLibCheck: true, types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')] } }),
    );
    const tsc = await execa('node', [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { reject: false });
    expect(tsc.stdout + tsc.stderr).toBe('');
    const r = await inApp(path.join(dir, 'index.mjs'), [], { env: { DATABASE_URL: db.url } });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ atHead: true, health: 'ok', controls: 0 });
    const cts = await inApp(path.join(dir, 'required.cjs'), []);
    expect(cts.exitCode, cts.stderr).toBe(0);
  });

  it('a CommonJS file requires the package and runs', async () => {
    writeFileSync(path.join(app, 'index.cjs'), readmeExample('cjs'));
    const r = await inApp(path.join(app, 'index.cjs'), [], { env: { DATABASE_URL: db.url } });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ current: [platformHead], atHead: true });
  });
});

describe("the project's own revisions on top of the platform's", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('project_revs');
  });
  afterAll(async () => {
    await db?.drop();
    rmSync(path.join(app, '.env'), { force: true });
  });

  it('revision lands in ./migrations on the platform head; upgrade, history and downgrade cross both folders; platform seeds load', async () => {
    const env = { DATABASE_URL: db.url };
    // Run from a subfolder: the revision still lands in the root's ./migrations.
    const written = await cli(['revision', '-m', 'add widgets', '--sql', '--json'], { env, cwd: path.join(app, 'src') });
    expect(written.exitCode, written.stderr).toBe(0);
    const w = JSON.parse(written.stdout);
    expect(path.dirname(w.file)).toBe(path.join(app, 'migrations'));
    expect(w.downRevisions).toEqual([platformHead]);
    // The up and down of docs/extending.md's worked example, under the header `revision` wrote.
    const example = readmeExample('widgets', 'docs/extending.md');
    const header = readFileSync(w.file, 'utf8').split(/^-- migrate:up$/m)[0];
    writeFileSync(w.file, header + example.slice(example.indexOf('-- migrate:up')));

    const up = await cli(['upgrade', 'head', '--json'], { env });
    expect(up.exitCode, up.stderr).toBe(0);
    expect(JSON.parse(up.stdout).to).toEqual([w.revision]);
    expect(await query(db.url, "SELECT relrowsecurity AND relforcerowsecurity AS ok FROM pg_class WHERE oid = 'public.widgets'::regclass")).toEqual([{ ok: true }]);

    // check without the optional @pgkit/migra: the rest is checked, drift is said to be skipped.
    const check = await cli(['check'], { env });
    expect(check.exitCode, check.stderr).toBe(0);
    expect(check.stderr).toContain('drift not checked');
    expect(check.stderr).toContain('npm install --save-dev @pgkit/migra');

    const history = await cli(['history', '--json'], { env });
    const ids = JSON.parse(history.stdout).map((r: { revision: string }) => r.revision);
    expect(ids[0]).toBe(w.revision);
    expect(ids).toContain(platformHead);

    const seed = await cli(['seed', '--json'], { env });
    expect(seed.exitCode, seed.stderr).toBe(0);
    expect(await query(db.url, 'SELECT count(*)::int AS n FROM cmmc_controls')).toEqual([{ n: 110 }]);

    const down = await cli(['downgrade', '-1', '--yes', '--json'], { env });
    expect(down.exitCode, down.stderr).toBe(0);
    expect(JSON.parse(down.stdout).to).toEqual([platformHead]);
    expect(await query(db.url, "SELECT to_regclass('public.widgets') IS NULL AS gone")).toEqual([{ gone: true }]);

    // Nothing was written into the package.
    expect(readdirSync(path.join(app, 'node_modules', 'cmmc-db', 'migrations')).some((f) => f.includes('widgets'))).toBe(false);
  });

  it('from a subfolder: the root .env names the database', async () => {
    writeFileSync(path.join(app, '.env'), `DATABASE_URL=${db.url}\n`);
    const r = await cli(['current', '--json'], { cwd: path.join(app, 'src') });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${db.name} (from DATABASE_URL)`);
    expect(JSON.parse(r.stdout).current).toEqual([platformHead]);
  });

  it('--env picks an environment of cmmc-db.config.json, its ${NAME} read from the environment', async () => {
    writeFileSync(path.join(app, 'cmmc-db.config.json'), JSON.stringify({ environments: { staging: { url: '${STAGING_URL}' } } }));
    try {
      const r = await cli(['--env', 'staging', 'current', '--json'], { cwd: path.join(app, 'src'), env: { STAGING_URL: db.url } });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toContain(`${db.name} (from cmmc-db.config.json (environment staging))`);
      expect(JSON.parse(r.stdout).current).toEqual([platformHead]);
      const unknown = await cli(['--env', 'qa', 'current'], { env: { STAGING_URL: db.url } });
      expect(unknown.exitCode).toBe(2);
      expect(unknown.stderr).toContain('has no environment "qa"');
    } finally {
      rmSync(path.join(app, 'cmmc-db.config.json'), { force: true });
    }
  });

  it('from a subfolder without a URL: the embedded database at the root, never a second one below it', async () => {
    rmSync(path.join(app, '.env'), { force: true });
    // A read names the root's folder and creates nothing; an upgrade makes the database there.
    const read = await cli(['current'], { cwd: path.join(app, 'src') });
    expect(read.stderr).toContain(`there is no embedded database in ${path.join(app, '.cmmc-db')} yet`);
    const r = await cli(['upgrade', 'head'], { cwd: path.join(app, 'src') });
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await cli(['current'], { cwd: path.join(app, 'src') })).exitCode).toBe(0);
    expect(existsSync(path.join(app, '.cmmc-db'))).toBe(true);
    expect(existsSync(path.join(app, 'src', '.cmmc-db'))).toBe(false);
  });
});

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_DIR, resolveConfig } from '../../src/config/config.js';
import { findProjectRoot, resolveProject } from '../../src/config/project-root.js';
import { overallStatus, selectChecks } from '../../src/doctor/run.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'cmmc-root-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function project(name: string, files: Record<string, string>): string {
  const dir = path.join(tmp, name);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

describe('the project root', () => {
  it('is the nearest folder with package.json, walking up from a subfolder', () => {
    const dir = project('pkg', { 'package.json': '{}', 'src/deep/x.ts': '' });
    expect(findProjectRoot(path.join(dir, 'src', 'deep'), {})).toMatchObject({ root: dir, foundBy: 'package.json' });
  });

  it('a config file below the nearest package.json wins; one above it does not', () => {
    const mono = project('mono', { 'cmmc-db.config.json': '{}', 'package.json': '{}', 'packages/api/package.json': '{}', 'packages/api/src/a.ts': '', 'tools/cmmc-db.config.json': '{}', 'tools/sub/x': '' });
    expect(findProjectRoot(path.join(mono, 'packages', 'api', 'src'), {})).toMatchObject({ root: path.join(mono, 'packages', 'api'), foundBy: 'package.json' });
    expect(findProjectRoot(path.join(mono, 'tools', 'sub'), {})).toMatchObject({ root: path.join(mono, 'tools'), foundBy: 'config file' });
  });

  it('is the working folder when nothing marks a project; CMMC_PROJECT_DIR names it outright', () => {
    const bare = project('bare', { 'notes.txt': '' });
    expect(findProjectRoot(bare, {})).toMatchObject({ root: bare, foundBy: 'working folder' });
    expect(findProjectRoot(bare, { CMMC_PROJECT_DIR: tmp })).toMatchObject({ root: tmp, foundBy: 'CMMC_PROJECT_DIR' });
  });

  it('the embedded folder, .env-relative folders and the project revisions live at the root', () => {
    const dir = project('app', { 'package.json': '{}', 'src/x.ts': '' });
    const c = resolveConfig({ cwd: path.join(dir, 'src'), env: { CMMC_SEEDS_DIR: 'data/seeds' } });
    expect(c.embeddedDir).toBe(path.join(dir, '.cmmc-db'));
    expect(c.projectDir).toBe(dir);
    expect(c.migrationsDir).toBe(path.join(dir, 'migrations'));
    expect(c.migrationDirs).toEqual([path.join(PACKAGE_DIR, 'migrations'), path.join(dir, 'migrations')]);
    expect(c.seedsDir).toBe(path.join(dir, 'data', 'seeds'));
  });

  it("seeds: the project's own folder when it has one, else the platform's", () => {
    const without = project('noseeds', { 'package.json': '{}' });
    expect(resolveConfig({ cwd: without, env: {} }).seedsDir).toBe(path.join(PACKAGE_DIR, 'seeds'));
    const withSeeds = project('seeds', { 'package.json': '{}', 'seeds/01.sql': '' });
    expect(resolveConfig({ cwd: withSeeds, env: {} }).seedsDir).toBe(path.join(withSeeds, 'seeds'));
  });

  it('--migrations-dir is the one folder of the graph, as before', () => {
    const dir = project('single', { 'package.json': '{}' });
    const c = resolveConfig({ cwd: dir, env: {}, migrationsDir: 'db/revs' });
    expect(c.migrationDirs).toEqual([path.join(dir, 'db', 'revs')]);
  });
});

describe('cmmc-db.config.json', () => {
  const file = {
    migrations: ['db/migrations', 'db/more'],
    environments: {
      staging: { url: 'postgres://app:${STAGING_PW}@staging:5432/app' },
      production: { url: 'postgres://app@prod/app', production: true },
    },
  };

  it('names folders; --env picks an environment whose url comes right after --url, ${NAME} from the environment', () => {
    const dir = project('configured', { 'cmmc-db.config.json': JSON.stringify(file) });
    const env = { STAGING_PW: 's3cret', DATABASE_URL: 'postgres://x@elsewhere/db' };
    const staging = resolveConfig({ cwd: dir, env, environment: 'staging' });
    expect(staging.url).toMatch(/^postgres(ql)?:\/\/app:s3cret@staging:5432\/app\b/);
    expect(staging.source).toBe('cmmc-db.config.json (environment staging)');
    expect(staging.migrationDirs).toEqual([path.join(PACKAGE_DIR, 'migrations'), path.join(dir, 'db', 'migrations'), path.join(dir, 'db', 'more')]);
    expect(staging.migrationsDir).toBe(path.join(dir, 'db', 'migrations'));
    expect(resolveConfig({ cwd: dir, env, environment: 'production' }).production).toBe(true);
    expect(resolveConfig({ cwd: dir, env, url: 'postgres://u@flag/db', environment: 'staging' }).source).toBe('--url');
    expect(resolveConfig({ cwd: dir, env }).source).toBe('DATABASE_URL');
  });

  it('says in one line what is wrong: unknown environment, unset ${NAME}, unknown setting, bad JSON', () => {
    const dir = project('configured2', { 'cmmc-db.config.json': JSON.stringify(file) });
    expect(() => resolveConfig({ cwd: dir, env: {}, environment: 'qa' })).toThrow(/has no environment "qa"/);
    expect(() => resolveConfig({ cwd: dir, env: {}, environment: 'staging' })).toThrow(/reads \$\{STAGING_PW\}, which is not set/);
    const odd = project('odd', { 'cmmc-db.config.json': '{"migration": "x"}' });
    expect(() => resolveProject({ cwd: odd, env: {}, packageDir: PACKAGE_DIR })).toThrow(/unknown setting "migration"/);
    const broken = project('broken', { 'cmmc-db.config.json': '{ nope' });
    expect(() => resolveProject({ cwd: broken, env: {}, packageDir: PACKAGE_DIR })).toThrow(/cmmc-db.config.json could not be read/);
  });

  it('loads cmmc-db.config.ts', () => {
    const dir = project('ts', { 'cmmc-db.config.ts': "const migrations: string[] = ['revs'];\nexport default { migrations, platformMigrations: false };\n" });
    expect(resolveConfig({ cwd: dir, env: {} }).migrationDirs).toEqual([path.join(dir, 'revs')]);
  });
});

describe('doctor: skipped and --skip', () => {
  it('skipped does not raise the status; all skipped is ok', () => {
    expect(overallStatus([{ status: 'ok' }, { status: 'skipped' }])).toBe('ok');
    expect(overallStatus([{ status: 'skipped' }])).toBe('ok');
    expect(overallStatus([{ status: 'skipped' }, { status: 'unknown' }])).toBe('unknown');
  });

  it('--skip takes a family or a check id', () => {
    const ids = selectChecks([], ['slow-queries', 'backups.recent']).map((c) => c.id);
    expect(ids).not.toContain('slow-queries.top');
    expect(ids).not.toContain('backups.recent');
    expect(ids).toContain('schema.migrations');
    expect(() => selectChecks([], ['nope'])).toThrow(/no check named "nope" \(--skip\)/);
  });
});

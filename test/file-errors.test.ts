/**
 * Errors from the file system and from loading revisions: one line naming the file and the fix,
 * exit 1, no stack trace (the findings: a migrations folder that is a file, a revision whose import
 * fails, a malformed %-escape in a URL, a folder option pointing at a file).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-file-errors-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function oneLine(r: CliResult, exitCode = 1): string {
  expect(r.exitCode, r.stderr).toBe(exitCode);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('error'));
  expect(errors).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return errors[0];
}

describe('files and revisions that cannot be read', () => {
  let tdb: TestDatabase;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    writeFileSync(path.join(work, 'a-file'), 'not a folder\n');
  });
  afterAll(async () => {
    await tdb.drop();
  });

  it('a migrations folder that is a file', async () => {
    const line = oneLine(await runCli(['upgrade', 'head', '--migrations-dir', path.join(work, 'a-file')], { url: tdb.url, cwd: work }));
    expect(line).toContain(`the migrations folder ${path.join(work, 'a-file')} is a file, not a folder — pass the folder`);
  });

  const broken: [string, string, RegExp][] = [
    ['a syntax error', 'export const revision = "aaaa00000001"\nexport const = ;\n', /cannot be loaded: line 2: Expected identifier but found "=" — fix /],
    ['a throw while loading', 'export const revision = "aaaa00000001";\nexport const downRevision = null;\nthrow new Error("boom at load");\n', /cannot be loaded: boom at load — fix /],
    ['a missing package', 'import x from "no-such-pkg-cmmc";\nexport const revision = "aaaa00000001";\nexport const downRevision = null;\nexport async function up() { void x; }\nexport async function down() {}\n', /cannot be loaded: Cannot find (module|package) 'no-such-pkg-cmmc'.* — install no-such-pkg-cmmc/],
  ];
  for (const [name, text, expected] of broken) {
    it(`a revision with ${name}: the line names the revision file`, async () => {
      const dir = path.join(work, name.replace(/\W+/g, '-'));
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'aaaa00000001_broken.ts'), text);
      const line = oneLine(await runCli(['upgrade', 'head', '--migrations-dir', dir], { url: tdb.url, cwd: work }));
      expect(line).toContain(`revision file ${path.basename(dir)}/aaaa00000001_broken.ts cannot be loaded`);
      expect(line).toMatch(expected);
    });
  }

  it('a backup folder that is a file', async () => {
    const line = oneLine(await runCli(['backup', '--dir', path.join(work, 'a-file')], { url: tdb.url, cwd: work }));
    expect(line).toContain(`${path.join(work, 'a-file')}: it already exists and is not a folder [EEXIST] — choose another path`);
  });

  it('a malformed %-escape in the URL: a usage error naming it', async () => {
    const line = oneLine(await runCli(['current'], { url: 'postgres://app:p%zzw@127.0.0.1/db', cwd: work }), 2);
    expect(line).toContain('DATABASE_URL has a malformed %-escape "%zz"');
    expect(line).toContain('write a literal % as %25');
  });

  it("another tool's migrations folder: named with its folder, and the hint says how to give cmmc-db its own", async () => {
    const app = path.join(work, 'app');
    mkdirSync(path.join(app, 'migrations'), { recursive: true });
    writeFileSync(path.join(app, 'package.json'), '{ "name": "platform-api" }\n');
    // What knex or node-pg-migrate keep there.
    writeFileSync(path.join(app, 'migrations', '001_init.sql'), 'CREATE TABLE accounts (id serial PRIMARY KEY);\n');
    const r = await runCli(['upgrade', 'head'], { url: tdb.url, cwd: app });
    const line = oneLine(r);
    expect(line).toContain(`${path.join('migrations', '001_init.sql')}: has no "-- migrate:up" line`);
    expect(line).toContain(`if migrations holds another tool's migrations, give cmmc-db a folder of its own: "migrations": ["db/revisions"] in cmmc-db.config.json`);
    // Following the hint: the platform's revisions run, the other tool's folder is left alone.
    writeFileSync(path.join(app, 'cmmc-db.config.json'), '{ "migrations": ["db/revisions"] }\n');
    const ok = await runCli(['upgrade', 'head'], { url: tdb.url, cwd: app });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/applied \d+ revisions/);
  });
});

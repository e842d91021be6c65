/**
 * What `revision` says to do next. A plain-SQL revision has no up() and down() to fill in; and a
 * revision written beside another head (`--head` on a branch point, a new base) leaves two heads,
 * where the suggested `upgrade head` was refused as ambiguous (exit 2).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

let tdb: TestDatabase;
let dir: string;
beforeAll(async () => {
  tdb = await createTestDatabase();
  dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-revision-next-'));
  writeFileSync(path.join(dir, 'package.json'), '{"name":"app","private":true}');
  mkdirSync(path.join(dir, 'migrations'));
});
afterAll(async () => {
  await tdb?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('revision: the next step it names', () => {
  it('names the SQL sections for --sql, and upgrade heads when the new revision is a second head', async () => {
    const write = (args: string[]) => runCli(['revision', ...args], { cwd: dir, url: tdb.url });
    const first = await write(['-m', 'one', '--sql', '--rev-id', 'aaaa00000001']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stderr).toContain('next: fill in the -- migrate:up and -- migrate:down sections, then cmmc-db upgrade head');

    const ts = await write(['-m', 'two', '--rev-id', 'aaaa00000002']);
    expect(ts.stderr).toContain('next: fill in up() and down(), then cmmc-db upgrade head');

    const beside = await write(['-m', 'three', '--sql', '--head', 'aaaa00000001', '--rev-id', 'aaaa00000003']);
    expect(beside.exitCode, beside.stderr).toBe(0);
    expect(beside.stderr).toContain('then cmmc-db upgrade heads (2 heads now; join them with cmmc-db merge -m "merge" heads)');
    // What it said before is what a user then ran:
    expect((await runCli(['upgrade', 'head'], { cwd: dir, url: tdb.url })).exitCode).toBe(2);
    expect((await runCli(['upgrade', 'heads'], { cwd: dir, url: tdb.url })).exitCode).toBe(0);
  });
});

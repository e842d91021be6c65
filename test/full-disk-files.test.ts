/**
 * Files a developer keeps in the repository, written on a full disk: `schema dump` used to truncate
 * schema.sql and then fail (the committed file half gone), `revision` and `schema autogenerate` to
 * leave an empty or cut-short revision file under its real name (a broken revision in the graph,
 * read by every later command). Now each says the disk is full, exits 1, and leaves the folder as it
 * was. A small tmpfs stands for the full disk (skipped where this user may not mount one).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';
import { makeWorkspace, type Workspace } from './fixtures/schema-as-code/workspace.js';

/** Fills the file system of `dir` to the last byte. */
function fill(dir: string): void {
  const fd = openSync(path.join(dir, 'filler'), 'w');
  const chunk = Buffer.alloc(1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

describe('files written on a full disk are whole or not there', () => {
  let work: string;
  let disk: string;
  let db: TestDatabase;
  let ws: Workspace;
  let mountable = false;

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-fullfiles-'));
    disk = path.join(work, 'disk');
    mkdirSync(disk);
    mountable = (await execa('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk], { reject: false })).exitCode === 0;
    db = await createTestDatabase('cmmc_fullfiles');
    ws = makeWorkspace('simple');
  });
  afterAll(async () => {
    await execa('umount', [disk], { reject: false });
    await db.drop();
    ws.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it('schema dump keeps the old schema.sql whole when the new one does not fit', async (ctx) => {
    if (!mountable) ctx.skip();
    const schemaFile = path.join(disk, 'schema.sql');
    writeFileSync(schemaFile, '-- the committed schema\n', { mode: 0o640 });
    fill(disk);
    const before = readdirSync(disk).sort();
    const r = await runCli(['schema', 'dump', '--output', schemaFile], { url: db.url, env: ws.env });
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/disk is full/);
    expect(r.stderr).toContain('schema.sql');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readFileSync(schemaFile, 'utf8')).toBe('-- the committed schema\n');
    expect(readdirSync(disk).sort()).toEqual(before);
    rmSync(path.join(disk, 'filler'));
    // With room, the file is replaced and keeps its mode.
    const ok = await runCli(['schema', 'dump', '--output', schemaFile], { url: db.url, env: ws.env });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(readFileSync(schemaFile, 'utf8')).toContain('CREATE TABLE public.widgets (');
    expect((await import('node:fs')).statSync(schemaFile).mode & 0o777).toBe(0o640);
    rmSync(schemaFile);
  });

  it('revision leaves no empty or cut-short revision file in the folder', async (ctx) => {
    if (!mountable) ctx.skip();
    const migrations = path.join(disk, 'migrations');
    mkdirSync(migrations);
    fill(disk);
    for (const kind of [[], ['--sql']]) {
      const r = await runCli(['revision', '-m', 'add widgets', ...kind], { env: { CMMC_MIGRATIONS_DIR: migrations, CMMC_PROJECT_DIR: work } });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/disk is full/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(readdirSync(migrations)).toEqual([]);
    }
    rmSync(path.join(disk, 'filler'));
    const ok = await runCli(['revision', '-m', 'add widgets'], { env: { CMMC_MIGRATIONS_DIR: migrations, CMMC_PROJECT_DIR: work } });
    expect(ok.exitCode, ok.stderr).toBe(0);
    const files = readdirSync(migrations);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^[0-9a-f]{12}_add_widgets\.ts$/);
    expect(readFileSync(path.join(migrations, files[0]), 'utf8')).toContain('export async function up');
  });
});

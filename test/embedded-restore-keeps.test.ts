/**
 * A restore of the embedded database keeps the data folder it replaces, as a restore on a server
 * keeps the database it replaces (`<name>_pre_restore_<time>`): what was written after the backup
 * is not lost with a `--yes`. It deleted the old folder right after the swap, while `backup restore
 * --help` and the README say the replaced one is kept, and the plan said "built as a new database,
 * then swapped in by name". A real PGlite folder, the built CLI.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { acquireEmbedded, releaseEmbedded } from '../src/embedded/instance.js';

let cwd: string;
let dbDir: string;

async function embeddedQuery<T>(dir: string, text: string): Promise<T[]> {
  const instance = await acquireEmbedded(dir, { waitMs: 30_000 });
  try {
    return ((await instance.pg.exec(text)).at(-1)?.rows ?? []) as T[];
  } finally {
    await releaseEmbedded(instance);
  }
}

beforeAll(async () => {
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-embedded-restore-keeps-'));
  dbDir = path.join(cwd, '.cmmc-db');
  fs.writeFileSync(path.join(cwd, 'package.json'), '{}\n');
  const init = await runCli(['init'], { cwd });
  expect(init.exitCode, init.stderr).toBe(0);
}, 180_000);
afterAll(() => fs.rmSync(cwd, { recursive: true, force: true }));

it('the replaced data folder is kept beside the new one, named in the plan and the result, and holds what came after the backup', async () => {
  const made = await runCliJson(['backup', 'create'], { cwd });
  expect(made.exitCode, made.stderr).toBe(0);
  // Written after the backup: the restore replaces it, and the kept folder still has it.
  await embeddedQuery(dbDir, `CREATE TABLE after_backup (id int); INSERT INTO after_backup VALUES (42)`);

  const plan = await runCli(['backup', 'restore', made.data.name, '--dry-run'], { cwd });
  expect(plan.exitCode, plan.stderr).toBe(0);
  expect(plan.stderr).toMatch(/kept as the folder pgdata_pre_restore_\d{8}t\d{6}z beside it until you remove it/);
  expect(plan.stderr).toContain('method: built in a new data folder, then swapped in for the one there');

  const restored = await runCliJson(['backup', 'restore', made.data.name, '--yes'], { cwd, timeoutMs: 240_000 });
  expect(restored.exitCode, restored.stderr).toBe(0);
  expect(restored.data.keptAs).toMatch(/^pgdata_pre_restore_\d{8}t\d{6}z$/);
  expect(fs.readdirSync(dbDir).sort()).toEqual(['.gitignore', 'pgdata', restored.data.keptAs]);
  await expect(embeddedQuery(dbDir, 'SELECT id FROM after_backup')).rejects.toThrow(/after_backup/);

  // The way back: the kept folder is a whole data folder, with what was written after the backup.
  const back = path.join(cwd, 'back');
  fs.mkdirSync(back, { mode: 0o700 });
  fs.renameSync(path.join(dbDir, restored.data.keptAs), path.join(back, 'pgdata'));
  expect(await embeddedQuery(back, 'SELECT id FROM after_backup')).toEqual([{ id: 42 }]);

  // Told on the terminal, with how to remove it; a second restore keeps the folder it replaces too.
  const again = await runCli(['backup', 'restore', made.data.name, '--yes'], { cwd, timeoutMs: 240_000 });
  expect(again.exitCode, again.stderr).toBe(0);
  expect(again.stderr).toContain(`restored ${made.data.name} into the embedded database in ${dbDir}`);
  const kept = fs.readdirSync(dbDir).filter((e) => e.startsWith('pgdata_pre_restore_'));
  expect(kept).toHaveLength(1);
  expect(again.stderr).toContain(`the data folder it replaced is kept as ${path.join(dbDir, kept[0])}: remove it once you are satisfied (rm -r ${path.join(dbDir, kept[0])})`);
  const current = await runCli(['current'], { cwd });
  expect(current.exitCode, current.stderr).toBe(0);

  // doctor lists the kept folder (it said "needs a PostgreSQL server"), and warns once it is old, with the rm -r.
  const listed = await runCliJson(['doctor', 'backups.kept-databases'], { cwd });
  const fresh = listed.data.checks.find((c: any) => c.id === 'backups.kept-databases');
  expect(fresh).toMatchObject({ status: 'ok', figure: expect.stringMatching(new RegExp(`^1 data folder\\(s\\) kept by restores of the embedded database in ${dbDir} \\(\\d`)) });
  expect(fresh.rows.map((r: any) => r.name)).toEqual(kept);
  expect(fresh.rows[0].size_bytes).toBeGreaterThan(1_000_000);
  const old = await runCliJson(['doctor', 'backups.kept-databases', '--threshold', 'kept-database-age=0s'], { cwd });
  const warned = old.data.checks.find((c: any) => c.id === 'backups.kept-databases');
  expect(warned.status).toBe('warn');
  expect(warned.remedy).toBe(`once the restored database is checked, remove them: rm -r ${path.join(dbDir, kept[0])}`);
}, 600_000);

it('a restore killed after the swap, before the old folder got its kept name: the next open keeps it (it deleted it)', async () => {
  for (const e of fs.readdirSync(dbDir)) if (e.startsWith('pgdata_pre_restore_')) fs.rmSync(path.join(dbDir, e), { recursive: true, force: true });
  // What a kill -9 between the renames leaves: the new data folder in place, the old one moved aside.
  fs.cpSync(path.join(dbDir, 'pgdata'), path.join(dbDir, 'pgdata.before-restore-999999'), { recursive: true });
  const current = await runCli(['current'], { cwd });
  expect(current.exitCode, current.stderr).toBe(0);
  expect(fs.readdirSync(dbDir).filter((e) => e.startsWith('pgdata')).sort()).toEqual(['pgdata', expect.stringMatching(/^pgdata_pre_restore_\d{8}t\d{6}z$/)]);
}, 180_000);

/**
 * Tables at the width of the terminal: under a real 80-column pseudo-terminal no line of a table is
 * longer than 80, and a remedy is printed whole below the table (its words in order, none cut);
 * piped, the same rows are tab-separated lines.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { linesLongerThan, runCliInPty } from './helpers/pty.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

describe('tables at 80 columns', () => {
  let db: TestDatabase;
  let backups: string;
  beforeAll(async () => {
    db = await createTestDatabase('width');
    backups = mkdtempSync(path.join(os.tmpdir(), 'cmmc-width-'));
    const b = await runCli(['backup', 'create', '--dir', backups, '--yes'], { url: db.url });
    expect(b.exitCode, b.stderr).toBe(0);
  });
  afterAll(async () => {
    await db?.drop();
    rmSync(backups, { recursive: true, force: true });
  });

  it('doctor: every line fits and each remedy is printed whole below the table', async () => {
    const r = await runCliInPty(['doctor', 'schema', 'slow-queries'], { url: db.url, columns: 80 });
    expect(linesLongerThan(r.output, 80)).toEqual([]);
    const json = await runCliJson(['doctor', 'schema', 'slow-queries'], { url: db.url });
    const remedies = json.data.checks.filter((c: any) => c.status !== 'ok' && c.remedy).map((c: any) => c.remedy as string);
    expect(remedies.length).toBeGreaterThan(0);
    const words = r.output.split(/\s+/).join(' ');
    for (const remedy of remedies) expect(words).toContain(remedy.split(/\s+/).join(' '));
  });

  for (const args of [['doctor', '--list'], ['health'], ['backup', 'list', '--dir', '{backups}'], ['status', '--backup-dir', '{backups}'], ['seed', '--status']]) {
    it(`${args.join(' ')}: no line longer than 80`, async () => {
      const r = await runCliInPty(args.map((a) => a.replace('{backups}', backups)), { url: db.url, columns: 80 });
      expect(r.exitCode, r.output).toBe(0);
      expect(r.output.length).toBeGreaterThan(0);
      expect(linesLongerThan(r.output, 80)).toEqual([]);
    });
  }

  it('backup list names the database; piped, rows are tab-separated', async () => {
    const r = await runCli(['backup', 'list', '--dir', backups], { url: db.url });
    const [head, row] = r.stdout.trim().split('\n');
    expect(head.split('\t')).toContain('database');
    expect(row.split('\t')[head.split('\t').indexOf('database')]).toBe(db.name);
  });

  it('--quiet leaves the data and drops the messages', async () => {
    const loud = await runCli(['doctor', '--list'], { url: db.url });
    const quiet = await runCli(['doctor', '--list', '--quiet'], { url: db.url });
    expect(quiet.stdout).toBe(loud.stdout);
    const h = await runCli(['health'], { url: db.url });
    expect(h.stderr).toContain('database:');
    const hq = await runCli(['health', '--quiet'], { url: db.url });
    expect(hq.stderr).toBe('');
  });
});

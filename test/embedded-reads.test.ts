/**
 * Commands that read create nothing (docs/migrations.md: `current` "reads only"). With no server
 * configured and no embedded database yet, `current`, `status`, `doctor` and the others each made a
 * 39 MB .cmmc-db/ (PGlite's initdb) and answered about an empty database. Now: one line saying there
 * is none yet and how to make it, exit 1 (doctor: 2, as for a database it cannot reach), nothing made.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';

const project = mkdtempSync(path.join(os.tmpdir(), 'cmmc-embedded-reads-'));
writeFileSync(path.join(project, 'package.json'), '{}\n');
afterAll(() => rmSync(project, { recursive: true, force: true }));

describe('read commands with no embedded database yet', () => {
  it('say so in one line, create no .cmmc-db, and init then makes it', async () => {
    const reads: [string[], number][] = [
      [['current'], 1],
      [['status'], 1],
      [['check', '--no-drift'], 1],
      [['history', '--indicate-current'], 1],
      [['seed', '--status'], 1],
      [['health'], 1],
      [['doctor'], 2],
      [['backup', 'create'], 1],
      [['report', '--html', path.join(project, 'report.html')], 1],
      // Dry runs read too (they each made the database while saying nothing was changed); so does a downgrade.
      [['seed', '--dry-run'], 1],
      [['stamp', 'head', '--dry-run'], 1],
      [['downgrade', 'base', '--dry-run'], 1],
      [['downgrade', 'base', '--yes'], 1],
    ];
    for (const [args, exitCode] of reads) {
      const r = await runCliJson(args, { cwd: project });
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(exitCode);
      expect(r.data.error, args.join(' ')).toEqual({
        code: 'embedded.absent',
        message: `there is no embedded database in ${path.join(project, '.cmmc-db')} yet`,
        hint: 'create it with "cmmc-db init" (the platform schema and the 110 controls), or point DATABASE_URL at a server',
      });
      expect(readdirSync(project), args.join(' ')).toEqual(['package.json']);
    }
    // history without the database reads the files only, as before.
    expect((await runCli(['history'], { cwd: project })).exitCode).toBe(0);
    expect(existsSync(path.join(project, '.cmmc-db'))).toBe(false);
    const init = await runCli(['init'], { cwd: project });
    expect(init.exitCode, init.stderr).toBe(0);
    const current = await runCli(['current'], { cwd: project });
    expect(current.exitCode, current.stderr).toBe(0);
    expect(current.stdout).toContain('(head)');
  }, 120_000);
});

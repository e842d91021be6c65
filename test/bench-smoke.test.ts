/**
 * The bench scripts run (quick mode: one pair, the platform's revisions, no Alembic-sized data) and
 * print their rows as one JSON document. No figure is checked: speed is measured in bench/, never
 * asserted in a test. The heavier scripts (upgrade, backup, embedded) run in .ci/run's
 * `npm run bench:quick`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { ROOT, cleanEnv } from './helpers/cli.js';

describe('bench scripts', () => {
  it('cold-start prints a ratio for --version, current and (with python3-alembic) the Alembic rows', async () => {
    const r = await execa(process.execPath, [path.join(ROOT, 'bench', 'cold-start.mjs'), '--quick', '--json'], { cwd: ROOT, env: cleanEnv(), reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { quick: boolean; machine: string; rows: { what: string; ratio: string }[] };
    expect(doc.quick).toBe(true);
    expect(doc.machine).toMatch(/node v\d+/);
    const byName = Object.fromEntries(doc.rows.map((row) => [row.what, row]));
    expect(byName['cmmc-db --version'].ratio).toMatch(/^\d+\.\d\d× \(/);
    expect(byName['cmmc-db current (at head)'].ratio).toMatch(/^\d+\.\d\d× \(/);
  }, 120_000);

  it("the floor's DDL is recorded from a TypeScript revision that is not in the build's recording", async () => {
    // A platform revision with one more line: its sha256 is not recorded, so it is run against the recorder.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-bench-ts-'));
    try {
      const source = readFileSync(path.join(ROOT, 'migrations', '3f1c0a9e5b01_extensions_and_tenancy.ts'), 'utf8');
      writeFileSync(path.join(dir, '3f1c0a9e5b01_extensions_and_tenancy.ts'), `${source}\n// not the recorded text\n`);
      const { platformRevisionsSql } = await import(path.join(ROOT, 'bench', 'lib.mjs'));
      const [revision] = await platformRevisionsSql(dir);
      expect(revision.id).toBe('3f1c0a9e5b01');
      expect(revision.up.join('\n')).toMatch(/CREATE EXTENSION/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

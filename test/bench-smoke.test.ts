/**
 * The bench scripts run (quick mode: one pair, the platform's revisions, no Alembic-sized data) and
 * print their rows as one JSON document. No figure is checked: speed is measured in bench/, never
 * asserted in a test. The heavier scripts (upgrade, backup, embedded) run in .ci/run's
 * `npm run bench:quick`.
 */
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
});

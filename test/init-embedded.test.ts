/**
 * `cmmc-db init` on the embedded database (no DATABASE_URL, no DB_*): no role or database to
 * create; extensions, schema and controls, idempotent.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCliJson } from './helpers/cli.js';

describe('cmmc-db init on the embedded database', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-init-embedded-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the extensions, upgrades and seeds, then a second run is a no-op', async () => {
    const env = { CMMC_DB_DIR: dir };
    const first = await runCliJson(['init'], { env });
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stderr).toContain('embedded PostgreSQL');
    expect(first.data.steps.map((s: any) => s.step)).toEqual(['extension', 'extension', 'schema', 'seeds', 'controls']);
    expect(first.data.changed).toBe(true);
    expect(first.data.controls).toBe(110);

    const second = await runCliJson(['init'], { env });
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.data.changed).toBe(false);
    expect(second.stderr).toContain('nothing to do: already initialized (110 controls)');

    const status = await runCliJson(['seed', '--status'], { env });
    expect(status.data.files.map((f: any) => f.status)).toEqual(['applied', 'applied', 'pending']);
  });
});

/**
 * The postgres.js 3.4.9 defect patched at install (patches/postgres+3.4.9.patch, applied by
 * scripts/postinstall.mjs): a reserved connection whose backend is terminated, used again, threw a
 * TypeError from a timer and killed the process. The fixture reproduces it; run against an unpatched
 * copy of the installed driver it must crash, against the installed (patched) driver it must not.
 * When upstream releases the fix and the patch is dropped, the first test must still pass (see
 * scripts/postinstall.mjs for when to drop it).
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'reserved-terminate.mjs');
const PATCH = path.join(ROOT, 'patches', 'postgres+3.4.9.patch');

describe('postgres.js: a terminated reserved connection used again', () => {
  let tdb: TestDatabase;
  const work = mkdtempSync(path.join(os.tmpdir(), 'cmmc-driver-patch-'));
  beforeAll(async () => {
    tdb = await createTestDatabase();
  });
  afterAll(async () => {
    await tdb.drop();
    rmSync(work, { recursive: true, force: true });
  });

  it('the installed driver rejects the query (CONNECTION_CLOSED), the process lives on, and the pool serves the next query', async () => {
    const r = await execa('node', [FIXTURE, tdb.url], { reject: false, cwd: ROOT });
    expect(r.stderr).not.toContain('TypeError');
    expect(r.stdout).toBe('survived: CONNECTION_CLOSED CONNECTION_CLOSED ok');
    expect(r.exitCode).toBe(0);
  });

  it('without the patch the same script dies with the uncatchable TypeError (the defect is real)', async () => {
    const modules = path.join(work, 'node_modules');
    mkdirSync(modules, { recursive: true });
    cpSync(path.join(ROOT, 'node_modules', 'postgres'), path.join(modules, 'postgres'), { recursive: true });
    await execa('git', ['apply', '-R', PATCH], { cwd: work });
    cpSync(FIXTURE, path.join(work, 'reserved-terminate.mjs'));
    const r = await execa('node', [path.join(work, 'reserved-terminate.mjs'), tdb.url], { reject: false, cwd: work });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/TypeError: Cannot read properties of null \(reading 'write'\)/);
    expect(r.stderr).toContain('nextWrite');
  });
});

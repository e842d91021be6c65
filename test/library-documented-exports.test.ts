/**
 * What the README and docs/ tell an application to import from 'cmmc-db' is there, in the built
 * package. docs/scale-out.md offered `distributionViolations(sql)` and `distributionPlan(sql)` "for
 * your own checks", and src/interrupt.ts `resetInterrupt()` "for a library user that reuses one
 * process": the package exported none of them (its exports map lets nothing else be imported). An
 * application that handled one SIGINT with runInterruptCleanups and went on running then had every
 * later backup refused as "interrupted" for the rest of the process, with no way out.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/server.js';

const DOCS = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => path.join('docs', f))];

/** The names each doc imports from 'cmmc-db' in its examples, and the names it says are "Also exported". */
function documentedNames(): { doc: string; name: string }[] {
  const out: { doc: string; name: string }[] = [];
  for (const doc of DOCS) {
    const text = readFileSync(path.join(ROOT, doc), 'utf8');
    for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'cmmc-db'/g)) {
      for (const part of m[1].split(',')) {
        const name = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0];
        if (name) out.push({ doc, name });
      }
    }
    for (const m of text.matchAll(/Also exported:([\s\S]*?)\n\n/g)) {
      for (const n of m[1].matchAll(/`([A-Za-z]\w*)(?:\(|`)/g)) out.push({ doc, name: n[1] });
    }
  }
  return out;
}

describe("the names the docs import from 'cmmc-db'", () => {
  it('each is exported by the built package (a value at run time, or a type in its declarations)', async () => {
    const built = await import(pathToFileURL(path.join(ROOT, 'dist', 'index.js')).href);
    const declarations = readFileSync(path.join(ROOT, 'dist', 'index.d.ts'), 'utf8');
    const documented = documentedNames();
    expect(documented.map((d) => d.name)).toEqual(expect.arrayContaining(['distributionViolations', 'distributionPlan', 'resetInterrupt', 'createPool', 'withTenant']));
    const missing = documented.filter(({ name }) => !(name in built) && !new RegExp(`\\b${name}\\b`).test(declarations));
    expect(missing).toEqual([]);
  });
});

describe('what those exports do', () => {
  let tdb: TestDatabase;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cmmc-lib-exports-'));
  beforeAll(async () => {
    tdb = await createTestDatabase('cmmc_lib_exports');
  });
  afterAll(async () => {
    await tdb?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('distributionViolations and distributionPlan check a database at head', async () => {
    const { createPool, runUpgrade, distributionViolations, distributionPlan } = await import('../src/index.js');
    const pool = await createPool({ url: tdb.url }, { pool: { min: 1, max: 2 } });
    try {
      await runUpgrade(pool, 'head');
      expect(await distributionViolations(pool.sql)).toEqual([]);
      expect((await distributionPlan(pool.sql)).join('\n')).toContain("create_distributed_table('assessments'");
    } finally {
      await pool.close();
    }
  });

  it("after the application's own signal handler ran the cleanups, resetInterrupt() lets the next backup run", async () => {
    const { createBackup, resolveConfig, runInterruptCleanups, resetInterrupt, CmmcError } = await import('../src/index.js');
    const config = resolveConfig({ url: tdb.url });
    await runInterruptCleanups(100);
    const refused = await createBackup(config, { dir }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CmmcError);
    expect((refused as InstanceType<typeof CmmcError>).code).toBe('interrupted');
    resetInterrupt();
    const manifest = await createBackup(config, { dir });
    expect(manifest.name).toContain(tdb.name);
  });
});

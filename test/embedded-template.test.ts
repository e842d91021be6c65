/**
 * The template of the embedded database at head (src/embedded/template.ts): a fresh folder's init
 * builds it once and later fresh folders are copied from it, with the same report and the same
 * database; a template whose files were damaged is rebuilt, never copied; a changed revision or
 * seed file names another template.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/config.js';
import { templateKey, verifiedTemplate } from '../src/embedded/template.js';
import { runCliJson } from './helpers/cli.js';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cmmc-template-'));
const cache = path.join(base, 'cache');
const root = path.join(cache, 'cmmc-db', 'embedded-templates');
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

async function init(name: string) {
  const env = { CMMC_DB_DIR: path.join(base, name), XDG_CACHE_HOME: cache };
  const r = await runCliJson(['init'], { env, timeoutMs: 280_000 });
  expect(r.exitCode, r.stderr).toBe(0);
  return { report: r.data, env };
}

describe('the embedded template at head', () => {
  it('is built by the first fresh init, copied by the next, and rebuilt when a file of it is damaged', async () => {
    const first = await init('a');
    expect(first.report.template).toBe('built');
    const keys = fs.readdirSync(root).filter((e) => !e.startsWith('.'));
    expect(keys).toHaveLength(1);

    const second = await init('b');
    expect(second.report.template).toBe('used');
    // The same report as the init that built it, and the same database.
    const { template: _a, ...firstReport } = first.report;
    const { template: _b, ...secondReport } = second.report;
    expect(secondReport).toEqual(firstReport);
    const current = await runCliJson(['current'], { env: second.env });
    expect(current.data.atHead).toBe(true);
    const seeds = await runCliJson(['seed', '--status'], { env: second.env });
    expect(seeds.data.files.map((f: { status: string }) => f.status)).toEqual(['applied', 'applied', 'pending']);
    const again = await runCliJson(['init'], { env: second.env });
    expect(again.data.changed).toBe(false);

    // Damage one file of the template: it does not verify, and the next init rebuilds it.
    const pgdata = path.join(root, keys[0], 'pgdata');
    const victim = path.join(pgdata, 'global', 'pg_control');
    const intact = fs.readFileSync(victim);
    fs.appendFileSync(victim, 'x');
    const third = await init('c');
    expect(third.report.template).toBe('built');
    expect(fs.statSync(victim).size).toBe(intact.length); // a new pg_control (a rebuild is a new initdb), not the damaged one
    expect(verifiedTemplate(root, keys[0])?.key).toBe(keys[0]);
    expect((await runCliJson(['current'], { env: third.env })).data.atHead).toBe(true);
  }, 600_000);

  it('is skipped when the cache cannot hold it (a HOME that cannot be written, a file in its place): init runs every step in the folder', async () => {
    // A file where the cache folder, or the templates' folder, would be: as a HOME that does not
    // exist (a service user's /nonexistent) or cannot be written is for any user but root.
    const file = path.join(base, 'not-a-folder');
    fs.writeFileSync(file, '');
    const odd = path.join(base, 'odd-cache');
    fs.mkdirSync(path.join(odd, 'cmmc-db'), { recursive: true });
    fs.writeFileSync(path.join(odd, 'cmmc-db', 'embedded-templates'), '');
    for (const [name, xdg] of [['under-file', path.join(file, 'cache')], ['templates-file', odd]]) {
      const env = { CMMC_DB_DIR: path.join(base, name), XDG_CACHE_HOME: xdg };
      const r = await runCliJson(['init'], { env, timeoutMs: 280_000 });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.data.template).toBeUndefined();
      expect(r.data.steps.find((s: { step: string }) => s.step === 'controls')?.detail).toBe('110 controls');
      expect((await runCliJson(['current'], { env })).data.atHead).toBe(true);
    }
    expect(fs.readFileSync(path.join(odd, 'cmmc-db', 'embedded-templates'), 'utf8')).toBe('');
  }, 600_000);

  it('names another template when a revision or seed file changes', () => {
    const config = resolveConfig({});
    const revisions = [{ fileName: 'a.ts', checksum: '1'.repeat(64) }];
    const seeds = [{ name: '01.sql', checksum: '2'.repeat(64) }];
    const key = templateKey(config, revisions, seeds);
    expect(templateKey(config, [...revisions], [...seeds])).toBe(key);
    expect(templateKey(config, [{ fileName: 'a.ts', checksum: '3'.repeat(64) }], seeds)).not.toBe(key);
    expect(templateKey(config, revisions, [{ name: '01.sql', checksum: '4'.repeat(64) }])).not.toBe(key);
    expect(templateKey(config, [...revisions, { fileName: 'b.sql', checksum: '5'.repeat(64) }], seeds)).not.toBe(key);
    expect(templateKey({ ...config, metaSchema: 'other' }, revisions, seeds)).not.toBe(key);
  });
});

/** Fixture folders of revision files for the engine's e2e tests, and ways to look at a database's schema. */
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT } from './helpers/cli.js';
import type { TestTarget } from './helpers/backends.js';

export const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'engine');

/** A fixture folder copied to a temp dir (for tests that edit files); `node_modules` linked so `kysely` resolves. */
export function copyFixture(name: string): { dir: string; cleanup(): void } {
  const base = mkdtempSync(path.join(os.tmpdir(), 'cmmc-engine-'));
  const dir = path.join(base, 'migrations');
  cpSync(path.join(FIXTURES, name), dir, { recursive: true });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(base, 'node_modules'), 'dir');
  return { dir, cleanup: () => rmSync(base, { recursive: true, force: true }) };
}

/** The environment for runCli: the target plus the migrations folder. */
export function envFor(target: TestTarget, dir: string): Record<string, string> {
  return { ...target.env, CMMC_MIGRATIONS_DIR: dir };
}

/** The version table's rows, sorted; [] when the table does not exist (a refused first run creates nothing). */
export async function versionRows(target: TestTarget): Promise<string[]> {
  const [t] = await target.query<{ ok: boolean }>(`SELECT to_regclass('public.cmmc_schema_version') IS NOT NULL AS ok`);
  if (!t.ok) return [];
  const rows = await target.query<{ version_num: string }>('SELECT version_num FROM public.cmmc_schema_version ORDER BY 1');
  return rows.map((r) => r.version_num);
}

/**
 * A description of every user object (tables, columns, constraints, indexes, types, functions,
 * triggers) outside the system schemas, from the catalogs: works on every backend.
 */
export async function catalogSnapshot(target: TestTarget): Promise<string> {
  const q = (text: string) => target.query(text).then((rows) => rows.map((r) => Object.values(r).join('|')).join('\n'));
  const notSystem = `NOT IN ('pg_catalog', 'information_schema', 'pg_toast')`;
  return [
    await q(`SELECT nspname FROM pg_namespace WHERE nspname ${notSystem} AND nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast%' ORDER BY 1`),
    await q(`SELECT table_schema, table_name, column_name, data_type, is_nullable, coalesce(column_default, '') FROM information_schema.columns WHERE table_schema ${notSystem} ORDER BY 1, 2, 3`),
    await q(`SELECT n.nspname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname ${notSystem} ORDER BY 1, 2`),
    await q(`SELECT schemaname, indexname, indexdef FROM pg_indexes WHERE schemaname ${notSystem} ORDER BY 1, 2`),
    await q(`SELECT n.nspname, t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname ${notSystem} AND t.typtype = 'e' ORDER BY 1, 2`),
    await q(`SELECT n.nspname, p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname ${notSystem} ORDER BY 1, 2`),
    await q(`SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`),
  ].join('\n--\n');
}

/** `pg_dump --schema-only` without its comments, blank lines and per-run \restrict keys. */
export async function schemaDump(url: string): Promise<string> {
  const { stdout } = await execa('pg_dump', ['--schema-only', '--no-owner', '--no-privileges', url]);
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('--') && !/^\\(un)?restrict /.test(l))
    .join('\n');
}

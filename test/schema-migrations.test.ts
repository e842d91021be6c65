/**
 * The platform schema through the real CLI: `upgrade head` on an empty database gives the counts of
 * the design, `downgrade base` removes everything the revisions made, up → down → up gives the same
 * pg_dump, and the Kysely Database interface (src/schema/database.ts) matches the migrated database.
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { BACKENDS, type TestTarget } from './helpers/backends.js';
import { runCli } from './helpers/cli.js';
import { SCHEMA_COLUMNS, VIEW_NAMES } from '../src/schema/database.js';

const PLATFORM_TABLES = [
  'ai_analysis_results',
  'assessments',
  'audit_logs',
  'cmmc_controls',
  'comments',
  'control_findings',
  'document_chunks',
  'documents',
  'evidence',
  'notifications',
  'organizations',
  'poam_items',
  'provider_inheritance',
  'system_config',
  'users',
];
const UPDATED_AT_TABLES = [
  'cmmc_controls',
  'comments',
  'documents',
  'organizations',
  'poam_items',
  'provider_inheritance',
  'system_config',
  'users',
];
const TENANT_TABLES = [
  'ai_analysis_results',
  'assessments',
  'audit_logs',
  'comments',
  'control_findings',
  'document_chunks',
  'documents',
  'evidence',
  'notifications',
  'organizations',
  'poam_items',
  'users',
];

async function migrate(target: TestTarget, ...args: string[]): Promise<void> {
  const r = await runCli([...args, '--yes'], { env: target.env });
  expect(r.exitCode, `cmmc-db ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
}

async function counts(target: TestTarget) {
  const [row] = await target.query<{ tables: number; indexes: number; views: number; triggers: number; functions: number }>(`
    SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')::int AS tables,
           (SELECT count(*) FROM pg_indexes WHERE schemaname = 'public')::int AS indexes,
           (SELECT count(*) FROM pg_views WHERE schemaname = 'public')::int AS views,
           (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND NOT t.tgisinternal)::int AS triggers,
           (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public'
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e'))::int AS functions`);
  return row;
}

async function extensions(target: TestTarget): Promise<string[]> {
  const rows = await target.query<{ extname: string }>(`SELECT extname FROM pg_extension ORDER BY extname`);
  return rows.map((r) => r.extname);
}

/** pg_dump --schema-only without the lines that differ on every run (\restrict keys, comments). */
async function schemaDump(url: string): Promise<string> {
  const { stdout } = await execa('pg_dump', ['--schema-only', '--dbname', url]);
  return stdout
    .split('\n')
    .filter((l) => !l.startsWith('\\restrict') && !l.startsWith('\\unrestrict') && !l.startsWith('-- Dumped'))
    .join('\n');
}

describe.each(BACKENDS)('the platform schema on $name', (backend) => {
  it('upgrade head on an empty database: 16 tables, 65+ indexes, 2 views, 8 triggers, the extensions, RLS', async () => {
    const target = await backend.create();
    try {
      await migrate(target, 'upgrade', 'head');
      const c = await counts(target);
      expect(c.tables).toBe(16);
      expect(c.indexes).toBeGreaterThanOrEqual(65);
      expect(c.views).toBe(2);
      expect(c.triggers).toBe(8);

      const tables = await target.query<{ tablename: string }>(
        `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
      );
      expect(tables.map((t) => t.tablename)).toEqual([...PLATFORM_TABLES, 'cmmc_schema_version'].sort());

      const views = await target.query<{ viewname: string }>(`SELECT viewname FROM pg_views WHERE schemaname = 'public' ORDER BY viewname`);
      expect(views.map((v) => v.viewname)).toEqual([...VIEW_NAMES].sort());

      // One trigger function, attached BEFORE UPDATE to exactly the tables that carry updated_at.
      const triggers = await target.query<{ table_name: string; function_name: string }>(`
        SELECT c.relname AS table_name, p.proname AS function_name
          FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND NOT t.tgisinternal ORDER BY c.relname`);
      expect(triggers.map((t) => t.table_name)).toEqual(UPDATED_AT_TABLES);
      expect(new Set(triggers.map((t) => t.function_name))).toEqual(new Set(['set_updated_at']));
      const withUpdatedAt = await target.query<{ table_name: string }>(`
        SELECT c.table_name FROM information_schema.columns c
          JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = 'public' AND c.column_name = 'updated_at' AND t.table_type = 'BASE TABLE'
         ORDER BY 1`);
      expect(withUpdatedAt.map((t) => t.table_name)).toEqual(UPDATED_AT_TABLES);

      expect(await extensions(target)).toEqual(expect.arrayContaining(['uuid-ossp', 'vector']));

      // The named indexes of the design, and the three HNSW indexes over the halfvec cast.
      const indexes = await target.query<{ indexname: string; indexdef: string }>(
        `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'`,
      );
      const names = indexes.map((i) => i.indexname);
      expect(names).toEqual(
        expect.arrayContaining([
          'idx_organizations_status',
          'idx_organizations_type',
          'idx_users_organization_id',
          'idx_users_email',
          'idx_users_status',
          'idx_users_role',
          'idx_controls_level',
          'idx_controls_domain',
          'idx_controls_nist',
          'idx_assessments_organization_id',
          'idx_assessments_status',
          'idx_assessments_created_at',
          'idx_findings_assessment_id',
          'idx_findings_control_id',
          'idx_evidence_assessment_id',
          'idx_evidence_organization_id',
          'idx_evidence_embedding',
        ]),
      );
      const hnsw = indexes.filter((i) => i.indexdef.includes('USING hnsw')).map((i) => i.indexname).sort();
      expect(hnsw).toEqual(['idx_document_chunks_embedding', 'idx_documents_embedding', 'idx_evidence_embedding']);
      for (const i of indexes.filter((x) => x.indexdef.includes('USING hnsw'))) {
        expect(i.indexdef).toContain('(embedding)::halfvec(3072)');
        expect(i.indexdef).toContain('halfvec_cosine_ops');
      }
      expect(indexes.find((i) => i.indexname === 'idx_users_email')!.indexdef).toContain('UNIQUE');
      expect(indexes.find((i) => i.indexname === 'idx_assessments_created_at')!.indexdef).toContain('created_at DESC');

      // Row-level security on every tenant-owned table, and nowhere else.
      const rls = await target.query<{ relname: string }>(`
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relrowsecurity ORDER BY c.relname`);
      expect(rls.map((r) => r.relname)).toEqual(TENANT_TABLES);
      const [policies] = await target.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_policies WHERE schemaname = 'public'`);
      expect(policies.n).toBe(TENANT_TABLES.length + 1); // audit_logs has a read and an append policy
    } finally {
      await target.drop();
    }
  });

  it('the Kysely Database interface and the migrated database agree on every table, view and column', async () => {
    const target = await backend.create();
    try {
      await migrate(target, 'upgrade', 'head');
      const rows = await target.query<{ table_name: string; column_name: string; udt_name: string; is_nullable: string }>(`
        SELECT table_name, column_name, udt_name, is_nullable FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> 'cmmc_schema_version'
         ORDER BY table_name, ordinal_position`);
      const views = new Set<string>(VIEW_NAMES);
      const actual = new Map<string, string>();
      for (const r of rows) {
        const spec = views.has(r.table_name)
          ? r.udt_name // information_schema reports every view column as nullable
          : `${r.udt_name} ${r.is_nullable === 'YES' ? 'null' : 'not null'}`;
        actual.set(`${r.table_name}.${r.column_name}`, spec);
      }
      const expected = new Map<string, string>();
      for (const [table, columns] of Object.entries(SCHEMA_COLUMNS)) {
        for (const [column, spec] of Object.entries(columns as Record<string, string>)) {
          expected.set(`${table}.${column}`, views.has(table) ? spec.split(' ')[0] : spec);
        }
      }
      const problems: string[] = [];
      for (const [key, spec] of actual) {
        if (!expected.has(key)) problems.push(`${key} is in the database (${spec}) but not in the Database interface`);
        else if (expected.get(key) !== spec) problems.push(`${key}: database says "${spec}", the interface "${expected.get(key)}"`);
      }
      for (const key of expected.keys()) {
        if (!actual.has(key)) problems.push(`${key} is in the Database interface but not in the database`);
      }
      expect(problems).toEqual([]);
      const relations = new Set([...actual.keys()].map((k) => k.split('.')[0]));
      expect([...relations].sort()).toEqual(Object.keys(SCHEMA_COLUMNS).sort());
    } finally {
      await target.drop();
    }
  });

  it('downgrade base removes every table, view, function and extension the revisions made', async () => {
    const target = await backend.create();
    try {
      const before = await extensions(target);
      await migrate(target, 'upgrade', 'head');
      await migrate(target, 'downgrade', 'base');
      const c = await counts(target);
      expect(c).toMatchObject({ tables: 1, views: 0, triggers: 0, functions: 0 });
      const tables = await target.query<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`);
      expect(tables.map((t) => t.tablename)).toEqual(['cmmc_schema_version']);
      expect((await target.query(`SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public'
                                    AND t.typtype <> 'c' AND t.typname NOT LIKE '\\_%' AND t.typrelid = 0`)).length).toBe(0);
      expect(await extensions(target)).toEqual(before.filter((e) => e !== 'uuid-ossp' && e !== 'vector'));
      expect(await extensions(target)).not.toContain('vector');
    } finally {
      await target.drop();
    }
  });

  it.runIf(backend.name === 'server')('upgrade head, downgrade base, upgrade head again: the same pg_dump --schema-only', async () => {
    const target = await backend.create();
    try {
      await migrate(target, 'upgrade', 'head');
      const first = await schemaDump(target.url!);
      expect(first).toContain('CREATE TABLE public.control_findings');
      await migrate(target, 'downgrade', 'base');
      const empty = await schemaDump(target.url!);
      expect(empty).not.toContain('CREATE TABLE public.organizations');
      expect(empty).not.toContain('CREATE EXTENSION');
      await migrate(target, 'upgrade', 'head');
      const second = await schemaDump(target.url!);
      expect(second).toBe(first);
    } finally {
      await target.drop();
    }
  });
});

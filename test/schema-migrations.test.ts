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
/** The functions the revisions create (set_updated_at: e3a8d1c6b468; the delete paths: c0290a8b76a4). */
const PLATFORM_FUNCTIONS = ['delete_assessment(uuid,uuid)', 'delete_control_finding(uuid,uuid)', 'set_updated_at()'];
/** Functions of later revisions, created with their search_path pinned. */
const PINNED_FROM_THE_START = ['set_audit_logs_created_at()'];
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

async function extensions(target: TestTarget): Promise<string[]> {
  const rows = await target.query<{ extname: string }>(`SELECT extname FROM pg_extension ORDER BY extname`);
  return rows.map((r) => r.extname);
}

/** A json_build_object(...) read in one round trip, parsed (the embedded backend hands json back as text). */
async function readJson(target: TestTarget, object: string): Promise<any> {
  const [row] = await target.query<{ doc: any }>(`SELECT ${object} AS doc`);
  return typeof row.doc === 'string' ? JSON.parse(row.doc) : row.doc;
}

/** pg_dump --schema-only without the lines that differ on every run (\restrict keys, comments). */
async function schemaDump(url: string): Promise<string> {
  const { stdout } = await execa('pg_dump', ['--schema-only', '--dbname', url]);
  return stdout
    .split('\n')
    .filter((l) => !l.startsWith('\\restrict') && !l.startsWith('\\unrestrict') && !l.startsWith('-- Dumped'))
    .join('\n');
}

/** Everything the first test checks, in one round trip (each query opens the embedded database anew). */
async function catalog(target: TestTarget) {
  const [row] = await target.query<{ doc: any }>(`
    SELECT json_build_object(
      'tables', (SELECT json_agg(tablename ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'),
      'indexes', (SELECT json_agg(json_build_object('name', indexname, 'def', indexdef)) FROM pg_indexes WHERE schemaname = 'public'),
      'views', (SELECT json_agg(viewname ORDER BY viewname) FROM pg_views WHERE schemaname = 'public'),
      'triggers', (SELECT json_agg(json_build_object('table', c.relname, 'function', p.proname) ORDER BY c.relname)
                     FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = 'public' AND NOT t.tgisinternal),
      'updated_at', (SELECT json_agg(c.table_name ORDER BY c.table_name) FROM information_schema.columns c
                       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
                      WHERE c.table_schema = 'public' AND c.column_name = 'updated_at' AND t.table_type = 'BASE TABLE'),
      'extensions', (SELECT json_agg(extname ORDER BY extname) FROM pg_extension),
      'rls', (SELECT json_agg(c.relname ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relrowsecurity),
      'policies', (SELECT count(*) FROM pg_policies WHERE schemaname = 'public'),
      'functions', (SELECT json_agg(json_build_object('function', p.oid::regprocedure::text, 'config', p.proconfig) ORDER BY 1)
                      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname IN ('public', 'cmmc_db')
                       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')),
      'columns', (SELECT json_agg(json_build_object('table', table_name, 'column', column_name, 'udt', udt_name, 'nullable', is_nullable)
                                  ORDER BY table_name, ordinal_position)
                    FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'cmmc_schema_version')
    ) AS doc`);
  return typeof row.doc === 'string' ? JSON.parse(row.doc) : row.doc;
}

/** Differences between the Database interface's column map and the database's columns, one line each. */
function interfaceDrift(columns: { table: string; column: string; udt: string; nullable: string }[]): string[] {
  const views = new Set<string>(VIEW_NAMES);
  const actual = new Map<string, string>();
  for (const r of columns) {
    // information_schema reports every view column as nullable: compare views by type only.
    actual.set(`${r.table}.${r.column}`, views.has(r.table) ? r.udt : `${r.udt} ${r.nullable === 'YES' ? 'null' : 'not null'}`);
  }
  const expected = new Map<string, string>();
  for (const [table, cols] of Object.entries(SCHEMA_COLUMNS)) {
    for (const [column, spec] of Object.entries(cols as Record<string, string>)) {
      expected.set(`${table}.${column}`, views.has(table) ? spec.split(' ')[0] : spec);
    }
  }
  const problems: string[] = [];
  for (const [key, spec] of actual) {
    if (!expected.has(key)) problems.push(`${key} is in the database (${spec}) but not in the Database interface`);
    else if (expected.get(key) !== spec) problems.push(`${key}: the database says "${spec}", the interface "${expected.get(key)}"`);
  }
  for (const key of expected.keys()) {
    if (!actual.has(key)) problems.push(`${key} is in the Database interface but not in the database`);
  }
  return problems;
}

describe.each(BACKENDS)('the platform schema on $name', (backend) => {
  it('upgrade head on an empty database: 16 tables, 65+ indexes, 2 views, 9 triggers, the extensions, RLS, and the Database interface matches', async () => {
    const target = await backend.create();
    try {
      await migrate(target, 'upgrade', 'head');
      const cat = await catalog(target);
      expect(cat.tables).toEqual([...PLATFORM_TABLES, 'cmmc_schema_version'].sort());
      expect(cat.tables).toHaveLength(16);
      expect(cat.indexes.length).toBeGreaterThanOrEqual(65);
      expect(cat.views).toEqual([...VIEW_NAMES].sort());

      // One trigger function attached BEFORE UPDATE to exactly the 8 tables that carry updated_at, and
      // audit_logs' BEFORE INSERT one that gives an event the server's time (f14f1d09b343).
      expect(cat.triggers).toHaveLength(9);
      const updatedAt = cat.triggers.filter((t: any) => t.function === 'set_updated_at');
      expect(updatedAt.map((t: any) => t.table)).toEqual(UPDATED_AT_TABLES);
      expect(cat.triggers.filter((t: any) => t.function !== 'set_updated_at')).toEqual([{ table: 'audit_logs', function: 'set_audit_logs_created_at' }]);
      expect(cat.updated_at).toEqual(UPDATED_AT_TABLES);

      expect(cat.extensions).toEqual(expect.arrayContaining(['uuid-ossp', 'vector']));

      // The named indexes of the design, and the three HNSW indexes over the halfvec cast.
      const defs = new Map<string, string>(cat.indexes.map((i: any) => [i.name, i.def]));
      for (const name of [
        'idx_organizations_status', 'idx_organizations_type', 'idx_users_organization_id', 'idx_users_email',
        'idx_users_status', 'idx_users_role', 'idx_controls_level', 'idx_controls_domain', 'idx_controls_nist',
        'idx_assessments_organization_id', 'idx_assessments_status', 'idx_assessments_created_at',
        'idx_findings_assessment_id', 'idx_findings_control_id', 'idx_evidence_assessment_id',
        'idx_evidence_organization_id', 'idx_evidence_embedding', 'idx_provider_inheritance_provider',
        'idx_provider_inheritance_control_id',
      ]) {
        expect(defs.has(name), name).toBe(true);
      }
      const hnsw = [...defs].filter(([, def]) => def.includes('USING hnsw'));
      expect(hnsw.map(([name]) => name).sort()).toEqual(['idx_document_chunks_embedding', 'idx_documents_embedding', 'idx_evidence_embedding']);
      for (const [, def] of hnsw) expect(def).toMatch(/\(\(embedding\)::halfvec\(3072\)\) halfvec_cosine_ops/);
      expect(defs.get('idx_users_email')).toContain('UNIQUE');
      expect(defs.get('idx_controls_nist')).toContain('UNIQUE');
      expect(defs.get('idx_assessments_created_at')).toContain('created_at DESC');

      // Row-level security on every tenant-owned table, and on the platform's settings (not a tenant
      // table: read-only and without secrets for a tenant's session); nowhere else.
      expect(cat.rls).toEqual([...TENANT_TABLES, 'system_config'].sort());
      // audit_logs: a read and an append policy; system_config: the platform's context and a tenant's read.
      expect(Number(cat.policies)).toBe(TENANT_TABLES.length + 1 + 2);

      // Every function of the platform's schemas (extension members apart) pins its search_path, pg_temp
      // last (fd8c5001a663): a function a later revision creates without one fails here.
      expect(cat.functions.map((f: any) => f.function)).toEqual(expect.arrayContaining([...PLATFORM_FUNCTIONS, ...PINNED_FROM_THE_START]));
      for (const f of cat.functions) expect(f.config, f.function).toEqual(['search_path=pg_catalog, public, pg_temp']);

      // The Kysely Database interface (through its type-checked column map) and the database agree.
      expect(interfaceDrift(cat.columns)).toEqual([]);
      expect(interfaceDrift([...cat.columns, { table: 'users', column: 'nickname', udt: 'text', nullable: 'YES' }])).toEqual([
        'users.nickname is in the database (text null) but not in the Database interface',
      ]);
    } finally {
      await target.drop();
    }
  });

  it('downgrade base removes every table, view, function, type and extension the revisions made', async () => {
    const target = await backend.create();
    try {
      const before = await extensions(target);
      await migrate(target, 'upgrade', 'head');
      await migrate(target, 'downgrade', 'base');
      const [left] = await target.query<{ c: any }>(`
        SELECT json_build_object(
          'tables', (SELECT json_agg(tablename) FROM pg_tables WHERE schemaname = 'public'),
          'views', (SELECT count(*) FROM pg_views WHERE schemaname = 'public'),
          'indexes', (SELECT json_agg(indexname) FROM pg_indexes WHERE schemaname = 'public'),
          'triggers', (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal),
          'functions', (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'),
          'types', (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                     WHERE n.nspname = 'public' AND t.typrelid = 0 AND t.typelem = 0),
          'policies', (SELECT count(*) FROM pg_policies WHERE schemaname = 'public'),
          'extensions', (SELECT json_agg(extname ORDER BY extname) FROM pg_extension)
        ) AS c`);
      const c = typeof left.c === 'string' ? JSON.parse(left.c) : left.c;
      expect(c.tables).toEqual(['cmmc_schema_version']);
      expect(c.indexes).toEqual(['cmmc_schema_version_pkey']);
      expect({ views: Number(c.views), triggers: Number(c.triggers), functions: Number(c.functions), types: Number(c.types), policies: Number(c.policies) })
        .toEqual({ views: 0, triggers: 0, functions: 0, types: 0, policies: 0 });
      expect(c.extensions).toEqual(before.filter((e) => e !== 'uuid-ossp' && e !== 'vector'));
      expect(c.extensions).not.toContain('vector');
    } finally {
      await target.drop();
    }
  });

  it('ea4d41f1e1b0 down and up: the settings policies and the nil check go and come back; a nil organization is refused in one line with its count', async () => {
    const target = await backend.create();
    const NIL = '00000000-0000-0000-0000-000000000000';
    const state = () => readJson(target, `
        json_build_object(
          'rls', (SELECT relrowsecurity FROM pg_class WHERE oid = 'system_config'::regclass),
          'forced', (SELECT relforcerowsecurity FROM pg_class WHERE oid = 'system_config'::regclass),
          'policies', (SELECT json_agg(polname ORDER BY polname) FROM pg_policy WHERE polrelid = 'system_config'::regclass),
          'check', (SELECT count(*) FROM pg_constraint WHERE conrelid = 'organizations'::regclass AND conname = 'organizations_id_not_nil'),
          'audit', (SELECT json_agg(coalesce(pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid)) ORDER BY polname)
                      FROM pg_policy WHERE polrelid = 'audit_logs'::regclass),
          'organizationsForced', (SELECT relforcerowsecurity FROM pg_class WHERE oid = 'organizations'::regclass),
          'version', (SELECT json_agg(version_num) FROM cmmc_schema_version)
        )`);
    try {
      await migrate(target, 'upgrade', 'ea4d41f1e1b0');
      const head = await state();
      expect(head).toMatchObject({ rls: true, forced: false, policies: ['platform_context', 'tenant_read'], check: 1, organizationsForced: true, version: ['ea4d41f1e1b0'] });
      expect(head.audit[0]).toContain(`COALESCE`); // tenant_append: no tenant set appends tenant-less events
      expect(head.audit[1]).toContain(`organization_id <> '${NIL}'::uuid`); // tenant_read: never the nil tenant's rows

      await migrate(target, 'downgrade', '00c448613939');
      const before = await state();
      expect(before).toMatchObject({ rls: false, forced: false, policies: null, check: 0, organizationsForced: true, version: ['00c448613939'] });
      for (const expr of before.audit) expect(expr).not.toContain(NIL);

      // What the schema let in before: an organization under the nil UUID. The upgrade keeps it and says so.
      await target.query(`INSERT INTO organizations (id, name, organization_type) VALUES ('${NIL}', 'Nobody', 'SMB')`);
      const refused = await runCli(['upgrade', 'head'], { env: target.env });
      expect(refused.exitCode).toBe(1);
      const error = refused.stderr.split('\n').filter((l) => l.startsWith('error:'));
      expect(error).toHaveLength(1);
      expect(error[0]).toContain(`refused: 1 organization(s) have the id ${NIL}, the nil UUID that means "no tenant": move their data to an organization with its own id or delete them`);
      expect(error[0]).not.toContain('in statement');
      expect((await state()).version).toEqual(['00c448613939']);
      expect(await target.query(`SELECT name FROM organizations WHERE id = '${NIL}'`)).toEqual([{ name: 'Nobody' }]);

      await target.query(`DELETE FROM organizations WHERE id = '${NIL}'`);
      await migrate(target, 'upgrade', 'ea4d41f1e1b0');
      expect(await state()).toEqual(head);
    } finally {
      await target.drop();
    }
  });

  it('fd8c5001a663 down and up: the functions lose their pinned search_path and get it back', async () => {
    const target = await backend.create();
    const state = () => readJson(target, `
        json_build_object(
          'config', (SELECT json_object_agg(p.oid::regprocedure::text, p.proconfig ORDER BY p.oid::regprocedure::text)
                       FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
                        AND p.proname IN ('set_updated_at', 'delete_assessment', 'delete_control_finding')),
          'version', (SELECT json_agg(version_num) FROM cmmc_schema_version)
        )`);
    try {
      await migrate(target, 'upgrade', 'fd8c5001a663');
      const pinned = await state();
      expect(pinned).toEqual({ config: Object.fromEntries(PLATFORM_FUNCTIONS.map((f) => [f, ['search_path=pg_catalog, public, pg_temp']])), version: ['fd8c5001a663'] });
      await migrate(target, 'downgrade', 'ea4d41f1e1b0');
      expect(await state()).toEqual({ config: Object.fromEntries(PLATFORM_FUNCTIONS.map((f) => [f, null])), version: ['ea4d41f1e1b0'] });
      await migrate(target, 'upgrade', 'fd8c5001a663');
      expect(await state()).toEqual(pinned);
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

/**
 * Schema: the database is at the migration heads with no applied revision file changed (the
 * engine's `getStatus`), the platform's extensions are installed, its 15 tables exist, and every
 * function of its schemas pins its search_path.
 */
import type { CheckFamily, DoctorContext, Finding } from '../types.js';
import { names, plural } from '../format.js';
import path from 'node:path';
import { PACKAGE_DIR } from '../../config/config.js';
import { getStatus } from '../../migrate/index.js';

/** The extensions the platform's migrations create. */
export const EXPECTED_EXTENSIONS = ['uuid-ossp', 'vector'];

/** The 15 platform tables in `public` (issue 3); used when src/schema exports no list of its own. */
export const PLATFORM_TABLES = [
  'organizations',
  'users',
  'cmmc_controls',
  'assessments',
  'control_findings',
  'evidence',
  'provider_inheritance',
  'documents',
  'document_chunks',
  'ai_analysis_results',
  'poam_items',
  'comments',
  'notifications',
  'audit_logs',
  'system_config',
];

/** Loads a module that another capability may not have written yet (a plain `import` would not build). */
async function optionalImport(specifier: string): Promise<Record<string, unknown> | undefined> {
  try {
    return (await import(specifier)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}

/** The platform's table list: src/schema's own export when there is one, else PLATFORM_TABLES. */
export async function expectedTables(): Promise<string[]> {
  const mod = await optionalImport('../../schema/index.js');
  for (const key of ['PLATFORM_TABLES', 'TABLE_NAMES', 'TABLES']) {
    const v = mod?.[key];
    if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) return v as string[];
  }
  return PLATFORM_TABLES;
}

async function migrations(ctx: DoctorContext): Promise<Finding> {
  const s = await getStatus(ctx.handle);
  const rows = [
    ...s.pending.map((revision) => ({ revision, problem: 'pending' })),
    ...s.changed.map((c) => ({ revision: c.revision, problem: `file changed since applied: ${c.file}` })),
    ...(s.unknown ?? []).map((revision) => ({ revision, problem: 'in the version table but no revision file declares it' })),
  ];
  if (s.unknown?.length) {
    return {
      status: 'fail',
      figure: `the database is at ${names(s.unknown)}, which no revision file declares`,
      remedy: 'restore the missing revision files (another branch or an older checkout), or cmmc-db stamp to a known revision',
      rows,
    };
  }
  if (s.changed.length > 0) {
    return {
      status: 'fail',
      figure: `${plural(s.changed.length, 'applied revision')} changed since applied: ${names(s.changed.map((c) => c.revision))}`,
      remedy: 'restore the applied revision files (git log -- migrations/) and write a new revision for the change',
      rows,
    };
  }
  if (!s.atHead) {
    return {
      status: 'warn',
      figure: `at ${s.current.length ? s.current.join(', ') : 'base (nothing applied)'}; ${plural(s.pending.length, 'pending revision')} to ${s.heads.join(', ')}`,
      remedy: 'cmmc-db upgrade head',
      rows,
    };
  }
  return { status: 'ok', figure: `at head ${s.heads.join(', ') || '(no revisions)'}`, remedy: '' };
}

async function extensions(ctx: DoctorContext): Promise<Finding> {
  const rows = await ctx.sql<{ extname: string; extversion: string }[]>`
    SELECT extname, extversion FROM pg_extension WHERE extname = ANY(${EXPECTED_EXTENSIONS}) ORDER BY extname`;
  const missing = EXPECTED_EXTENSIONS.filter((e) => !rows.some((r) => r.extname === e));
  const shown = rows.map((r) => ({ extension: r.extname, version: r.extversion }));
  if (missing.length) {
    return { status: 'fail', figure: `missing: ${missing.join(', ')}`, remedy: 'cmmc-db upgrade head (creates them; vector needs pgvector installed on the server)', rows: shown };
  }
  return { status: 'ok', figure: rows.map((r) => `${r.extname} ${r.extversion}`).join(', '), remedy: '', rows: shown };
}

/** `CREATE TABLE` and `ALTER TABLE ... RENAME TO` as a revision's statements write them: the (maybe qualified) name made. */
const NAME = String.raw`(?:"(?:[^"]|"")+"|[\p{L}_][\p{L}\p{N}_$]*)`;
const MADE_TABLE = new RegExp(
  String.raw`^\s*(?:CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(${NAME}(?:\s*\.\s*${NAME})?)` +
    String.raw`|ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?(?:${NAME}\s*\.\s*)?${NAME}\s+RENAME\s+TO\s+(${NAME}))`,
  'iu',
);

/** A table name as PostgreSQL folds it: quoted as written, unquoted in lower case; undefined in a schema other than public. */
function publicName(written: string): string | undefined {
  const parts = written.match(new RegExp(NAME, 'gu'))!.map((p) => (p.startsWith('"') ? p.slice(1, -1).replaceAll('""', '"') : p.toLowerCase()));
  return parts.length === 1 || parts[0] === 'public' ? parts.at(-1) : undefined;
}

/**
 * The tables in public that the project's own revisions make (docs/extending.md: they build on the
 * platform's, and its example adds `widgets` to public), read from their statements (a TypeScript
 * revision's as recorded offline). Empty when the graph is the platform's alone or a revision
 * cannot be recorded.
 */
async function projectTables(ctx: DoctorContext): Promise<Set<string>> {
  const made = new Set<string>();
  const platform = path.join(PACKAGE_DIR, 'migrations') + path.sep;
  try {
    const { loadScript } = await import('../../migrate/script.js');
    const { stepStatements } = await import('../../migrate/offline.js');
    const own = (await loadScript(ctx.config)).revisions.filter((r) => !r.file.startsWith(platform));
    if (own.length === 0) return made;
    for (const step of await stepStatements(own, 'upgrade')) {
      for (const statement of step.statements) {
        const m = MADE_TABLE.exec(statement);
        const name = m && publicName(m[1] ?? m[2]!);
        if (name) made.add(name);
      }
    }
  } catch {
    // A revision that cannot be recorded: its tables count as others, as before.
  }
  return made;
}

async function tables(ctx: DoctorContext): Promise<Finding> {
  const expected = await expectedTables();
  const version = ctx.config.versionSchema === 'public' ? [ctx.config.versionTable] : [];
  const present = await ctx.sql<{ relname: string }[]>`
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1`;
  const have = new Set(present.map((r) => r.relname));
  const missing = expected.filter((t) => !have.has(t));
  const others = [...have].filter((t) => !expected.includes(t) && !version.includes(t));
  const projects = others.length ? await projectTables(ctx) : new Set<string>();
  const own = others.filter((t) => projects.has(t));
  const extra = others.filter((t) => !projects.has(t));
  const ownNote = own.length ? `; ${plural(own.length, 'table')} of the project's revisions: ${names(own)}` : '';
  const rows = [...missing.map((table) => ({ table, problem: 'missing' })), ...extra.map((table) => ({ table, problem: 'not a platform table' }))];
  if (missing.length) {
    return {
      status: 'fail',
      figure: `${missing.length} of ${expected.length} missing: ${names(missing)}`,
      remedy: 'cmmc-db upgrade head',
      rows,
    };
  }
  if (extra.length) {
    return {
      status: 'warn',
      figure: `all ${expected.length} present${ownNote}; ${plural(extra.length, 'other table')} in public: ${names(extra)}`,
      remedy: "move tables that neither the platform's nor the project's revisions make out of public (public holds the schema the revisions make)",
      rows,
    };
  }
  return { status: 'ok', figure: `all ${expected.length} present${ownNote}`, remedy: '' };
}

/** The search_path the platform's revisions pin on their functions (revision fd8c5001a663). */
export const PINNED_SEARCH_PATH = 'pg_catalog, public, pg_temp';

/**
 * Functions of `public` and the engine's schema (extension members apart) without a search_path of
 * their own run with their caller's: a role that shapes that path (ALTER ROLE/DATABASE ... SET, an
 * object earlier in it) makes the owner, the bypass role or a superuser who fires them run its own
 * now() or tables (CVE-2018-1058).
 */
async function functions(ctx: DoctorContext): Promise<Finding> {
  const rows = await ctx.sql<{ fn: string; owner: string }[]>`
    SELECT p.oid::regprocedure::text AS fn, pg_get_userbyid(p.proowner) AS owner
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname IN ('public', ${ctx.config.metaSchema})
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
       AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search\\_path=%')
     ORDER BY 1`;
  if (rows.length) {
    const list = rows.map((r) => r.fn);
    return {
      status: 'warn',
      figure: `${plural(rows.length, 'function')} without a pinned search_path (run with the caller's): ${names(list)}`,
      remedy: `cmmc-db upgrade head (revision fd8c5001a663 pins the platform's); for a function of your own, as its owner: ALTER FUNCTION ${list[0]} SET search_path = ${PINNED_SEARCH_PATH}`,
      rows: rows.map((r) => ({ function: r.fn, owner: r.owner, problem: 'no pinned search_path' })),
    };
  }
  return { status: 'ok', figure: 'every function of the platform\'s schemas pins its search_path', remedy: '' };
}

export const schemaFamily: CheckFamily = {
  name: 'schema',
  checks: [
    { id: 'schema.migrations', title: 'at the migration heads, no applied revision changed', needsServer: false, run: migrations },
    { id: 'schema.extensions', title: 'extensions uuid-ossp and vector', needsServer: false, run: extensions },
    { id: 'schema.tables', title: 'the platform tables exist', needsServer: false, run: tables },
    { id: 'schema.functions', title: 'the platform functions pin their search_path', needsServer: false, run: functions },
  ],
};
